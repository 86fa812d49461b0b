"""How a search stops when its process is told to (SIGTERM) or loses its storage.

SIGTERM is what ``kill``, systemd, Kubernetes and batch schedulers send to stop a
process. By default it ends Python at once and leaves the running trial RUNNING
until a heartbeat (database) or a rerun on the same machine (journal file) fails
it. While a search runs, :func:`stop_cleanly` turns SIGTERM into a
``KeyboardInterrupt`` in the main thread, which the search already handles as
Ctrl-C: the running trial is stopped at once (FAIL in Optuna) and its
parameters are queued again. Unlike Ctrl-C, which returns the best model so
far, the search then raises :class:`~autoimb.exceptions.SearchTerminated`, so
that the process exits promptly
(status 143) instead of refitting. With ``n_jobs > 1`` the trials running in
other threads are not interrupted: they finish first.

SIGTERM that arrives while the process writes to a journal file (Optuna's
``optuna/storages/journal`` code on the stack) is held back for a moment and
sent again, so that the write finishes and releases the file's lock: raised
there, it cut the write short, and a process ended by it there (a worker
process between trials, with SIGTERM's default action) leaves a lock that
every other process waits 30 s for (Optuna's grace period). A fit with worker
processes on covertype_4v2 returned after 118 s of a 60 s budget, its log
showing that wait (``benchmarks/results/2026-12-budget.md``, 2026-12-03,
``9bac84a``). Worker
processes of a fit call :func:`exit_outside_journal_writes` for the time
outside a search.

A trial's folds stop between folds when the rest would overrun the budget,
but one fold's fit cannot be stopped from outside: :func:`stop_at` raises
:class:`OutOfTime` in the main thread at a deadline (SIGALRM), held back, like
SIGTERM, while Optuna's storage code runs. A 60 s fit on diabetes_readmit30
returned after 78 s, its own search 15 s past the time kept for the refit
(``benchmarks/results/2026-12-budget.md``, 2026-12-03, ``794e47c``). A signal
reaches Python code only
between two of its steps, never inside one native call: SMOTE + ENN on a
training fold of kddcup_http is one neighbour search of 79 s. So the search
runs each fold in a helper thread while the main thread waits for it
(:func:`call_stoppably`): the wait, unlike the call, stops at once, and the
helper thread is left to end its call on its own. OpenMP's number of threads
is set per thread: the helper thread takes the caller's (one, in a search that
runs one trial per core), or else HistGradientBoosting in each of two worker
processes used both cores: four threads on two cores took a test's two
workers on PostgreSQL 31-44 s instead of 13 s (and past 90 s in CI).

A database that stays unreachable raises
:class:`~autoimb.exceptions.StorageUnavailableError` inside Optuna's own
bookkeeping, which can replace it with an error of its own while handling it;
:func:`stop_cleanly` raises the storage's error instead.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import signal
import threading
from collections.abc import Callable
from typing import TypeVar

import sklearn
from optuna.trial import TrialState
from threadpoolctl import ThreadpoolController

from autoimb.exceptions import SearchTerminated, StorageUnavailableError
from autoimb.storage.studies import worker_id

T = TypeVar("T")

__all__ = ["OutOfTime", "call_stoppably", "exit_outside_journal_writes", "stop_at",
           "stop_cleanly"]

_REASON = "interrupted (SIGTERM)"
_JOURNAL_CODE = os.path.join("optuna", "storages", "journal")
_STORAGE_CODE = (os.path.join("optuna", "storages"), "sqlalchemy")
_RETRY_SECONDS = 0.05  # a journal write holds its lock for about a millisecond


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread while a search runs."""


@contextlib.contextmanager
def stop_cleanly(study):
    """Within this block, SIGTERM stops the search of ``study`` cleanly.

    The previous SIGTERM handler is restored on the way out. Outside the main
    thread, or if SIGTERM is ignored or handled outside Python, nothing changes.

    Raises
    ------
    SearchTerminated
        If SIGTERM arrived.
    StorageUnavailableError
        If the storage was lost, whatever error Optuna raised on top of it.
    """
    received = []

    def on_sigterm(signum, frame):
        if received:  # already stopping: let the clean-up run
            return
        if _sent_again_after_journal_write(signum, frame):
            return
        received.append(signum)
        raise _Terminated(_REASON)

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGTERM)
    install = previous is not None and previous is not signal.SIG_IGN
    if install:
        signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    except KeyboardInterrupt:
        if not received:
            raise  # Ctrl-C: the caller keeps the best model so far
        raise SearchTerminated(_stopped_message(study)) from None
    except Exception as exc:
        lost = _storage_failure(exc)
        if lost is None or lost is exc:
            raise
        raise StorageUnavailableError(str(lost)) from lost
    finally:
        if install:
            signal.signal(signal.SIGTERM, previous)
    if received:
        raise SearchTerminated(_stopped_message(study))


class OutOfTime(Exception):
    """Raised by :func:`stop_at` at its deadline."""


