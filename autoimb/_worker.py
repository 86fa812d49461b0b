"""Workers join a study that ``fit`` made; an export builds its model.

A study made by :func:`autoimb.fit` records its job (see :mod:`autoimb._job`):
the data's file and fingerprint, the target, the objective and costs, the
search space, the folds' setup and seeds, and the budget. So a worker needs
only the storage and the study's name:

* :func:`run_worker` (``autoimb worker``) waits for the study if it does not
  exist yet, reads the data (from the recorded file, or the one it is given),
  refuses data whose fingerprint differs from the study's, and runs trials
  until the study's budget is reached: its finished trials, or its deadline.
  Its own ``n_trials`` and ``timeout`` can only stop it sooner. It neither
  refits nor exports.
* :func:`export_study` (``autoimb export``) builds the final model from the
  study's trials, whoever ran them, as ``fit`` does after its search (the
  best trials' out-of-fold scores are computed again, since no worker keeps
  them), and writes the model file.

Both rebuild an :class:`~autoimb.AutoImbClassifier` with the recorded settings
and run the same steps as ``fit`` (``_prepare``, then ``_search`` or
``_refit_best``), so a worker scores candidates exactly as ``fit`` does.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field

from optuna.trial import TrialState

from ._budget import Budget
from ._job import BUDGET_KEY, JOB_KEY, rebuild_search_space
from ._storage import FINGERPRINT_KEY, StorageLocation
from ._warnings import warn
from .exceptions import AutoImbError, StudyMismatchError

__all__ = ["WorkerReport", "export_study", "run_worker"]

logger = logging.getLogger(__name__)

_POLL_SECONDS = 1.0
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass
class WorkerReport:
    """What one worker did.

    Attributes
    ----------
    study_name : str
    trials : dict of int to str
        The trials this worker ran: number and final state.
    finished_in_study : int
        Completed and pruned trials in the study when the worker stopped.
    n_trials : int or None
        The study's budget of finished trials.
    deadline : float or None
        The study's deadline (seconds since the epoch).
    interrupted : bool
        Stopped by Ctrl-C.
    """

    study_name: str
    trials: dict = field(default_factory=dict)
    finished_in_study: int = 0
    n_trials: int | None = None
    deadline: float | None = None
    interrupted: bool = False

    def count(self, state: str) -> int:
        """How many of this worker's trials ended in ``state`` ("COMPLETE"...)."""
        return sum(s == state for s in self.trials.values())

    def describe(self) -> str:
        """One line: the trials run, and the study's progress."""
        budget = f" of its budget of {self.n_trials}" if self.n_trials else ""
        return (f"ran {len(self.trials)} trials of study {self.study_name!r} "
                f"({self.count('COMPLETE')} completed, {self.count('PRUNED')} "
                f"pruned, {self.count('FAIL')} failed); the study holds "
                f"{self.finished_in_study} finished trials{budget}")


class _OwnTrials:
    """Records this worker's trials, and stops it after ``limit`` of them."""

    def __init__(self, report: WorkerReport, limit: int | None):
        self.report = report
        self.limit = limit

    def __call__(self, study, trial) -> None:
        self.report.trials[trial.number] = trial.state.name
        if self.limit is not None and len(self.report.trials) >= self.limit:
            study.stop()


