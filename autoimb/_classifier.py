"""AutoImbClassifier: one call searches the whole imbalance strategy."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import time
import warnings
from numbers import Integral, Real
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import optuna
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from ._budget import Budget
from ._fitted import ThresholdedPipeline
from ._folds import Validation, choose_validation, make_folds, user_folds
from ._job import BUDGET_KEY, JOB_KEY, budget_record, check_joined_study, job_record
from ._memory import MEMORY_SHARE, available_mb, data_mb
from ._metrics import TRIAL_ATTRS, trivial_cost
from ._objective import Objective
from ._optuna_compat import speed_up_tpe
from ._portfolio import enqueue_portfolio, prior_trials
from ._processes import WorkerProcesses, resolve_n_jobs
from ._search import SearchContext, best_trial_or_raise, refit_memory_mb, run_search
from ._selection import (
    affordable,
    bias_corrected_estimate,
    candidate_pool,
    fits_in_memory,
    is_prior_default,
)
from ._sklearn_compat import Interval, Options, StrOptions, _fit_context
from ._spaces import load_search_space
from ._storage import FINGERPRINT_KEY, check_study_matches, open_study, resolve_storage
from ._validation import (
    check_costs,
    check_frame,
    check_input_shape,
    check_target,
    column_kinds,
    data_fingerprint,
    plain_value,
    warn_if_row_identifier_in_X,
    warn_if_target_in_X,
)
from ._warnings import warn
from .exceptions import AutoImbError
from .explain.dashboard import DashboardServer, dashboard_command
from .explain.explainer import Explainer, artifact_store_for
from .explain.report import summarize_data

if TYPE_CHECKING:
    from .explain.diagnostics import Diagnosis

logger = logging.getLogger(__name__)

__all__ = ["AutoImbClassifier", "fit"]


class AutoImbClassifier(ClassifierMixin, BaseEstimator):
    """Search model, class weights, resampling, calibration and threshold at once.

    An Optuna study explores the joint space of a preset (see
    :func:`~autoimb.list_search_spaces`). Each candidate is scored honestly:
    stratified folds, resampling only on the training part of each fold, and the
    calibrator and threshold fitted on out-of-fold predictions of *other* folds
    than the rows they are scored on. The best strategy is then refitted on all
    rows, with its calibrator and threshold fitted on its out-of-fold predictions.

    Parameters
    ----------
    search_space : str, path or mapping, default="default"
        A preset name (``"default"``, ``"fast"``, ``"no_resampling"``), the path of
        a TOML file with the same schema, or a mapping of that structure.
    objective : {"cost", "average_precision"}, default="cost"
        Minimise the total cost of errors on held-out rows, or maximise average
        precision (the threshold then maximises F1 unless costs are given).
    fp_cost : float, default=None
        Cost of one false positive; ``None`` means 1.
    fn_cost : float, default=None
        Cost of one false negative; ``None`` means ``fp_cost`` times the class
        ratio (negatives per positive), which weighs both classes equally.
    n_trials : int, default=None
        Finished (completed or pruned) trials wanted in the study; a resumed study
        counts the trials it already has. ``None``: as many as ``timeout``
        allows, or 50 without a timeout.
    timeout : float, default=None
        Seconds for the whole fit, the refit of the final model included: the
        search starts no trial that would not finish in time, stops a trial
        part way through a fold that runs past the time for trials (in the
        main thread, with SIGALRM, unless the caller uses it), and keeps time
        for the refit. ``fit`` returns within about this; ``fit_times_`` says
        where the time went.
    cv : None, int, cross-validation splitter or iterable, default=None
        ``None`` chooses by the data's size and the budget: 5 stratified folds
        for small data (repeated when a ``timeout`` leaves room and positives
        are few: up to 3 times a core-minute, counting one core per trial run
        at once, at most 10; each row's score averaged), 3 for medium, a
        stratified 20% holdout for large data (see ``validation_`` and
        :func:`autoimb._folds.choose_validation`). An int asks for that many
        stratified folds (lowered to the minority count if needed); a splitter
        or a list of (train, test) pairs gives the splits (test parts must not
        overlap).
    storage : None, str or optuna storage, default=None
        Where the study lives. ``None``: the journal file ``autoimb.journal`` in the
        current folder, readable by optuna-dashboard while the search runs;
        ``"memory"``: nowhere; a URL (``sqlite:///…``, ``postgresql://…``); the path
        of a journal file; or an optuna storage object.
    study_name : str, default=None
        Name of the study. A study of that name that exists is resumed (and refused
        if it was made for other data or settings). ``None`` derives a name from
        the data and settings, so that rerunning the same fit resumes it.
    random_state : int, RandomState instance or None, default=None
        Seeds the sampler, the folds, the resamplers and the models.
    n_jobs : int, default=None
        Trials run in parallel (``-1``: one per core), in threads or processes
        (see ``parallel``), each model on one core (BLAS and OpenMP are limited
        to one thread during the search, which on small and medium data is
        faster than sharing cores). ``None``: one per core (at most 4) in worker
        processes when ``timeout`` is at least 30 s and the storage can be
        shared (the default journal file or a database), else 1 (see
        :func:`autoimb._processes.resolve_n_jobs`); ``n_jobs_`` tells which.
        The default runs fewer, with a warning, where the available memory
        (the system's, or a container's limit) would not hold one copy of the
        data and its trial's models per process (:mod:`autoimb._memory`); a
        number given that looks too large for it is warned about and kept.
        Results with more than one trial at once are not reproducible: the
        order trials finish in changes what the sampler learns; pass
        ``n_jobs=1`` for a reproducible search.
    parallel : {"threads", "processes"}, default=None
        How ``n_jobs > 1`` trials run at once: in threads of this process, or in
        ``n_jobs - 1`` worker processes (see :func:`autoimb.run_worker`) beside
        this one, which share the study through its storage and are not held
        back by Python's interpreter lock. Processes need a storage they can
        share (a journal file, the default, or a database); a study in memory
        runs its trials in threads. ``None``: the library's default
        (``autoimb._processes.DEFAULT_PARALLEL``), processes where the storage
        allows them: on 2 cores they ran about twice the trials of threads
        (``benchmarks/results/parallel.md``).
    data_location : str or path-like, default=None
        The file the training data was read from (CSV, TSV or Parquet holding
        the target column ``y.name``), recorded in the study so that
        ``autoimb worker`` finds the data without ``--data``. ``autoimb fit``
        passes its data file.
    pos_label : label, default=None
        The class of interest; ``None`` means the minority class.
    ensemble_size : int, default=5
        After the search, blends of the best 2 to ``ensemble_size`` distinct
        strategies (their scores averaged, then calibrated and thresholded) are
        candidates beside the single strategies; a blend is preferred when it is
        within noise of the best candidate (see :mod:`autoimb._selection`). ``1``
        keeps single strategies only. Blends of up to 5 held out better than of
        up to 3 (``benchmarks/README.md``, eleventh session); each member is
        refitted at the end and predicts, so a blend of 5 costs up to 5 models'
        time.
    show_progress_bar : bool, default=True
        Show a progress bar of finished trials and the best value so far, and
        print where the study lives and the command that opens its dashboard.
    dashboard : bool, default=False
        Serve optuna-dashboard on 127.0.0.1 (a free port, printed) while the
        search runs; it stops when ``fit`` returns. Every trial carries a note and
        the best trial its figures either way: ``autoimb dashboard`` opens them
        later.

    Attributes
    ----------
    best_estimator_ : ThresholdedPipeline
        Fitted pipeline, calibrator and threshold.
    best_params_ : dict
        Optuna parameters of the best trial.
    best_score_ : float
        What the returned model is expected to score on new data, in the units
        of the objective: total cost over as many rows as the training data
        (lower is better), or average precision (higher is better). It is the
        bootstrap bias-corrected cross-validation estimate (BBC-CV), which
        accounts for the returned model being the best of many candidates
        scored on the same rows.
    best_score_raw_ : float
        The returned model's own cross-validated value: the best of the
        candidates on the rows that chose it, so optimistic. ``results_["value"]``
        holds this raw value for every trial.
    ensemble_ : list of int
        Trial numbers whose strategies the model averages (one when not blended).
    best_strategy_ : Strategy
        The best trial's strategy; ``strategy_`` is it in words.
    threshold_ : float
        Decision threshold on the calibrated positive-class probability.
    validation_ : Validation
        The splits the candidates were scored on: folds (``n_repeats`` times
        when repeated), or a holdout; ``validation_.describe()`` in words.
    cv_metrics_ : dict
        Cross-validated metrics of the returned model at its threshold (raw, not
        bias-corrected), with the chosen ``calibration`` and ``threshold_rule``,
        ``brier`` and ``ece`` (expected calibration error) of its probabilities,
        ``n_candidates`` it was chosen among and the ``tolerance`` of that
        choice (in standard errors, see :mod:`autoimb._selection`),
        ``chosen_as`` (``"trivial rule"``,
        ``"prior default"``, ``"blend"`` or ``"single strategy"``: its place in
        the order of preference) and ``best_candidate_value`` (the best raw
        cross-validated value among the candidates: the chosen one's, or one
        it was preferred to within noise), and for the cost objective
        ``normalized_cost_corrected`` (``best_score_`` over the cost of the best
        trivial rule).
    oof_proba_ : ndarray of float32
        The returned model's cross-fitted probabilities of the positive class
        on the scored training rows (each from models and a calibrator not
        fitted on its row). They estimate the training base rate and its
        cost curve; they are not the refitted model's own scores, so drift is
        better measured against held-out rows run through the model (see
        :class:`autoimb.Monitor`).
    oof_target_ : ndarray of int8
        The same rows' labels (1 for ``pos_label_``).
    oof_scores_ : ndarray of float32
        The same rows' out-of-fold scores before calibration (for the
        reliability diagram of :func:`autoimb.report`).
    data_summary_ : dict
        Rows, columns, class counts and missing values of the training data.
    results_ : pandas.DataFrame
        One row per trial: state, ``value`` (its own, raw cross-validated
        value), ``chosen`` (part of the returned model), strategy, metrics and
        parameters.
    n_jobs_ : int
        Trials the search ran at once (``n_jobs`` resolved).
    fit_times_ : dict of str to float
        Seconds that each step of ``fit`` took: ``prepare`` (checks, the study,
        the folds), ``search`` (this process's trials), ``wait_workers`` and
        ``stop_workers`` (for worker processes to finish their trials, and to
        stop them when the time left is the refit's), ``choice`` (choosing the
        final model among the candidates), ``refit`` (fitting it on all rows),
        ``finish`` (the summary and the results table), ``total``. Where the
        time of a fit with a ``timeout`` went.
    study_ : optuna.Study
        The study (not kept in exported or pickled models).
    study_name_, storage_location_ : str
        Where the study lives, for ``autoimb dashboard``.
    classes_ : ndarray of shape (2,)
    pos_label_ : label
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a DataFrame.

    See Also
    --------
    autoimb.fit : Build and fit in one call.
    autoimb.load : Load an exported model.

    Notes
    -----
    Runs with ``n_jobs=1`` and a fixed ``random_state`` give the same best
    parameters and predictions when bounded by ``n_trials``. With more than one
    trial at once they do not; ``n_jobs=None`` (the default) runs one trial per
    core when ``timeout`` is 30 s or more and the storage is shared.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from autoimb import AutoImbClassifier
    >>> X, y = make_classification(n_samples=600, weights=[0.9], random_state=0)
    >>> model = AutoImbClassifier("fast", n_trials=3, cv=3, fp_cost=1, fn_cost=10,
    ...                           storage="memory", random_state=0,
    ...                           show_progress_bar=False).fit(X, y)
    >>> model.predict(X[:3]).shape
    (3,)
    >>> bool(0.0 <= model.threshold_ <= 1.0)
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "search_space": "no_validation",
        "objective": [StrOptions({"cost", "average_precision"})],
        "fp_cost": [Interval(Real, 0, None, closed="neither"), None],
        "fn_cost": [Interval(Real, 0, None, closed="neither"), None],
        "n_trials": [Interval(Integral, 1, None, closed="left"), None],
        "timeout": [Interval(Real, 0, None, closed="neither"), None],
        "cv": ["cv_object"],
        "storage": "no_validation",
        "study_name": [str, None],
        "random_state": ["random_state"],
        "n_jobs": [Interval(Integral, 1, None, closed="left"),
                   Options(Integral, {-1}), None],
        "parallel": [StrOptions({"threads", "processes"}), None],
        "data_location": [str, os.PathLike, None],
        "pos_label": "no_validation",
        "ensemble_size": [Interval(Integral, 1, None, closed="left")],
        "show_progress_bar": ["boolean"],
        "dashboard": ["boolean"],
    }

    def __init__(self, search_space="default", *, objective="cost", fp_cost=None,
                 fn_cost=None, n_trials=None, timeout=None, cv=None, storage=None,
                 study_name=None, random_state=None, n_jobs=None, parallel=None,
                 pos_label=None, ensemble_size=5, show_progress_bar=True,
                 dashboard=False, data_location=None):
        self.search_space = search_space
        self.objective = objective
        self.fp_cost = fp_cost
        self.fn_cost = fn_cost
        self.n_trials = n_trials
        self.timeout = timeout
        self.cv = cv
        self.storage = storage
        self.study_name = study_name
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.parallel = parallel
        self.pos_label = pos_label
        self.ensemble_size = ensemble_size
        self.show_progress_bar = show_progress_bar
        self.dashboard = dashboard
        self.data_location = data_location

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y) -> AutoImbClassifier:
        """Search the strategy space, then refit the best strategy on all rows.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Numeric, categorical (strings), boolean and datetime columns; missing
            values allowed.
        y : array-like of shape (n_samples,)
            Two class labels of any type.

        Returns
        -------
        self : AutoImbClassifier
        """
        budget = Budget(self.timeout)
        self.n_jobs_ = self._resolve_n_jobs(None if self.n_jobs == 1 else data_mb(X))
        self.fit_times_ = times = {}
        study, storage, context = self._prepare(X, y, budget)
        times["prepare"] = time.perf_counter() - budget.start
        with self._dashboard_server(storage, context):
            threads = _threads_per_model(self.n_jobs_)
            context.model_threads = threads
            with threadpool_limits(limits=threads):
                interrupted = self._search(study, context, inputs=(X, y))
                # The refit threads as the trials did: its time is what the budget
                # predicted from them, and the model is the one evaluated.
                self._refit_best(study, context)
        self._describe_best(study, context)
        self.results_ = results_table(study, chosen=self.ensemble_)
        total = time.perf_counter() - budget.start
        times.update(finish=total - sum(times.values()), total=total)
        if interrupted:
            n_done = int((self.results_["state"] == "COMPLETE").sum())
            warn(f"The search was interrupted; the model holds the best of "
                 f"{n_done} completed trials. Fit again with the same study_name "
                 "to resume.")
        return self

    # -- fit, step by step ---------------------------------------------------

    def _prepare(self, X, y, budget, *, join: bool = False):
        """Check the data, open (or ``join``) the study, make the folds: what a
        search, a worker (:mod:`autoimb._worker`) and an export share.

        Returns ``(study, storage, context)``.
        """
        X_checked = self._check_X(X, reset=True)
        self.classes_, self.pos_label_, y01 = check_target(y, len(X_checked),
                                                           self.pos_label)
        warn_if_target_in_X(X_checked, y01)
        # Before check_frame made dates and durations numbers: a date per row
        # is a feature, not an identifier.
        warn_if_row_identifier_in_X(X if isinstance(X, pd.DataFrame) else X_checked)
        self.objective_ = self._resolve_objective(y01)
        space = load_search_space(self.search_space)
        study, storage = self._open_study(X_checked, y01, space, budget=budget,
                                          inputs=(X, y), join=join)
        folds = self._make_folds(X_checked, y01, study)
        context = SearchContext(X=X_checked, y=y01, kinds=self.kinds_, folds=folds,
                                objective=self.objective_, space=space,
                                model_seed=study.user_attrs["autoimb.seeds"]["models"],
                                explainer=self._explainer(X_checked, y01, study,
                                                          describe=not join),
                                budget=budget, kept=prior_trials(study))
        return study, storage, context

    def _check_X(self, X, *, reset):
        check_input_shape(X)
        if isinstance(X, pd.DataFrame):
            if not reset and hasattr(self, "feature_names_in_"):
                X = _match_columns(X, self.feature_names_in_)
            validate_data(self, X, reset=reset, skip_check_array=True)
            if not reset and not hasattr(self, "feature_names_in_"):
                X = X.set_axis(self.kinds_.columns, axis=1)  # fitted on an array
            X = check_frame(X)
        else:
            X = validate_data(self, X, reset=reset, dtype=None,
                              ensure_all_finite=False,
                              ensure_min_samples=2 if reset else 1)
            X = check_frame(_as_numeric_if_possible(X),
                            columns=None if reset else self.kinds_.columns)
        if reset:
            self.kinds_ = column_kinds(X)
            return X
        return _match_kinds(X, self.kinds_)

    def _resolve_objective(self, y01) -> Objective:
        fp, fn, given = check_costs(self.objective, self.fp_cost, self.fn_cost, y01)
        return Objective(self.objective, fp, fn, costs_given=given)

    def _open_study(self, X, y01, space, *, budget=None, inputs=None, join=False):
        storage, self.storage_location_ = resolve_storage(self.storage)
        fingerprint = data_fingerprint(X, y01)
        config = {
            "objective": self.objective_.kind,
            "fp_cost": self.objective_.fp_cost,
            "fn_cost": self.objective_.fn_cost,
            "search_space": hashlib.sha256(repr(space).encode()).hexdigest()[:12],
            "cv": _describe_cv(self.cv),
            "pos_label": str(self.pos_label_),
        }
        config_hash = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
        self.study_name_ = self.study_name or (
            f"autoimb-{fingerprint[:8]}-{config_hash.hexdigest()[:6]}")
        sampler_seed, fold_seed, model_seed = _spawn_seeds(self.random_state, 3)
        with warnings.catch_warnings(), _quiet_optuna():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            speed_up_tpe()
            sampler = optuna.samplers.TPESampler(
                seed=sampler_seed, multivariate=True, group=True,
                constant_liar=join or self._trials_at_once() != 1)
            pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
            if join:  # a worker or an export: the study exists, made for this data
                study = optuna.load_study(study_name=self.study_name_, storage=storage,
                                          sampler=sampler, pruner=pruner)
                check_joined_study(study, fingerprint=fingerprint, config=config,
                                   data=self.data_location)
                self.study_ = study
                return study, storage
            study, created = open_study(
                storage, study_name=self.study_name_, sampler=sampler,
                pruner=pruner, direction=self.objective_.direction)
            # A study made by another process at the same moment is tagged by it:
            # wait for its job record, written last.
            new = check_study_matches(study, fingerprint=fingerprint, config=config,
                                      created=created, ready_key=JOB_KEY)
            if new:
                study.set_user_attr("autoimb.seeds", {"folds": fold_seed,
                                                      "models": model_seed})
                validation = self._validation(X, y01)
                study.set_user_attr("autoimb.validation", validation.as_dict())
                study.set_metric_names([self.objective_.metric_name])
                study.set_user_attr(FINGERPRINT_KEY, fingerprint)  # set up: tagged
                enqueue_portfolio(study, space, self.kinds_,
                                  large=validation.kind == "holdout")
            study.set_user_attr(BUDGET_KEY, budget_record(self._n_trials(), budget))
            if JOB_KEY not in study.user_attrs:  # last: the study is ready for workers
                X_given, y_given = inputs
                study.set_user_attr(JOB_KEY, job_record(
                    self, X=X_given, y=y_given, fingerprint=fingerprint, space=space))
        self.study_ = study
        if self.storage_location_ is not None:
            _tell(f"autoimb: study {self.study_name_!r} in {self.storage_location_}; "
                  f"watch it with: {dashboard_command(self.storage_location_)}",
                  self.show_progress_bar)
        return study, storage

    def _validation(self, X, y01) -> Validation:
        """The splits for this data: ``cv`` folds, or chosen by size and budget."""
        if isinstance(self.cv, Integral):
            return Validation("kfold", int(self.cv), 1.0 / int(self.cv))
        n_pos = int(np.sum(y01))
        return choose_validation(len(y01), X.shape[1], min(n_pos, len(y01) - n_pos),
                                 self.timeout, trials_at_once=self._trials_at_once())

    def _explainer(self, X, y01, study, *, describe=True) -> Explainer:
        n_pos = int(np.sum(y01))
        negative = self.classes_[self.classes_ != self.pos_label_][0]
        explainer = Explainer(
            self.objective_, n_rows=len(X), n_columns=X.shape[1],
            class_counts={plain_value(negative): len(y01) - n_pos,
                          plain_value(self.pos_label_): n_pos},
            artifact_store=artifact_store_for(self.storage_location_)
            if self.storage_location_ or self.dashboard else None)
        if describe:
            explainer.describe_study(study)
        return explainer

    @contextlib.contextmanager
    def _dashboard_server(self, storage, context):
        if not self.dashboard:
            yield None
            return
        store = context.explainer.artifact_store
        server = DashboardServer(storage, artifact_store=store,
                                 study_name=self.study_name_).start()
        _tell(f"autoimb: dashboard at {server.url}", True)
        try:
            yield server
        finally:
            server.stop()

    def _describe_best(self, study, context):
        explainer = context.explainer
        figures = None
        if explainer.artifact_store is not None:
            figures = explainer.figures(context.y[context.scored], self._chosen.scores,
                                        self._chosen.post)
        best = {"number": self.best_trial_number_, "value": self.best_score_raw_,
                "estimate": self.best_score_, "strategy": self.strategy_}
        if context.objective.kind == "cost":  # totals over all rows, see _refit_best
            best["scored_rows"] = int(np.count_nonzero(context.scored))
        explainer.describe_study(study, best=best, figures=figures)

    def _make_folds(self, X, y01, study):
        if self.cv is not None and not isinstance(self.cv, Integral):
            folds = user_folds(self.cv, X, y01)
            self.validation_ = Validation("given", len(folds), float("nan"))
            return folds
        n_pos = int(np.sum(y01))
        n_min = min(n_pos, len(y01) - n_pos)
        smaller = self.pos_label_ if n_pos <= len(y01) - n_pos else plain_value(
            self.classes_[self.classes_ != self.pos_label_][0])
        if n_min < 2:
            raise AutoImbError(
                f"The class {smaller!r} has {n_min} row(s); honest "
                "cross-validation needs at least 2 rows of each class. Collect more "
                "positive examples.")
        recorded = study.user_attrs.get("autoimb.validation")
        validation = (Validation(**recorded) if recorded is not None
                      else self._validation(X, y01))
        if validation.kind == "kfold" and n_min < validation.n_splits:
            if self.cv is not None:
                warn(f"cv={self.cv} needs {self.cv} rows of each class but class "
                     f"{smaller!r} has {n_min}; using cv={n_min}. Pass cv={n_min} "
                     "or fewer to silence this warning.")
            validation = Validation("kfold", n_min, 1.0 / n_min)
        self.validation_ = validation
        return make_folds(validation, y01, study.user_attrs["autoimb.seeds"]["folds"])

    def _trials_at_once(self) -> int:
        """``n_jobs`` resolved: how many trials the search runs at once (within
        ``fit``, the number it resolved at its start)."""
        if hasattr(self, "n_jobs_"):
            return self.n_jobs_
        return self._resolve_n_jobs()

    def _resolve_n_jobs(self, data_mb: float | None = None) -> int:
        """:func:`resolve_n_jobs` for this model's settings (and the data's size
        in MB, against the available memory)."""
        return resolve_n_jobs(self.n_jobs, timeout=self.timeout, parallel=self.parallel,
                              storage=self.storage, cv=self.cv, data_mb=data_mb)

    def _n_trials(self):
        """Finished trials wanted in the study."""
        return 50 if self.n_trials is None and self.timeout is None else self.n_trials

    def _search(self, study, context, *, inputs=None, callbacks=()) -> bool:
        helpers = WorkerProcesses.for_search(self, study, context, inputs,
                                             self._trials_at_once())
        start = time.perf_counter()
        try:
            with helpers:
                run_search(study, context, n_trials=self._n_trials(),
                           timeout=self.timeout, n_jobs=helpers.threads,
                           show_progress_bar=self.show_progress_bar,
                           callbacks=[*callbacks, *helpers.callbacks])
        except KeyboardInterrupt:
            if not study.get_trials(deepcopy=False,
                                    states=(optuna.trial.TrialState.COMPLETE,)):
                raise
            return True
        finally:
            if hasattr(self, "fit_times_"):
                waited, stopped = helpers.wait_seconds, helpers.stop_seconds
                self.fit_times_.update(
                    search=time.perf_counter() - start - waited - stopped,
                    wait_workers=waited, stop_workers=stopped)
        return False

    def _refit_best(self, study, context):
        best_trial_or_raise(study)
        # Average precision costs a sort per candidate and resample: fewer candidates.
        pool = candidate_pool(study, context, ensemble_size=self.ensemble_size,
                              limit=50 if context.objective.kind == "cost" else 10)
        # The budget's contract is timeout + 10%: half of that margin may go to
        # a refit when the search itself ran to the deadline.
        grace = 0.05 * (context.budget.timeout or 0.0)
        pool = affordable(pool, context.budget.remaining() - 0.5, grace=grace)
        room = available_mb()
        context.memory.learn(study)
        pool = fits_in_memory(pool, lambda c: refit_memory_mb(c, context),
                              None if room is None else MEMORY_SHARE * room)
        y_scored = context.y[context.scored]
        selection = bias_corrected_estimate(pool, y_scored, context.objective,
                                            random_state=context.model_seed)
        chosen = pool[selection.index]
        start = time.perf_counter()
        if chosen.is_trivial:
            pipelines = [DummyClassifier(strategy="prior").fit(context.X, context.y)]
            side = "positive" if chosen.post.threshold <= 0 else "negative"
            warn(f"No strategy beat the trivial rule by more than the noise of "
                 f"cross-validation; the model predicts every row {side}. More rows "
                 "(more positives above all) or more informative features may "
                 "change that.")
        else:
            pipelines = [strategy.make_pipeline(context.kinds, context.model_seed,
                                                n_jobs=context.model_threads)
                         .fit(context.X, context.y) for strategy in chosen.strategies]
        if hasattr(self, "fit_times_"):
            refit = time.perf_counter() - start
            self.fit_times_.update(
                choice=start - context.budget.start - sum(self.fit_times_.values()),
                refit=refit)
        post = chosen.post
        self.best_estimator_ = ThresholdedPipeline(pipelines, post.calibrator,
                                                   post.threshold, self.classes_,
                                                   self.pos_label_)
        self.best_trial_number_ = (chosen.trial_numbers[0] if chosen.trial_numbers
                                   else None)
        self.best_params_ = (dict(study.trials[self.best_trial_number_].params)
                             if chosen.trial_numbers else {})
        self.best_strategy_ = chosen.strategies[0] if chosen.strategies else None
        self.ensemble_ = list(chosen.trial_numbers)
        self.strategy_ = chosen.describe()
        # Costs are totals over the training rows, even when only some were scored.
        scale = (len(context.y) / len(y_scored) if context.objective.kind == "cost"
                 else 1)
        self.best_score_ = float(selection.estimate * scale)
        self.best_score_raw_ = float(selection.raw * scale)
        self.threshold_ = float(post.threshold)
        self.cv_metrics_ = dict(post.metrics, threshold=self.threshold_,
                                calibration=post.calibration,
                                threshold_rule=post.rule,
                                n_candidates=selection.n_candidates,
                                tolerance=selection.tolerance,
                                chosen_as=_chosen_as(chosen, context.kept),
                                best_candidate_value=float(selection.best_raw
                                                           * scale))
        if context.objective.kind == "cost":
            trivial = trivial_cost(y_scored, context.objective.fp_cost,
                                   context.objective.fn_cost) * scale
            self.cv_metrics_["normalized_cost_corrected"] = (
                self.best_score_ / trivial if trivial > 0 else float("nan"))
        self.oof_proba_ = post.proba.astype(np.float32)
        self.oof_target_ = y_scored.astype(np.int8)
        self.oof_scores_ = np.asarray(chosen.scores, dtype=np.float32)
        self.data_summary_ = summarize_data(context.X, context.y, self.classes_,
                                            self.pos_label_)
        # Kept for figures and benchmarks, not pickled.
        self._chosen, self._pool, self._context = chosen, pool, context

    # -- prediction ----------------------------------------------------------

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probabilities, columns in the order of ``classes_``."""
        check_is_fitted(self)
        return self.best_estimator_.predict_proba(self._check_X(X, reset=False))

    def predict(self, X) -> np.ndarray:
        """Labels at the stored threshold ``threshold_``."""
        check_is_fitted(self)
        return self.best_estimator_.predict(self._check_X(X, reset=False))

    # -- export and summaries -------------------------------------------------

    def export(self, path, *, format: str = "joblib") -> str:
        """Write the fitted model and its metadata to ``path`` (see
        :func:`autoimb.load`).

        Parameters
        ----------
        path : str or path-like
        format : {"joblib", "skops"}, default="joblib"
            ``"skops"`` loads without executing arbitrary code; a joblib (pickle)
            file must come from a source you trust.

        Returns
        -------
        str
            The path written.
        """
        from ._export import export_model

        check_is_fitted(self)
        return export_model(self, path, format=format)

    def summary(self) -> str:
        """The outcome in a few lines: strategy, score, threshold, study."""
        check_is_fitted(self)
        metric = self.objective_.metric_name
        m = self.cv_metrics_
        lines = [
            f"Best strategy: {self.strategy_}",
            f"Expected {metric} on new data: {self.best_score_:.6g} (bootstrap "
            f"bias-corrected for the choice among {m['n_candidates']} candidates; "
            f"its own cross-validated value, optimistic: {self.best_score_raw_:.6g})",
            f"Cross-validated at the threshold: normalized cost "
            f"{m['normalized_cost']:.3f}, AP {m['average_precision']:.3f}, precision "
            f"{m['precision']:.3f}, recall {m['recall']:.3f}, Brier {m['brier']:.4f}",
            f"Threshold: {self.threshold_:.4g} on the calibrated probability of "
            f"{self.pos_label_!r}",
        ]
        best = m.get("best_candidate_value")
        if best is not None and best != self.best_score_raw_:
            within = (f"{m['tolerance']:.2g} standard errors" if "tolerance" in m
                      else "noise")  # a model saved before the tolerance was kept
            lines.insert(2, f"Chosen as the {m['chosen_as']}: within {within} of "
                            f"the best candidate's cross-validated {metric} "
                            f"{best:.6g} (see autoimb._selection)")
        search = self._search_line()
        if search:
            lines.append(search)
        location = getattr(self, "storage_location_", None)
        if location:
            lines.append(f"Study {self.study_name_!r} in {location}; open it with: "
                         f"autoimb dashboard {location}")
        return "\n".join(lines)

    def _search_line(self) -> str | None:
        """The search in one line: trials by state, how many at once, on which
        splits, and the time the fit took against its budget."""
        results = getattr(self, "results_", None)
        if results is None or not len(results):
            return None
        states = results["state"].value_counts()
        ended = {word: int(states.get(state, 0)) for state, word in
                 (("COMPLETE", "completed"), ("PRUNED", "pruned"), ("FAIL", "failed"))}
        counts = ", ".join(f"{n} {word}" for word, n in ended.items())
        line = f"Search: {sum(ended.values())} trials ({counts})"
        others = len(results) - sum(ended.values())
        if others:
            line += f" and {others} queued but not run"
        n_jobs = getattr(self, "n_jobs_", None)
        if n_jobs:
            line += f", {n_jobs} at a time"
        validation = getattr(self, "validation_", None)
        if validation is not None:
            line += f", scored on {validation.describe()}"
        total = getattr(self, "fit_times_", {}).get("total")
        if total is not None:
            line += f"; fit in {total:.1f} s"
            if self.timeout is not None:
                line += f" for a budget of {self.timeout:g} s"
        return line

    def diagnose(self, X=None, y=None, *, learning_curve: bool = True,
                 time_limit: float | None = 60.0) -> Diagnosis:
        """Is imbalance the real problem? Diagnose the model and its search.

        Compares the best strategy with the best one that neither weights nor
        resamples (both raw cross-validated values of their trials), measures
        how well the out-of-fold probabilities separate the classes (ROC AUC and
        average precision with bootstrap intervals), counts rows whose
        out-of-fold probability confidently contradicts their label (confident
        learning's per-class thresholds), refits the best strategy on 25%, 50%
        and 75% of each fold's training rows (a learning curve), and gives a
        verdict in sentences with the numbers behind it. See
        :mod:`autoimb.explain.diagnostics` for the methods.

        Parameters
        ----------
        X, y : DataFrame or array-like, default=None
            The training data again, for the learning curve of a model that no
            longer holds its search context (one loaded from a file). Right
            after ``fit`` they are not needed.
        learning_curve : bool, default=True
            Refit the best strategy on subsamples (the only part that fits
            models); False keeps the diagnosis to what the model holds.
        time_limit : float or None, default=60.0
            Seconds for the learning curve's fits; larger fractions that would
            pass it are left out (and said so).

        Returns
        -------
        Diagnosis
            Data (``to_dict()``); ``print`` it for the sentences.

        Notes
        -----
        The standard error of the gain of imbalance handling is a paired
        bootstrap of the two trials' out-of-fold predictions, which only the
        process that ran ``fit`` holds; a loaded model uses each trial's
        confusion counts instead (a conservative, unpaired error). The learning
        curve likewise needs the search context, or ``X`` and ``y``.

        Examples
        --------
        >>> from sklearn.datasets import make_classification
        >>> import autoimb
        >>> X, y = make_classification(n_samples=600, weights=[0.9], random_state=0)
        >>> model = autoimb.fit(X, y, search_space="fast", n_trials=3, cv=3,
        ...                     storage="memory", random_state=0,
        ...                     show_progress_bar=False)
        >>> diagnosis = model.diagnose(learning_curve=False)
        >>> diagnosis.verdict in {"label_noise", "overlap", "more_data",
        ...                       "imbalance", "not_imbalance"}
        True
        """
        from .explain.diagnostics import diagnose

        check_is_fitted(self)
        return diagnose(self, X, y, learning_curve=learning_curve,
                        time_limit=time_limit)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("study_", None)
        for private in ("_chosen", "_pool", "_context"):
            state.pop(private, None)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags


def fit(X, y, **options) -> AutoImbClassifier:
    """Search the whole imbalance strategy and return the fitted classifier.

    ``autoimb.fit(X, y, **options)`` is ``AutoImbClassifier(**options).fit(X, y)``;
    see :class:`AutoImbClassifier` for the options.

    Examples
    --------
    >>> import autoimb
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=500, weights=[0.9], random_state=0)
    >>> model = autoimb.fit(X, y, search_space="fast", n_trials=2, cv=3,
    ...                     storage="memory", random_state=0, show_progress_bar=False)
    >>> sorted(set(model.predict(X)) - {0, 1})
    []
    """
    return AutoImbClassifier(**options).fit(X, y)


def results_table(study, chosen=()) -> pd.DataFrame:
    """One row per trial: state, value, strategy, metrics and parameters.

    ``value`` is each trial's own cross-validated value (raw: the best of them is
    optimistic, see ``best_score_``); ``chosen`` marks the trials the returned
    model is made of.
    """
    rows = []
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        value = trial.value if trial.state == optuna.trial.TrialState.COMPLETE else None
        row = {"number": trial.number, "state": trial.state.name, "value": value,
               "chosen": trial.number in chosen, "strategy": attrs.get("strategy")}
        for key in (*TRIAL_ATTRS, "calibration", "threshold_rule", "fit_time",
                    "recipe"):
            row[key] = attrs.get(key)
        row["reason"] = attrs.get("error") or attrs.get("pruned_reason")
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


def _threads_per_model(trials_at_once: int) -> int:
    """Threads each model may use during the search (an experiment's switch,
    ``AUTOIMB_THREADS_PER_MODEL``: "all" gives every core to the one trial)."""
    setting = os.environ.get("AUTOIMB_THREADS_PER_MODEL", "1")
    if setting == "all" and trials_at_once == 1:
        return os.cpu_count() or 1
    return 1


def _spawn_seeds(random_state, n):
    rng = check_random_state(random_state)
    return [int(seed) for seed in rng.randint(np.iinfo(np.int32).max, size=n)]


def _as_numeric_if_possible(X):
    if X.dtype == object:
        try:
            return X.astype(float)
        except ValueError:
            return X
    return X


def _match_columns(X: pd.DataFrame, expected) -> pd.DataFrame:
    """Reorder X to the training columns, or say which columns differ."""
    expected = [str(c) for c in expected]
    given = [str(c) for c in X.columns]
    missing = [c for c in expected if c not in given]
    extra = [c for c in given if c not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {missing[:10]}{' ...' if len(missing) > 10 else ''}")
        if extra:
            parts.append(f"unexpected {extra[:10]}{' ...' if len(extra) > 10 else ''}")
        raise AutoImbError(
            "The feature names should match those that were passed during fit: "
            f"{'; '.join(parts)}. Pass a frame with exactly the training columns.")
    if given != expected:
        X = X.copy()
        X.columns = given
        X = X[expected]
    return X


def _match_kinds(X: pd.DataFrame, kinds) -> pd.DataFrame:
    """Give each column the kind it had in training, or say which cannot."""
    for name in kinds.numeric:
        if X[name].dtype == object:
            values = pd.to_numeric(X[name], errors="coerce")
            bad = X[name].notna() & values.isna()
            if bad.any():
                raise AutoImbError(
                    f"Column {name!r} was numeric in training but holds "
                    f"{X[name][bad].iloc[0]!r} here; pass numbers (or NaN) in it.")
            X[name] = values.astype(float)
    for name in kinds.categorical:
        if X[name].dtype != object:
            values = X[name]
            text = values.map(lambda v: str(int(v)) if float(v).is_integer() else str(v)
                              if pd.notna(v) else np.nan)
            X[name] = text.astype(object)
    return X


def _tell(message, enabled):
    logger.info(message)
    if enabled:
        print(message, file=sys.stderr)


def _chosen_as(candidate, kept) -> str:
    """The candidate's place in the order of preference, in words."""
    if candidate.is_trivial:
        return "trivial rule"
    if is_prior_default(candidate, kept):
        return "prior default"
    return "blend" if candidate.is_blend else "single strategy"
