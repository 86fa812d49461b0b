"""Choosing the final model among the candidates, and an honest score for it.

Every candidate's out-of-fold value is honest on its own, but the best of many
noisy values is not: it is biased (the winner's curse), the more so the more
candidates and the fewer positives. Two things follow.

**The choice tolerates noise.** Candidates are put in an order of preference: the
trivial rule (no model: every row negative, or every row positive, whichever
costs less), then the prior default (the portfolio's balanced random forest,
:data:`~autoimb.search.portfolio.PRIOR_RECIPE`: a strategy chosen before seeing the
data, so its value is not the best of many noisy ones), then blends of the best
strategies (averaging lowers the variance that picking one of them keeps), then
single strategies from the cheapest to fit. The first candidate whose value is
within ``tolerance`` standard errors of the best value is chosen (1.5 by
default); the standard error is that of its paired difference with the best,
over bootstrap resamples of the rows. Where nothing beats the trivial rule
beyond noise, the trivial rule is returned.

The tolerance and the size of the blends (up to 5 strategies, the estimator's
``ensemble_size``) were measured on held-out rows with one trial per core,
about 22 candidates per search (``benchmarks/selection_rules.py``; write-up in
``benchmarks/results/2026-12-selection_rules.md``, 2026-12-03 at ``9bac84a``):
against one standard error and blends of up to 3, 1.5 standard errors and
blends of up to 5 held out 0.031 lower on six small sets over four splits
(where the rules were compared) and 0.005 lower, within noise, on ten other
sets over two splits (where they were not). The prior default's place,
second, was measured the same way on 2026-12-04 (``f2c4026``,
``benchmarks/results/selection_rules_prior.md``): 0.023 lower on the six small
sets (0.338 against 0.362, where the order was compared) and 0.013 lower on
the ten other sets (worse on none of their 20 fits), with the tolerance left
at 1.5.

**The reported score is bias-corrected.** It is the bootstrap bias-corrected
cross-validation estimate (BBC-CV; Tsamardinos, Greasidou and Borboudakis,
Machine Learning 2018): the rows of the pooled out-of-fold predictions of all
candidates are resampled; on each resample the same choice is made on the rows
drawn and scored on the rows left out. No model is refitted.

References
----------
.. [1] I. Tsamardinos, E. Greasidou and G. Borboudakis, "Bootstrapping the
   out-of-sample predictions for efficient and accurate cross-validation",
   Machine Learning 107, 1895-1922 (2018).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from optuna.trial import TrialState

from autoimb.pipeline.calibration import IdentityCalibrator
from autoimb.pipeline.evaluation import PostProcessing, out_of_fold_scores
from autoimb.pipeline.metrics import (
    error_metrics,
    ranking_metrics,
    score_ties,
    stratified_bootstrap_counts,
    weighted_average_precision,
)
from autoimb.pipeline.postprocessing import PostProcessor
from autoimb.search.ensemble import Candidate, blends, fixed_blend
from autoimb.search.trials import strategy_of

__all__ = ["Selection", "bias_corrected_estimate", "candidate_pool",
           "is_prior_default", "select", "trivial_candidate", "within_allowance"]

_MAX_CELLS = 1_000_000  # bootstrap weights held at once (rows x resamples): 8 MB
DEFAULT_TOLERANCE = 1.5


@dataclass
class Selection:
    """The chosen candidate and what the selection knows about it.

    Attributes
    ----------
    index : int
        Position of the chosen candidate in the pool.
    raw : float
        Its cross-validated value (total cost on the scored rows, or AP), on the
        rows that chose it: optimistic.
    estimate : float
        The bias-corrected estimate of the value of the choice, in the same
        units.
    best_raw : float
        The best raw value in the pool (the chosen one's, or better when a
        simpler candidate within noise of it was preferred).
    n_candidates : int
        Size of the pool the choice was made in.
    tolerance : float
        The tolerance the choice was made with, in standard errors.
    """

    index: int
    raw: float
    estimate: float
    best_raw: float
    n_candidates: int
    tolerance: float


class _Values:
    """The objective's value of every candidate under integer row weights
    (bootstrap counts; lower is better: mean cost per row, or minus average
    precision).

    A cost is counted from the candidates' decisions as float32 0/1 columns:
    sums of integers below 2**24 are exact in float32, and the matrix takes half
    the memory of a float64 one (and a sixth of the losses matrix and its
    temporaries it replaces).
    """

    def __init__(self, candidates, y, objective):
        self.y = np.asarray(y)
        self.kind = objective.kind
        if self.kind == "cost":
            self.fp_cost, self.fn_cost = objective.fp_cost, objective.fn_cost
            self.pred = np.empty((len(self.y), len(candidates)), dtype=np.float32)
            for j, c in enumerate(candidates):
                self.pred[:, j] = c.post.pred
            self.positive = (self.y == 1).astype(np.float32)
        else:
            self.orders, self.starts = [], []
            for c in candidates:
                order, starts = score_ties(c.scores, descending=True)
                self.orders.append(order)
                self.starts.append(starts)

    def __call__(self, weights) -> np.ndarray:
        """Values of shape (n_weightings, n_candidates)."""
        weights = np.atleast_2d(weights)
        if self.kind == "cost":
            on_positives = (weights * self.positive).astype(np.float32)
            on_negatives = weights.astype(np.float32) - on_positives
            false_positives = (on_negatives @ self.pred).astype(float)
            false_negatives = (on_positives.sum(axis=1, dtype=float)[:, None]
                               - (on_positives @ self.pred).astype(float))
            totals = np.maximum(weights.sum(axis=1), 1e-12)[:, None]
            return (self.fp_cost * false_positives
                    + self.fn_cost * false_negatives) / totals
        pairs = zip(self.orders, self.starts, strict=True)
        return -np.column_stack([weighted_average_precision(weights, self.y, None, o, s)
                                 for o, s in pairs])

def _choose(values, margins) -> np.ndarray:
    """Per row of ``values``: the first candidate within its margin of the best."""
    values = np.where(np.isnan(values), np.inf, values)
    near = values <= values.min(axis=1, keepdims=True) + margins[None, :] + 1e-12
    return np.argmax(near, axis=1)


def _bootstrap_values(values, y, n_boot, rng):
    """Values on the rows drawn, and on the rows left out, per resample."""
    drawn, left_out = [], []
    chunk = max(1, min(n_boot, _MAX_CELLS // max(len(y), 1)))
    for done in range(0, n_boot, chunk):
        counts = stratified_bootstrap_counts(y, min(chunk, n_boot - done), rng)
        drawn.append(values(counts))
        left_out.append(values((counts == 0).astype(float)))
    return np.vstack(drawn), np.vstack(left_out)


def bias_corrected_estimate(candidates, y, objective, *,
                            tolerance: float = DEFAULT_TOLERANCE,
                            n_boot: int | None = None,
                            random_state: int = 0) -> Selection:
    """Choose among ``candidates`` and estimate the choice's value by BBC-CV.

    Parameters
    ----------
    candidates : list of Candidate
        Scored on the same rows, simplest first: among candidates within noise
        of the best, the first is chosen.
    y : array of 0 and 1
        The labels of those rows.
    objective : Objective
    tolerance : float, default=1.5
        How many standard errors of its difference with the best a candidate
        may lose by and still be preferred for being simpler. 0 chooses the
        best value.
    n_boot : int, default=None
        Bootstrap resamples; ``None`` picks 500 up to 20,000 rows, fewer above.
    random_state : int, default=0

    Returns
    -------
    Selection
        Costs are totals over ``len(y)`` rows; average precision is averaged.

    Examples
    --------
    With no signal at all, the best of many candidates looks better than the
    trivial rule on the rows it was chosen on; the estimate says it is not:

    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from autoimb.pipeline.objective import Objective
    >>> rng = np.random.default_rng(0)
    >>> y = (rng.random(1000) < 0.1).astype(int)
    >>> pool = [SimpleNamespace(post=SimpleNamespace(pred=rng.random(1000) < 0.1))
    ...         for _ in range(40)]
    >>> result = bias_corrected_estimate(pool, y, Objective("cost", 1.0, 9.0),
    ...                                  tolerance=0.0)
    >>> trivial = min(y.sum() * 9.0, (1 - y).sum() * 1.0)
    >>> print(f"{result.best_raw / trivial:.2f} {result.estimate / trivial:.2f}")
    0.93 1.00
    """
    y = np.asarray(y)
    n = len(y)
    values = _Values(candidates, y, objective)
    if n_boot is None:
        n_boot = 500 if n <= 20_000 else max(100, int(500 * 20_000 / n))
    rng = np.random.default_rng(random_state)
    full = values(np.ones(n))
    drawn, left_out = _bootstrap_values(values, y, n_boot, rng)
    best = int(np.argmin(np.where(np.isnan(full[0]), np.inf, full[0])))
    spread = np.nanstd(drawn - drawn[:, [best]], axis=0)
    margins = tolerance * np.nan_to_num(spread)
    index = int(_choose(full, margins)[0])
    chosen = _choose(drawn, margins)
    scored = left_out[np.arange(len(chosen)), chosen]
    estimate = (float(np.nanmean(scored)) if np.isfinite(scored).any()
                else full[0, index])
    sign, scale = (1.0, n) if objective.kind == "cost" else (-1.0, 1.0)
    return Selection(index=index, raw=sign * scale * float(full[0, index]),
                     estimate=sign * scale * estimate,
                     best_raw=sign * scale * float(full[0, best]),
                     n_candidates=len(candidates), tolerance=float(tolerance))


def within_allowance(pool: list, seconds: float | None) -> list:
    """The candidates whose refit is predicted to take at most ``seconds``
    (``None``: all), and always the trivial rule and the best single strategy
    (the first candidate of one trial, see :func:`candidate_pool`'s ``best``):
    overrunning the budget by one refit beats returning a rule that predicts
    one class.

    The allowance is a share of the study's timeout (a setting), and each
    candidate's refit time is predicted from its trials' recorded fold times:
    the pool is a function of the study, not of the seconds left at the
    moment of choosing.

    Examples
    --------
    >>> from types import SimpleNamespace as C
    >>> pool = [C(is_trivial=True, refit_seconds=0.0, best=False),
    ...         C(is_trivial=False, refit_seconds=4.0, best=False),
    ...         C(is_trivial=False, refit_seconds=9.0, best=True),
    ...         C(is_trivial=False, refit_seconds=12.0, best=False)]
    >>> [c.refit_seconds for c in within_allowance(pool, 5.0)]
    [0.0, 4.0, 9.0]
    >>> len(within_allowance(pool, None))
    4
    """
    if seconds is None:
        return pool
    return [c for c in pool
            if c.is_trivial or c.best or c.refit_seconds <= seconds]


def select(candidates, y, objective, *, tolerance: float = DEFAULT_TOLERANCE,
           random_state: int = 0) -> int:
    """The index :func:`bias_corrected_estimate` chooses."""
    return bias_corrected_estimate(candidates, y, objective, tolerance=tolerance,
                                   n_boot=100, random_state=random_state).index


def trivial_candidate(y, objective):
    """The rule that needs no model: every row negative, or every row positive,
    whichever costs less on these rows (negative on ties, and for the average
    precision objective). Its probability is the share of positives."""

    y = np.asarray(y)
    n_pos, n_neg = int(np.sum(y == 1)), int(np.sum(y == 0))
    positive = (objective.uses_costs_for_threshold
                and n_neg * objective.fp_cost < n_pos * objective.fn_cost)
    prevalence = n_pos / max(len(y), 1)
    proba = np.full(len(y), prevalence)
    pred = np.full(len(y), positive)
    final = PostProcessor(objective, ("none",))
    final.calibration_, final.rule_ = "none", "constant"
    final.calibrator_ = IdentityCalibrator()
    final.threshold_ = 0.0 if positive else 1.0
    metrics = error_metrics(y, pred, fp_cost=objective.fp_cost,
                            fn_cost=objective.fn_cost)
    metrics.update(ranking_metrics(y, proba), threshold=final.threshold_)
    value = metrics["cost" if objective.kind == "cost" else "average_precision"]
    post = PostProcessing(proba=proba, pred=pred, metrics=metrics, value=float(value),
                          final=final)
    return Candidate(trial_numbers=(), strategies=(), scores=proba, post=post)


def is_prior_default(candidate, kept) -> bool:
    """Whether ``candidate`` is the prior default alone: a single trial in
    ``kept`` (``SearchContext.kept``)."""
    return len(candidate.trial_numbers) == 1 and candidate.trial_numbers[0] in kept


def candidate_pool(study, context, *, ensemble_size: int, limit: int = 50,
                   kept_finals=()) -> list:
    """The candidates of a study's completed trials, in order of preference:
    the trivial rule, the prior default (the trials in ``context.kept``: the
    portfolio's balanced random forest), blends of the best ``ensemble_size ..
    2`` distinct strategies (the largest first), then the distinct strategies
    from the cheapest to fit.

    Among candidates within noise of the best, the first is chosen: the trivial
    rule when nothing beats it, else the strategy chosen before seeing the data
    rather than one the search picked among many noisy values, else an average
    of the best strategies rather than one of them (which lowers the variance
    of the choice), else the cheapest. ``benchmarks/selection_rules.py``
    measured these orders against "singles before blends" and "blends before
    the prior default" on held-out cost.

    The pool is a function of the study: its completed trials (the best
    ``limit`` distinct strategies by value, ties by trial number) and their
    out-of-fold scores stored with the study (:meth:`SearchContext.stored`),
    whichever process ran them. A trial the study holds no scores for (one
    from a storage without a shared score store, or from a version of autoimb
    that kept none) is scored again on the study's folds when it is among the
    best ``ensemble_size``, and its scores stored; otherwise it is left out.

    ``kept_finals`` are the trial numbers of final models chosen before in the
    study (:func:`autoimb.search.choice.previous_finals`): each stays a candidate
    (a single strategy, or a blend of those members) when its trials' scores
    are stored, so that a rerun that adds trials never loses the model it had.
    """

    completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    reverse = study.direction.name == "MAXIMIZE"
    ranked = sorted(completed, key=lambda t: (-t.value if reverse else t.value,
                                              t.number))
    limit = min(limit, context.cached_trials)
    n_folds = len(context.folds)
    singles, seconds, seen = [], [], set()

    def fit_time(trial):  # its folds' models, fitted and scored
        return trial.user_attrs.get("fit_time") or 0.0

    def add(trial, stored):
        strategy = strategy_of(context.space, trial.params, context.kinds)
        scores, post = stored
        singles.append(Candidate(
            (trial.number,), (strategy,), np.asarray(scores, dtype=float), post,
            refit_seconds=context.budget.refit_factor * fit_time(trial) / n_folds))
        seconds.append(fit_time(trial))

    for trial in ranked:
        key = trial.user_attrs.get("strategy", str(trial.params))
        if key in seen:
            continue
        stored = context.stored(trial)
        if stored is None and len(singles) < max(ensemble_size, 1):
            stored = _score_again(trial, context)
        if stored is None:
            continue
        seen.add(key)
        add(trial, stored)
        if len(singles) == limit:
            break
    if singles:
        singles[0].best = True
    # The prior default, even where a tuned trial of the same strategy (told
    # apart by its description, not its hyperparameters) is in already: that
    # one was picked among many noisy values, the prior was not. It takes no
    # part in blends (of distinct strategies) then.
    distinct = len(singles)
    inside = {c.trial_numbers[0] for c in singles}
    for trial in completed:
        if trial.number in context.kept and trial.number not in inside:
            stored = context.stored(trial)
            if stored is not None:
                add(trial, stored)
    y = context.y[context.scored]
    made = (blends(singles[:distinct], y, context.groups, context.objective,
                   ensemble_size, context.space.calibrations)
            if ensemble_size > 1 else [])
    made += _kept_finals(kept_finals, made, singles, completed, context, add)
    by_cost = [singles[i] for i in np.argsort(seconds, kind="stable")]
    prior = [c for c in by_cost if is_prior_default(c, context.kept)]
    rest = [c for c in by_cost if not is_prior_default(c, context.kept)]
    return [trivial_candidate(y, context.objective), *prior, *made[::-1], *rest]


def _kept_finals(kept_finals, made, singles, completed, context, add) -> list:
    """Blends of earlier final models not among the pool's blends; an earlier
    single strategy not in the pool joins the singles (through ``add``)."""

    by_number = {t.number: t for t in completed}
    have = {tuple(sorted(c.trial_numbers)) for c in (*made, *singles)}
    extra = []
    for numbers in kept_finals:
        key = tuple(sorted(numbers))
        if not key or key in have or any(n not in by_number for n in key):
            continue
        members = []
        for number in numbers:
            member = next((c for c in singles if c.trial_numbers == (number,)), None)
            if member is None:
                stored = context.stored(by_number[number])
                if stored is None:
                    break
                add(by_number[number], stored)
                member = singles[-1]
            members.append(member)
        else:
            have.add(key)
            if len(members) > 1:
                extra.append(fixed_blend(members, context.y[context.scored],
                                         context.groups, context.objective,
                                         context.space.calibrations))
    return extra


def _score_again(trial, context):
    """A completed trial's out-of-fold scores computed again on the study's
    folds (with its seeds, as the trial computed them), stored with the study,
    and their post-processing."""

    strategy = strategy_of(context.space, trial.params, context.kinds)
    scores, _, _ = out_of_fold_scores(
        lambda: strategy.make_pipeline(context.kinds, context.model_seed),
        context.X, context.y, context.folds)
    post = context.postprocess(scores)
    context.keep_scores(trial, scores, post)
    return context.oof_cache.get(trial.number)
