"""Memory: how much this process may still take, and what trials at once need.

Every trial in flight holds its folds, a resampled copy and a model, and every
worker process its own interpreter, modules and copy of the data. On a machine
(or in a container) with little memory to spare, the default of one trial per
core in worker processes can then take more than there is, and the system kills
the search. :func:`trials_that_fit` gives the number of trials at once that the
available memory holds, which :func:`autoimb.search.processes.resolve_n_jobs` uses to
lower its default; an explicit ``n_jobs`` that looks too large is only warned
about. Within a search, :class:`TrialMemory` learns what trials take per
training row, so that a trial whose over-sampling would need more memory than
is left is not started, as one that would need more time than is left is not.

The estimate is from measurements, not a bound
(``benchmarks/results/2026-12-memory.md``, 2026-12-04 at ``2a35f2d``;
``benchmarks/results/memory_unlimited.md``): in a memory control group,
which charges each page once as a container's limit does, a 60 s search of the
two largest shared data sets grew by 6.6 and 10.4 MB per MB of data with one
trial at a time (narrow numeric tables, where the boosters' per-row arrays
outweigh the data; wide tables grow less), and a worker process added about
180-190 MB beside its own trial. :data:`GROWTH_PER_DATA_MB` and
:data:`WORKER_FIXED_MB` round them up.

The available memory is the smaller of the system's (``MemAvailable`` in
``/proc/meminfo``) and the room left under the memory limit of this process's
control group and of each group above it (cgroup v2 ``memory.max``, v1
``memory.limit_in_bytes``), which is what a container's limit is; its usage
leaves out the page cache it would drop first (``inactive_file``), as
``docker stats`` does. Where neither
can be read (not Linux), nothing is capped.

:func:`release_free_memory` hands the memory that finished trials freed back
to the system after each trial (glibc's ``malloc_trim``): otherwise the C
allocator keeps it in the arenas of the threads that used it, and a process's
footprint only grows from one trial to the next.
"""

from __future__ import annotations

import ctypes
import functools
import math
import os
import threading
from pathlib import Path, PurePosixPath

import numpy as np

__all__ = ["GROWTH_PER_DATA_MB", "MEMORY_SHARE", "WORKER_FIXED_MB", "TrialMemory",
           "available_mb", "data_mb", "needed_mb", "release_free_memory",
           "resident_mb", "trials_that_fit"]

#: MB a search's peak memory grows per MB of the data given to ``fit``, per
#: trial in flight (measured 6.6 and 10.4).
GROWTH_PER_DATA_MB = 11.0
#: MB a worker process adds beside its trial: its interpreter, modules and
#: copy of the data (measured 180-190).
WORKER_FIXED_MB = 200.0
#: The share of the available memory that trials at once may plan to take: the
#: estimate is rough, and the refit and the rest of the machine need room too.
MEMORY_SHARE = 0.8

_NO_LIMIT = 2 ** 60  # cgroup v1 writes "no limit" as a number near 2**63
_MB = 2 ** 20


def data_mb(X) -> float | None:
    """The in-memory size of ``X`` in MB (a DataFrame's, strings included), or
    None if it cannot tell.

    Examples
    --------
    >>> import numpy as np
    >>> data_mb(np.zeros((1024, 128)))
    1.0
    """
    try:
        if hasattr(X, "memory_usage"):  # a DataFrame (a Series gives one number)
            return float(np.sum(X.memory_usage(index=False, deep=True))) / _MB
        nbytes = getattr(X, "nbytes", None)
        return None if nbytes is None else float(nbytes) / _MB
    except Exception:  # a guess for n_jobs only: never the reason a fit fails
        return None


def needed_mb(trials: int, data: float, *, processes: bool = True) -> float:
    """Memory, in MB, that ``trials`` trials at once add on ``data`` MB of data:
    each trial its share of :data:`GROWTH_PER_DATA_MB`, and each worker process
    (all but the fitting one, with ``processes``) :data:`WORKER_FIXED_MB`.

    Examples
    --------
    >>> needed_mb(2, 100.0)
    2400.0
    >>> needed_mb(2, 100.0, processes=False)
    2200.0
    """
    workers = trials - 1 if processes else 0
    return trials * GROWTH_PER_DATA_MB * data + workers * WORKER_FIXED_MB


def trials_that_fit(trials: int, data: float, available: float, *,
                    processes: bool = True) -> int:
    """The most trials at once, at most ``trials`` and at least 1, whose
    :func:`needed_mb` stays within :data:`MEMORY_SHARE` of ``available`` MB.

    Examples
    --------
    >>> trials_that_fit(4, 100.0, 24_000.0)
    4
    >>> trials_that_fit(4, 100.0, 4_000.0)
    2
    >>> trials_that_fit(4, 1_000.0, 4_000.0)
    1
    """
    while trials > 1 and needed_mb(trials, data, processes=processes) > (
            MEMORY_SHARE * available):
        trials -= 1
    return trials


