"""Workers join a study that ``fit`` made; an export builds its model.

A study made by :func:`autoimb.fit` records its job (see :mod:`autoimb.search.job`):
the data's file and fingerprint, the target, the objective and costs, the
search space, the folds' setup and seeds, and the budget. So a worker needs
only the storage and the study's name:

* :func:`run_worker` (``autoimb worker``) waits for the study if it does not
  exist yet, reads the data (from the recorded file, or the one it is given),
  refuses data whose fingerprint differs from the study's, and runs trials
  until the study's budget is reached: its finished trials, or its deadline.
  Its own ``n_trials`` and ``timeout`` can only stop it sooner. It neither
  refits nor exports.
* :func:`autoimb.export_study` (``autoimb export``, in
  :mod:`autoimb.workers.export`) builds the final model from the study's
  trials; it reads the study's job with the helpers of this module.

A worker runs the search core (:class:`autoimb.search.run.SearchRun`) on the
study it joins, with the settings the study records
(:func:`settings_of_job`): it scores candidates exactly as ``fit`` does, and
stores each completed trial's out-of-fold scores with the study
(:mod:`autoimb.search.scores`), where the final choice reads them. The worker
processes of a search (:mod:`autoimb.search.processes`) are workers too, started
as ``python -m autoimb.workers.worker SPEC``.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from optuna.trial import TrialState

from autoimb._validation import check_training_data
from autoimb._warnings import warn
from autoimb.deploy.io import read_table
from autoimb.exceptions import AutoImbError, StudyMismatchError
from autoimb.explain.explainer import Explainer
from autoimb.search.budget import Budget
from autoimb.search.job import (
    BUDGET_KEY,
    JOB_KEY,
    RESERVE_KEY,
    TakeReserve,
    rebuild_search_space,
)
from autoimb.search.run import SearchRun
from autoimb.search.settings import SearchSettings
from autoimb.search.trials import strategy_of, trial_size
from autoimb.storage.location import StorageLocation
from autoimb.storage.outcomes import count_outcomes, describe_outcomes, outcome_of
from autoimb.storage.shutdown import exit_outside_journal_writes
from autoimb.storage.studies import FINGERPRINT_KEY

__all__ = ["FINISHED", "Speaker", "StopWithParent", "WorkerReport", "count_trials",
           "read_job_data", "refuse_memory", "run_worker", "settings_of_job",
           "wait_for_study", "warn_if_unfinished"]

logger = logging.getLogger(__name__)

_POLL_SECONDS = 1.0
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass
class WorkerReport:
    """What one worker did.

    Attributes
    ----------
    study_name : str
    trials : dict of int to str
        The trials this worker ran: number and outcome (completed, pruned,
        stopped, skipped, failed: :mod:`autoimb.storage.outcomes`).
    finished_in_study : int
        Finished trials in the study when the worker stopped (COMPLETE or
        PRUNED in Optuna: completed, pruned, skipped, and stopped by the
        budget), as its budget counts them.
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

    def count(self, outcome: str) -> int:
        """How many of this worker's trials ended so ("completed"...)."""
        return sum(s == outcome for s in self.trials.values())

    def describe(self) -> str:
        """One line: the trials run, and the study's progress."""
        budget = f" of its budget of {self.n_trials}" if self.n_trials else ""
        counts = describe_outcomes(count_outcomes(self.trials.values()))
        return (f"ran {len(self.trials)} trials of study {self.study_name!r} "
                f"({counts}); the study holds {self.finished_in_study} finished "
                f"trials{budget}")


class _OwnTrials:
    """Records this worker's trials, and stops it after ``limit`` of them."""

    def __init__(self, report: WorkerReport, limit: int | None):
        self.report = report
        self.limit = limit

    def __call__(self, study, trial) -> None:
        self.report.trials[trial.number] = outcome_of(trial)
        if self.limit is not None and len(self.report.trials) >= self.limit:
            study.stop()


