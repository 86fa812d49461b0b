"""Storage locations: what ``storage=`` names, parsed once, and its Optuna storage.

This is the only module that turns a storage location (None, ``"memory"``, a
journal file path, a database URL, a storage object) into an Optuna storage, and
that knows a journal file from a database URL or an SQLite file. The search, the
dashboard and the figures all ask it (:class:`StorageLocation`). It opens a
journal file with :mod:`autoimb.storage.journal` and a database with
:mod:`autoimb.storage.databases`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage
from optuna.storages.journal import JournalFileBackend, JournalRedisBackend

from autoimb.exceptions import AutoImbError
from autoimb.storage.databases import _open_database, _read_database, _shown_url
from autoimb.storage.journal import DEFAULT_STORAGE, _journal, repair_journal

__all__ = ["StorageLocation", "local_file", "resolve_storage"]

_MEMORY = ("memory", ":memory:")
_SQLITE_PREFIX = "sqlite:///"


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
            return _shown_url(self.text)
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
            try:
                return JournalStorage(JournalRedisBackend(self.text))
            except Exception as exc:
                raise AutoImbError(
                    f"Cannot open the study storage {self.shown!r}: {exc}. Check the "
                    "URL, that the server runs and that the redis package is "
                    "installed.") from exc
        if self.kind == "database":
            return _open_database(self.text) if for_search else _read_database(
                self.text)
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

