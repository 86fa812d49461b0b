"""The time budget of a fit: a deadline that covers the search *and* the refit.

``fit(timeout=T)`` returns within about ``T``: the search stops starting trials
that would not finish before the deadline minus a reserve, stops a trial between
folds when the rest of it would overrun, and keeps the reserve for choosing the
final model and refitting it on all rows. Durations are predicted from the
trials already run: the same model family scaled by its size (trees or
iterations, times the rows it trains on after resampling), or another family
scaled by a rough relative cost, plus the resampler's own time.

A neighbour-based resampler on a large table can cost more than the model it
feeds, and more than its rows suggest: ENN after SMOTE on 250,000 rows of
kddcup_http, many of them duplicates, took 50 s per fold where 60,000 rows took
under 1 s. Its time is scaled from its largest measured run by the square of
the rows above it (a neighbour search's worst case), and the search measures it
on an eighth of a large fold before its first trial (:meth:`Budget.predict`).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np

__all__ = ["REFIT_SHARE", "Budget"]

# Rough cost of one fit relative to HistGradientBoosting's, per unit of size
# (100 trees or iterations); only used until a family has run once.
_RELATIVE_COST = {
    "logistic_regression": 0.5,
    "hist_gradient_boosting": 1.0,
    "lightgbm": 1.0,
    "balanced_random_forest": 0.5,
    "easy_ensemble": 1.5,
    "extra_trees": 2.0,
    "random_forest": 3.0,
}
_SIZE_KEYS = ("n_estimators", "max_iter")
_LEAF_KEYS = ("num_leaves", "max_leaf_nodes")
# A trial scored on one split (a holdout) cannot be stopped between folds, and
# one family's durations vary with settings the size does not capture: such a
# trial starts only if twice its predicted duration fits.
UNSTOPPABLE_MARGIN = 2.0
# Time kept after the search for choosing, blending and bookkeeping, besides
# the refit itself: a fixed part and a share of the budget.
_FIXED_RESERVE, _SHARE_RESERVE = 1.0, 0.03
# The refit of the final model (a blend, say) may take this share of the
# timeout; the best single strategy may take longer
# (autoimb.search.selection.within_allowance).
REFIT_SHARE = 0.1
_BLEND_SIZE = 5
# A trial past the time for trials is stopped in the middle of a fold this much
# of the timeout later (Budget.hard_stop).
_TRIAL_GRACE = 0.05
# Resamplers whose cost is negligible next to a model's (no neighbour search).
_CHEAP_RESAMPLERS = ("none", "random_over", "random_under")


def strategy_size(strategy) -> float:
    """A strategy's cost in units of 100 trees (or boosting iterations).

    Trees are scaled by their depth where a leaf count sets it (boosting: a
    tree of ``L`` leaves costs about ``log2(L)`` passes over the rows, 31
    leaves counting 1), and by the share of columns a forest's split looks at
    (0.5 counting 1).

    Examples
    --------
    >>> from autoimb.pipeline.strategy import Strategy
    >>> strategy_size(Strategy("lightgbm", {"n_estimators": 300, "num_leaves": 31}))
    3.0
    >>> round(strategy_size(Strategy("lightgbm", {"n_estimators": 300,
    ...                                           "num_leaves": 127})), 2)
    4.23
    >>> strategy_size(Strategy("extra_trees", {"n_estimators": 100,
    ...                                        "max_features": 1.0}))
    2.0
    """
    params = strategy.model_params
    size = 1.0
    for key in _SIZE_KEYS:
        value = params.get(key)
        if isinstance(value, (int, float)):
            size = max(float(value), 1.0) / 100.0
            break
    for key in _LEAF_KEYS:
        value = params.get(key)
        if isinstance(value, (int, float)) and value >= 2:
            size *= math.log2(value) / math.log2(31)
    share = params.get("max_features")
    if isinstance(share, float) and 0.0 < share <= 1.0:
        size *= share / 0.5
    return size


def _resample_seconds(runs, rows) -> float:
    """One fold's resampling time over ``rows`` rows, from measured ``runs``."""
    known = [(r, s) for r, s in runs if r]
    if rows is None or not known:
        return float(np.median([s for _, s in runs]))
    largest, seconds = max(known)
    power = 2.0 if rows > largest else 1.0
    return float(seconds * (rows / largest) ** power)


