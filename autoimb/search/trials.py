"""The Optuna study: objective, article recipes first, stopping and progress."""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import optuna
from optuna.trial import FixedTrial, TrialState
from sklearn.exceptions import ConvergenceWarning, UndefinedMetricWarning
from tqdm.auto import tqdm

from autoimb._warnings import warn
from autoimb.exceptions import NoCompletedTrialError
from autoimb.pipeline.evaluation import (
    PostProcessing,
    _rows,
    cross_fit_postprocessing,
    out_of_fold_scores,
)
from autoimb.pipeline.metrics import TRIAL_ATTRS as _METRIC_ATTRS
from autoimb.pipeline.objective import Objective
from autoimb.pipeline.postprocessing import inner_groups
from autoimb.pipeline.preprocessing import ColumnKinds
from autoimb.pipeline.resampling import resampled_rows
from autoimb.search.budget import Budget, strategy_size
from autoimb.search.folds import first_partition
from autoimb.search.memory import TrialMemory, release_free_memory
from autoimb.search.scores import ScoreStore
from autoimb.search.spaces import SearchSpace
from autoimb.storage.outcomes import (
    count_outcomes,
    describe_outcomes,
    outcome_of,
    record_outcome,
)
from autoimb.storage.shutdown import OutOfTime, call_stoppably, stop_at, stop_cleanly
from autoimb.storage.studies import fail_dead_workers_trials, worker_id

logger = logging.getLogger(__name__)

__all__ = ["SearchContext", "SearchObserver", "TrialRun", "run_search", "strategy_of"]


# Warnings that trials raise by design and that say nothing to the user: a
# strategy that does not converge, or scores a fold without positives, is judged
# by its score. Everything else (FutureWarning, DeprecationWarning...) shows.
_TRIAL_NOISE = (ConvergenceWarning, UndefinedMetricWarning,
                optuna.exceptions.ExperimentalWarning)
# Pruning acts only with this many folds or fewer, and this many positives in
# every fold (medium and large data).
_PRUNE_UP_TO_FOLDS = 3
_PRUNE_MIN_POSITIVES = 100
# The search stops after this many trials in a row of one process were pruned
# before they started for want of memory: the space then proposes only trials
# that do not fit, and each pruned trial still costs a sampler's proposal and a
# write to the storage (a search restricted to over-sampling in 370 MB pruned
# 2,321 in 60 s and completed 8).
MAX_SHORT_OF_MEMORY = 20
# A resampler that never ran is timed on an eighth of the first training fold
# before its first trial on folds of this many rows (after over-sampling) or more.
_MEASURE_FROM_ROWS = 20_000
_MEASURE_SHARE = 8

# Completed trials whose out-of-fold scores are kept for choosing the final
# model (the best by value; the candidate pool takes at most this many). On
# large data fewer are kept, so that the cache and the choice's matrices (one
# column per candidate, one row per scored row) hold at most about
# CACHED_VALUES scores: 50 trials of 212,000 scored rows took 95 MB, and the
# choice three times that. Among candidates measured on that many rows, the
# best ten by value are the ones in contention.
CACHED_TRIALS = 50
CACHED_VALUES = 2_000_000
MIN_CACHED_TRIALS = 10


class SearchObserver:
    """What a search tells those who watch it: the explaining layer's notes
    and figures (:class:`autoimb.explain.Explainer`), registered by whoever
    runs the search. Every method does nothing here; the search core calls
    them and never imports who listens.
    """

    def study_ready(self, run) -> None:
        """The study is open and its folds made (``run``: the SearchRun)."""

    def trial_completed(self, trial, strategy, scores, post, y) -> None:
        """A trial completed: its out-of-fold ``scores`` of the scored rows,
        their post-processing ``post`` and labels ``y``."""

    def trial_stopped(self, trial, strategy, state: str, reason: str) -> None:
        """A trial was pruned (``state`` "PRUNED") or failed ("FAIL")."""

    def final_chosen(self, run, choice) -> None:
        """The final model was chosen (``choice``: a FinalChoice)."""


