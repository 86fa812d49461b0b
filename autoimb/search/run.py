"""The search core: one study searched, its final model chosen and fitted.

A :class:`SearchRun` takes checked training data
(:class:`~autoimb._validation.TrainingData`), the settings
(:class:`~autoimb.search.settings.SearchSettings`) and the study's storage, and goes
through three steps:

1. :meth:`SearchRun.prepare` opens the study (or joins one that ``fit``
   made), tags a new one with the data's fingerprint and the job workers need,
   and makes the folds: the :class:`~autoimb.search.trials.SearchContext` every
   trial shares;
2. :meth:`SearchRun.search` runs trials, in this process and in worker
   processes beside it (:mod:`autoimb.search.processes`), until the study's budget;
3. :meth:`SearchRun.finish` chooses the final model among the study's
   completed trials (:mod:`autoimb.search.choice`), fits it on all rows and
   returns a frozen :class:`SearchResult`.

``AutoImbClassifier.fit`` runs all three (closing the search before the third,
:meth:`SearchRun.close`); ``autoimb worker`` runs the first two on a study it
joins; ``autoimb export`` the first and the third. None of them reaches into
the estimator.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
import warnings
from dataclasses import dataclass
from numbers import Integral
from typing import TYPE_CHECKING

import numpy as np
import optuna
import pandas as pd
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

from autoimb._optuna_compat import speed_up_tpe
from autoimb._validation import TrainingData, check_costs, data_fingerprint, plain_value
from autoimb._warnings import warn
from autoimb.exceptions import AutoImbError
from autoimb.pipeline.fitted import ThresholdedPipeline
from autoimb.pipeline.metrics import TRIAL_ATTRS
from autoimb.pipeline.objective import Objective
from autoimb.search.budget import Budget
from autoimb.search.choice import (
    FinalChoice,
    choose_final,
    close_search,
    fit_final,
    record_final,
    settle,
)
from autoimb.search.folds import Validation, choose_validation, make_folds, user_folds
from autoimb.search.job import (
    BUDGET_KEY,
    JOB_KEY,
    RESERVE_KEY,
    ShareReserve,
    budget_record,
    check_joined_study,
    job_record,
)
from autoimb.search.memory import data_mb
from autoimb.search.portfolio import enqueue_portfolio, prior_trials
from autoimb.search.processes import WorkerProcesses, resolve_n_jobs
from autoimb.search.scores import score_store_for
from autoimb.search.spaces import load_search_space
from autoimb.search.trials import SearchContext, run_search
from autoimb.storage.location import resolve_storage
from autoimb.storage.outcomes import outcome_of
from autoimb.storage.studies import (
    FINGERPRINT_KEY,
    check_study_matches,
    open_study,
    worker_id,
)

if TYPE_CHECKING:
    from autoimb.search.settings import SearchSettings

__all__ = ["SearchResult", "SearchRun", "results_table"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchResult:
    """What a search run ends with: the final model and how it was chosen.

    Attributes
    ----------
    choice : FinalChoice
        The chosen candidate, its bias-corrected score and the pool.
    pipeline : ThresholdedPipeline
        The chosen candidate fitted on all rows, with its calibrator and
        threshold.
    best_params : dict
        Optuna parameters of the chosen (first) trial; empty for the trivial
        rule.
    objective : Objective
    validation : Validation
    study : optuna.Study
    study_name : str
    storage_location : str or None
    results : DataFrame
        One row per trial (:func:`results_table`).
    context : SearchContext
        The data, folds and cached scores (for figures and diagnostics).
    n_jobs : int
        Trials the search ran at once.
    interrupted : bool
        Whether the search was stopped by Ctrl-C.
    """

    choice: FinalChoice
    pipeline: ThresholdedPipeline
    best_params: dict
    objective: Objective
    validation: Validation
    study: optuna.Study
    study_name: str
    storage_location: str | None
    results: pd.DataFrame
    context: SearchContext
    n_jobs: int
    interrupted: bool = False


class SearchRun:
    """One search of one study (see the module's docstring for the steps).

    Parameters
    ----------
    settings : SearchSettings
    data : TrainingData
    join : bool, default=False
        Join a study that ``fit`` made (a worker, an export) rather than open
        or create one.
    inputs : tuple (X, y), default=None
        The data as given to ``fit``: recorded in a new study's job, and handed
        to worker processes.
    budget : Budget, default=None
        ``Budget(settings.timeout)`` started now when not given.
    observers : list of SearchObserver, default=()
        Told of the study, each trial and the final choice (the explaining
        layer: notes and figures for the dashboard).

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from autoimb.search.settings import SearchSettings
    >>> from autoimb._validation import check_training_data
    >>> X, y = make_classification(n_samples=300, weights=[0.9], random_state=0)
    >>> data = check_training_data(X, y)
    >>> run = SearchRun(SearchSettings("fast", n_trials=2, cv=3, storage="memory",
    ...                                random_state=0, show_progress_bar=False),
    ...                 data).prepare()
    >>> run.search()
    False
    >>> result = run.close().finish()
    >>> int((result.results["state"] != "WAITING").sum())  # 2 run, others queued
    2
    >>> result.pipeline.predict(data.X.iloc[:4]).shape
    (4,)
    """

    def __init__(self, settings: SearchSettings, data: TrainingData, *,
                 join: bool = False, inputs=None, budget: Budget | None = None,
                 observers=()):
        self.settings = settings
        self.observers = list(observers)
        self.data = data
        self.join = join
        self.inputs = inputs
        self.budget = budget if budget is not None else Budget(settings.timeout)
        self.times: dict[str, float] = {}
        self.own_workers: set[str] = set()  # this run's processes (worker_id)
        given = inputs[0] if inputs is not None else data.X
        self.n_jobs = resolve_n_jobs(
            settings.n_jobs, timeout=settings.timeout, parallel=settings.parallel,
            storage=settings.storage, cv=settings.cv,
            data_mb=None if settings.n_jobs == 1 else data_mb(given))
        self.interrupted = False

    # -- 1. prepare ------------------------------------------------------------

    def prepare(self) -> SearchRun:
        """Open (or join) the study and make the folds and the trials' context."""
        settings, data = self.settings, self.data
        fp, fn, given = check_costs(settings.objective, settings.fp_cost,
                                    settings.fn_cost, data.y)
        self.objective = Objective(settings.objective, fp, fn, costs_given=given)
        space = load_search_space(settings.search_space)
        self.storage, self.storage_location = resolve_storage(settings.storage)
        self.study = self._open_study(space)
        folds = self._make_folds()
        self.context = SearchContext(
            X=data.X, y=data.y, kinds=data.kinds, folds=folds,
            objective=self.objective, space=space,
            model_seed=self.study.user_attrs["autoimb.seeds"]["models"],
            observers=self.observers, budget=self.budget,
            kept=prior_trials(self.study),
            scores=score_store_for(self.storage, self.storage_location))
        for observer in self.observers:
            observer.study_ready(self)
        self.times["prepare"] = time.perf_counter() - self.budget.start
        return self

    def _open_study(self, space) -> optuna.Study:
        settings, data = self.settings, self.data
        fingerprint = data_fingerprint(data.X, data.y)
        config = {
            "objective": self.objective.kind,
            "fp_cost": self.objective.fp_cost,
            "fn_cost": self.objective.fn_cost,
            "search_space": hashlib.sha256(repr(space).encode()).hexdigest()[:12],
            "cv": _describe_cv(settings.cv),
            "pos_label": str(data.pos_label),
        }
        config_hash = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
        self.study_name = settings.study_name or (
            f"autoimb-{fingerprint[:8]}-{config_hash.hexdigest()[:6]}")
        sampler_seed, fold_seed, model_seed = _spawn_seeds(settings.random_state, 3)
        with warnings.catch_warnings(), _quiet_optuna():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            speed_up_tpe()
            sampler = optuna.samplers.TPESampler(
                seed=sampler_seed, multivariate=True, group=True,
                constant_liar=self.join or self.n_jobs != 1)
            pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
            if self.join:  # a worker or an export: the study exists, made for this data
                study = optuna.load_study(study_name=self.study_name,
                                          storage=self.storage, sampler=sampler,
                                          pruner=pruner)
                check_joined_study(study, fingerprint=fingerprint, config=config,
                                   data=settings.data_location)
                return study
            study, created = open_study(
                self.storage, study_name=self.study_name, sampler=sampler,
                pruner=pruner, direction=self.objective.direction)
            # A study made by another process at the same moment is tagged by it:
            # wait for its job record, written last.
            new = check_study_matches(study, fingerprint=fingerprint, config=config,
                                      created=created, ready_key=JOB_KEY)
            if new:
                study.set_user_attr("autoimb.seeds", {"folds": fold_seed,
                                                      "models": model_seed})
                validation = self._chosen_validation()
                study.set_user_attr("autoimb.validation", validation.as_dict())
                study.set_metric_names([self.objective.metric_name])
                study.set_user_attr(FINGERPRINT_KEY, fingerprint)  # set up: tagged
                enqueue_portfolio(study, space, data.kinds,
                                  large=validation.kind == "holdout")
            study.set_user_attr(BUDGET_KEY, budget_record(settings.n_trials_wanted,
                                                          self.budget))
            study.set_user_attr(RESERVE_KEY, round(self.budget.reserve, 3))
            close_search(study, closed=False)
            if JOB_KEY not in study.user_attrs:  # last: the study is ready for workers
                X_given, y_given = self.inputs if self.inputs is not None else (
                    data.X, data.y)
                study.set_user_attr(JOB_KEY, job_record(
                    settings, data, objective=self.objective, X=X_given, y=y_given,
                    fingerprint=fingerprint, space=space))
        return study

    def _chosen_validation(self) -> Validation:
        """The splits for this data: ``cv`` folds, or chosen by size and budget."""
        cv, y = self.settings.cv, self.data.y
        if isinstance(cv, Integral):
            return Validation("kfold", int(cv), 1.0 / int(cv))
        n_pos = int(np.sum(y))
        return choose_validation(len(y), self.data.X.shape[1],
                                 min(n_pos, len(y) - n_pos), self.settings.timeout,
                                 trials_at_once=self.n_jobs)

    def _make_folds(self) -> list:
        cv, data = self.settings.cv, self.data
        if cv is not None and not isinstance(cv, Integral):
            folds = user_folds(cv, data.X, data.y)
            self.validation = Validation("given", len(folds), float("nan"))
            return folds
        n_pos = data.n_positives
        n_min = min(n_pos, len(data.y) - n_pos)
        smaller = data.pos_label if n_pos <= len(data.y) - n_pos else plain_value(
            data.negative_label)
        if n_min < 2:
            raise AutoImbError(
                f"The class {smaller!r} has {n_min} row(s); honest "
                "cross-validation needs at least 2 rows of each class. Collect more "
                "positive examples.")
        recorded = self.study.user_attrs.get("autoimb.validation")
        validation = (Validation(**recorded) if recorded is not None
                      else self._chosen_validation())
        if validation.kind == "kfold" and n_min < validation.n_splits:
            if cv is not None:
                warn(f"cv={cv} needs {cv} rows of each class but class "
                     f"{smaller!r} has {n_min}; using cv={n_min}. Pass cv={n_min} "
                     "or fewer to silence this warning.")
            validation = Validation("kfold", n_min, 1.0 / n_min)
        self.validation = validation
        return make_folds(validation, data.y,
                          self.study.user_attrs["autoimb.seeds"]["folds"])

    # -- 2. search -------------------------------------------------------------

    def search(self, *, callbacks=()) -> bool:
        """Run trials until the study's budget; True if Ctrl-C stopped them
        (with at least one completed trial: without, it is raised)."""
        settings, study, context = self.settings, self.study, self.context
        helpers = (WorkerProcesses.for_search(settings, study, context, self.inputs,
                                              self.n_jobs)
                   if self.inputs is not None else WorkerProcesses(0, self.n_jobs))
        if not self.join:
            callbacks = [*callbacks, ShareReserve(self.budget)]
        context.model_threads = _threads_per_model(self.n_jobs)
        start = time.perf_counter()
        try:
            with helpers, threadpool_limits(limits=context.model_threads):
                run_search(study, context, n_trials=settings.n_trials_wanted,
                           timeout=settings.timeout, n_jobs=helpers.threads,
                           show_progress_bar=settings.show_progress_bar,
                           callbacks=[*callbacks, *helpers.callbacks])
        except KeyboardInterrupt:
            if not study.get_trials(deepcopy=False,
                                    states=(optuna.trial.TrialState.COMPLETE,)):
                raise
            self.interrupted = True
        finally:
            self.own_workers |= {worker_id(), *helpers.worker_ids}
            waited, stopped = helpers.wait_seconds, helpers.stop_seconds
            self.times.update(search=time.perf_counter() - start - waited - stopped,
                              wait_workers=waited, stop_workers=stopped)
        return self.interrupted

    def close(self) -> SearchRun:
        """End the study's search for every process (workers start no more
        trials) and wait for the trials other processes are running, so that
        the choice sees every trial an export of the study would see."""
        close_search(self.study)
        running = settle(self.study, self.budget)  # counted in times["choice"]
        if running:
            warn(f"{running} trial(s) of other workers were still running when the "
                 "budget's time for trials ran out; the model is chosen without "
                 "them. `autoimb export` of the study, once they are done, "
                 "includes them.")
        return self

    # -- 3. finish -------------------------------------------------------------

    def finish(self) -> SearchResult:
        """Choose the final model among the study's completed trials, fit it
        on all rows, and describe it in the study's note."""
        context, study = self.context, self.study
        choice = choose_final(study, context, ensemble_size=self.settings.ensemble_size)
        start = time.perf_counter()
        # The refit threads as the trials did: its time is what the budget
        # predicted from them, and the model is the one evaluated.
        with threadpool_limits(limits=context.model_threads):
            pipelines = fit_final(choice, context)
        self.times.update(
            choice=start - self.budget.start - sum(self.times.values()),
            refit=time.perf_counter() - start)
        post, data = choice.candidate.post, self.data
        pipeline = ThresholdedPipeline(pipelines, post.calibrator, post.threshold,
                                       data.classes, data.pos_label)
        numbers = choice.candidate.trial_numbers
        if not self.join:  # a fit: its choice stays a candidate of later ones
            record_final(study, choice)
        for observer in self.observers:
            observer.final_chosen(self, choice)
        return SearchResult(
            choice=choice, pipeline=pipeline,
            best_params=dict(study.trials[numbers[0]].params) if numbers else {},
            objective=self.objective, validation=self.validation, study=study,
            study_name=self.study_name, storage_location=self.storage_location,
            results=results_table(study, chosen=numbers,
                                  own_workers=self.own_workers), context=context,
            n_jobs=self.n_jobs, interrupted=self.interrupted)

def results_table(study, chosen=(), own_workers=None) -> pd.DataFrame:
    """One row per trial: Optuna's state, autoimb's outcome (completed, pruned,
    stopped, skipped, failed; running or queued, see
    :mod:`autoimb.storage.outcomes`), value, strategy, the resampler that
    acted, metrics, the worker that ran it (``host:pid``) and parameters.

    ``value`` is each trial's own cross-validated value (raw: the best of them is
    optimistic, see ``best_score_``); ``chosen`` marks the trials the returned
    model is made of. With ``own_workers``, the workers of the run that made
    the table (a fit and its worker processes; none for an export),
    ``by_this_run`` tells their trials from other processes' (``autoimb
    worker``, earlier fits of the study).
    """
    rows = []
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        value = trial.value if trial.state == optuna.trial.TrialState.COMPLETE else None
        row = {"number": trial.number, "state": trial.state.name,
               "outcome": outcome_of(trial), "value": value,
               "chosen": trial.number in chosen, "strategy": attrs.get("strategy"),
               # what acted on the training rows ("none" where the one asked
               # for left them as they were)
               "resampler": attrs.get("resampler", trial.params.get("resampler"))}
        for key in (*TRIAL_ATTRS, "calibration", "threshold_rule", "fit_time",
                    "recipe"):
            row[key] = attrs.get(key)
        row["reason"] = attrs.get("error") or attrs.get("pruned_reason")
        row["worker"] = attrs.get("worker")
        if own_workers is not None:
            row["by_this_run"] = row["worker"] in own_workers
        row.update({f"params.{k}": v for k, v in trial.params.items()})
        rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs["value"] = ("each trial's own cross-validated value on the scored "
                            "rows (raw: the best of many is optimistic; "
                            "best_score_ is bias-corrected)")
    return table


@contextlib.contextmanager
def _quiet_optuna():
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)


def _describe_cv(cv) -> str:
    """``cv`` in a few words, for the study's settings (resumes compare it)."""
    if cv is None or isinstance(cv, Integral) or hasattr(cv, "split"):
        return repr(cv)
    pairs = [(np.asarray(a).tolist(), np.asarray(b).tolist()) for a, b in cv]
    digest = hashlib.sha256(json.dumps(pairs).encode()).hexdigest()[:12]
    return f"{len(pairs)} given (train, test) splits, sha256 {digest}"


def _spawn_seeds(random_state, n):
    rng = check_random_state(random_state)
    return [int(seed) for seed in rng.randint(np.iinfo(np.int32).max, size=n)]


def _threads_per_model(trials_at_once: int) -> int:
    """Threads each model may use during the search (an experiment's switch,
    ``AUTOIMB_THREADS_PER_MODEL``: "all" gives every core to the one trial)."""
    setting = os.environ.get("AUTOIMB_THREADS_PER_MODEL", "1")
    if setting == "all" and trials_at_once == 1:
        return os.cpu_count() or 1
    return 1