def run_worker(storage, study_name: str, *, data=None, target: str | None = None,
               n_trials: int | None = None, timeout: float | None = None,
               wait: float = 300.0, search_space=None,
               show_progress_bar: bool = True, verbose: bool | None = None,
               _parent=None) -> WorkerReport:
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
        Seconds to wait for the study to exist (it says so once), then fail. A
        journal or SQLite file that does not exist yet is waited for too, and
        not created by the worker (``fit`` creates it); one in a folder that does
        not exist is refused at once.
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
    ran 0 trials of study 'demo' (0 completed); the study holds 2 finished trials
    of its budget of 2
    """
    say = Speaker(show_progress_bar if verbose is None else verbose,
                   "autoimb worker")
    location = StorageLocation.parse(storage)
    refuse_memory(location, "worker")
    job, budget_attrs = wait_for_study(location, study_name, wait, say)
    X, y, data_file, _ = read_job_data(job, data, target, study_name)
    report = WorkerReport(study_name, n_trials=budget_attrs.get("n_trials"),
                          deadline=budget_attrs.get("deadline"))
    seconds = Budget.seconds_until(budget_attrs.get("deadline"), timeout)
    if seconds is not None and seconds <= 0:
        say(f"the deadline of study {study_name!r} has passed; nothing to run")
        report.finished_in_study = _finished_in(location, study_name)
        return report
    settings = settings_of_job(job, storage, study_name, search_space=search_space,
                               n_trials=budget_attrs.get("n_trials"), timeout=seconds,
                               show_progress_bar=show_progress_bar,
                               data_file=data_file)
    run = SearchRun(settings, check_training_data(X, y, settings.pos_label),
                    join=True, budget=Budget(seconds),
                    observers=[Explainer()]).prepare()
    study, context = run.study, run.context
    _learn_durations(study, context)
    say(f"joined study {study_name!r} in {location.shown} "
        f"({count_trials(study, FINISHED)} finished trials"
        + (f" of {report.n_trials}" if report.n_trials else "") + ")")
    context.budget.shared_reserve = float(study.user_attrs.get(RESERVE_KEY) or 0.0)
    callbacks = [_OwnTrials(report, n_trials), TakeReserve(context.budget)]
    if _parent is not None:
        callbacks.append(StopWithParent(_parent))
    report.interrupted = run.search(callbacks=callbacks)  # one core per model
    report.finished_in_study = count_trials(study, FINISHED)
    return report


# -- steps ------------------------------------------------------------------------


class Speaker:
    def __init__(self, enabled: bool, who: str):
        self.enabled, self.who = enabled, who

    def __call__(self, message: str) -> None:
        logger.info(message)
        if self.enabled:
            print(f"{self.who}: {message}", file=sys.stderr, flush=True)


def refuse_memory(location: StorageLocation, what: str) -> None:
    if location.kind == "memory":
        raise AutoImbError(
            f"A study in memory cannot be joined by a {what}: it lives in the "
            "process that made it. Give fit and the workers the same journal file "
            "or database URL (storage=...).")


def wait_for_study(location: StorageLocation, name: str, wait: float, say, *,
                   reading: bool = False):
    """The study's job and budget, once the study exists and holds its job.

    Creates no journal or SQLite file: a reader (``reading``, an export) fails
    at once when the file is missing (``No such file: PATH``); a worker waits up
    to ``wait`` seconds for it to appear (``fit`` creates it), saying so at once,
    then fails naming it. A file in a folder that does not exist is refused at
    once: nothing could create it. A reader opens a database without creating
    its tables; a worker opens it as a search does.
    """
    deadline = time.monotonic() + wait
    path = location.missing_file
    said = False
    if path is not None:
        if reading or wait <= 0 or not os.path.isdir(os.path.dirname(path) or "."):
            raise AutoImbError(location.missing_file_message())
        close = location.close_files()
        say(f"waiting up to {wait:g} s for {path!r} to appear, then for study "
            f"{name!r} in it (no such file yet: `autoimb fit ... --storage "
            f"{location.shown} --study {name}` creates both)"
            + (f"; did you mean {' or '.join(map(repr, close))}?" if close else ""))
        said = True
    read_only = reading or location.local_file is not None
    storage = None
    try:
        while True:
            if storage is None and location.missing_file is None:
                storage = (location.open_to_read() if read_only else
                           location.open(for_search=True))
            attrs, n_trials = (None, 0) if storage is None else \
                _study_attrs(storage, name)
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
                if location.missing_file is not None:
                    raise AutoImbError(location.missing_file_message(waited=wait))
                raise AutoImbError(_missing_study_message(storage, location, name,
                                                          wait))
            if not said:
                say(f"waiting up to {wait:g} s for study {name!r} to be created in "
                    f"{location.shown} (by autoimb fit ... --study {name})")
                said = True
            time.sleep(min(_POLL_SECONDS, left))
    finally:
        if location.kind == "database" and storage is not None:
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
    except Exception:  # None: a database without Optuna's tables
        names = []
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


def read_job_data(job: dict, data, target, name: str):
    """``(X, y, file, left_out)``: the worker's data, as ``fit`` was given it,
    and the file's columns that are neither features nor the target (the ids
    ``autoimb fit --id`` left out; ``None`` when there are none)."""
    if isinstance(data, tuple):
        X, y = data
        return X, y, None, None
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
        return frame.drop(columns=[target]), frame[target], path, None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AutoImbError(
            f"{path!r} lacks {len(missing)} feature column(s) of study {name!r} "
            f"({', '.join(map(repr, missing[:10]))}); pass a copy of the study's "
            "data file (--data).")
    left_out = [c for c in frame.columns if c not in columns and c != target]
    return frame[columns], frame[target], path, \
        frame[left_out] if left_out else None


def settings_of_job(job, storage, study_name, *, search_space, n_trials, timeout,
                    show_progress_bar, data_file) -> SearchSettings:
    """The settings the study was made with (its recorded job), for a worker
    or an export: one trial at a time, this process's own budget."""
    where = f"study {study_name!r}"
    if job.get("cv_given"):
        raise StudyMismatchError(
            f"{where} was made with cv= a splitter or a list of splits, which a "
            "worker cannot rebuild; workers need cv=None or an int in fit.")
    space = search_space if search_space is not None else rebuild_search_space(
        job["search_space"], where=where)
    return SearchSettings(
        space, objective=job["objective"], fp_cost=job["fp_cost"],
        fn_cost=job["fn_cost"], n_trials=n_trials, timeout=timeout, cv=job["cv"],
        storage=storage, study_name=study_name, random_state=None, n_jobs=1,
        pos_label=job["pos_label"], ensemble_size=job["ensemble_size"],
        show_progress_bar=show_progress_bar, data_location=data_file)


