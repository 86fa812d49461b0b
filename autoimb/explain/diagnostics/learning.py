"""Whether more rows would help: a learning curve.

The returned model's strategy refitted on 25%, 50% and 75% of each fold's
training rows, scored on the same held-out rows and post-processed the same
cross-fitted way as the search, against 100% (the search's own trial). More
rows would help when doubling them (50% to 100%) gains more than two standard
errors (a paired bootstrap of the rows) and
:data:`~autoimb.explain.diagnostics.MIN_GAIN`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from autoimb.explain.diagnostics._stats import (
    MIN_GAIN,
    _normalized,
    _paired_se,
    _trivial,
)
from autoimb.pipeline.evaluation import cross_fit_postprocessing
from autoimb.pipeline.metrics import check_known_labels
from autoimb.pipeline.postprocessing import CALIBRATIONS
from autoimb.search.spaces import load_search_space

#: Fractions of each fold's training rows the learning curve refits on.
FRACTIONS = (0.25, 0.5, 0.75)


@dataclass(frozen=True)
class LearningPoint:
    """The returned model's strategy fitted on a fraction of each fold's
    training rows.

    ``value`` is the cross-fitted cost (total over the scored rows) or average
    precision; ``normalized_cost`` divides a cost by the best trivial rule's.
    """

    fraction: float
    n_train: int
    value: float
    normalized_cost: float | None
    seconds: float


@dataclass(frozen=True)
class LearningCurve:
    """Values of the returned model's strategy against the share of training rows.

    Attributes
    ----------
    strategy : str
    points : tuple of LearningPoint
        From the smallest fraction to 1.0 (the search's own trial).
    last_doubling_gain : float or None
        How much better 100% is than 50% (cost saved, or AP gained).
    relative_gain : float or None
        That gain over the value at 50%.
    normalized_gain : float or None
        That gain over the cost of the best trivial rule (for AP, the gain).
    standard_error : float or None
        Its standard error, by a paired bootstrap of the rows.
    note : str
        Points left out (time limit, a fit that failed), if any.
    """

    strategy: str
    points: tuple[LearningPoint, ...]
    last_doubling_gain: float | None
    relative_gain: float | None
    normalized_gain: float | None
    standard_error: float | None
    note: str = ""

    @property
    def still_learning(self) -> bool:
        """Whether doubling the rows helped by more than two standard errors
        and :data:`MIN_GAIN`."""
        return (self.last_doubling_gain is not None
                and self.standard_error is not None
                and self.normalized_gain is not None
                and self.last_doubling_gain > 2 * self.standard_error
                and self.normalized_gain >= MIN_GAIN)


def _nested_subsamples(train, y, fractions, rng):
    """Stratified, nested subsets of ``train``: one fixed shuffle per class,
    each fraction keeping its first rows."""
    shuffled = [rng.permutation(train[y[train] == label]) for label in (0, 1)]
    subsets = []
    for fraction in fractions:
        keep = [rows[: max(2, math.ceil(fraction * len(rows)))] for rows in shuffled]
        subsets.append(np.sort(np.concatenate(keep)))
    return subsets


def _rows(X, index):
    return X.iloc[index] if hasattr(X, "iloc") else X[index]


def learning_curve(strategy, X, y, folds, *, postprocess, kinds, objective,
                   full_scores=None, fractions=FRACTIONS, time_limit=60.0,
                   random_state=0, trivial=None,
                   seconds_per_row=None) -> LearningCurve:
    """Fit ``strategy`` on fractions of each fold's training rows.

    Every fraction is scored on the same held-out rows and post-processed the
    same cross-fitted way (``postprocess(scores)``) as the search. Fractions are
    fitted from the smallest up; one whose fits would overrun ``time_limit``
    (extrapolated from the fits so far, in proportion to the rows) is left out.
    Each model uses one thread, as in the search.

    Parameters
    ----------
    strategy : Strategy
    X : DataFrame
    y : array of 0 and 1
    folds : list of (train, test) index arrays
    postprocess : callable
        ``postprocess(scores) -> PostProcessing`` for scores of all rows (NaN
        for rows no fold holds out).
    kinds : ColumnKinds
    objective : Objective
    full_scores : array, default=None
        Out-of-fold scores of the strategy on all training rows (the search's
        trial); fitted again when None.
    fractions : tuple of float, default=(0.25, 0.5, 0.75)
    time_limit : float or None, default=60.0
        Seconds for all the fits; None for no limit.
    random_state : int, default=0
    trivial : float, default=None
        Cost of the best trivial rule on the scored rows, for normalized costs.
    seconds_per_row : float, default=None
        Expected fitting seconds per training row (e.g. from the search's
        trial), to hold the time limit from the first fraction on.

    Returns
    -------
    LearningCurve
    """
    started = time.perf_counter()
    rng = np.random.default_rng(random_state)
    y = np.asarray(y).astype(int)
    scored = np.zeros(len(y), dtype=bool)
    for _, test in folds:
        scored[test] = True
    subsets = [_nested_subsamples(np.asarray(train), y, fractions, rng)
               for train, _ in folds]
    fitted, notes = [], []  # (point, post-processing, scores of the scored rows)
    resampling = []  # what the resampler did in each fit, to name the strategy
    wanted = [*fractions, 1.0] if full_scores is None else list(fractions)
    for i, fraction in enumerate(wanted):
        n_rows = sum(len(s[i]) if fraction < 1 else len(train)
                     for s, (train, _) in zip(subsets, folds, strict=True))
        if time_limit is not None and seconds_per_row is not None:
            expected = seconds_per_row * n_rows
            if time.perf_counter() - started + expected > time_limit:
                notes.append(f"{fraction:.0%} and above left out: about "
                             f"{expected:.0f} s more would pass the time limit of "
                             f"{time_limit:g} s")
                break
        start = time.perf_counter()
        scores = np.full(len(y), np.nan)
        try:
            with threadpool_limits(limits=1):
                for s, (train, test) in zip(subsets, folds, strict=True):
                    rows = s[i] if fraction < 1 else np.asarray(train)
                    pipeline = strategy.make_pipeline(kinds, random_state)
                    pipeline.fit(_rows(X, rows), y[rows])
                    resampling += pipeline.resampling()
                    scores[test] = pipeline.predict_proba(_rows(X, test))[:, 1]
        except Exception as exc:
            notes.append(f"{fraction:.0%} left out: {type(exc).__name__}: {exc}")
            continue
        seconds = time.perf_counter() - start
        seconds_per_row = seconds / max(n_rows, 1)
        post = postprocess(scores)
        fitted.append((_point(fraction, n_rows // len(folds), post, seconds, trivial),
                       post, scores[scored]))
    if full_scores is not None:
        scores = np.asarray(full_scores, dtype=float)
        post = postprocess(scores)
        n_full = sum(len(train) for train, _ in folds) // len(folds)
        fitted.append((_point(1.0, n_full, post, 0.0, trivial), post, scores[scored]))
    gain = relative = normalized = se = None
    by_fraction = {point.fraction: (point, post, s) for point, post, s in fitted}
    if 0.5 in by_fraction and 1.0 in by_fraction:
        (half, half_post, half_scores) = by_fraction[0.5]
        (full, full_post, full_scores_) = by_fraction[1.0]
        if objective.kind == "cost":
            gain = half.value - full.value
            a, b = half_post.pred, full_post.pred
        else:
            gain = full.value - half.value
            a, b = half_scores, full_scores_
        relative = gain / abs(half.value) if half.value else None
        normalized = _normalized(gain, trivial, objective)
        se = _paired_se(y[scored], a, b, objective, random_state=random_state)
    return LearningCurve(strategy=strategy.describe(resampling or None),
                         points=tuple(point for point, _, _ in fitted),
                         last_doubling_gain=gain, relative_gain=relative,
                         normalized_gain=normalized, standard_error=se,
                         note="; ".join(notes))


def _point(fraction, n_train, post, seconds, trivial):
    normalized = (post.metrics["cost"] / trivial if trivial else None)
    return LearningPoint(fraction=float(fraction), n_train=int(n_train),
                         value=float(post.value), normalized_cost=normalized,
                         seconds=round(float(seconds), 3))


def _learning_curve_of(model, X, y, time_limit, random_state):
    """The learning curve from the search context, or from data given again."""
    strategy = getattr(model, "best_strategy_", None)
    if strategy is None:
        return None, "the returned model is the trivial rule: no strategy to refit"
    objective = model.objective_
    context = getattr(model, "_context", None)
    if X is None and context is not None:
        y_scored = context.y[context.scored]
        cached = context.oof_cache.get(model.best_trial_number_)
        # The curve is drawn on one partition; repeated folds' cached scores
        # average several, so the full-data point is refitted like the others.
        repeated = len(context.partition) < len(context.folds)
        full = None
        if cached is not None and not repeated:
            full = np.full(len(context.y), np.nan)
            full[context.scored] = cached[0]
        curve = learning_curve(
            strategy, context.X, context.y, context.partition,
            postprocess=context.postprocess, kinds=context.kinds,
            objective=objective, full_scores=full, time_limit=time_limit,
            random_state=context.model_seed,
            trivial=_trivial(y_scored, objective),
            seconds_per_row=_seconds_per_row(model, context.folds))
        return curve, None
    if X is None:
        return None, ("the learning curve refits the returned model's strategy, "
                      "so it needs the training data: call diagnose() right "
                      "after fit, or "
                      "pass X and y (autoimb diagnose MODEL --data FILE --target "
                      "COL)")
    X = model._check_X(X)
    y = check_known_labels(y, model.classes_)
    y01 = (y == model.pos_label_).astype(int)
    n_splits = model.validation_.n_splits if model.validation_.kind == "kfold" else 3
    n_splits = max(2, min(n_splits, int(y01.sum()), int(len(y01) - y01.sum())))
    splitter = StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
    folds = list(splitter.split(np.zeros(len(y01)), y01))
    fold_ids = np.empty(len(y01), dtype=int)
    for k, (_, test) in enumerate(folds):
        fold_ids[test] = k
    calibrations = _calibrations_of(model) or tuple(CALIBRATIONS)

    def postprocess(scores):
        return cross_fit_postprocessing(scores, y01, fold_ids, objective=objective,
                                        calibrations=calibrations)

    curve = learning_curve(
        strategy, X, y01, folds, postprocess=postprocess, kinds=model.kinds_,
        objective=objective, time_limit=time_limit, random_state=random_state,
        trivial=_trivial(y01, objective))
    return curve, None


def _seconds_per_row(model, folds):
    """Fitting seconds per training row of the best trial, from ``results_``."""
    rows = model.results_.set_index("number")
    try:
        seconds = float(rows.loc[model.best_trial_number_, "fit_time"])
    except (KeyError, TypeError, ValueError):
        return None
    n_rows = sum(len(train) for train, _ in folds)
    return seconds / n_rows if math.isfinite(seconds) and n_rows else None


def _calibrations_of(model):
    try:
        return tuple(load_search_space(model.search_space).calibrations)
    except Exception:
        return None