@dataclass
class Budget:
    """The deadline of one fit, and what the trials so far say about durations.

    Parameters
    ----------
    timeout : float or None
        Seconds for the whole fit; ``None``: no deadline.
    start : float, default=now
        ``time.perf_counter()`` at the start of the fit.
    refit_factor : float, default=1.25
        A refit on all rows takes this many times one fold's fit (the folds
        train on fewer rows).
    """

    timeout: float | None
    start: float = field(default_factory=time.perf_counter)
    refit_factor: float = 1.25
    _runs: list = field(default_factory=list, repr=False)
    _refits: list = field(default_factory=list, repr=False)
    _resamples: dict = field(default_factory=dict, repr=False)  # name: [(rows, s)]
    _longest: float = field(default=0.0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # A worker keeps at least the reserve of the fit whose study it joined.
    shared_reserve: float = field(default=0.0, repr=False)

    @property
    def deadline(self) -> float | None:
        return None if self.timeout is None else self.start + self.timeout

    def remaining(self) -> float:
        """Seconds left before the deadline (``inf`` without one)."""
        if self.deadline is None:
            return float("inf")
        return self.deadline - time.perf_counter()

    @property
    def reserve(self) -> float:
        """Seconds kept for after the search: the refit of the final model (the
        slowest of the best candidates so far, or a blend of the best five up
        to :data:`REFIT_SHARE` of the timeout) and its choice; at least the
        fit's when this is a worker's budget (``shared_reserve``)."""
        if self.timeout is None:
            return 0.0
        with self._lock:
            slowest = max(self._refits[-3:], default=0.0)
            blend = sum(self._refits[-_BLEND_SIZE:])
        # A blend of the best may be chosen when its refit fits the allowance.
        refit = max(slowest, min(blend, REFIT_SHARE * self.timeout))
        own = refit + _FIXED_RESERVE + _SHARE_RESERVE * self.timeout
        return max(own, self.shared_reserve)

    def record(self, model: str, size: float, seconds: float, fold_seconds: float,
               *, is_best: bool, resampler: str = "none",
               resample_seconds: float = 0.0, resample_runs=()) -> None:
        """Remember a finished trial: its family, size, duration, and the part
        of it its resampler took (``resample_seconds`` in all; the runs as
        ``(rows, seconds)`` per fold, ``rows`` None when unknown)."""
        with self._lock:
            self._runs.append((model, max(size, 1e-3),
                               max(seconds - resample_seconds, 0.0)))
            self._longest = max(self._longest, seconds)
            if is_best:
                self._refits.append(self.refit_factor * fold_seconds)
        self.record_resampling(resampler, resample_runs)

    def record_resampling(self, resampler: str, runs) -> None:
        """Remember runs of a resampler, as ``(rows, seconds)``: a trial's folds,
        or a measurement on a sample of rows."""
        if resampler in _CHEAP_RESAMPLERS:
            return
        with self._lock:
            self._resamples.setdefault(resampler, []).extend(
                (rows, float(seconds)) for rows, seconds in runs)

    def needs_measuring(self, resampler: str) -> bool:
        """Whether ``resampler`` may cost time of its own (not a random sampler)
        and no run of it with a known row count was recorded yet."""
        if resampler in _CHEAP_RESAMPLERS:
            return False
        with self._lock:
            return not any(rows for rows, _ in self._resamples.get(resampler, ()))

    def predict(self, model: str, size: float, resampler: str = "none", *,
                rows: float | None = None, folds: int = 1) -> float:
        """Predicted seconds of a trial of this family, size and resampler; 0
        when nothing has run yet.

        The resampler's time is added once per fold (``folds``), for ``rows``
        rows after over-sampling: scaled from its largest measured run, by the
        square of the rows above that run and linearly below. A non-cheap
        resampler that has not run yet may cost as much as the slowest trial so
        far.

        Examples
        --------
        >>> budget = Budget(60.0)
        >>> budget.record("lightgbm", 1.0, 2.0, 0.4, is_best=True)
        >>> budget.record_resampling("smote_enn", [(10_000, 0.5)])
        >>> budget.predict("lightgbm", 1.0, "smote_enn", rows=40_000, folds=3)
        26.0
        """
        with self._lock:
            runs = list(self._runs)
            resamples = list(self._resamples.get(resampler, ()))
            longest = self._longest
        if not runs:
            return 0.0
        if resampler in _CHEAP_RESAMPLERS:
            extra = 0.0
        elif resamples:
            extra = folds * _resample_seconds(resamples, rows)
        else:
            extra = longest
        same = [seconds / s * size for family, s, seconds in runs if family == model]
        if same:
            return float(np.median(same)) + extra
        per_unit = np.median([seconds / s / _RELATIVE_COST.get(family, 1.0)
                              for family, s, seconds in runs])
        # Another family's time is a rough guide: count on twice as much.
        return float(2.0 * per_unit * _RELATIVE_COST.get(model, 1.0) * size) + extra

    # -- the questions a search asks of its time --------------------------------

    def refuses_trial(self, model: str, size: float, resampler: str = "none", *,
                      rows: float | None = None, folds: int = 1) -> str | None:
        """Why a trial of this family, size and resampler may not start (it
        would not end before the time for trials is up), or None. A trial on
        one split cannot stop between folds: it needs
        :data:`UNSTOPPABLE_MARGIN` times its predicted duration."""
        margin = UNSTOPPABLE_MARGIN if folds == 1 else 1.0
        predicted = self.predict(model, size, resampler, rows=rows, folds=folds)
        if self.allows(margin * predicted):
            return None
        return (f"it would take about {predicted:.0f} s and the budget has less left"
                + (" (a one-split trial cannot stop part way, so it needs "
                   f"{margin:g} times that)" if margin > 1 else ""))

    def refuses_folds(self, elapsed: float, *, done: int, total: int) -> str | None:
        """Why a trial that took ``elapsed`` seconds for ``done`` of its
        ``total`` folds must stop (the others, at that pace, would overrun the
        time for trials), or None."""
        left = elapsed / done * (total - done)
        if left <= 0 or self.allows(left):
            return None
        return (f"after fold {done} of {total}, the other folds (about {left:.0f} s) "
                "would overrun the budget")

    def trials_over(self) -> bool:
        """Whether only the time kept for the final model is left."""
        return self.timeout is not None and self.remaining() <= self.reserve

    def wait_for_others(self, longest_trial: float) -> float:
        """Seconds the fit may wait for other processes' running trials before
        it chooses: to the time for trials plus the grace a trial may overrun
        into (5 % of the timeout), or without a deadline twice the study's
        longest trial plus 10 s."""
        if self.timeout is None:
            return 2.0 * longest_trial + 10.0
        return self.remaining() - self.reserve + _TRIAL_GRACE * self.timeout

    @staticmethod
    def seconds_until(deadline: float | None, timeout: float | None) -> float | None:
        """Seconds a worker may run: to a study's ``deadline`` (seconds since
        the epoch), or its own ``timeout`` if sooner; None: no limit.

        Examples
        --------
        >>> Budget.seconds_until(None, 30.0), Budget.seconds_until(None, None)
        (30.0, None)
        """
        left = None if deadline is None else deadline - time.time()
        if timeout is not None:
            left = timeout if left is None else min(left, timeout)
        return left

    @staticmethod
    def refit_allowance(timeout: float | None) -> float | None:
        """Seconds the final model's refit may take in a study of this timeout
        (None: no limit): :data:`REFIT_SHARE` of it. A function of the study's
        setting, not of the clock, so that every process chooses alike."""
        return None if timeout is None else REFIT_SHARE * timeout

    def hard_stop(self) -> float | None:
        """Seconds from now after which a running trial is stopped even in the
        middle of a fold: the time for trials (the reserve kept), plus 5 % of
        the timeout, the part of the contract's 10 % a trial may overrun into.
        None without a timeout.

        Examples
        --------
        >>> Budget(None).hard_stop() is None
        True
        >>> round(Budget(100.0).hard_stop())  # 100 - (1 + 3) + 5
        101
        """
        if self.timeout is None:
            return None
        return self.remaining() - self.reserve + _TRIAL_GRACE * self.timeout

    def allows(self, seconds: float) -> bool:
        """Whether work of this many seconds ends before the deadline, reserve kept."""
        return seconds <= self.remaining() - self.reserve

    def cheapest_trial(self) -> float:
        """The shortest trial seen so far (0 before any)."""
        with self._lock:
            return min((seconds for _, _, seconds in self._runs), default=0.0)
