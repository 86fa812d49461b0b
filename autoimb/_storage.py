"""Where studies live: an embedded journal file by default, or any Optuna storage.

A journal file (``JournalStorage(JournalFileBackend(path))``) costs about 8 ms per
trial against 45-61 ms for SQLite here, and survives two processes creating one
study at once, which crashed SQLite in 10 of 10 tries. optuna-dashboard reads it
while the search runs.
"""

from __future__ import annotations

import os
import random
import socket
import time
import warnings
from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from .exceptions import AutoImbError, StudyMismatchError

__all__ = ["DEFAULT_STORAGE", "check_study_matches", "fail_dead_workers_trials",
           "resolve_storage", "worker_id"]

DEFAULT_STORAGE = "autoimb.journal"
_MEMORY = ("memory", ":memory:")


def resolve_storage(storage=None):
    """Return ``(storage, location)`` for Optuna.

    Parameters
    ----------
    storage : None, str or optuna.storages.BaseStorage
        ``None``: the journal file ``autoimb.journal`` in the current folder.
        ``"memory"``: in memory, gone with the process. A URL with ``://``
        (``sqlite:///x.db``, ``postgresql://user@host/db``): a database, with
        heartbeats so that a killed worker's trial is failed and retried. Any
        other string: the path of a journal file. A storage object is used as is.

    Returns
    -------
    storage : BaseStorage
    location : str or None
        What to pass to ``autoimb dashboard`` (``None`` in memory).
    """
    if storage is None:
        storage = DEFAULT_STORAGE
    if isinstance(storage, optuna.storages.BaseStorage):
        return storage, None
    if not isinstance(storage, (str, os.PathLike)):
        raise AutoImbError(
            f"storage={storage!r} is not understood; pass None (a journal file in "
            "this folder), 'memory', a database URL or the path of a journal file.")
    text = os.fspath(storage)
    if text in _MEMORY:
        return optuna.storages.InMemoryStorage(), None
    if "://" in text:
        from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

        def connect():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(
                    text, heartbeat_interval=30, grace_period=90,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                        max_retry=2))

        try:
            rdb = _retry_schema_race(connect)
        except Exception as exc:
            raise AutoImbError(
                f"Cannot open the study storage {text!r}: {exc}. Check the URL, that "
                "the server runs and that its driver is installed "
                "(pip install 'autoimb[postgres]' for PostgreSQL).") from exc
        return rdb, text
    return _journal(Path(text)), text


def _retry_schema_race(connect, attempts: int = 6):
    """Workers started together on a new database race to create Optuna's tables;
    the losers get a unique-key violation. Try again: the tables then exist."""
    for attempt in range(attempts):
        try:
            return connect()
        except Exception as exc:
            if attempt == attempts - 1 or ("Integrity" not in type(exc).__name__ and \
                    "duplicate key" not in str(exc)):
                raise
            time.sleep(0.2 * (attempt + 1) + random.random() * 0.2)
    raise AssertionError("unreachable")


def _journal(path: Path) -> JournalStorage:
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise AutoImbError(
            f"storage={str(path)!r} is a folder; pass the path of a journal file, "
            f"e.g. {str(path / DEFAULT_STORAGE)!r}.")
    if not folder.exists():
        raise AutoImbError(
            f"The folder of storage={str(path)!r} does not exist; create it or "
            "choose another path.")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise AutoImbError(
            f"Cannot write the study journal {str(path)!r} (permission denied); "
            "pass storage= a writable path, or storage='memory' to keep no record.")
    try:
        return JournalStorage(JournalFileBackend(str(path)))
    except OSError as exc:
        raise AutoImbError(
            f"Cannot write the study journal {str(path)!r} ({exc.strerror or exc}); "
            "pass storage= a writable path, or storage='memory' to keep no record."
        ) from exc


def worker_id() -> str:
    """This process, as recorded on the trials it runs: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def fail_dead_workers_trials(study) -> list[int]:
    """Mark failed the running trials of processes of this host that are gone.

    A killed worker leaves its trial RUNNING. Database storages fail such trials
    through heartbeats; a journal file has none, so a rerun on the same machine
    checks the process id each trial recorded. The failed trial's parameters are
    queued again, so the search retries them. Returns the trial numbers failed.
    """
    host = socket.gethostname()
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get("worker", "")
        worker_host, _, pid = worker.rpartition(":")
        if worker_host != host or not pid.isdigit() or _alive(int(pid)):
            continue
        study._storage.set_trial_user_attr(
            trial._trial_id, "error", f"worker {worker} died while running this trial")
        study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
        if trial.params:
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
        failed.append(trial.number)
    return failed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_study_matches(study, *, fingerprint: str, config: dict) -> bool:
    """Tag a new study, or check that an existing one was made for this data.

    Returns True if the study is new.
    """
    attrs = study.user_attrs
    if "autoimb.fingerprint" not in attrs:
        if study.trials:
            raise StudyMismatchError(
                f"Study {study.study_name!r} already holds {len(study.trials)} trials "
                "that autoimb did not make; pass another study_name.")
        study.set_user_attr("autoimb.fingerprint", fingerprint)
        study.set_user_attr("autoimb.config", config)
        return True
    if attrs["autoimb.fingerprint"] != fingerprint:
        raise StudyMismatchError(
            f"Study {study.study_name!r} belongs to a different data set (fingerprint "
            f"{attrs['autoimb.fingerprint']}, this data {fingerprint}). Pass another "
            "study_name, or the data the study was made with to resume it.")
    old = attrs.get("autoimb.config", {})
    changed = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
    if changed:
        details = "; ".join(f"{k}: study {old.get(k)!r}, now {config.get(k)!r}"
                            for k in changed)
        raise StudyMismatchError(
            f"Study {study.study_name!r} was made with other settings ({details}). "
            "Pass another study_name, or the same settings to resume it.")
    return False
