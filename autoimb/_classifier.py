"""AutoImbClassifier: one call searches the whole imbalance strategy.

The estimator holds its parameters and its fitted state; the search itself is
:class:`autoimb.search.run.SearchRun` (the search core), which ``fit`` runs.
"""

from __future__ import annotations

import os
import time
from numbers import Integral, Real
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from autoimb._sklearn_compat import Interval, Options, StrOptions, _fit_context
from autoimb._validation import (
    as_numeric_if_possible,
    check_frame,
    check_input_shape,
    check_training_data,
    match_columns,
    match_kinds,
    summarize_data,
)
from autoimb._warnings import warn
from autoimb.deploy.export import export_model
from autoimb.explain.dashboard import serving
from autoimb.explain.explainer import Explainer
from autoimb.explain.summary import summary_text
from autoimb.search.budget import Budget
from autoimb.search.run import SearchResult, SearchRun
from autoimb.search.settings import SearchSettings

if TYPE_CHECKING:
    from autoimb.explain.diagnostics import Diagnosis

__all__ = ["AutoImbClassifier", "drop_id_columns", "fit", "fitted_classifier",
           "remember_ids"]


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
        Finished trials wanted in the study: completed, pruned, skipped, and
        stopped by the budget (COMPLETE or PRUNED in Optuna; not failed, nor
        interrupted and queued again: see the README's trial outcomes); a
        resumed study counts the trials it already has. ``None``: as many as ``timeout``
        allows, or 50 without a timeout.
    timeout : float, default=None
        Seconds for the whole fit, the final refit included: no trial starts
        that would not end in time, one that runs past it is stopped, and time
        is kept for the refit (``fit_times_`` says where the time went).
    cv : None, int, cross-validation splitter or iterable, default=None
        ``None`` chooses by the data's size and the budget: 5 stratified folds
        for small data (repeated when the budget leaves room), 3 for medium, a
        20% holdout for large (:func:`autoimb.search.folds.choose_validation`).
        An int asks for that many stratified folds; a splitter or a list of
        (train, test) pairs gives the splits (test parts must not overlap).
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
        Trials run at once (``-1``: one per core), each model on one core.
        ``None``: one per core (at most 4, fewer with a warning where memory
        would not hold a copy of the data per process) in worker processes when
        ``timeout`` is at least 30 s and the storage can be shared, else 1;
        ``n_jobs_`` tells which. More than one at once is not reproducible (the
        order trials finish in changes what the sampler learns).
    parallel : {"threads", "processes"}, default=None
        How ``n_jobs > 1`` trials run: in threads, or in ``n_jobs - 1`` worker
        processes beside this one sharing the study's storage (a journal file or
        a database; a study in memory uses threads). ``None``: processes where
        the storage allows (about twice the trials of threads on 2 cores,
        ``benchmarks/results/parallel.md``).
    data_location : str or path-like, default=None
        The file the training data was read from (CSV, TSV or Parquet holding
        the target column ``y.name``), recorded in the study so that
        ``autoimb worker`` finds the data without ``--data``. ``autoimb fit``
        passes its data file.
    pos_label : label, default=None
        The class of interest; ``None`` means the minority class.
    ensemble_size : int, default=5
        Blends of the best 2 to ``ensemble_size`` distinct strategies (scores
        averaged, then calibrated and thresholded) are candidates beside single
        strategies, preferred within noise of the best; ``1`` keeps singles
        only. Blends of up to 5 held out better than of up to 3
        (``benchmarks/results/2026-12-selection_rules.md``).
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
        What the returned model is expected to score on new data: total cost
        over as many rows as the training data, or average precision. The
        bootstrap bias-corrected estimate (BBC-CV) of choosing among many
        candidates on the same rows.
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
        Cross-validated metrics of the returned model at its threshold (raw),
        its ``calibration``, ``threshold_rule``, ``brier`` and ``ece``; the
        choice's ``n_candidates``, ``tolerance``, ``chosen_as`` (trivial rule,
        prior default, blend or single strategy) and ``best_candidate_value``
        (:mod:`autoimb.search.selection`); ``normalized_cost_corrected``.
    oof_proba_ : ndarray of float32
        The returned model's cross-fitted probabilities of the positive class
        on the scored training rows (from models and a calibrator not fitted on
        the row; for drift, prefer held-out rows, see :class:`autoimb.Monitor`).
    oof_target_ : ndarray of int8
        The same rows' labels (1 for ``pos_label_``).
    oof_scores_ : ndarray of float32
        The same rows' out-of-fold scores before calibration (for the
        reliability diagram of :func:`autoimb.report`).
    data_summary_ : dict
        Rows, columns, class counts and missing values of the training data.
    results_ : pandas.DataFrame
        One row per trial: Optuna's ``state``, ``outcome`` (completed,
        pruned, stopped, skipped or failed; queued or running for a trial
        that has not ended: see the README), ``value`` (its own, raw
        cross-validated value), ``chosen`` (part of the returned model),
        strategy (named by what its resampler did), ``resampler`` (the one
        that acted on the training rows: ``"none"`` where the one asked for
        left them as they were), metrics, ``worker`` (the ``host:pid`` that
        ran it) and parameters.
    n_jobs_ : int
        Trials the search ran at once (``n_jobs`` resolved).
    fit_times_ : dict of str to float
        Seconds of each step of ``fit``: ``prepare``, ``search`` (this
        process's trials), ``wait_workers`` and ``stop_workers`` (its worker
        processes), ``choice`` (waiting for other workers' running trials, then
        choosing), ``refit``, ``finish`` (the results table), ``total``.
    study_ : optuna.Study
        The study (not kept in exported or pickled models).
    study_name_, storage_location_ : str
        Where the study lives, for ``autoimb dashboard``.
    classes_ : ndarray of shape (2,)
    pos_label_ : label
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a DataFrame.
    id_columns_ : list of str
        Columns of the data files that identify rows, left out of the features
        (``autoimb fit --id``): ``predict_proba`` and ``predict`` drop them from
        a DataFrame, the command line too, and ``autoimb predict`` copies them
        beside the predictions. Only when fitted with ``--id`` (or exported
        from such a study); absent from models written before it existed.
    oof_ids_ : ndarray
        The id of each row of ``oof_proba_`` (the values of the one id
        column), for the diagnostics to name rows by id. Only with
        ``id_columns_`` of one column.

    See Also
    --------
    autoimb.fit : Build and fit in one call.
    autoimb.load : Load an exported model.

    Notes
    -----
    With ``n_jobs=1``, a fixed ``random_state`` and ``n_trials``, runs give the
    same model. On one study, ``fit``, a rerun and ``autoimb export`` choose
    the same model (:mod:`autoimb.search.choice`).

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
        self._validate_X(X)
        data = check_training_data(X, y, self.pos_label)
        notes = Explainer(dashboard=self.dashboard, verbose=self.show_progress_bar)
        run = SearchRun(SearchSettings.of(self), data, inputs=(X, y), budget=budget,
                        observers=[notes]).prepare()
        with serving(self.dashboard, run.storage, artifact_store=notes.artifact_store,
                     study_name=run.study_name):
            interrupted = run.search()
            result = run.close().finish()
        _set_fitted(self, data, result, run.times)
        total = time.perf_counter() - budget.start
        self.fit_times_.update(finish=total - sum(self.fit_times_.values()),
                               total=total)
        if interrupted:
            n_done = int((self.results_["state"] == "COMPLETE").sum())
            warn(f"The search was interrupted; the model holds the best of "
                 f"{n_done} completed trials. Fit again with the same study_name "
                 "to resume.")
        return self

    # -- prediction ----------------------------------------------------------

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probabilities, columns in the order of ``classes_``."""
        check_is_fitted(self)
        return self.best_estimator_.predict_proba(self._check_X(X))

    def predict(self, X) -> np.ndarray:
        """Labels at the stored threshold ``threshold_``."""
        check_is_fitted(self)
        return self.best_estimator_.predict(self._check_X(X))

    def _validate_X(self, X) -> None:
        """Set ``n_features_in_`` (and ``feature_names_in_`` for a frame)."""
        check_input_shape(X)
        validate_data(self, X, reset=True, skip_check_array=True)

    def _check_X(self, X):
        """New rows as the model was trained on: the training columns and kinds."""
        check_input_shape(X)
        if isinstance(X, pd.DataFrame):
            X = drop_id_columns(self, X)
            if hasattr(self, "feature_names_in_"):
                X = match_columns(X, self.feature_names_in_)
            validate_data(self, X, reset=False, skip_check_array=True)
            if not hasattr(self, "feature_names_in_"):
                X = X.set_axis(self.kinds_.columns, axis=1)  # fitted on an array
            X = check_frame(X)
        else:
            X = validate_data(self, X, reset=False, dtype=None,
                              ensure_all_finite=False, ensure_min_samples=1)
            X = check_frame(as_numeric_if_possible(X), columns=self.kinds_.columns)
        return match_kinds(X, self.kinds_)

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
        check_is_fitted(self)
        return export_model(self, path, format=format)

    def summary(self) -> str:
        """The outcome in a few lines: strategy, score, threshold, study."""
        check_is_fitted(self)
        return summary_text(self)

    def diagnose(self, X=None, y=None, *, learning_curve: bool = True,
                 time_limit: float | None = 60.0) -> Diagnosis:
        """Is imbalance the real problem? Diagnose the model and its search.

        Compares the best strategy with the best that neither weights nor
        resamples, measures how well the out-of-fold probabilities separate the
        classes, counts rows that confidently contradict their label, draws a
        learning curve, and gives a verdict in sentences with the numbers behind
        it (methods: :mod:`autoimb.explain.diagnostics`).

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
        from autoimb.explain.diagnostics import diagnose  # lazy: only when asked

        check_is_fitted(self)
        return diagnose(self, X, y, learning_curve=learning_curve,
                        time_limit=time_limit)

    def __getstate__(self):
        # A copy: from Python 3.11 the state is the model's own __dict__, and
        # popping from it would strip the live model of its study on export.
        state = dict(super().__getstate__())
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