def _learn_durations(study, context, last: int = 50) -> None:
    """Tell the worker's budget how long the study's latest trials took, so
    that a worker joining late starts no trial that would end after the
    deadline."""
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


def _finished_in(location: StorageLocation, name: str) -> int:
    """The study's finished trials (completed and pruned in Optuna's terms,
    as its budget counts them), read from its storage."""
    storage = location.open(for_search=True)
    try:
        study_id = storage.get_study_id_from_name(name)
        return len(storage.get_all_trials(study_id, deepcopy=False, states=FINISHED))
    finally:
        if location.kind == "database":
            _close(storage)


def count_trials(study, states) -> int:
    return len(study.get_trials(deepcopy=False, states=states))


def warn_if_unfinished(study, n_trials) -> None:
    finished = count_trials(study, FINISHED)
    running = count_trials(study, (TrialState.RUNNING,))
    if (n_trials is not None and finished < n_trials) or running:
        what = f" of its budget of {n_trials}" if n_trials is not None else ""
        busy = f" ({running} still running)" if running else ""
        warn(f"Study {study.study_name!r} holds {finished} finished trials{what}"
             f"{busy}; the model is built from those. Export again once the "
             "workers are done for a model of the whole study.")


# -- the worker processes of a search (autoimb.search.processes) ---------------

#: A search's worker processes are the first the out-of-memory killer takes
#: (1000: the most; the fitting process keeps the default, 0).
_WORKER_OOM_SCORE_ADJ = 1000


class StopWithParent:
    """A worker's callback: stop once the process that started it is gone."""

    def __init__(self, parent: int):
        self.parent = parent

    def __call__(self, study, trial) -> None:
        if os.getppid() != self.parent:
            study.stop()


def _first_to_go_when_memory_runs_out() -> None:
    """Ask Linux's out-of-memory killer to pick this worker before the fitting
    process: the search then goes on without it (its trial failed and queued
    again) instead of losing the whole fit. Any process may raise its own
    ``oom_score_adj``; elsewhere this does nothing."""
    with contextlib.suppress(OSError):
        Path("/proc/self/oom_score_adj").write_text(str(_WORKER_OOM_SCORE_ADJ))


def _child(spec_path: str) -> int:
    """A worker process of a search (``python -m autoimb.workers.worker SPEC``,
    started by :class:`autoimb.search.processes.WorkerProcesses`)."""
    import joblib  # lazy: only worker processes read the data this way

    # Ctrl-C in a terminal reaches the whole process group: the fitting process
    # alone decides, and stops its workers with SIGTERM, which must not end a
    # worker while it holds the journal file's lock.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_outside_journal_writes()
    _first_to_go_when_memory_runs_out()
    spec = json.loads(Path(spec_path).read_text())
    data = joblib.load(spec["data"])
    run_worker(spec["storage"], spec["study"], data=(data["X"], data["y"]),
               search_space=data["space"], wait=spec["wait"],
               show_progress_bar=False, _parent=spec["parent"])
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