def run_worker(storage, study_name: str, *, data=None, target: str | None = None,
               n_trials: int | None = None, timeout: float | None = None,
               wait: float = 300.0, search_space=None,
               show_progress_bar: bool = True, verbose: bool | None = None,
               _scores_folder=None, _parent=None) -> WorkerReport:
    """Join a study that ``fit`` made, and run its trials until its budget is met.

    Parameters
    ----------
    storage : str or optuna storage
        Where the study lives: a database URL (``postgresql://...``), the path of
        a journal file, or a storage object. Not ``"memory"``.
    study_name : str
        The study to join.
    data : str, path-like or tuple (X, y), default=None
        The training data: a CSV, TSV or Parquet file, or ``(X, y)`` as given to
        ``fit``. ``None``: the file the study records. Its fingerprint must be
        the study's.
    target : str, default=None
        The label column of a data file; ``None``: the one the study records.
    n_trials : int, default=None
        Run at most this many trials in this worker. The study's own budget
        (finished trials in the study, whoever ran them) applies either way.
    timeout : float, default=None
        Start no trial that would end more than this many seconds from now.
        The study's deadline applies either way.
    wait : float, default=300
        Seconds to wait for the study to exist (it says so once), then fail.
    search_space : str, mapping or SearchSpace, default=None
        Only for a study whose space was given to ``fit`` as a
        :class:`~autoimb.SearchSpace` object (the study cannot record it): the
        same space. ``None``: rebuilt from the study.
    show_progress_bar : bool, default=True
        Show the progress bar of the study's finished trials (on stderr).
    verbose : bool, default=None
        Say on stderr when the worker waits for the study, and when it joins
        it; ``None``: as ``show_progress_bar``.

    Returns
    -------
    WorkerReport

    Raises
    ------
    StudyMismatchError
        If the data's fingerprint differs from the study's (the message names
        both), or the study cannot be rebuilt.
    AutoImbError
        If the study did not appear within ``wait`` seconds, or its data cannot
        be read.

    See Also
    --------
    export_study : Build the model once the workers are done.

    Examples
    --------
    >>> import os, tempfile, autoimb
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=300, weights=[0.9], random_state=0)
    >>> journal = os.path.join(tempfile.mkdtemp(), "study.journal")
    >>> model = autoimb.fit(X, y, search_space="fast", n_trials=2, cv=3,
    ...                     storage=journal, study_name="demo", show_progress_bar=False)
    >>> report = autoimb.run_worker(journal, "demo", data=(X, y),
    ...                             show_progress_bar=False)
    >>> print(report.describe())  # doctest: +NORMALIZE_WHITESPACE
    ran 0 trials of study 'demo' (0 completed, 0 pruned, 0 failed); the study holds
    2 finished trials of its budget of 2
    """
    say = _Speaker(show_progress_bar if verbose is None else verbose,
                   "autoimb worker")
    location = StorageLocation.parse(storage)
    _refuse_memory(location, "worker")
    job, budget_attrs = _wait_for_study(location, study_name, wait, say)
    X, y, data_file = _read_data(job, data, target, study_name)
    report = WorkerReport(study_name, n_trials=budget_attrs.get("n_trials"),
                          deadline=budget_attrs.get("deadline"))
    seconds = _seconds_left(budget_attrs.get("deadline"), timeout)
    if seconds is not None and seconds <= 0:
        say(f"the deadline of study {study_name!r} has passed; nothing to run")
        return report
    model = _rebuilt_model(job, storage, study_name, search_space=search_space,
                           n_trials=budget_attrs.get("n_trials"), timeout=seconds,
                           show_progress_bar=show_progress_bar, data_file=data_file)
    study, _, context = model._prepare(X, y, Budget(seconds), join=True)
    _learn_durations(study, context)
    say(f"joined study {study_name!r} in {location.shown} "
        f"({_count(study, _FINISHED)} finished trials"
        + (f" of {report.n_trials}" if report.n_trials else "") + ")")
    callbacks = [_OwnTrials(report, n_trials)]
    if _scores_folder is not None:
        from ._processes import SaveScores, StopWithParent

        callbacks += [SaveScores(_scores_folder, context), StopWithParent(_parent)]
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # one core per model, as in fit's search
        report.interrupted = model._search(study, context, callbacks=callbacks)
    report.finished_in_study = _count(study, _FINISHED)
    return report


