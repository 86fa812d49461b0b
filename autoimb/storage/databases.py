"""Databases (``sqlite:///...``, ``postgresql://...``) that outlast a restart.

A database is opened for a search with:

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

A worker cannot finish a trial that the others presumed dead, and heartbeats
wait for the database like every call: keep the grace period at least the
heartbeat interval plus the retry time (the defaults: 90 = 30 + 60).
"""

from __future__ import annotations

import logging
import os
import random
import time
import warnings

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

from autoimb._optuna_compat import rdb_storage_calls
from autoimb.exceptions import AutoImbError, StorageUnavailableError

__all__ = ["ResilientRDBStorage"]

logger = logging.getLogger(__name__)

HEARTBEAT_ENV = "AUTOIMB_HEARTBEAT_SECONDS"
GRACE_ENV = "AUTOIMB_HEARTBEAT_GRACE_SECONDS"
RETRY_ENV = "AUTOIMB_STORAGE_RETRY_SECONDS"
_DEFAULT_HEARTBEAT = 30
_DEFAULT_RETRY = 60
_CONNECT_TIMEOUT = 10  # seconds; PostgreSQL otherwise waits for the OS (minutes)


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


def _shown_url(url: str) -> str:
    """A database or Redis URL for messages, with any password hidden."""
    try:
        # lazy: sqlalchemy loads only when a URL is shown (start-up speed)
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


#: Tables every Optuna database holds; ``alembic_version`` is written last.
_OPTUNA_TABLES = ("studies", "version_info", "alembic_version")


def _read_database(url: str, *, local: bool) -> RDBStorage | None:
    """The database opened to be read, creating nothing; None while it holds no
    Optuna tables (an empty database, or one whose tables the process that made
    it is still creating: Optuna stamps ``alembic_version`` last, and a reader
    finding it missing would write it)."""
    # lazy: sqlalchemy loads only when a database is used (start-up speed)
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(url, **_engine_kwargs(url))
        try:
            inspector = sqlalchemy.inspect(engine)
            if not all(inspector.has_table(t) for t in _OPTUNA_TABLES):
                return None
        finally:
            engine.dispose()
        return _database_to_read(url)
    except AutoImbError:  # a missing driver, named by _database_to_read
        raise
    except Exception as exc:
        if local and isinstance(exc, sqlalchemy.exc.OperationalError) and \
                "no such table" in str(exc):
            return None  # its tables are being created right now
        _raise_if_no_driver(url, exc)
        raise AutoImbError(
            f"Cannot open the study storage {_shown_url(url)!r}: {_one_line(exc)}. "
            "Check the URL, that the server runs and that its driver is installed "
            "(pip install 'autoimb[postgres]' for PostgreSQL).") from exc


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def _open_database(url: str) -> RDBStorage:
    heartbeat = _env_seconds(HEARTBEAT_ENV, _DEFAULT_HEARTBEAT)
    grace = _env_seconds(GRACE_ENV, 3 * heartbeat)
    retry = _env_seconds(RETRY_ENV, _DEFAULT_RETRY)

    def connect():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return ResilientRDBStorage(
                url, engine_kwargs=_engine_kwargs(url),
                heartbeat_interval=heartbeat, grace_period=grace,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                    max_retry=2),
                retry_seconds=retry)

    try:
        return _retry_schema_race(connect)
    except Exception as exc:
        _raise_if_no_driver(url, exc)
        raise AutoImbError(
            f"Cannot open the study storage {_shown_url(url)!r}: {exc}. Check the URL, "
            "that the server runs and that its driver is installed "
            "(pip install 'autoimb[postgres]' for PostgreSQL).") from exc


#: What to install for a database driver SQLAlchemy could not import.
_DRIVER_PACKAGES = {"psycopg": "'autoimb[postgres]'", "psycopg2": "psycopg2-binary",
                    "MySQLdb": "mysqlclient", "pymysql": "pymysql"}


def _database_to_read(url: str) -> RDBStorage:
    """A database opened only to read it (the dashboard): no heartbeats, no
    tables created."""
    try:
        return RDBStorage(url, engine_kwargs=_engine_kwargs(url),
                          skip_compatibility_check=True, skip_table_creation=True)
    except Exception as exc:
        _raise_if_no_driver(url, exc)
        raise


def _raise_if_no_driver(url: str, exc: BaseException) -> None:
    """Say which driver to install when ``exc`` comes of a missing one
    (Optuna's own words would only say "install appropriate one")."""
    missing = _missing_driver(exc)
    if missing is not None:
        raise AutoImbError(
            f"Cannot open the study storage {_shown_url(url)!r}: its database "
            f"driver {missing!r} is not installed. Install it: pip install "
            f"{_DRIVER_PACKAGES.get(missing, missing)}") from exc


def _missing_driver(exc: BaseException) -> str | None:
    """The module a database URL needs but that is not installed, from the
    chain of causes of ``exc``; None if no import failed."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, ModuleNotFoundError) and exc.name:
            return exc.name.split(".")[0]
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


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
    # lazy: sqlalchemy loads only when a database is used (start-up speed)
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
        return _shown_url(self.url)

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