def available_mb(*, meminfo: str = "/proc/meminfo", cgroup: str = "/proc/self/cgroup",
                 root: str = "/sys/fs/cgroup") -> float | None:
    """Memory this process may still take, in MB: the smaller of the system's
    available memory and the room under its control groups' limits; None where
    neither can be read.

    The paths are parameters only so that tests can give files of their own.

    Examples
    --------
    >>> room = available_mb()
    >>> room is None or room > 0
    True
    """
    rooms = [room for room in (_system_available(meminfo), _cgroup_room(cgroup, root))
             if room is not None]
    return min(rooms) / _MB if rooms else None


def release_free_memory() -> bool:
    """Give the memory this process has freed back to the system, where the C
    library can (glibc's ``malloc_trim(0)``, which returns the free pages of
    every thread's arena); say whether it could.

    A search calls it after each trial. The arrays of a trial are freed when it
    ends, but glibc keeps freed memory in the arena of the thread that used it
    (the fold's helper thread, the models' OpenMP threads) for later use there,
    so without it a process's footprint ratchets up to the largest pattern of
    trials it ran. In a memory control group, 60 s searches of kddcup_http
    peaked at 284-285 MB with one trial at a time (305-317 MB without it) and
    at 544-547 MB with two (563-570 MB); on covertype_4v2 the peak is one heavy
    trial's own (a resampled copy of the data and its model) and did not move
    (``benchmarks/results/2026-12-memory.md``, 2026-12-04, ``377dc8c``). It
    takes well under a
    millisecond. Elsewhere (macOS, Windows, musl) it does nothing.

    Examples
    --------
    >>> release_free_memory() in (True, False)
    True
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def resident_mb() -> float | None:
    """This process's resident memory in MB, or None where ``/proc`` has none.

    Examples
    --------
    >>> mb = resident_mb()
    >>> mb is None or mb > 10
    True
    """
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / _MB


class TrialMemory:
    """What the trials of one process took per training row, to tell whether
    the next one fits in the memory left.

    A trial's memory is mostly per row it trains on (the fold's copies, the
    resampled rows, the boosters' gradients, a forest's nodes), so
    over-sampling a 100:1 data set to ratio 0.9 nearly doubles it. Each
    completed trial records the most its process's resident memory rose while
    its folds ran (sampled every :attr:`INTERVAL` seconds), per row of a
    training fold after resampling, and keeps it in the study, so that worker
    processes and a resumed search learn from it too (:meth:`learn`); a trial's
    model takes the most recorded for that model, else the most for any. In a
    container limited to 370 MB, a search of over-sampling trials on
    covertype_4v2 was killed by the system without this check
    (``benchmarks/results/2026-12-memory.md``, 2026-12-04, ``17988a2``).

    The prediction was 6 % under to 22 % over the peak that ``VmHWM`` reports
    on covertype_4v2's folds (``benchmarks/results/memory_per_row.md``): a
    trial may plan to take :data:`MEMORY_SHARE` of the room, which leaves the
    rest for that error and for the page cache. Only a trial that adds rows is
    ever stopped: the number of trials at once was chosen for the trials that
    add none (:func:`trials_that_fit`), and stopping those would leave a search
    nothing to run. Nothing is predicted before a trial has been recorded, nor
    where memory cannot be read.

    Examples
    --------
    >>> memory = TrialMemory()
    >>> memory.record("lightgbm", rows=100_000, mb=50.0)
    >>> memory.predict("lightgbm", rows=190_000)
    95.0
    >>> memory.predict("random_forest", rows=190_000)  # not seen: the most of any
    95.0
    >>> print(memory.shortfall("lightgbm", 190_000, rows_factor=1.9, room=100.0))
    ... # doctest: +NORMALIZE_WHITESPACE
    its over-sampling makes 1.9 times the training rows, which would take about
    95 MB (as much per row as the trials so far), more than 80% of the 100 MB of
    memory left
    >>> print(memory.shortfall("lightgbm", 100_000, rows_factor=1.0, room=10.0))
    None
    """

    #: Seconds between two readings of the resident memory while a trial runs.
    INTERVAL = 0.05

    #: The user attribute in which a completed trial keeps its record.
    ATTR = "memory"

    def __init__(self):
        self._per_row: dict[str, float] = {}
        self._learned: set[int] = set()

    def record(self, model: str, rows: float, mb: float) -> None:
        """Record that a trial of ``model`` on ``rows`` training rows took
        ``mb`` MB at most."""
        if rows > 0 and mb >= 0:
            self._per_row[model] = max(self._per_row.get(model, 0.0), mb / rows)

    def keep(self, trial, model: str, rows: float, mb: float) -> None:
        """:meth:`record` a completed ``trial`` of this process, and keep the
        record in its :attr:`ATTR`, for the study's other processes and for a
        search resumed."""
        self.record(model, rows, mb)
        self._learned.add(trial.number)
        trial.set_user_attr(self.ATTR, {"model": model, "rows": round(rows),
                                        "mb": round(mb, 1)})

    def learn(self, study) -> None:
        """Record what the trials of ``study`` kept in their :attr:`ATTR` (those
        of other processes, or of a search resumed), each once.

        Examples
        --------
        >>> from types import SimpleNamespace
        >>> trial = SimpleNamespace(number=0, user_attrs={"memory": {
        ...     "model": "lightgbm", "rows": 100_000, "mb": 50.0}})
        >>> study = SimpleNamespace(get_trials=lambda deepcopy: [trial])
        >>> memory = TrialMemory()
        >>> memory.learn(study)
        >>> memory.predict("lightgbm", rows=10_000)
        5.0
        """
        for trial in study.get_trials(deepcopy=False):
            kept = trial.user_attrs.get(self.ATTR)
            if trial.number in self._learned or not isinstance(kept, dict):
                continue
            self._learned.add(trial.number)
            try:
                self.record(str(kept["model"]), float(kept["rows"]), float(kept["mb"]))
            except (KeyError, TypeError, ValueError):
                continue  # written by another version: nothing to learn

    def predict(self, model: str, rows: float) -> float | None:
        """MB a trial of ``model`` on ``rows`` training rows is expected to take,
        or None before any trial was recorded."""
        per_row = self._per_row.get(model, max(self._per_row.values(), default=None))
        return None if per_row is None else per_row * rows

    def shortfall(self, model: str, rows: float, rows_factor: float, *,
                  room: float | None = None) -> str | None:
        """Why a trial of ``model`` whose resampling makes ``rows_factor`` times
        the training rows (``rows`` of a fold) must not start: it would need more
        than :data:`MEMORY_SHARE` of the memory left (``room`` MB, by default
        :func:`available_mb`); None if it may."""
        if rows_factor <= 1.0:
            return None
        needed = self.predict(model, rows)
        if needed is None:
            return None
        room = available_mb() if room is None else room
        if room is None or needed <= MEMORY_SHARE * room:
            return None
        return (f"its over-sampling makes {rows_factor:.1f} times the training rows, "
                f"which would take about {needed:,.0f} MB (as much per row as the "
                f"trials so far), more than {MEMORY_SHARE:.0%} of the {room:,.0f} MB "
                "of memory left")

    def watch(self) -> _PeakResident:
        """A ``with`` block whose ``increase`` is the most the resident memory
        rose in it (MB; None where it cannot be read)."""
        return _PeakResident(self.INTERVAL)


class _PeakResident:
    """Samples the resident memory in a helper thread while the block runs."""

    def __init__(self, interval: float):
        self.interval = interval
        self.increase = None

    def __enter__(self) -> _PeakResident:
        self._before = resident_mb()
        if self._before is None:
            return self
        self._peak = self._before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True,
                                        name="autoimb-memory")
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, resident_mb() or 0.0)

    def __exit__(self, *exc) -> None:
        if self._before is None:
            return
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, resident_mb() or 0.0)
        self.increase = self._peak - self._before


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none."""
    try:  # the symbols already loaded in this process (the C library's on Linux)
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None