def fitted_classifier(settings: SearchSettings, X, data, result: SearchResult,
                      times=None) -> AutoImbClassifier:
    """An ``AutoImbClassifier`` with ``settings`` as parameters, fitted with
    the ``result`` of a search run on ``X`` (as given) and ``data`` (checked):
    what ``autoimb export`` returns for a study."""
    params = {name: getattr(settings, name) for name in
              AutoImbClassifier._get_param_names()}
    model = AutoImbClassifier(**params)
    model._validate_X(X)
    _set_fitted(model, data, result, times or {})
    return model


def remember_ids(model, ids: pd.DataFrame) -> None:
    """Record in a fitted ``model`` the id columns left out of its training
    data (``ids``, one row per training row, as ``autoimb fit --id`` read
    them): ``id_columns_``, and ``oof_ids_`` for one column.

    Call it right after the fit (or ``autoimb export``), while the model still
    knows which rows it scored.
    """
    model.id_columns_ = [str(c) for c in ids.columns]
    context = getattr(model, "_context", None)
    if ids.shape[1] == 1 and context is not None and len(ids) == len(context.y):
        values = ids.iloc[:, 0].to_numpy()[context.scored]
        if values.dtype == object:  # text ids: a plain array, as skops files hold
            values = values.astype(str)
        model.oof_ids_ = values