def export_study(storage, study_name: str, path=None, *, data=None,
                 target: str | None = None, format: str | None = None,
                 search_space=None, show_progress_bar: bool = False):
    """Build the final model from a study's trials and write the model file.

    The candidates are the study's best trials, whoever ran them: their
    out-of-fold scores are computed again (on the study's folds, with its
    seeds), the final model is chosen and refitted on all rows as ``fit``
    does, and the study's note names it.

    Parameters
    ----------
    storage : str or optuna storage
        Where the study lives (see :func:`run_worker`).
    study_name : str
    path : str or path-like, default=None
        The model file to write (see :meth:`AutoImbClassifier.export`);
        ``None`` writes nothing.
    data, target, search_space
        As for :func:`run_worker`.
    format : {"joblib", "skops"}, default=None
        ``None``: skops if ``path`` ends in ``.skops``, else joblib.
    show_progress_bar : bool, default=False
        Say which study is read (on stderr).

    Returns
    -------
    AutoImbClassifier
        Fitted, as ``fit`` returns it.

    Examples
    --------
    >>> import os, tempfile, autoimb
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=300, weights=[0.9], random_state=0)
    >>> folder = tempfile.mkdtemp()
    >>> journal = os.path.join(folder, "study.journal")
    >>> _ = autoimb.fit(X, y, search_space="fast", n_trials=2, cv=3, storage=journal,
    ...                 study_name="demo", show_progress_bar=False)
    >>> model = autoimb.export_study(journal, "demo", os.path.join(folder, "m.joblib"),
    ...                              data=(X, y))
    >>> autoimb.load(os.path.join(folder, "m.joblib")).predict(X[:3]).shape
    (3,)
    """
    say = _Speaker(show_progress_bar, "autoimb export")
    location = StorageLocation.parse(storage)
    _refuse_memory(location, "export")
    job, budget_attrs = _wait_for_study(location, study_name, 0.0, say)
    X, y, data_file = _read_data(job, data, target, study_name)
    model = _rebuilt_model(job, storage, study_name, search_space=search_space,
                           n_trials=budget_attrs.get("n_trials"), timeout=None,
                           show_progress_bar=False, data_file=data_file)
    study, _, context = model._prepare(X, y, Budget(None), join=True)
    _warn_if_unfinished(study, budget_attrs.get("n_trials"))
    say(f"building the model of study {study_name!r} in {location.shown} from "
        f"{_count(study, (TrialState.COMPLETE,))} completed trials")
    from threadpoolctl import threadpool_limits

    from ._classifier import results_table

    # One core per model, as in the search: the best trials' scores are computed
    # again as their trials computed them (and OpenMP on a busy machine is slow).
    with threadpool_limits(limits=1):
        model._refit_best(study, context)
    model._describe_best(study, context)
    model.results_ = results_table(study, chosen=model.ensemble_)
    if isinstance(data, tuple):
        name = getattr(data[1], "name", None)
        if isinstance(name, str):
            model.target_name_ = name
    else:
        model.target_name_ = str(target or job["data"]["target"])
    if path is not None:
        fmt = format or ("skops" if str(path).lower().endswith(".skops") else "joblib")
        model.export(path, format=fmt)
    return model


# -- steps ------------------------------------------------------------------------


class _Speaker:
    def __init__(self, enabled: bool, who: str):
        self.enabled, self.who = enabled, who

    def __call__(self, message: str) -> None:
        logger.info(message)
        if self.enabled:
            print(f"{self.who}: {message}", file=sys.stderr, flush=True)


def _refuse_memory(location: StorageLocation, what: str) -> None:
    if location.kind == "memory":
        raise AutoImbError(
            f"A study in memory cannot be joined by a {what}: it lives in the "
            "process that made it. Give fit and the workers the same journal file "
            "or database URL (storage=...).")


def _wait_for_study(location: StorageLocation, name: str, wait: float, say):
    """The study's job and budget, once the study exists and holds its job."""
    storage = location.open(for_search=True)
    deadline = time.monotonic() + wait
    said = False
    try:
        while True:
            attrs, n_trials = _study_attrs(storage, name)
            if attrs is not None and JOB_KEY in attrs:
                return attrs[JOB_KEY], attrs.get(BUDGET_KEY, {})
            if attrs is not None and n_trials and FINGERPRINT_KEY in attrs:
                raise StudyMismatchError(
                    f"Study {name!r} in {location.shown} was made by a version of "
                    "autoimb that did not record its job for workers; run `autoimb "
                    "fit` with the study's data and settings instead.")
            if attrs is not None and n_trials and not any(
                    k.startswith("autoimb.") for k in attrs):
                raise StudyMismatchError(
                    f"Study {name!r} in {location.shown} holds trials that autoimb "
                    "did not make; pass the name of a study made by autoimb fit.")
            left = deadline - time.monotonic()
            if left <= 0:
                raise AutoImbError(_missing_study_message(storage, location, name,
                                                          wait))
            if not said:
                say(f"waiting up to {wait:g} s for study {name!r} to be created in "
                    f"{location.shown} (by autoimb fit ... --study {name})")
                said = True
            time.sleep(min(_POLL_SECONDS, left))
    finally:
        if location.kind == "database":
            _close(storage)


def _study_attrs(storage, name):
    """The study's user attributes and number of trials, or (None, 0)."""
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return None, 0
    attrs = storage.get_study_user_attrs(study_id)
    n_trials = 0 if JOB_KEY in attrs else storage.get_n_trials(study_id)
    return attrs, n_trials


def _missing_study_message(storage, location, name, wait) -> str:
    try:
        names = sorted(s.study_name for s in storage.get_all_studies())
    except Exception:
        names = []
    import difflib

    close = difflib.get_close_matches(name, names, n=1)
    hint = (f" Did you mean {close[0]!r}?" if close else
            f" Studies there: {', '.join(map(repr, names[:10]))}." if names else
            " It holds no study.")
    waited = f"within {wait:g} s" if wait > 0 else "now"
    return (f"Study {name!r} does not exist in {location.shown} {waited}.{hint} "
            f"Create it with `autoimb fit DATA --target COL --storage "
            f"{location.shown} --study {name}` (workers may start before it: "
            "--wait SECONDS).")


