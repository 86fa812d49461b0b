"""Where studies live: an embedded journal file by default, or any Optuna storage.

This is the only module that turns a storage location (None, ``"memory"``, a
journal file path, a database URL, a storage object) into an Optuna storage, and
that knows a journal file from a database URL or an SQLite file. The search, the
dashboard and the figures all ask it (:class:`StorageLocation`).

A journal file (``JournalStorage(JournalFileBackend(path))``) costs about 8 ms per
trial against 45-61 ms for SQLite here, and survives two processes creating one
study at once, which crashed SQLite in 10 of 10 tries. optuna-dashboard reads it
while the search runs. A journal whose last record was cut short (a kill or a
power loss in the middle of a write) is repaired when opened
(:func:`repair_journal`).

A database (``postgresql://...``) is opened for a search with:

* heartbeats, so that the trial of a killed worker is failed and its parameters
  run again by another worker;
* connection pre-ping, so that a connection the server closed is replaced;
* a bounded retry with back-off of every call Optuna makes to it, so that a
  database restart is survived; past the bound, :class:`StorageUnavailableError`
  says how to resume.

Environment variables (whole seconds; read when a database is opened):

``AUTOIMB_HEARTBEAT_SECONDS`` (default 30)
    How often a running trial records that its worker is alive.
``AUTOIMB_HEARTBEAT_GRACE_SECONDS`` (default 3 x the heartbeat)
    How long after its last heartbeat a trial counts as dead: another worker then
    marks it failed and queues its parameters again.
``AUTOIMB_STORAGE_RETRY_SECONDS`` (default 60)
    How long one outage of the database is waited for before giving up.
``AUTOIMB_STUDY_WAIT_SECONDS`` (default 60; any storage)
    How long a process that finds a study just created by another one waits for
    that one to tag it (:func:`check_study_matches`).

A worker cannot finish a trial that the others presumed dead, and heartbeats
wait for the database like every call: keep the grace period at least the
heartbeat interval plus the retry time (the defaults: 90 = 30 + 60).
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import socket
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock
from optuna.trial import TrialState

from autoimb._optuna_compat import (
    JOURNAL_RECORD_START,
    rdb_storage_calls,
    storage_of,
    trial_id_of,
)
from autoimb.exceptions import (
    AutoImbError,
    AutoImbWarning,
    StorageUnavailableError,
    StudyMismatchError,
)

__all__ = ["DEFAULT_STORAGE", "FINGERPRINT_KEY", "StorageLocation",
           "changed_settings", "check_study_matches", "fail_dead_workers_trials",
           "local_file", "open_study", "repair_journal", "resolve_storage",
           "worker_id"]

logger = logging.getLogger(__name__)

#: Journal file used when no storage is given.
DEFAULT_STORAGE = "autoimb.journal"
_MEMORY = ("memory", ":memory:")
_SQLITE_PREFIX = "sqlite:///"

HEARTBEAT_ENV = "AUTOIMB_HEARTBEAT_SECONDS"
GRACE_ENV = "AUTOIMB_HEARTBEAT_GRACE_SECONDS"
RETRY_ENV = "AUTOIMB_STORAGE_RETRY_SECONDS"
_DEFAULT_HEARTBEAT = 30
_DEFAULT_RETRY = 60
STUDY_WAIT_ENV = "AUTOIMB_STUDY_WAIT_SECONDS"
_DEFAULT_STUDY_WAIT = 60
FINGERPRINT_KEY = "autoimb.fingerprint"
CONFIG_KEY = "autoimb.config"
_SETTINGS_WAIT = 5  # seconds: a creating process writes the settings at once
_CONNECT_TIMEOUT = 10  # seconds; PostgreSQL otherwise waits for the OS (minutes)


# -- locations ------------------------------------------------------------------


@dataclass(frozen=True)
class StorageLocation:
    """A storage location, parsed once.

    Parameters
    ----------
    kind : {"memory", "journal", "database", "redis", "object"}
        In memory; a journal file; a database URL (``sqlite:///x.db``,
        ``postgresql://user@host/db``); a Redis journal URL; a storage object.
    text : str or None
        The journal file path or URL as given; None in memory or for an object.
    storage : optuna.storages.BaseStorage or None
        The storage object, for kind ``"object"``.

    Examples
    --------
    >>> StorageLocation.parse(None)
    StorageLocation(kind='journal', text='autoimb.journal')
    >>> StorageLocation.parse("sqlite:///runs/study.db").local_file
    'runs/study.db'
    >>> StorageLocation.parse("postgresql://me:secret@db/autoimb").shown
    'postgresql://me:***@db/autoimb'
    """

    kind: str
    text: str | None
    storage: BaseStorage | None = field(default=None, repr=False, compare=False)

    @classmethod
    def parse(cls, storage=None) -> StorageLocation:
        """Parse ``storage``: None (``autoimb.journal`` in the current folder),
        ``"memory"``, a URL with ``://``, the path of a journal file, or a storage
        object."""
        if storage is None:
            storage = DEFAULT_STORAGE
        if isinstance(storage, BaseStorage):
            return cls("object", None, storage)
        if not isinstance(storage, (str, os.PathLike)):
            raise AutoImbError(
                f"storage={storage!r} is not understood; pass None (a journal file in "
                "this folder), 'memory', a database URL or the path of a journal file.")
        text = os.fspath(storage)
        if not text.strip():
            raise AutoImbError(
                f"storage={text!r} is empty; pass None (a journal file in this "
                f"folder), 'memory', a database URL or the path of a journal file, "
                f"e.g. {DEFAULT_STORAGE!r}.")
        if text in _MEMORY:
            return cls("memory", None)
        if "://" in text:
            return cls("redis" if text.startswith("redis") else "database", text)
        return cls("journal", text)

    @property
    def local_file(self) -> str | None:
        """The file the study lives in (a journal or an SQLite database), or None
        (in memory, a server, an object)."""
        if self.kind == "journal":
            return self.text
        if self.kind == "database" and self.text.startswith(_SQLITE_PREFIX):
            path = self.text[len(_SQLITE_PREFIX):].split("?", 1)[0]
            return path if path and path != ":memory:" else None
        return None

    @property
    def shown(self) -> str:
        """The location for messages, with any password hidden."""
        if self.kind == "object":
            return type(self.storage).__name__
        if self.kind == "memory":
            return "memory"
        if self.kind in ("database", "redis"):
            try:
                from sqlalchemy.engine import make_url

                return make_url(self.text).render_as_string(hide_password=True)
            except Exception:
                return self.text
        return self.text

    def open(self, *, for_search: bool = True) -> BaseStorage:
        """The Optuna storage of this location.

        For a search (``for_search=True``), a journal's folder must be writable
        and a database gets heartbeats and retries; otherwise (the dashboard) a
        database is only read, without creating its tables. A journal whose last
        record was cut short is repaired either way.
        """
        if self.kind == "object":
            return self.storage
        if self.kind == "memory":
            return optuna.storages.InMemoryStorage()
        if self.kind == "redis":
            from optuna.storages.journal import JournalRedisBackend

            try:
                return JournalStorage(JournalRedisBackend(self.text))
            except Exception as exc:
                raise AutoImbError(
                    f"Cannot open the study storage {self.shown!r}: {exc}. Check the "
                    "URL, that the server runs and that the redis package is "
                    "installed.") from exc
        if self.kind == "database":
            return _open_database(self) if for_search else RDBStorage(
                self.text, engine_kwargs=_engine_kwargs(self.text),
                skip_compatibility_check=True, skip_table_creation=True)
        if for_search:
            return _journal(Path(self.text))
        repair_journal(self.text)
        return JournalStorage(JournalFileBackend(self.text))


def local_file(location) -> str | None:
    """The local file behind a location (journal path or SQLite file), or None."""
    return StorageLocation.parse(location).local_file


def resolve_storage(storage=None):
    """Return ``(storage, location)`` for Optuna.

    Parameters
    ----------
    storage : None, str or optuna.storages.BaseStorage
        ``None``: the journal file ``autoimb.journal`` in the current folder.
        ``"memory"``: in memory, gone with the process. A URL with ``://``
        (``sqlite:///x.db``, ``postgresql://user@host/db``): a database, with
        heartbeats so that a killed worker's trial is failed and retried, and
        retries that outlast a restart of the server. Any other string: the path
        of a journal file. A storage object is used as is.

    Returns
    -------
    storage : BaseStorage
    location : str or None
        What to pass to ``autoimb dashboard`` (``None`` in memory).
    """
    location = StorageLocation.parse(storage)
    return location.open(for_search=True), location.text


# -- databases ------------------------------------------------------------------


def _env_seconds(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise AutoImbError(
            f"The environment variable {name}={text!r} is not a positive whole "
            f"number of seconds; unset it, or set it to e.g. {default}.")
    return value


def _engine_kwargs(url: str) -> dict:
    """Replace connections the server closed (a restart) before using them, and
    give up connecting to PostgreSQL after a bounded time."""
    kwargs = {"pool_pre_ping": True}
    if url.startswith("postgres") and "connect_timeout" not in url:
        kwargs["connect_args"] = {"connect_timeout": _CONNECT_TIMEOUT}
    return kwargs


def _open_database(location: StorageLocation) -> RDBStorage:
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    heartbeat = _env_seconds(HEARTBEAT_ENV, _DEFAULT_HEARTBEAT)
    grace = _env_seconds(GRACE_ENV, 3 * heartbeat)
    retry = _env_seconds(RETRY_ENV, _DEFAULT_RETRY)

    def connect():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return ResilientRDBStorage(
                location.text, engine_kwargs=_engine_kwargs(location.text),
                heartbeat_interval=heartbeat, grace_period=grace,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                    max_retry=2),
                retry_seconds=retry)

    try:
        return _retry_schema_race(connect)
    except Exception as exc:
        raise AutoImbError(
            f"Cannot open the study storage {location.shown!r}: {exc}. Check the URL, "
            "that the server runs and that its driver is installed "
            "(pip install 'autoimb[postgres]' for PostgreSQL).") from exc


def _retry_schema_race(connect, attempts: int = 6):
    """Workers started together on a new database race to create Optuna's tables;
    the losers get a unique-key violation. Try again: the tables then exist."""
    for attempt in range(attempts):
        try:
            return connect()
        except Exception as exc:
            if attempt == attempts - 1 or (
                    "Integrity" not in type(exc).__name__
                    and "duplicate key" not in str(exc)):
                raise
            time.sleep(0.2 * (attempt + 1) + random.random() * 0.2)
    raise AssertionError("unreachable")


def _lost_connection(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not be reached or dropped the
    connection (worth retrying), rather than refused the request.

    The whole chain of causes counts: Optuna wraps the driver's error in a
    ``StorageInternalError``, and when a query of ``RDBStorage._get_trials`` fails
    it tries another one in the same session, which then raises SQLAlchemy's
    ``PendingRollbackError`` with the lost connection as its context.
    """
    import sqlalchemy.exc as sa

    error, depth = exc, 0
    while error is not None and depth < 8:
        if isinstance(error, StorageUnavailableError):
            return False
        if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, (sa.OperationalError, sa.InterfaceError,
                              sa.DisconnectionError, sa.TimeoutError,
                              sa.PendingRollbackError)):
            return True
        error, depth = error.__cause__ or error.__context__, depth + 1
    return False


def _root_cause(exc: BaseException) -> str:
    error = exc.__cause__ if exc.__cause__ is not None else exc
    error = getattr(error, "orig", None) or error  # the driver's own error
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


class ResilientRDBStorage(RDBStorage):
    """An :class:`~optuna.storages.RDBStorage` that survives a database restart.

    Every call Optuna makes to the database is retried with exponential back-off
    (0.25 s doubling up to 2 s) when the connection is lost or refused, for up to
    ``retry_seconds`` from the start of an outage; then it raises
    :class:`~autoimb.exceptions.StorageUnavailableError`, and later calls fail at
    once until one succeeds. Errors about the request itself (a unique-key
    violation, a finished trial) are not retried.

    Retrying is sound because a failed call's transaction was rolled back, except
    when the connection dropped after the server committed but before it answered:
    a trial finished twice is recognised (:meth:`set_trial_state_values`); a trial
    created twice is possible but needs that exact instant.

    A subclass rather than a wrapper, so that Optuna still caches it
    (``_CachedStorage``) and optuna-dashboard still treats it as a database.
    """

    def __init__(self, url: str, *, retry_seconds: float = _DEFAULT_RETRY, **kwargs):
        self.retry_seconds = retry_seconds
        self._outage_since = None
        super().__init__(url, **kwargs)

    @property
    def shown(self) -> str:
        return StorageLocation("database", self.url).shown

    def _call(self, function, *args, **kwargs):
        delay = 0.25
        while True:
            try:
                result = function(*args, **kwargs)
            except Exception as exc:
                if not _lost_connection(exc):
                    raise
                now = time.monotonic()
                since = self._outage_since
                if since is None:
                    self._outage_since = since = now
                    logger.warning(
                        "Lost the connection to the study storage %s (%s); retrying "
                        "for up to %g s.", self.shown, _root_cause(exc),
                        self.retry_seconds)
                left = since + self.retry_seconds - now
                if left <= 0:
                    raise StorageUnavailableError(
                        f"The study storage {self.shown} did not answer for "
                        f"{self.retry_seconds:g} s ({_root_cause(exc)}). Finished "
                        "trials are safe in the database; once it answers again, run "
                        "the same command to resume the study (set "
                        f"{RETRY_ENV} to wait longer).") from exc
                time.sleep(min(delay * random.uniform(0.8, 1.2), left))
                delay = min(2 * delay, 2.0)
                continue
            if self._outage_since is not None:
                logger.warning("Reconnected to the study storage %s after %.1f s.",
                               self.shown, time.monotonic() - self._outage_since)
                self._outage_since = None
            return result

    def set_trial_state_values(self, trial_id, state, values=None):
        failed = []

        def attempt():
            try:
                return RDBStorage.set_trial_state_values(self, trial_id, state, values)
            except optuna.exceptions.UpdateFinishedTrialError:
                # The attempt whose answer was lost wrote it: the trial is done.
                if failed and state.is_finished() and \
                        RDBStorage.get_trial(self, trial_id).state == state:
                    return True
                raise
            except Exception:
                failed.append(True)
                raise

        return self._call(attempt)

    def record_heartbeat(self, trial_id):
        # Runs in Optuna's heartbeat thread, which an exception would end: keep
        # it beating, so that the trial lives on if the database comes back.
        try:
            self._call(RDBStorage.record_heartbeat, self, trial_id)
        except StorageUnavailableError as exc:
            logger.debug("Heartbeat of trial id %s not recorded: %s", trial_id, exc)


def _retried(name: str):
    def call(self, *args, **kwargs):
        return self._call(getattr(super(ResilientRDBStorage, self), name),
                          *args, **kwargs)

    call.__name__ = name
    call.__qualname__ = f"ResilientRDBStorage.{name}"
    call.__doc__ = getattr(RDBStorage, name).__doc__
    return call


for _name in rdb_storage_calls():
    if _name not in ResilientRDBStorage.__dict__:
        setattr(ResilientRDBStorage, _name, _retried(_name))
del _name


# -- journal files --------------------------------------------------------------


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
    if not os.access(folder, os.W_OK) or (
            path.exists() and not os.access(path, os.W_OK)):
        raise AutoImbError(
            f"Cannot write the study journal {str(path)!r} (permission denied); "
            "pass storage= a writable path, or storage='memory' to keep no record.")
    repair_journal(str(path))
    try:
        return JournalStorage(JournalFileBackend(str(path)))
    except OSError as exc:
        raise AutoImbError(
            f"Cannot write the study journal {str(path)!r} ({exc.strerror or exc}); "
            "pass storage= a writable path, or storage='memory' to keep no record."
        ) from exc


def _is_record(line: bytes) -> bool:
    """Whether ``line`` (with its newline) is one complete journal record."""
    if not line.endswith(b"\n") or not line.startswith(JOURNAL_RECORD_START):
        return False
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _lines(data: bytes) -> list[bytes]:
    """The file's lines as Optuna reads them: split after each newline only."""
    lines = [line + b"\n" for line in data.split(b"\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def _is_intact(data: bytes) -> bool:
    """Whether every line is a complete record; parses only lines that look odd
    (no newline, another start of record inside), so a large file checks fast."""
    for line in _lines(data):
        if line.endswith(b"\n") and line.startswith(JOURNAL_RECORD_START) and \
                line.find(JOURNAL_RECORD_START, 1) < 0:
            continue
        if not _is_record(line):
            return False
    return True


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def repair_journal(path: str) -> None:
    """Drop a journal record that a kill or a power loss left half-written.

    Optuna skips a half-written last record, but the next record appended lands
    on the same line, and from then on every read of the file fails with a
    ``JSONDecodeError``. So before a journal file is opened, if a line is not a
    complete record, the file is repaired under Optuna's journal lock: what
    follows the last complete record is cut, and a line that holds the start of a
    cut record followed by a complete record keeps the complete one. A copy of
    the original is kept next to it, and an
    :class:`~autoimb.exceptions.AutoImbWarning` says what was dropped.

    Raises
    ------
    AutoImbError
        If the file is not an Optuna journal, or is damaged elsewhere than at
        the end of a record.
    """
    if not os.path.isfile(path) or _is_intact(_read(path)):
        return
    lock = JournalFileSymlinkLock(path)
    try:
        lock.acquire()
    except OSError as exc:
        raise AutoImbError(
            f"The study journal {path!r} ends with a record cut short, and cannot be "
            f"repaired here ({exc.strerror or exc}); run once where its folder is "
            "writable.") from exc
    try:
        if _is_intact(_read(path)):  # another process repaired it meanwhile
            return
        backup, dropped, kept = _repair_locked(path)
    finally:
        lock.release()
    merged = (f" ({kept} of them had been written on the same line as the cut "
              "record)") if kept else ""
    warnings.warn(
        f"The study journal {path!r} held a record cut short ({len(dropped)} bytes: "
        f"{dropped[:60]!r}{'...' if len(dropped) > 60 else ''}), as a process killed "
        "or a power loss while writing leaves it. autoimb dropped it and repaired "
        f"the file, keeping every complete record{merged}; the original is saved "
        f"as {backup!r}. Nothing else to do: this warning shows once.",
        AutoImbWarning, stacklevel=2)


def _repair_locked(path: str) -> tuple[str, bytes, int]:
    """Rewrite the journal without its cut records; return the backup's path, the
    bytes dropped and the number of records recovered from merged lines."""
    data = _read(path)
    lines = _lines(data)
    last_good, merged, bad = -1, {}, []
    for i, line in enumerate(lines):
        start = line.rfind(JOURNAL_RECORD_START)
        if _is_record(line):
            last_good = i
        elif start > 0 and _is_record(line[start:]):
            merged[i], last_good = start, i
        else:
            bad.append(i)
    bad = [i for i in bad if i < last_good]
    if bad or (last_good < 0 and not data.startswith(JOURNAL_RECORD_START)):
        first = bad[0] if bad else 0
        sqlite = data.startswith(b"SQLite format 3\x00")
        raise AutoImbError(
            f"{path!r} is not an Optuna journal file, or is damaged at line "
            f"{first + 1} ({lines[first][:60]!r}), not only at the end of a record"
            + (f"; it is an SQLite database: pass storage='sqlite:///{path}'."
               if sqlite else "; pass another storage, or restore the file."))
    kept_lines = [line[merged[i]:] if i in merged else line
                  for i, line in enumerate(lines[:last_good + 1])]
    dropped = b"".join([lines[i][:merged[i]] for i in sorted(merged)]
                       + lines[last_good + 1:])
    backup = _backup(path)
    first_change = min([*merged, last_good + 1])
    offset = sum(len(line) for line in lines[:first_change])
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(b"".join(kept_lines[first_change:]))
        f.truncate()
        f.flush()
        os.fsync(f.fileno())
    return backup, dropped, len(merged)


def _backup(path: str) -> str:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    backup, n = f"{path}.{stamp}.bak", 1
    while os.path.exists(backup):
        n += 1
        backup = f"{path}.{stamp}-{n}.bak"
    shutil.copyfile(path, backup)
    return backup


# -- workers ----------------------------------------------------------------------


def worker_id() -> str:
    """This process, as recorded on the trials it runs: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def fail_dead_workers_trials(study, *, stopped=()) -> list[int]:
    """Mark failed the running trials of processes of this host that are gone.

    A killed worker leaves its trial RUNNING. Database storages fail such trials
    through heartbeats; a journal file has none, so a rerun on the same machine
    checks the process id each trial recorded. The failed trial's parameters are
    queued again, so the search retries them, once: a retry whose process died
    too, as did the process of the trial it retries (or of one further back), is
    not queued again (parameters that take more memory than the machine has
    would otherwise kill every rerun). ``stopped`` are the process ids that the
    caller killed itself at the end of its search: their trials are queued
    again and do not count as deaths. Returns the trial numbers failed.
    """
    host = socket.gethostname()
    storage = storage_of(study)
    failed = []
    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    for trial in by_number.values():
        if trial.state != TrialState.RUNNING:
            continue
        worker = trial.user_attrs.get("worker", "")
        worker_host, _, pid = worker.rpartition(":")
        if worker_host != host or not pid.isdigit() or _alive(int(pid)):
            continue
        died = int(pid) not in stopped
        first = _died_before(trial, by_number) if died else None
        error = (f"worker {worker} died while running this trial" if died else
                 f"worker {worker} was stopped at the end of the search while "
                 "running this trial")
        if first is not None:
            error += (f", as one did running the same parameters in trial {first}: "
                      "not queued again (they may need more memory than this "
                      "machine has)")
        try:
            storage.set_trial_user_attr(trial_id_of(trial), "error", error)
            if died:
                storage.set_trial_user_attr(trial_id_of(trial), _DIED_KEY, True)
            storage.set_trial_state_values(trial_id_of(trial), state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker failed it first (its heartbeat went stale)
        if first is not None:
            logger.warning("Trial %d of study %r: %s.", trial.number, study.study_name,
                           error)
        elif trial.params:
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
        failed.append(trial.number)
    return failed


#: Marks a trial whose process died (was not stopped by the search itself).
_DIED_KEY = "process_died"


def _died_before(trial, by_number) -> int | None:
    """The number of an earlier trial of ``trial``'s retries (``retry_of``,
    followed back) whose process died too; None if there is none."""
    seen = set()
    number = trial.user_attrs.get("retry_of")
    while isinstance(number, int) and number in by_number and number not in seen:
        seen.add(number)
        earlier = by_number[number]
        if earlier.user_attrs.get(_DIED_KEY):
            return number
        number = earlier.user_attrs.get("retry_of")
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_study(storage, *, study_name: str, direction: str, **kwargs):
    """Create the study ``study_name``, or load it if it exists.

    Returns ``(study, created)``: ``created`` is True only for the one process
    whose ``create_study`` made it, so that two workers started together never
    both take the study for new (both would queue the recipes). ``kwargs`` (the
    sampler, the pruner) go to Optuna.
    """
    try:
        return optuna.create_study(storage=storage, study_name=study_name,
                                   direction=direction, load_if_exists=False,
                                   **kwargs), True
    except optuna.exceptions.DuplicatedStudyError:
        return optuna.load_study(study_name=study_name, storage=storage,
                                 **kwargs), False


def check_study_matches(study, *, fingerprint: str, config: dict, created: bool,
                        ready_key: str = FINGERPRINT_KEY) -> bool:
    """Tag a new study, or check that an existing one was made for this data.

    Returns True if the study is new: this process created it, or it is an empty
    study without autoimb's tags (made by hand, or by a process that died before
    tagging it). The caller then sets it up and writes the fingerprint
    (``FINGERPRINT_KEY``), whose presence marks a tagged study.

    A study that another process has just created is tagged by that process, its
    settings first (at once) and ``ready_key`` last: wait a few seconds for the
    settings, then up to ``AUTOIMB_STUDY_WAIT_SECONDS`` (default 60) for
    ``ready_key``, so that two workers started together never both set it up.
    """
    if not created and CONFIG_KEY not in study.user_attrs and not study.trials:
        _wait_for_attr(study, CONFIG_KEY, _SETTINGS_WAIT)
    if not created and CONFIG_KEY in study.user_attrs:
        _wait_for_attr(study, ready_key,
                       _env_seconds(STUDY_WAIT_ENV, _DEFAULT_STUDY_WAIT))
    attrs = study.user_attrs
    if FINGERPRINT_KEY not in attrs:
        if study.trials:
            raise StudyMismatchError(
                f"Study {study.study_name!r} already holds {len(study.trials)} trials "
                "that autoimb did not make; pass another study_name.")
        study.set_user_attr(CONFIG_KEY, config)
        return True
    if attrs[FINGERPRINT_KEY] != fingerprint:
        raise StudyMismatchError(
            f"Study {study.study_name!r} belongs to a different data set (fingerprint "
            f"{attrs[FINGERPRINT_KEY]}, this data {fingerprint}). Pass another "
            "study_name, or the data the study was made with to resume it.")
    details = changed_settings(study, config, label="now")
    if details:
        raise StudyMismatchError(
            f"Study {study.study_name!r} was made with other settings ({details}). "
            "Pass another study_name, or the same settings to resume it.")
    return False


def _wait_for_attr(study, key: str, seconds: float) -> None:
    """Poll the study's user attributes until ``key`` is there, or ``seconds``."""
    start = time.monotonic()
    delay, told = 0.05, False
    while key not in study.user_attrs:
        waited = time.monotonic() - start
        if waited >= seconds:
            return
        if waited > 2 and not told:
            logger.info("Waiting up to %g s for the process that created study %r "
                        "to set it up.", seconds, study.study_name)
            told = True
        time.sleep(min(delay, seconds - waited))
        delay = min(2 * delay, 1.0)


def changed_settings(study, config: dict, *, label: str) -> str:
    """The settings recorded in ``study`` that differ from ``config``, in words
    (``""`` when none do); ``label`` names the side of ``config``."""
    old = study.user_attrs.get(CONFIG_KEY, {})
    changed = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
    return "; ".join(f"{k}: study {old.get(k)!r}, {label} {config.get(k)!r}"
                     for k in changed)