@contextlib.contextmanager
def stop_at(seconds: float | None):
    """Within this block, raise :class:`OutOfTime` in the main thread once
    ``seconds`` have passed (at once if they are not positive).

    It waits while Optuna's storage code (or SQLAlchemy's) runs, so that no
    write is cut short. Nothing changes with ``seconds=None``, outside the main
    thread, or when SIGALRM is in use already (a handler or a timer of the
    caller's, such as pytest-timeout's).

    Examples
    --------
    Under pytest-timeout's signal method (the test suite's) nothing is raised,
    hence the skip; ``tests/test_search.py`` runs the real case.

    >>> import time
    >>> try:  # doctest: +SKIP
    ...     with stop_at(0.05):
    ...         time.sleep(1)
    ... except OutOfTime as exc:
    ...     print(exc)
    the deadline of 0.05 s passed
    """
    if seconds is None or not hasattr(signal, "setitimer") \
            or threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGALRM) is not signal.SIG_DFL \
            or signal.getitimer(signal.ITIMER_REAL) != (0.0, 0.0):
        yield
        return

    def on_alarm(signum, frame):
        if _running(_STORAGE_CODE, frame):
            signal.setitimer(signal.ITIMER_REAL, _RETRY_SECONDS)
            return
        raise OutOfTime(f"the deadline of {seconds:.3g} s passed")

    signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3))
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)


def call_stoppably(func: Callable[[], T]) -> T:
    """Return ``func()``, called in a helper thread while the main thread waits.

    The main thread's wait, unlike a native call (a neighbour search, a tree's
    fit), is stopped at once by a signal: :func:`stop_at`'s alarm, SIGTERM
    turned into ``KeyboardInterrupt`` by :func:`stop_cleanly`, or Ctrl-C. The
    exception is then raised here, and the helper thread (a daemon) is left to
    finish its call on its own, using a core and its rows' memory till then;
    its result is dropped. An exception of ``func`` is raised here as it is.
    What holds per thread is the caller's in the helper thread:
    scikit-learn's configuration (``sklearn.config_context``), the limits on
    OpenMP's threads (``threadpoolctl.threadpool_limits``) and context
    variables (NumPy's ``errstate``). Outside the main thread, where no signal
    arrives, ``func`` is called directly.

    Examples
    --------
    >>> call_stoppably(lambda: 6 * 7)
    42
    """
    if threading.current_thread() is not threading.main_thread():
        return func()
    config = sklearn.get_config()
    openmp = _openmp_libraries()
    limits = openmp.info()  # threadpoolctl takes its own report as limits
    context = contextvars.copy_context()
    outcome: dict = {}
    done = threading.Event()

    def run():
        try:
            with sklearn.config_context(**config), openmp.limit(limits=limits):
                outcome["value"] = context.run(func)
        except BaseException as exc:  # raised in the waiting thread
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="autoimb-fold", daemon=True).start()
    done.wait()  # a signal's handler runs (and may raise) during this wait
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@functools.cache
def _openmp_libraries():
    """threadpoolctl's controller of the OpenMP libraries loaded (scikit-learn's
    and LightGBM's), found once: finding them takes about 6 ms, reading and
    setting their limits 0.1 ms. The model libraries are imported with
    autoimb, before any search."""
    return ThreadpoolController().select(user_api="openmp")


def exit_outside_journal_writes() -> None:
    """From now on SIGTERM ends this process at once (status 143), as by
    default, but never in the middle of a journal write: there it waits for the
    write to end. (:func:`stop_cleanly` replaces it while a search runs.)"""
    def on_sigterm(signum, frame):
        if not _sent_again_after_journal_write(signum, frame):
            os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_sigterm)


def _sent_again_after_journal_write(signum, frame) -> bool:
    """If ``frame`` or one of its callers runs Optuna's journal storage (which
    may hold the file's lock), send ``signum`` again in a moment and say so."""
    if not _running((_JOURNAL_CODE,), frame):
        return False
    threading.Timer(_RETRY_SECONDS, os.kill, (os.getpid(), signum)).start()
    return True


def _running(code: tuple[str, ...], frame) -> bool:
    """Whether ``frame`` or one of its callers runs a file whose path holds one
    of ``code``."""
    while frame is not None:
        if any(part in frame.f_code.co_filename for part in code):
            return True
        frame = frame.f_back
    return False


def _storage_failure(exc: BaseException) -> StorageUnavailableError | None:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, StorageUnavailableError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _stopped_message(study) -> str:
    """What happened to the trial SIGTERM interrupted, and how to resume."""
    me = worker_id()
    try:
        stopped = [t.number for t in study.get_trials(deepcopy=False,
                                                      states=(TrialState.FAIL,))
                   if t.user_attrs.get("worker") == me
                   and str(t.user_attrs.get("error", "")).startswith(_REASON)]
    except Exception:  # the storage is gone too: say what is known
        stopped = []
    done = (f"trial {stopped[-1]} was stopped (FAIL in Optuna) and queued again"
            if stopped else "no trial was left running")
    return (f"stopped by SIGTERM: {done}; run the same command again to resume "
            f"study {study.study_name!r}.")
