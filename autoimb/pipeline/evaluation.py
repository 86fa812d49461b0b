"""Honest scoring of one strategy.

1. Out-of-fold scores: for each fold, fit the pipeline (resampling included) on
   the training part only, and score the held-out part.
2. Cross-fitted post-processing: for each fold k, choose and fit the calibrator,
   the threshold rule and the threshold on the out-of-fold scores of the *other*
   folds, then apply them to fold k. The rows that score a stage were never used
   to fit it, nor to choose it.

Both the calibrator and the threshold work on ``n`` numbers, not on ``X``, so the
second step is cheap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from autoimb.pipeline.calibration import logit, make_calibrator, sigmoid
from autoimb.pipeline.metrics import error_metrics, ranking_metrics
from autoimb.pipeline.objective import Objective
from autoimb.pipeline.postprocessing import CALIBRATIONS, PostProcessor

__all__ = ["PostProcessing", "cross_fit_postprocessing", "merge_equal_rows",
           "merge_rounded_rows", "out_of_fold_scores", "round_scores"]

# From this many scored rows on, post-processing works on scores rounded to a
# grid of LOGIT_STEP on the logit scale (at most 3,200 distinct values), merged
# into weighted entries: on covertype_4v2's 43,000 holdout scores that is about
# 800 entries per label, and a trial's post-processing takes a third of the
# time. A step of 0.01 moves odds by at most 0.5 %: far below the threshold's
# own noise, and the order of the scores is kept.
ROUND_SCORES_ROWS = 20_000
LOGIT_STEP = 0.01


def _rows(X, index):
    return X.iloc[index] if hasattr(X, "iloc") else X[index]


def out_of_fold_scores(make_pipeline: Callable, X, y, folds, *,
                       on_fold: Callable | None = None,
                       call: Callable | None = None):
    """Score every row with a pipeline that never saw it.

    Parameters
    ----------
    make_pipeline : callable
        Returns a new unfitted pipeline (with ``fit`` and ``predict_proba``).
    X : DataFrame or array
    y : array of 0 and 1
    folds : list of (train, test) index arrays
        Repeated folds (several partitions of the rows) may hold a row out
        more than once: its score is then the average of its out-of-fold
        scores, each from a model that did not see it.
    on_fold : callable, default=None
        Called as ``on_fold(k, test, latest)`` after fold ``k``, where
        ``latest[test]`` are fold k's scores; may raise (to prune).
    call : callable, default=None
        Runs each fold's fit and prediction, given as a function of no
        arguments, and returns its result: the search passes
        :func:`~autoimb.storage.shutdown.call_stoppably`, so that its deadline stops a
        fold in the middle of a native call. ``None`` calls it directly.

    Returns
    -------
    scores : array of shape (n,)
        Probability of the positive class, out of fold; NaN for a row that no
        fold holds out.
    fold_ids : array of shape (n,)
        The first fold each row was held out in; -1 for a row no fold holds out.
    fit_seconds : float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import StratifiedKFold
    >>> X = np.arange(40.0).reshape(-1, 1)
    >>> y = (np.arange(40) % 4 == 0).astype(int)
    >>> folds = [f for seed in (0, 1) for f in StratifiedKFold(
    ...     5, shuffle=True, random_state=seed).split(X, y)]
    >>> scores, fold_ids, _ = out_of_fold_scores(LogisticRegression, X, y, folds)
    >>> bool(np.isfinite(scores).all()), sorted(set(fold_ids.tolist()))
    (True, [0, 1, 2, 3, 4])
    """
    n = len(y)
    total, count = np.zeros(n), np.zeros(n)
    latest = np.full(n, np.nan)
    fold_ids = np.full(n, -1)
    start = time.perf_counter()
    for k, (train, test) in enumerate(folds):
        def fit_and_score(train=train, test=test):
            pipeline = make_pipeline()
            pipeline.fit(_rows(X, train), y[train])
            return pipeline.predict_proba(_rows(X, test))[:, 1]

        latest[test] = fit_and_score() if call is None else call(fit_and_score)
        total[test] += latest[test]
        count[test] += 1
        fold_ids[test] = np.where(fold_ids[test] < 0, k, fold_ids[test])
        if on_fold is not None:
            on_fold(k, test, latest)
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.where(count > 0, total / count, np.nan)
    return scores, fold_ids, time.perf_counter() - start


@dataclass
class PostProcessing:
    """The outcome of cross-fitted post-processing of one candidate's scores.

    Attributes
    ----------
    proba : array
        Calibrated out-of-fold probabilities, each from a calibrator that did not
        see its row.
    pred : array of bool
        Decisions, each from a threshold (and a choice of calibrator and rule)
        made without its row.
    fold_choices : list of str
        What each fold's post-processor chose, in words.
    fold_thresholds : list of float
    metrics : dict
        Cost, confusion counts and rates of ``pred``; average precision and ROC
        AUC of the scores; Brier score and expected calibration error of
        ``proba``.
    value : float
        The objective's value: total cost of ``pred``, or average precision of
        the scores.
    final : PostProcessor
        Fitted on all rows, for the refitted model.
    """

    proba: np.ndarray
    pred: np.ndarray
    fold_choices: list = field(default_factory=list)
    fold_thresholds: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    value: float = float("nan")
    final: PostProcessor | None = None

    @property
    def calibration(self) -> str:
        return self.final.calibration_

    @property
    def rule(self) -> str:
        return self.final.rule_

    @property
    def calibrator(self):
        return self.final.calibrator_

    @property
    def threshold(self) -> float:
        return float(self.final.threshold_)


def _logit_codes(scores, step: float) -> np.ndarray:
    return np.round(logit(scores) / step).astype(np.int64)


def _from_codes(codes, step: float) -> np.ndarray:
    return sigmoid(step * codes)


def round_scores(scores, step: float = LOGIT_STEP) -> np.ndarray:
    """Probabilities rounded to a grid of ``step`` on the logit scale.

    The map is monotone (never reverses two scores' order) and clips at
    ``1e-7`` and ``1 - 1e-7``.

    Examples
    --------
    >>> import numpy as np
    >>> rounded = round_scores(np.array([0.1, 0.1001, 0.5, 0.9]), step=0.01)
    >>> len(np.unique(rounded)), bool(np.all(np.diff(rounded) >= 0))
    (3, True)
    """
    return _from_codes(_logit_codes(scores, step), step)


def merge_rounded_rows(scores, y, groups, *, step: float = LOGIT_STEP,
                       max_share: float = 0.5):
    """:func:`merge_equal_rows` of :func:`round_scores`, the same entries in the
    same order, counted on the grid (``np.bincount``) instead of sorted."""
    codes = _logit_codes(scores, step)
    groups, y = np.asarray(groups), np.asarray(y)
    if np.issubdtype(groups.dtype, np.integer) and groups.min() >= 0:
        names, group_index = None, groups.astype(np.int64)  # fold numbers
    else:
        names, group_index = np.unique(groups, return_inverse=True)
    low = int(codes.min())
    n_codes = int(codes.max()) - low + 1
    keys = (group_index * 2 + (y == 1)) * n_codes + (codes - low)
    counts = np.bincount(keys)
    present = np.flatnonzero(counts)  # in key order: group, label, score
    if len(present) > max_share * len(scores):
        return None
    entry_of_key = np.cumsum(counts > 0) - 1
    entry_groups = present // (2 * n_codes)
    entry_groups = entry_groups.astype(groups.dtype) if names is None \
        else names[entry_groups]
    return (_from_codes(present % n_codes + low, step),
            ((present // n_codes) % 2).astype(y.dtype), entry_groups,
            counts[present], entry_of_key[keys])


def merge_equal_rows(scores, y, groups, *, max_share: float = 0.5):
    """Rows of equal score, label and group, merged into one weighted entry.

    Tree ensembles on data with repeated rows give out-of-fold scores with few
    distinct values (100 on kddcup_http's 200,000 rows for a random forest):
    post-processing works on the distinct entries with their counts as weights,
    and gives the same choices.

    Returns
    -------
    (scores, y, groups, counts, inverse) of the entries, with ``inverse``
    mapping each row to its entry, or ``None`` when merging would not shrink
    the rows below ``max_share`` of their number.

    Examples
    --------
    >>> import numpy as np
    >>> s, y, g, counts, inverse = merge_equal_rows(
    ...     np.array([0.2, 0.2, 0.7, 0.2]), np.array([0, 0, 1, 0]),
    ...     np.array([0, 0, 0, 0]), max_share=1.0)
    >>> s.tolist(), counts.tolist(), s[inverse].tolist()
    ([0.2, 0.7], [3, 1], [0.2, 0.2, 0.7, 0.2])
    """
    # Entries are at least the distinct scores: count those first, with one
    # plain sort, and skip the three-key sort when they are already too many.
    sorted_scores = np.sort(scores)
    n_distinct = np.count_nonzero(sorted_scores[1:] != sorted_scores[:-1]) + 1
    if n_distinct > max_share * len(scores):
        return None
    order = np.lexsort((scores, y, groups))
    ss, yy, gg = scores[order], y[order], groups[order]
    new = np.r_[True, (ss[1:] != ss[:-1]) | (yy[1:] != yy[:-1]) | (gg[1:] != gg[:-1])]
    starts = np.flatnonzero(new)
    if len(starts) > max_share * len(scores):
        return None
    inverse = np.empty(len(scores), dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    counts = np.diff(np.r_[starts, len(scores)])
    return ss[starts], yy[starts], gg[starts], counts, inverse


def cross_fit_postprocessing(scores, y, fold_ids, *, objective: Objective,
                             calibrations=tuple(CALIBRATIONS),
                             make_calibrator: Callable = make_calibrator,
                             scores_for_fold: Callable | None = None,
                             ) -> PostProcessing:
    """Calibrate and threshold out-of-fold scores, each fold by the other folds.

    For each fold k a :class:`~autoimb.pipeline.postprocessing.PostProcessor` is
    fitted on the other folds' scores (it chooses its calibrator and rule by
    cross-fitting over those folds) and decides fold k's rows.

    Parameters
    ----------
    scores : array of shape (n,)
        Out-of-fold scores.
    y : array of 0 and 1
    fold_ids : array of shape (n,)
        The fold (or group) each row was scored in; at least two distinct.
    objective : Objective
    calibrations : sequence of str, default=("none", "sigmoid", "isotonic")
        The calibrators to choose from.
    make_calibrator : callable, default=autoimb.pipeline.calibration.make_calibrator
        Builds an unfitted calibrator from its name (replaceable in tests).
    scores_for_fold : callable, default=None
        ``scores_for_fold(k)`` gives the scores (of all rows) that fold k is
        post-processed with, when they depend on the fold (a blend whose members
        were chosen without fold k); ``scores`` serve the final post-processor.

    Notes
    -----
    From ``ROUND_SCORES_ROWS`` rows on (and without ``scores_for_fold``), the
    calibrators and thresholds are fitted on :func:`round_scores` of the
    scores, merged by :func:`merge_rounded_rows` (when that halves the
    entries); average precision and ROC AUC are still those of the scores
    themselves.
    """
    scores, y = np.asarray(scores, dtype=float), np.asarray(y)
    fold_ids = np.asarray(fold_ids)
    folds = np.unique(fold_ids)
    merged = None
    if scores_for_fold is None and len(folds) >= 3:
        merge = merge_rounded_rows if len(scores) >= ROUND_SCORES_ROWS \
            else merge_equal_rows
        merged = merge(scores, y, fold_ids)
    if merged is not None:  # the choices of the (rounded) rows, on fewer entries
        s, t, f, weight, inverse = merged
    else:
        s, t, f, weight, inverse = scores, y, fold_ids, None, None
    # Entries in decreasing score order: every threshold search sorts its scores
    # (or monotone calibrations of them), and a stable sort of sorted data takes
    # one pass. Up to ties, the choices are those on any order.
    order = np.argsort(-s, kind="stable")
    s, t, f = s[order], t[order], f[order]
    weight = None if weight is None else weight[order]
    position = np.empty(len(order), dtype=np.intp)
    position[order] = np.arange(len(order))
    inverse = position if inverse is None else position[inverse]
    proba = np.empty(len(t))
    pred = np.zeros(len(t), dtype=bool)
    choices, thresholds = [], []

    def make_postprocessor():
        return PostProcessor(objective, calibrations, make_calibrator=make_calibrator)

    for k in folds:
        fit, held = f != k, f == k
        these = s if scores_for_fold is None else \
            np.asarray(scores_for_fold(k), dtype=float)[order]
        post = make_postprocessor().fit(
            these[fit], t[fit], f[fit],
            sample_weight=None if weight is None else weight[fit])
        proba[held] = post.transform(these[held])
        pred[held] = post.predict(these[held])
        choices.append(post.describe())
        thresholds.append(float(post.threshold_))
    final = make_postprocessor().fit(s, t, f, sample_weight=weight)
    proba, pred = proba[inverse], pred[inverse]
    metrics = error_metrics(y, pred, fp_cost=objective.fp_cost,
                            fn_cost=objective.fn_cost)
    metrics.update(ranking_metrics(y, scores, proba), threshold=float(final.threshold_))
    value = metrics["cost" if objective.kind == "cost" else "average_precision"]
    return PostProcessing(proba=proba, pred=pred, fold_choices=choices,
                          fold_thresholds=thresholds, metrics=metrics,
                          value=float(value), final=final)
