"""Parallel trials on one machine: threads of one process, or worker processes.

With ``n_jobs=k > 1``, a search runs k trials at once, either

* in k threads of the fitting process (``parallel="threads"``): nothing to
  start, but Python code of the trials (the pipeline's bookkeeping, the
  cross-fitted post-processing, Optuna's sampler) takes turns on the
  interpreter lock; or
* in the fitting process and ``k - 1`` worker processes
  (``parallel="processes"``), each running one trial at a time on the study
  through its storage, exactly as ``autoimb worker`` does on another machine
  (:func:`autoimb.run_worker`). The data goes to them through a temporary file.
  Each process pays for importing autoimb (about 3 s) and holds its own copy
  of the data. The workers stop when the study's budget is reached (trials or
  deadline); the fitting process waits for them, then chooses the final model
  from the out-of-fold scores each trial's process stored with the study
  (:mod:`autoimb.search.scores`), and refits it. Workers still running when only
  the refit's time is left get SIGTERM (their trial is failed and queued
  again), and SIGKILL a few seconds later (:data:`_STOP_SECONDS`); then the
  fitting process fails the killed worker's trial itself, and removes a
  journal lock left by a process that is gone (:func:`release_left_lock`),
  where Optuna would wait 30 s. It does the same for a worker that something
  else killed during the search (the system's out-of-memory killer, which on
  Linux takes a worker before the fitting process), and warns that it did.
  Processes need a storage they can share: a journal file (the default) or a
  database. A study in memory, a storage object, or splits given as a
  splitter run their trials in threads.

:func:`resolve_n_jobs` turns ``n_jobs`` into a number of trials: the default,
``None``, runs one per core (at most 4) in processes for a search with a
``timeout`` of 30 s or more that can use them, and one at a time otherwise (on
the 20 benchmark sets at 60 s, 2 cores: 19.4 completed trials a set against
10.6, held-out cost level within noise;
``benchmarks/results/2026-12-parallel_workers.md``, 2026-12-03, ``1133fd4``),
fewer where the available memory would not hold them (:mod:`autoimb.search.memory`).

:data:`autoimb.search.settings.DEFAULT_PARALLEL` is what ``parallel=None`` means: the
one line to change to switch the default (see ``benchmarks/results/parallel.md`` and
``benchmarks/results/workers.md`` for the measurements).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from numbers import Integral
from pathlib import Path

from autoimb._warnings import warn
from autoimb.search import memory as _memory  # through the module: tests patch it
from autoimb.search.settings import DEFAULT_PARALLEL
from autoimb.storage.location import StorageLocation
from autoimb.storage.studies import fail_dead_workers_trials, worker_id

__all__ = ["AUTO_PARALLEL_FROM_SECONDS", "DEFAULT_PARALLEL", "WorkerProcesses",
           "choose_parallel", "release_left_lock", "resolve_n_jobs"]

logger = logging.getLogger(__name__)


#: With ``n_jobs=None`` (the default), a search with a time budget of at least
#: this many seconds runs one trial per core (at most ``_AUTO_MAX_JOBS``) in
#: worker processes, where the storage and splits allow processes; any other
#: search runs one trial at a time, and is then reproducible. Each worker costs
#: about 3 s of importing: below half a minute that is not worth it.
AUTO_PARALLEL_FROM_SECONDS = 30.0
# Measured on 2 cores only; more workers each hold a copy of the data, and TPE
# proposes its trials with fewer results to learn from.
_AUTO_MAX_JOBS = 4

_SHAREABLE = ("journal", "database", "redis")
#: Workers told to stop (SIGTERM) have this long, together, before SIGKILL, and
#: at most 5 % of the search's timeout (but 2 s). A worker fails its running
#: trial and exits within about a second; one still running is inside a long C
#: call (a model's fit) or waits for the journal's lock. The fitting process
#: fails the trial of a killed worker and queues it again. It was 30 s: the
#: time left after the search is the refit's, and the budget allows only 10 %
#: over (a 60 s fit once returned after 118 s).
_STOP_SECONDS = 5.0
#: A journal write holds the file's lock for milliseconds (autoimb's repair of a
#: damaged journal, when a study is opened, longer): a lock still the same this
#: long after a worker was killed is taken to be left by a process that is gone.
_LEFT_LOCK_SECONDS = 2.0
_JOIN_SECONDS = 120  # how long a worker process waits for the study it joins
_SIGKILL = getattr(signal, "SIGKILL", None)  # not on Windows


def choose_parallel(parallel: str | None, n_jobs: int, storage, cv=None, *,
                    warn_user: bool = True) -> str:
    """``"threads"`` or ``"processes"``: how ``n_jobs`` trials run at once.

    Processes need a storage that several processes can open and splits they
    can rebuild; otherwise threads, with a warning if processes were asked for.

    Examples
    --------
    >>> choose_parallel("processes", 2, None)
    'processes'
    >>> choose_parallel(None, 1, None)
    'threads'
    """
    mode = parallel or DEFAULT_PARALLEL
    if n_jobs <= 1 or mode == "threads":
        return "threads"
    kind = StorageLocation.parse(storage).kind
    why = None
    if kind not in _SHAREABLE:
        why = (f"a study in {kind if kind == 'memory' else 'a storage object'} "
               "cannot be shared with other processes; pass storage=None (a "
               "journal file) or a database URL")
    elif cv is not None and not isinstance(cv, Integral):
        why = ("worker processes cannot rebuild splits given as a splitter or a "
               "list; pass cv as an int")
    if why is None:
        return "processes"
    if parallel == "processes" and warn_user:
        warn(f"parallel='processes' runs trials in threads here: {why}.")
    return "threads"


def resolve_n_jobs(n_jobs: int | None, *, timeout=None, parallel=None, storage=None,
                   cv=None, data_mb: float | None = None) -> int:
    """Trials a search runs at once, for its ``n_jobs`` setting.

    ``-1`` means one per core; ``None`` (the default) one per core (at most 4)
    when the search has a ``timeout`` of at least
    :data:`AUTO_PARALLEL_FROM_SECONDS` and can run its trials in worker
    processes (see :func:`choose_parallel`), else 1: threads alone gain little
    (Python's interpreter lock), and a search bounded by a trial count stays
    reproducible. Given the data's size, ``data_mb``, the default runs no more
    trials at once than the available memory holds
    (:func:`autoimb.search.memory.trials_that_fit`), with a warning that says so; a
    number given that looks too large for it is warned about and kept.

    Examples
    --------
    >>> resolve_n_jobs(3)
    3
    >>> resolve_n_jobs(None, timeout=10)
    1
    >>> resolve_n_jobs(None, timeout=60, storage="memory")
    1
    """
    cores = _cores()
    if n_jobs is not None:
        jobs = cores if n_jobs == -1 else n_jobs
        if jobs > 1 and data_mb is not None:
            processes = choose_parallel(parallel, jobs, storage, cv,
                                        warn_user=False) == "processes"
            _warn_if_too_many(n_jobs, jobs, data_mb, processes)
        return jobs
    if timeout is None or timeout < AUTO_PARALLEL_FROM_SECONDS:
        return 1
    jobs = min(cores, _AUTO_MAX_JOBS)  # one core, or parallel="threads": threads
    mode = choose_parallel(parallel, jobs, storage, cv, warn_user=False)
    if mode != "processes":
        return 1
    return jobs if data_mb is None else _within_memory(jobs, data_mb)


def _within_memory(jobs: int, data: float) -> int:
    """The default's ``jobs`` lowered to what the available memory holds."""
    short = _short_of_memory(jobs, data)
    if short is None:
        return jobs
    fits, needed, available = short
    trials = f"{fits} trial{'s' if fits > 1 else ''}"
    warn(f"n_jobs=None runs {trials} at a time here instead of {jobs}: {jobs} at "
         f"once, each worker process with its own copy of the {_mb(data)} MB of "
         f"data, would take about {needed:,.0f} MB, more than {_planned(available)}. "
         f"Pass n_jobs={jobs} to run them anyway, or n_jobs={fits} to silence this "
         "warning.")
    return fits


def _warn_if_too_many(n_jobs: int, jobs: int, data: float, processes: bool) -> None:
    """Warn if ``jobs`` trials at once look too large for the available memory
    (the same share of it that lowers the default)."""
    short = _short_of_memory(jobs, data, processes)
    if short is None:
        return
    fits, needed, available = short
    copies = " (each worker process holds its own copy)" if processes else ""
    warn(f"n_jobs={n_jobs} runs {jobs} trials at once, which on {_mb(data)} MB of "
         f"data would take about {needed:,.0f} MB{copies}, more than "
         f"{_planned(available)}: the system may kill the search. Pass "
         f"n_jobs={fits}{' or fewer' if fits > 1 else ''}.")


def _short_of_memory(jobs: int, data: float, processes: bool = True):
    """``(trials that fit, MB that jobs trials need, MB available)`` if ``jobs``
    trials at once on ``data`` MB would take more than a search plans to use
    (:func:`autoimb.search.memory.trials_that_fit`); None if they fit or the
    available memory is unknown."""
    available = _memory.available_mb()
    if available is None:
        return None
    fits = _memory.trials_that_fit(jobs, data, available, processes=processes)
    if fits == jobs:
        return None
    return fits, _memory.needed_mb(jobs, data, processes=processes), available


def _planned(available: float) -> str:
    """The memory a search plans to use, in words."""
    share = _memory.MEMORY_SHARE
    return (f"the {share * available:,.0f} MB ({share:.0%} of the "
            f"{available:,.0f} MB available) a search plans to use")


def _mb(value: float) -> str:
    """MB as a warning shows them: 0.3, 8.5, 1,024."""
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def _cores() -> int:
    """Cores this process may use (CPU affinity and container quotas counted)."""
    import joblib

    return max(1, joblib.cpu_count())


class WorkerProcesses:
    """Worker processes beside a search, for the time of a ``with`` block.

    Parameters
    ----------
    n_children : int
        Worker processes to start (0: none; the search then runs ``threads``
        trials at once in threads).
    threads : int
        Trials the fitting process runs at once.
    """

    def __init__(self, n_children: int = 0, threads: int = 1, *, storage=None,
                 study_name=None, inputs=None, context=None, verbose=False,
                 study=None):
        self.n_children = n_children
        self.threads = threads
        self.storage = storage
        self.study_name = study_name
        self.inputs = inputs
        self.context = context
        self.verbose = verbose
        self.study = study
        self.folder = None
        self.children: list[tuple[subprocess.Popen, Path]] = []
        self.killed: list[int] = []  # by this process, at the end of the search
        self.lost: list[int] = []  # killed by someone else (out of memory, mostly)
        self.wait_seconds = self.stop_seconds = 0.0  # spent in __exit__

    @classmethod
    def for_search(cls, settings, study, context, inputs,
                   n_jobs: int) -> WorkerProcesses:
        """The processes a search with ``settings`` (:class:`SearchSettings`)
        runs beside it (none in thread mode, or without the data as given to
        ``fit``)."""
        if inputs is None or choose_parallel(settings.parallel, n_jobs,
                                             settings.storage,
                                             settings.cv) == "threads":
            return cls(0, n_jobs)
        location = StorageLocation.parse(settings.storage)
        text = os.path.abspath(location.text) if location.kind == "journal" \
            else location.text
        return cls(n_jobs - 1, 1, storage=text, study_name=study.study_name,
                   inputs=inputs, context=context,
                   verbose=settings.show_progress_bar, study=study)

    @property
    def worker_ids(self) -> list[str]:
        """The workers started, as their trials record them (``host:pid``)."""
        host = worker_id().rpartition(":")[0]
        return [f"{host}:{process.pid}" for process, _ in self.children]

    @property
    def callbacks(self) -> list:
        """Optuna callbacks for the fitting process's search: :meth:`watch`."""
        return [self.watch] if self.n_children else []

    def watch(self, study, trial) -> None:
        """After each trial of the fitting process, fail at once the trial of a
        worker that someone else killed (the out-of-memory killer, most likely)
        and queue it again, so that this search can still run it."""
        lost = self._newly_lost()
        if lost:
            self._clean_up_after_kill(lost)

    # -- the block -----------------------------------------------------------

    def __enter__(self) -> WorkerProcesses:
        if self.n_children:
            self._start()
        return self

    def __exit__(self, kind, error, traceback):
        if not self.n_children:
            return False
        interrupted = False
        start = time.perf_counter()
        try:
            if kind is None:
                try:
                    self._wait(self.context.budget)
                except KeyboardInterrupt:
                    interrupted = True
            self.wait_seconds = time.perf_counter() - start
            self._stop_all()
            self._report()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.stop_seconds = time.perf_counter() - start - self.wait_seconds
        if interrupted:
            raise KeyboardInterrupt
        return False

    # -- steps ---------------------------------------------------------------

    def _start(self) -> None:
        import joblib

        self.folder = Path(tempfile.mkdtemp(prefix="autoimb-workers-"))
        data = self.folder / "data.joblib"
        X, y = self.inputs
        joblib.dump({"X": X, "y": y, "space": self.context.space}, data)
        spec = self.folder / "spec.json"
        spec.write_text(json.dumps({
            "storage": self.storage, "study": self.study_name, "data": str(data),
            "parent": os.getpid(),
            "wait": _JOIN_SECONDS}))
        package_root = str(Path(__file__).resolve().parents[2])
        path = os.environ.get("PYTHONPATH", "")
        env = {**os.environ,
               "PYTHONPATH": package_root + (os.pathsep + path if path else "")}
        for i in range(self.n_children):
            log = self.folder / f"worker-{i}.log"
            with open(log, "wb") as stderr:
                process = subprocess.Popen(
                    [sys.executable, "-m", "autoimb.workers.worker", str(spec)],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=stderr, env=env, cwd=os.getcwd())
            self.children.append((process, log))
        pids = ", ".join(str(p.pid) for p, _ in self.children)
        several = self.n_children > 1
        message = (f"autoimb: {self.n_children} worker process"
                   f"{'es' if several else ''} (pid{'s' if several else ''} {pids}) "
                   f"run{'' if several else 's'} trials of the study beside this one")
        logger.info(message)
        if self.verbose:
            print(message, file=sys.stderr)

    def _wait(self, budget) -> None:
        """Wait for the workers to stop by themselves (the study's budget is
        reached), at most until the time kept for the refit starts."""
        while any(p.poll() is None for p, _ in self.children):
            if budget.trials_over():
                return
            time.sleep(0.1)

    def _stop_all(self) -> None:
        """SIGTERM the workers still running (their running trial is failed and
        queued again), then SIGKILL those that have not stopped a few seconds
        later, and clean up after them."""
        running = [p for p, _ in self.children if p.poll() is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        seconds = self._stop_seconds()
        end = time.monotonic() + seconds
        for process in running:
            try:
                process.wait(timeout=max(end - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                if _SIGKILL is not None and process.returncode == -_SIGKILL:
                    self.killed.append(process.pid)
        if self.killed:
            logger.warning("Worker process %s had not stopped %.1f s after SIGTERM; "
                           "killed.", ", ".join(map(str, self.killed)), seconds)
        lost = self._newly_lost()
        if self.killed or lost:
            self._clean_up_after_kill(self.killed + lost)

    def _newly_lost(self) -> list[int]:
        """Workers ended by a SIGKILL that this process did not send, not yet
        cleaned up after (added to :attr:`lost`)."""
        if _SIGKILL is None:  # Windows
            return []
        lost = [p.pid for p, _ in self.children
                if p.poll() == -_SIGKILL and p.pid not in self.killed + self.lost]
        self.lost += lost
        return lost

    def _stop_seconds(self) -> float:
        timeout = None if self.context is None else self.context.budget.timeout
        if timeout is None:
            return _STOP_SECONDS
        return min(_STOP_SECONDS, max(2.0, 0.05 * timeout))

    def _clean_up_after_kill(self, pids: list[int]) -> None:
        """Remove the journal lock a killed worker may have left (else every
        process waits 30 s for it, Optuna's grace period), then fail the
        killed workers' trials and queue them again."""
        if self.storage is not None and \
                StorageLocation.parse(self.storage).kind == "journal":
            lock = self.storage + ".lock"  # Optuna's lock classes both add ".lock"
            if release_left_lock(lock, _lock_identity(lock)):
                logger.warning("Removed the lock of journal file %s: unchanged %.0f s "
                               "after worker process %s was killed.", self.storage,
                               _LEFT_LOCK_SECONDS, ", ".join(map(str, pids)))
        if self.study is not None:
            fail_dead_workers_trials(self.study, stopped=self.killed)

    def _report(self) -> None:
        for process, log in self.children:
            if process.returncode in (0, -signal.SIGTERM, 143) \
                    or process.pid in self.killed:  # logged by _stop_all
                continue
            if process.pid in self.lost:
                trials = "1" if self.n_children == 1 else f"{self.n_children} or fewer"
                warn(f"Worker process {process.pid} was killed (SIGKILL) during the "
                     "search, most likely by the system for want of memory: each "
                     "worker process holds its own copy of the data. The trial it "
                     "was running, if any, was failed and queued again, and the "
                     f"search went on without it. Pass n_jobs={trials} to run fewer "
                     "trials at once.")
                continue
            lines = log.read_text(errors="replace").strip().splitlines()
            warn(f"Worker process {process.pid} exited with status "
                 f"{process.returncode}: {lines[-1] if lines else 'no message'}. "
                 "The search went on without it.")


def release_left_lock(lock: str, held) -> bool:
    """Remove the journal lock file ``lock`` if it is still the one seen after a
    worker was killed (``held``, from ``_lock_identity``) ``_LEFT_LOCK_SECONDS``
    later: a journal write holds its lock for milliseconds, so the lock's
    holder (the killed worker, or a process gone before it) is gone too. Say
    whether it was removed.

    Examples
    --------
    >>> release_left_lock("study.journal.lock", None)  # there was no lock
    False
    """
    if held is None:
        return False
    end = time.monotonic() + _LEFT_LOCK_SECONDS
    while time.monotonic() < end:
        if _lock_identity(lock) != held:  # released, or taken again: alive
            return False
        time.sleep(0.05)
    # As Optuna releases it: rename (atomic), then remove.
    moved = f"{lock}.{os.getpid()}.left"
    try:
        os.rename(lock, moved)
    except OSError:
        return False
    if _lock_identity(moved) != held:  # taken again since the last look: put back
        with contextlib.suppress(OSError):
            os.link(moved, lock, follow_symlinks=False)
        with contextlib.suppress(OSError):
            os.unlink(moved)
        return False
    with contextlib.suppress(OSError):
        os.unlink(moved)
    return True


def _lock_identity(lock: str):
    """Which lock file is at ``lock`` now (inode and time), or None."""
    try:
        status = os.lstat(lock)
    except OSError:
        return None
    return status.st_ino, status.st_mtime_ns