def _system_available(meminfo: str) -> float | None:
    """``MemAvailable`` in bytes."""
    try:
        for line in Path(meminfo).read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _cgroup_room(cgroup: str, root: str) -> float | None:
    """The least room, in bytes, under the memory limit of this process's
    control group and of each group above it (cgroup v1 or v2)."""
    try:
        lines = Path(cgroup).read_text().splitlines()
    except OSError:
        return None
    rooms = []
    for line in lines:
        fields = line.split(":", 2)
        if len(fields) != 3:  # not a control group line: nothing to learn
            continue
        _, controllers, path = fields
        if controllers == "":  # the unified hierarchy (v2)
            base, files = Path(root), ("memory.max", "memory.current")
        elif "memory" in controllers.split(","):  # v1
            base = Path(root) / "memory"
            files = ("memory.limit_in_bytes", "memory.usage_in_bytes")
        else:
            continue
        parts = [part for part in PurePosixPath(path).parts[1:] if part != ".."]
        for depth in range(len(parts), -1, -1):
            folder = base.joinpath(*parts[:depth])
            limit, usage = (_read_number(folder / name) for name in files)
            if limit is not None and usage is not None and limit < _NO_LIMIT:
                working = usage - _inactive_files(folder / "memory.stat")
                rooms.append(max(limit - working, 0.0))
    return min(rooms) if rooms else None


def _inactive_files(stat: Path) -> float:
    """Bytes of the group's page cache that it would drop first (what
    ``docker stats`` and Kubernetes leave out of a container's usage)."""
    try:
        lines = stat.read_text().splitlines()
    except OSError:
        return 0.0
    values = dict(line.split(maxsplit=1) for line in lines if " " in line)
    for key in ("total_inactive_file", "inactive_file"):  # v1 counts its subgroups
        if key in values:
            return float(values[key])
    return 0.0


def _read_number(path: Path) -> float | None:
    """The number in a control group's file; None if absent, unreadable or "max"."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    try:
        value = float(text)
    except ValueError:  # "max": no limit
        return None
    return value if math.isfinite(value) else None