@dataclass
class SearchContext:
    """What every trial of one search shares."""

    X: object
    y: np.ndarray
    kinds: ColumnKinds
    folds: list
    objective: Objective
    space: SearchSpace
    model_seed: int
    oof_cache: dict = field(default_factory=dict)  # see keep_scores
    scores: ScoreStore = field(default_factory=ScoreStore)  # the study's, stored
    kept: set = field(default_factory=set)  # trials never trimmed from the cache
    observers: list = field(default_factory=list)  # SearchObserver, see there
    budget: Budget = field(default_factory=lambda: Budget(None))
    memory: TrialMemory = field(default_factory=TrialMemory)
    model_threads: int = 1

    @functools.cached_property
    def class_counts(self) -> tuple[int, int]:
        """Negatives and positives among all rows."""
        n_pos = int(np.sum(self.y))
        return len(self.y) - n_pos, n_pos

    @functools.cached_property
    def fold_ids(self) -> np.ndarray:
        """The fold each row is held out in (in the first repetition, when folds
        are repeated); -1 for rows no fold holds out."""
        ids = np.full(len(self.y), -1, dtype=int)
        for k, (_, test) in enumerate(self.partition):
            ids[test] = k
        return ids

    @functools.cached_property
    def partition(self) -> list:
        """The folds of the first repetition (all of them when not repeated)."""
        return first_partition(self.folds)

    @functools.cached_property
    def scored(self) -> np.ndarray:
        """Rows that some fold holds out: those every candidate is scored on."""
        return self.fold_ids >= 0

    @functools.cached_property
    def groups(self) -> np.ndarray:
        """The groups post-processing is cross-fitted over, for the scored rows:
        their folds, or three stratified groups when one split scored them all
        (a holdout)."""
        groups = self.fold_ids[self.scored]
        if len(np.unique(groups)) >= 2:
            return groups
        y = self.y[self.scored]
        return inner_groups(y, np.arange(len(y)))

    @functools.cached_property
    def cached_trials(self) -> int:
        """How many trials' scores the cache keeps: ``CACHED_TRIALS``, fewer
        (down to ``MIN_CACHED_TRIALS``) when the scored rows are many."""
        n_scored = max(int(self.scored.sum()), 1)
        return max(MIN_CACHED_TRIALS, min(CACHED_TRIALS, CACHED_VALUES // n_scored))

    def keep_scores(self, trial, scores, post: PostProcessing) -> None:
        """Store a completed trial's out-of-fold scores (of the scored rows, as
        float32) with the study, where every process that chooses the final
        model reads them (:mod:`autoimb.search.scores`), and cache them with their
        post-processing in this process, keeping the best ``cached_trials`` by
        value so that the cache stays the same size however many trials run.

        ``post`` must be :meth:`postprocess` of the same float32 scores, as
        :meth:`stored` computes it again in another process."""
        scored = np.asarray(scores)[self.scored].astype(np.float32)
        try:
            self.scores.save(trial, scored)
        except Exception as exc:  # the trial counts; the choice will not see it
            warn(f"Could not store the out-of-fold scores of trial {trial.number} "
                 f"in {self.scores.describe()} ({type(exc).__name__}: {exc}); the "
                 "final model will be chosen without it. Free disk space or check "
                 "the folder's permissions.")
        self.oof_cache[trial.number] = (scored, post)
        self.trim_cache()

    def stored(self, trial):
        """``(scores, post)`` of a completed trial: its stored out-of-fold
        scores (float32, of the scored rows) and their post-processing, from
        this process's cache or from the study's store; None when the study
        holds none for it."""
        cached = self.oof_cache.get(trial.number)
        if cached is not None:
            return cached
        scores = self.scores.load(trial, n_rows=int(self.scored.sum()))
        if scores is None:
            return None
        return scores, self._postprocess_scored(scores)

    def trim_cache(self) -> None:
        """Drop the worst cached trials beyond ``cached_trials``, except those
        in ``kept`` (the prior default's, which the final choice may prefer)."""
        cache = self.oof_cache
        sign = 1.0 if self.objective.direction == "minimize" else -1.0
        while len(cache) > self.cached_trials:
            items = [item for item in list(cache.items())  # other threads add
                     if item[0] not in self.kept]
            if not items:
                break
            worst = max(items, key=lambda item: sign * item[1][1].value)[0]
            cache.pop(worst, None)

    def postprocess(self, scores) -> PostProcessing:
        """Cross-fitted post-processing of out-of-fold scores (of all rows), in
        the one precision they are stored in (float32), so that any process
        that reads them back computes the same."""
        return self._postprocess_scored(
            np.asarray(scores)[self.scored].astype(np.float32))

    def _postprocess_scored(self, scored) -> PostProcessing:
        """Post-processing of float32 scores of the scored rows; its
        probabilities kept as float32 too, as every process keeps them."""
        post = cross_fit_postprocessing(
            scored.astype(float), self.y[self.scored], self.groups,
            objective=self.objective, calibrations=self.space.calibrations)
        post.proba = post.proba.astype(np.float32)
        return post


def strategy_of(space: SearchSpace, params: dict, kinds: ColumnKinds):
    """The strategy a finished trial's parameters stand for."""
    return space.suggest(FixedTrial(params), has_categorical=kinds.has_categorical,
                         has_numeric=kinds.has_numeric)


class _Stopper:
    """Stops the study once enough trials finished, when they keep failing, when
    no trial could finish before the budget's deadline, or when the last
    :data:`MAX_SHORT_OF_MEMORY` trials were all too large for the memory left."""

    def __init__(self, n_trials, max_failures, budget):
        self.n_trials = n_trials
        self.max_failures = max_failures
        self.budget = budget
        self.failures = 0
        self.short_of_memory = 0
        self._lock = threading.Lock()

    def __call__(self, study, trial):
        with self._lock:
            if trial.state == TrialState.FAIL:
                failed = outcome_of(trial) == "failed"  # not interrupted
                self.failures += failed
                logger.warning("Trial %d %s: %s", trial.number,
                               "failed" if failed else "stopped",
                               trial.user_attrs.get("error", "unknown error"))
            if trial.user_attrs.get(_SHORT_OF_MEMORY):
                self.short_of_memory += 1
            elif trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
                self.short_of_memory = 0
            done = _count(study, (TrialState.COMPLETE, TrialState.PRUNED))
            if (self.n_trials is not None and done >= self.n_trials) or \
                    self.failures >= self.max_failures or \
                    not self.budget.allows(self.budget.cheapest_trial()):
                study.stop()
            elif self.short_of_memory >= MAX_SHORT_OF_MEMORY:
                self.short_of_memory = 0
                left = (f", {self.budget.remaining():.0f} s before its deadline"
                        if self.budget.timeout is not None else "")
                warn(f"The search stopped{left}: its last {MAX_SHORT_OF_MEMORY} "
                     "trials were skipped before they started, each needing more "
                     "memory than was left for its over-sampled rows "
                     f"({trial.user_attrs.get('pruned_reason', '')}). Give it more "
                     "memory, or a search space with lower sampling ratios or "
                     "without over-sampling.")
                study.stop()


#: Marks a trial pruned because it would not fit in the memory left.
_SHORT_OF_MEMORY = "short_of_memory"


class _Progress:
    """A tqdm bar over the search: over finished trials when ``n_trials`` is
    set, otherwise over the seconds of the time budget. It shows the best
    trial so far and how many trials finished.

    The best is shown unit-free, as the summary shows it: the normalized cost
    (the cost over that of the cheaper trivial rule on the same rows), or the
    average precision. A trial's raw cost is a total over the rows it was
    scored on, a holdout's fifth of the data on large data, whereas
    ``best_score_`` and the summary count costs over all the training rows.

    Under a time budget alone the bar fills with the seconds spent, ticking
    once a second from a background thread, so that it moves during long
    trials too.

    >>> from types import SimpleNamespace
    >>> best = SimpleNamespace(number=3, value=120.0,
    ...                        user_attrs={"normalized_cost": 0.41234})
    >>> _Progress.describe(best, "cost")
    'best #3: normalized cost 0.412'
    >>> _Progress.describe(SimpleNamespace(number=0, value=0.61789, user_attrs={}),
    ...                    "average_precision")
    'best #0: average precision 0.6179'
    """

    #: Seconds between two moves of a time bar.
    TICK = 1.0

    def __init__(self, total, initial, enabled, metric, budget):
        self.metric = metric
        self.budget = budget
        self.finished = initial
        self.by_time = total is None and budget.timeout is not None
        if self.by_time:
            self.bar = tqdm(total=round(budget.timeout), initial=0,
                            desc="autoimb search", unit="s", disable=not enabled,
                            dynamic_ncols=True,
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| "
                                       "{n:.0f}/{total:.0f} s{postfix}")
        else:
            self.bar = tqdm(total=total, initial=initial, desc="autoimb search",
                            unit="trial", disable=not enabled, dynamic_ncols=True)
        self._stop = threading.Event()
        self._ticker = None
        if self.by_time and not self.bar.disable:
            self._ticker = threading.Thread(target=self._tick, daemon=True,
                                            name="autoimb-progress")
            self._ticker.start()

    def _tick(self):
        while not self._stop.wait(self.TICK):
            self._show_time()

    def _show_time(self):
        spent = min(self.budget.timeout,
                    max(0.0, self.budget.timeout - self.budget.remaining()))
        with self.bar.get_lock():
            self.bar.n = round(spent)
            self.bar.refresh()

    def __call__(self, study, trial):
        if self.bar.disable:
            return
        if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
            # every worker's trials count, whoever ran them
            self.finished = _count(study, (TrialState.COMPLETE, TrialState.PRUNED))
            if not self.by_time:
                self.bar.update(max(0, self.finished - self.bar.n))
        parts = []
        try:
            parts.append(self.describe(study.best_trial, self.metric))
        except ValueError:
            pass
        if self.by_time:
            parts.append(f"{self.finished} trial{'s' if self.finished != 1 else ''}")
        elif self.budget.timeout is not None:
            parts.append(f"{max(self.budget.remaining(), 0.0):.0f} s left")
        if parts:
            self.bar.set_postfix_str(", ".join(parts), refresh=not self.by_time)
        if self.by_time:
            self._show_time()

    @staticmethod
    def describe(best, metric) -> str:
        """The best trial in a few words: its number and unit-free value."""
        normalized = best.user_attrs.get("normalized_cost")
        if metric == "cost" and normalized is not None:
            return f"best #{best.number}: normalized cost {normalized:.3f}"
        return f"best #{best.number}: {metric.replace('_', ' ')} {best.value:.4g}"

    def close(self):
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        if self.by_time and not self.bar.disable:
            self._show_time()
        self.bar.close()


def _count(study, states):
    return len(study.get_trials(deepcopy=False, states=states))


def make_objective(ctx: SearchContext):
    """The function Optuna calls for each trial: a :class:`TrialRun` of it."""
    # Pruning on a fold's rows leaves the surviving trials lucky on those rows,
    # which no later correction sees. It is worth that only where trials are
    # slow and folds hold many positives: 3 folds or fewer, 100+ positives each.
    prune = 1 < len(ctx.folds) <= _PRUNE_UP_TO_FOLDS and min(
        int(ctx.y[test].sum()) for _, test in ctx.folds) >= _PRUNE_MIN_POSITIVES

    def run_trial(trial: optuna.Trial) -> float:
        return TrialRun(ctx, trial, prune=prune).run()

    return run_trial


class TrialRun:
    """One trial, in named steps: :meth:`propose` a strategy, :meth:`admit` it
    under the memory and the time budget, :meth:`fit_folds` (stopping between
    folds when the rest would overrun, or when the pruner says so),
    post-process the out-of-fold scores, :meth:`record` what the study keeps
    of it, and :meth:`learn` from it (the budget's durations, the memory's
    measurements, the observers). Every question about time is the budget's
    (:class:`~autoimb.search.budget.Budget`).
    """

    def __init__(self, ctx: SearchContext, trial: optuna.Trial, *, prune: bool):
        self.ctx, self.trial, self.prune = ctx, trial, prune
        self.started = time.perf_counter()
        self.strategy = None
        # Each fold's fitted pipeline is dropped once it has scored its fold:
        # holding all of them would hold one model per fold at once (five
        # forests of a deep random forest). Only its resampling summary stays.
        self.fitted, self.summaries, self.fold_scores = [], [], []

    def run(self) -> float:
        """The trial's value (Optuna's objective)."""
        trial = self.trial
        trial.set_user_attr("worker", worker_id())
        try:
            self.propose()
            self.admit()
            scores, seconds, memory = self.fit_folds()
            post = self.ctx.postprocess(scores)
        except optuna.TrialPruned:
            raise
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (see shutdown)
            reason = str(exc) or "interrupted (Ctrl-C)"
            trial.set_user_attr("error", f"{reason}; queued again")
            record_outcome(trial, "stopped")  # FAIL in Optuna, but no error
            trial.study.enqueue_trial(trial.params,
                                      user_attrs={"retry_of": trial.number})
            raise
        except Exception as exc:
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
            record_outcome(trial, "failed")
            self._tell_stopped("FAIL", f"{type(exc).__name__}: {exc}")
            raise
        self.record(scores, post, seconds)
        record_outcome(trial, "completed")
        self.learn(scores, post, seconds, memory)
        return post.value

    # -- the steps -------------------------------------------------------------

    def propose(self) -> None:
        """The strategy the sampler proposes."""
        ctx = self.ctx
        self.strategy = ctx.space.suggest(
            self.trial, has_categorical=ctx.kinds.has_categorical,
            has_numeric=ctx.kinds.has_numeric)
        self.trial.set_user_attr("strategy", self.strategy.describe())
        self.size, self.fold_rows = trial_size(self.strategy, ctx)

    def admit(self) -> None:
        """Start the trial only if its folds fit in the memory left and end
        within the budget; else prune it before it starts (a cheaper one may
        still fit)."""
        ctx, strategy, budget = self.ctx, self.strategy, self.ctx.budget
        rows_factor = self.fold_rows / len(ctx.folds[0][0])
        if rows_factor > 1:  # what every process has learned so far
            ctx.memory.learn(self.trial.study)
        short = ctx.memory.shortfall(strategy.model, self.fold_rows, rows_factor)
        if short is not None:
            self.trial.set_user_attr(_SHORT_OF_MEMORY, True)
            self._stop(short, "skipped")
        if budget.timeout is not None and self.fold_rows >= _MEASURE_FROM_ROWS \
                and budget.needs_measuring(strategy.resampler):
            budget.record_resampling(strategy.resampler,
                                     _time_resampler(strategy, ctx))
        refusal = budget.refuses_trial(strategy.model, self.size, strategy.resampler,
                                       rows=self.fold_rows, folds=len(ctx.folds))
        if refusal is not None:
            self._stop(refusal, "skipped")

    def fit_folds(self):
        """Out-of-fold scores of the strategy: ``(scores, seconds, memory)``,
        the fold models' fitting time and the memory they took."""
        ctx = self.ctx
        try:
            with stop_at(ctx.budget.hard_stop()), ctx.memory.watch() as memory:
                scores, _, seconds = out_of_fold_scores(
                    self._make_pipeline, ctx.X, ctx.y, ctx.folds,
                    on_fold=self._fold_done, call=call_stoppably)
        except OutOfTime:
            self._stop(f"stopped in fold {len(self.fold_scores) + 1} of "
                       f"{len(ctx.folds)}: the budget's time for trials ran out",
                       "stopped")
        return scores, seconds, memory

    def record(self, scores, post, seconds) -> None:
        """What the study keeps of a completed trial: its metrics, its
        post-processing, its times, its resampling, and its out-of-fold
        scores (stored with the study, :mod:`autoimb.search.scores`)."""
        trial = self.trial
        for key in _METRIC_ATTRS:
            trial.set_user_attr(key, _json_float(post.metrics[key]))
        trial.set_user_attr("calibration", post.calibration)
        trial.set_user_attr("threshold_rule", post.rule)
        trial.set_user_attr("fit_time", round(seconds, 3))
        trial.set_user_attr("confusion", {k: post.metrics[k] for k in
                                          ("tn", "fp", "fn", "tp")})
        if self.summaries:
            # named by what the resampler did on the training rows, not asked
            trial.set_user_attr("strategy", self.strategy.describe(self.summaries))
            trial.set_user_attr("resampler", self.strategy.resampler_applied(
                self.summaries))
            trial.set_user_attr("resampling", _resampling_text(self.summaries))
            trial.set_user_attr("resample_time", round(self._resample_seconds, 3))
        self.ctx.keep_scores(trial, scores, post)

    def learn(self, scores, post, seconds, memory) -> None:
        """Tell the budget how long the trial took, the memory what it held,
        and the observers how it went."""
        ctx, strategy, trial = self.ctx, self.strategy, self.trial
        if memory.increase is not None:
            ctx.memory.keep(trial, strategy.model, self.fold_rows, memory.increase)
        ctx.budget.record(strategy.model, self.size,
                          time.perf_counter() - self.started,
                          seconds / len(ctx.folds),
                          is_best=_is_best(trial.study, post.value),
                          resampler=strategy.resampler,
                          resample_seconds=self._resample_seconds,
                          resample_runs=_resampler_runs(strategy, self.summaries))
        for observer in ctx.observers:
            observer.trial_completed(trial, strategy, scores[ctx.scored], post,
                                     ctx.y[ctx.scored])

    # -- within the steps ------------------------------------------------------

    def _make_pipeline(self):
        ctx = self.ctx
        self.fitted.append(self.strategy.make_pipeline(ctx.kinds, ctx.model_seed,
                                                       n_jobs=ctx.model_threads))
        return self.fitted[-1]

    def _fold_done(self, k, test, scores) -> None:
        """After fold ``k``: stop if the other folds would overrun the budget;
        report the running score; prune if the pruner says so (never after
        the last fold: a trial whose last fold is scored is complete)."""
        ctx, n_folds = self.ctx, len(self.ctx.folds)
        steps = self.fitted.pop().named_steps
        if "resample" in steps:
            self.summaries.append(steps["resample"].summary_)
        overrun = ctx.budget.refuses_folds(time.perf_counter() - self.started,
                                           done=k + 1, total=n_folds)
        if overrun is not None:
            self._stop(overrun, "stopped")
        self.fold_scores.append(ctx.objective.oracle_fold_score(ctx.y[test],
                                                                scores[test]))
        self.trial.set_user_attr("fold_scores", self.fold_scores)
        running = float(np.mean(self.fold_scores))
        self.trial.report(running, step=k)
        if self.prune and k < n_folds - 1 and self.trial.should_prune():
            metric = ("normalized oracle cost" if ctx.objective.kind == "cost"
                      else "AP")
            self._stop(f"after fold {k + 1} of {n_folds}, its running {metric} "
                       f"{running:.4g} was worse than the median of earlier trials "
                       "at the same fold", "pruned")

    @property
    def _resample_seconds(self) -> float:
        return sum(s.get("seconds", 0.0) for s in self.summaries)

    def _stop(self, reason: str, outcome: str):
        """Prune the trial (in Optuna's terms), saying why and how it ended
        (``outcome``: "pruned" by the pruner, "stopped" by the budget part
        way, "skipped" before it started; in its attributes and to
        observers)."""
        self.trial.set_user_attr("pruned_reason", reason)
        record_outcome(self.trial, outcome)
        self._tell_stopped("PRUNED", reason)
        raise optuna.TrialPruned() if outcome == "pruned" \
            else optuna.TrialPruned(reason)

    def _tell_stopped(self, state: str, reason: str) -> None:
        for observer in self.ctx.observers:
            observer.trial_stopped(self.trial, self.strategy, state, reason)


def trial_size(strategy, ctx: SearchContext) -> tuple[float, float]:
    """What the budget predicts a trial's time from: the strategy's size
    (:func:`strategy_size`) times the share of the rows its model trains on
    after resampling, and the rows of one training fold after over-sampling."""
    rows = resampled_rows(strategy.resampler, strategy.sampling_ratio,
                          *ctx.class_counts)
    return (strategy_size(strategy) * rows / len(ctx.y),
            rows * len(ctx.folds[0][0]) / len(ctx.y))


def _time_resampler(strategy, ctx: SearchContext) -> list:
    """Time the strategy's resampler on an eighth of the first training fold's
    rows (preprocessed as the pipeline does), before its first run on a large
    fold: its time there is then predicted from this, not from the model's.
    Returns ``[(rows, seconds)]``, or ``[]`` when it fails on the sample."""
    train = ctx.folds[0][0]
    rows = np.random.default_rng(0).choice(
        train, size=max(len(train) // _MEASURE_SHARE, 2), replace=False)
    steps = strategy.make_pipeline(ctx.kinds, ctx.model_seed).pipeline.named_steps
    y = ctx.y[rows]
    try:
        X = steps["preprocess"].fit_transform(_rows(ctx.X, rows), y)
        started = time.perf_counter()
        steps["resample"].fit_resample(X, y)
    except Exception as exc:  # the trial itself will say what is wrong
        logger.debug("Timing %s on a sample failed: %s", strategy.resampler, exc)
        return []
    seconds = time.perf_counter() - started
    return _resampler_runs(strategy, [{**steps["resample"].summary_,
                                       "seconds": seconds}])


def _resampler_runs(strategy, summaries) -> list:
    """``(rows after over-sampling, seconds)`` of each fold the resampler ran on."""
    return [(resampled_rows(strategy.resampler, strategy.sampling_ratio,
                            *summary["before"]), summary["seconds"])
            for summary in summaries if "seconds" in summary]


def _is_best(study, value) -> bool:
    """Whether ``value`` beats every completed trial so far."""
    try:
        best = study.best_value
    except ValueError:
        return True
    return value < best if study.direction.name == "MINIMIZE" else value > best


def _json_float(value):
    value = float(value)
    return value if math.isfinite(value) else None


def _resampling_text(summaries):
    (neg0, pos0), (neg1, pos1) = summaries[0]["before"], summaries[0]["after"]
    text = (f"fold 1: {neg0} negatives / {pos0} positives -> "
            f"{neg1} / {pos1}")
    adapted = sorted({s["adapted"] for s in summaries if s["adapted"]})
    if adapted:
        text += "; adapted: " + "; ".join(adapted)
    return text


def run_search(study, ctx: SearchContext, *, n_trials, timeout, n_jobs,
               show_progress_bar, callbacks=()):
    """Run trials until ``n_trials`` have finished in the study, or ``timeout``."""
    dead = fail_dead_workers_trials(study)
    if dead:
        logger.warning("Trials %s of study %r were left running by a process that is "
                       "gone; marked them failed.", dead, study.study_name)
    finished = _count(study, (TrialState.COMPLETE, TrialState.PRUNED))
    remaining = None if n_trials is None else n_trials - finished
    if remaining is not None and remaining <= 0:
        logger.info("Study %r already has %d finished trials; nothing to run.",
                    study.study_name, finished)
        return study
    stopper = _Stopper(n_trials, max_failures=max(10, 2 * (n_trials or 10)),
                       budget=ctx.budget)
    progress = _Progress(n_trials, finished, show_progress_bar,
                         ctx.objective.metric_name, ctx.budget)
    verbosity = optuna.logging.get_verbosity()
    # Failed trials are logged by _Stopper in one line, with the reason recorded.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        with warnings.catch_warnings(), stop_cleanly(study):
            for category in _TRIAL_NOISE:
                warnings.simplefilter("ignore", category)
            study.optimize(make_objective(ctx), n_trials=None,
                           timeout=None if timeout is None else ctx.budget.remaining(),
                           n_jobs=n_jobs, catch=(Exception,),
                           callbacks=[stopper, progress, *callbacks, _release])
    finally:
        optuna.logging.set_verbosity(verbosity)
        progress.close()
    return study


def _release(study, trial) -> None:
    """After each trial: the memory it freed back to the system."""
    release_free_memory()


def best_trial_or_raise(study):
    """The best completed trial, or a NoCompletedTrialError with the first cause."""
    completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if completed:
        return study.best_trial
    ended = study.get_trials(deepcopy=False, states=(TrialState.FAIL,
                                                     TrialState.PRUNED))
    failed = [t for t in ended if outcome_of(t) == "failed"]
    first = next((t.user_attrs["error"] for t in failed if t.user_attrs.get("error")),
                 None)
    pruned = [t for t in ended if t.state == TrialState.PRUNED]
    why = next(((outcome_of(t), t.user_attrs["pruned_reason"]) for t in pruned
                if t.user_attrs.get("pruned_reason")), None)
    if first or not why:
        cause = f"First failure: {first or 'unknown'}"
    else:
        cause = f"First trial {why[0]}: {why[1]}"
    counts = describe_outcomes(count_outcomes(outcome_of(t) for t in ended),
                               always=None) or "none ended"
    error = NoCompletedTrialError(
        f"No trial of study {study.study_name!r} completed ({counts}). {cause}. Fix "
        "the cause, or widen the search space or the timeout.")
    if first:
        error.__cause__ = RuntimeError(first)
    raise error