def _close(storage) -> None:
    engine = getattr(storage, "engine", None)
    if engine is not None:
        engine.dispose()


def _read_data(job: dict, data, target, name: str):
    """``(X, y, file)``: the worker's data, as ``fit`` was given it."""
    if isinstance(data, tuple):
        X, y = data
        return X, y, None
    recorded = job.get("data", {})
    path = os.fspath(data) if data is not None else recorded.get("location")
    if path is None:
        raise AutoImbError(
            f"Study {name!r} records no data file (it was fitted from Python without "
            "data_location=); pass the data file: --data PATH (and --target COL).")
    target = target or recorded.get("target")
    if target is None:
        raise AutoImbError(
            f"Study {name!r} records no target column; pass --target COL.")
    from ._io import read_table

    if data is None and not os.path.exists(path):
        raise AutoImbError(
            f"The data file {path!r} that study {name!r} records does not exist on "
            "this machine; pass the path of a copy: --data PATH.")
    frame = read_table(path)
    if target not in frame.columns:
        raise AutoImbError(
            f"The target column {target!r} of study {name!r} is not in {path!r}; "
            "pass the right file (--data) or column (--target).")
    columns = recorded.get("columns")
    if columns is None:
        return frame.drop(columns=[target]), frame[target], path
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AutoImbError(
            f"{path!r} lacks {len(missing)} feature column(s) of study {name!r} "
            f"({', '.join(map(repr, missing[:10]))}); pass a copy of the study's "
            "data file (--data).")
    return frame[columns], frame[target], path


def _seconds_left(deadline, timeout):
    """Seconds this worker may run: the study's deadline, or its own timeout."""
    left = None if deadline is None else deadline - time.time()
    if timeout is not None:
        left = timeout if left is None else min(left, timeout)
    return left


def _rebuilt_model(job, storage, study_name, *, search_space, n_trials, timeout,
                   show_progress_bar, data_file):
    """An AutoImbClassifier with the settings the study was made with."""
    from ._classifier import AutoImbClassifier

    where = f"study {study_name!r}"
    if job.get("cv_given"):
        raise StudyMismatchError(
            f"{where} was made with cv= a splitter or a list of splits, which a "
            "worker cannot rebuild; workers need cv=None or an int in fit.")
    space = search_space if search_space is not None else rebuild_search_space(
        job["search_space"], where=where)
    model = AutoImbClassifier(
        space, objective=job["objective"], fp_cost=job["fp_cost"],
        fn_cost=job["fn_cost"], n_trials=n_trials, timeout=timeout, cv=job["cv"],
        storage=storage, study_name=study_name, random_state=None, n_jobs=1,
        pos_label=job["pos_label"], ensemble_size=job["ensemble_size"],
        show_progress_bar=show_progress_bar, data_location=data_file)
    model._validate_params()
    return model


def _learn_durations(study, context, last: int = 50) -> None:
    """Tell the worker's budget how long the study's latest trials took, so
    that a worker joining late starts no trial that would end after the
    deadline."""
    from ._search import strategy_of, trial_size

    trials = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
              if t.duration is not None][-last:]
    n_folds = len(context.folds)
    for trial in trials:
        try:
            strategy = strategy_of(context.space, trial.params, context.kinds)
        except Exception:  # parameters this space no longer has
            continue
        size, fold_rows = trial_size(strategy, context)
        fit_time = float(trial.user_attrs.get("fit_time") or 0.0)
        resample_time = float(trial.user_attrs.get("resample_time") or 0.0)
        context.budget.record(strategy.model, size, trial.duration.total_seconds(),
                              fit_time / n_folds, is_best=False,
                              resampler=strategy.resampler,
                              resample_seconds=resample_time,
                              resample_runs=[(fold_rows, resample_time / n_folds)]
                              if resample_time else [])


def _count(study, states) -> int:
    return len(study.get_trials(deepcopy=False, states=states))


def _warn_if_unfinished(study, n_trials) -> None:
    finished = _count(study, _FINISHED)
    running = _count(study, (TrialState.RUNNING,))
    if (n_trials is not None and finished < n_trials) or running:
        what = f" of its budget of {n_trials}" if n_trials is not None else ""
        busy = f" ({running} still running)" if running else ""
        warn(f"Study {study.study_name!r} holds {finished} finished trials{what}"
             f"{busy}; the model is built from those. Export again once the "
             "workers are done for a model of the whole study.")