def drop_id_columns(model, X: pd.DataFrame) -> pd.DataFrame:
    """``X`` without the id columns ``model`` remembers (``id_columns_``),
    unless they are features. Models written before ``id_columns_`` existed
    have none."""
    features = {str(c) for c in getattr(model, "feature_names_in_", ())}
    ids = [c for c in X.columns if str(c) in getattr(model, "id_columns_", ())
           and str(c) not in features]
    return X.drop(columns=ids) if ids else X


def _set_fitted(model, data, result: SearchResult, times: dict) -> None:
    """The fitted state of ``model``, in one place."""
    choice, chosen = result.choice, result.choice.candidate
    post = chosen.post
    model.classes_, model.pos_label_, model.kinds_ = (data.classes, data.pos_label,
                                                      data.kinds)
    model.objective_, model.validation_ = result.objective, result.validation
    model.study_, model.study_name_ = result.study, result.study_name
    model.storage_location_, model.n_jobs_ = result.storage_location, result.n_jobs
    model.fit_times_ = dict(times)
    for stale in ("id_columns_", "oof_ids_"):  # a refit: remember_ids sets them
        model.__dict__.pop(stale, None)
    model.best_estimator_ = result.pipeline
    model.best_trial_number_ = (chosen.trial_numbers[0] if chosen.trial_numbers
                                else None)
    model.best_params_ = result.best_params
    model.best_strategy_ = chosen.strategies[0] if chosen.strategies else None
    model.ensemble_ = list(chosen.trial_numbers)
    model.strategy_ = chosen.describe()
    # Costs are totals over the training rows, even when only some were scored.
    model.best_score_, model.best_score_raw_ = choice.estimate, choice.raw
    model.threshold_ = float(post.threshold)
    model.cv_metrics_ = dict(post.metrics, threshold=model.threshold_,
                             calibration=post.calibration, threshold_rule=post.rule,
                             n_candidates=choice.selection.n_candidates,
                             tolerance=choice.selection.tolerance,
                             chosen_as=choice.chosen_as,
                             best_candidate_value=choice.best_raw)
    if result.objective.kind == "cost":
        model.cv_metrics_["normalized_cost_corrected"] = choice.normalized_estimate
    context = result.context
    model.oof_proba_ = post.proba.astype(np.float32)
    model.oof_target_ = context.y[context.scored].astype(np.int8)
    model.oof_scores_ = np.asarray(chosen.scores, dtype=np.float32)
    model.data_summary_ = summarize_data(data.X, data.y, data.classes, data.pos_label)
    model.results_ = result.results
    # Kept for figures and benchmarks, not pickled.
    model._chosen, model._pool, model._context = chosen, list(choice.pool), context
