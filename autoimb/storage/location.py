"""Storage locations: what ``storage=`` names, parsed once, and its Optuna storage.

This is the only module that turns a storage location (None, ``"memory"``, a
journal file path, a database URL, a storage object) into an Optuna storage, and
that knows a journal file from a database URL or an SQLite file. The search, the
dashboard and the figures all ask it (:class:`StorageLocation`). It opens a
journal file with :mod:`autoimb.storage.journal` and a database with
:mod:`autoimb.storage.databases`.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage
from optuna.storages.journal import JournalFileBackend, JournalRedisBackend

from autoimb.exceptions import AutoImbError
from autoimb.storage.databases import (
    _database_to_read,
    _open_database,
    _read_database,
    _shown_url,
)
from autoimb.storage.journal import DEFAULT_STORAGE, _journal, repair_journal

__all__ = ["StorageLocation", "local_file", "resolve_storage"]

_MEMORY = ("memory", ":memory:")
_SQLITE_PREFIX = "sqlite:///"
#: Endings of the files that may hold a study (named in a missing file's hint).
_STUDY_FILE_ENDINGS = (".journal", ".db", ".sqlite", ".sqlite3")


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
    def missing_file(self) -> str | None:
        """The local file of this location if it does not exist yet, else None
        (the file exists, or the location is no local file)."""
        path = self.local_file
        return path if path is not None and not os.path.exists(path) else None

    def missing_file_message(self, *, waited: float | None = None) -> str:
        """``No such file: PATH``, with what to check and the study files beside it
        (for a location that is a local file).

        ``waited``: the seconds waited for the file to appear, if any.
        """
        path = self.missing_file or self.local_file
        folder = os.path.dirname(path) or "."
        where = "" if self.kind == "journal" else f" (storage {self.shown!r})"
        after = f" after waiting {waited:g} s" if waited else ""
        if not os.path.isdir(folder):
            return (f"No such file: {path!r}{where}{after}; its folder {folder!r} "
                    "does not exist either. Check the path.")
        return (f"No such file: {path!r}{where}{after}. Check the path"
                f"{_study_name_hint(path)}.{_nearby_files_hint(path, folder)}")

    def close_files(self) -> list[str]:
        """Existing files beside this location's missing file whose names it may
        be a typo of (up to 3; paths as given)."""
        path = self.missing_file
        if path is None:
            return []
        folder = os.path.dirname(path)
        names = _files_in(folder or ".") or []
        return [os.path.join(folder, n) for n in _close_names(path, names)]

    def require_file(self) -> None:
        """Raise if this location is a local file that does not exist: a reader
        never creates one."""
        if self.missing_file is not None:
            raise AutoImbError(self.missing_file_message())

    @property
    def shown(self) -> str:
        """The location for messages, with any password hidden."""
        if self.kind == "object":
            return type(self.storage).__name__
        if self.kind == "memory":
            return "memory"
        if self.kind in ("database", "redis"):
            return _shown_url(self.text)
        return self.text

    def open(self, *, for_search: bool = True) -> BaseStorage:
        """The Optuna storage of this location.

        For a search (``for_search=True``), a journal's folder must be writable
        and a database gets heartbeats and retries; a missing journal or SQLite
        file is created. Otherwise (the dashboard, a report) nothing is created:
        a missing journal or SQLite file is refused (``No such file: PATH``) and a
        database is only read, without creating its tables. A journal whose last
        record was cut short is repaired either way.
        """
        if self.kind == "object":
            return self.storage
        if self.kind == "memory":
            return optuna.storages.InMemoryStorage()
        if self.kind == "redis":
            try:
                return JournalStorage(JournalRedisBackend(self.text))
            except Exception as exc:
                raise AutoImbError(
                    f"Cannot open the study storage {self.shown!r}: {exc}. Check the "
                    "URL, that the server runs and that the redis package is "
                    "installed.") from exc
        if self.kind == "database":
            if for_search:
                return _open_database(self.text)
            if self.local_file is not None:
                self._check_readable_file()
            return _database_to_read(self.text)
        if for_search:
            return _journal(Path(self.text))
        self._check_readable_file()
        repair_journal(self.text)
        return JournalStorage(JournalFileBackend(self.text))

    def open_to_read(self) -> BaseStorage | None:
        """The storage, opened to be read without creating anything; None while it
        holds nothing to read (a local file that does not exist yet, a database
        without Optuna's tables).

        Unlike ``open(for_search=False)``, it returns None for a missing file
        instead of refusing it, and never writes to a database that the process
        creating it has not finished setting up (Optuna's version records), so
        that a worker or a dashboard may poll a file a fit is about to create.
        A Redis journal or a storage object is opened as by :meth:`open`.
        """
        if self.missing_file is not None:
            return None
        if self.kind == "database":
            if self.local_file is not None:
                self._check_readable_file()
            return _read_database(self.text, local=self.local_file is not None)
        return self.open(for_search=False)

    def _check_readable_file(self) -> None:
        """Refuse a missing local file (opening it would create it) or a folder."""
        self.require_file()
        if self.local_file is not None and os.path.isdir(self.local_file):
            raise AutoImbError(
                f"storage={self.shown!r} is a folder; pass the path of a journal "
                f"file, e.g. {os.path.join(self.local_file, DEFAULT_STORAGE)!r}.")


def _study_name_hint(path: str) -> str:
    """For a bare word (``thy``): storage is a file or URL, not a study's name."""
    if os.sep in path or "." in os.path.basename(path):
        return ""
    return (" (storage is the path of a journal file or a database URL; the "
            "study's name is given apart)")


def _nearby_files_hint(path: str, folder: str) -> str:
    """Files of ``folder`` named like ``path``, and the study files there."""
    names = _files_in(folder)
    if names is None:
        return ""
    close = _close_names(path, names)
    studies = [n for n in names if n.lower().endswith(_STUDY_FILE_ENDINGS)]
    shown = "this folder" if folder == "." else repr(folder)
    hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
    if studies:
        more = f" and {len(studies) - 10} more" if len(studies) > 10 else ""
        hint += (f" Study files in {shown}: {', '.join(map(repr, studies[:10]))}"
                 f"{more}.")
    else:
        hint += f" No study file ({', '.join(_STUDY_FILE_ENDINGS)}) in {shown}."
    return hint


def _files_in(folder: str) -> list[str] | None:
    try:
        return sorted(entry.name for entry in os.scandir(folder) if entry.is_file())
    except OSError:
        return None


def _close_names(path: str, names: list[str]) -> list[str]:
    """Up to 3 of ``names`` that ``path``'s file name may be a typo of."""
    name = os.path.basename(path)
    stems = {}  # compared without their endings, which would all look alike
    for n in names:
        stems.setdefault(os.path.splitext(n)[0], n)
    return list(dict.fromkeys(
        [n for n in names if n.startswith(name)]
        + [stems[s] for s in difflib.get_close_matches(
            os.path.splitext(name)[0], list(stems), n=3, cutoff=0.6)]))[:3]


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

