"""Out-of-fold scores stored with the study, for choosing the final model.

Every completed trial's out-of-fold scores of the scored rows are stored as
float32, by whichever process ran the trial, before the trial reports its
value. Choosing the final model reads them back and computes the cheap
post-processing (calibration and threshold, cross-fitted on those numbers)
again: so ``fit``, a rerun of ``fit``, a worker's study and ``autoimb export``
choose among the same candidates with the same numbers, whichever process ran
which trial and whatever the clock says when the choice is made.

Where the scores live follows the study:

* a study in a local file (a journal file, an SQLite database): one ``.npy``
  file per trial in the folder ``<file>.scores/`` beside it;
* a study in a database server (PostgreSQL): the table ``autoimb_oof_scores``
  of the same database, keyed by Optuna's trial id;
* a study in memory, or in a storage this module does not know (Redis, a
  storage object): the memory of the process. Trials another process ran are
  then scored again when the final model is chosen.

Scores are keyed by Optuna's trial id, unique within a storage, and checked
against the number of scored rows when read: a file of another study or data
is never taken for this one's.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from pathlib import Path

import numpy as np

from autoimb.storage.location import local_file

__all__ = ["SCORES_DIR_SUFFIX", "ScoreStore", "score_store_for"]

logger = logging.getLogger(__name__)

SCORES_DIR_SUFFIX = ".scores"
_TABLE = "autoimb_oof_scores"


class ScoreStore:
    """Where a study's trials' out-of-fold scores are kept (in this process).

    Subclasses keep them somewhere every process of the study can read.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> store = ScoreStore()
    >>> trial = SimpleNamespace(_trial_id=7)
    >>> store.save(trial, np.array([0.25, 0.5]))
    >>> store.load(trial, n_rows=2)
    array([0.25, 0.5 ], dtype=float32)
    >>> store.load(trial, n_rows=3) is None  # not scores of these rows
    True
    """

    shared = False  # whether other processes read what this one saves

    def __init__(self):
        self._scores: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()

    def save(self, trial, scores) -> None:
        """Keep ``trial``'s out-of-fold scores (of the scored rows), as float32."""
        with self._lock:
            self._scores[trial._trial_id] = _as_float32(scores)

    def load(self, trial, *, n_rows: int) -> np.ndarray | None:
        """``trial``'s scores, or None when none of ``n_rows`` rows are kept."""
        with self._lock:
            scores = self._scores.get(trial._trial_id)
        return _checked(scores, n_rows)

    def describe(self) -> str:
        return "the memory of the process that ran each trial"


class FolderScores(ScoreStore):
    """One ``.npy`` file per trial in a folder beside the study's file."""

    shared = True

    def __init__(self, folder):
        super().__init__()
        self.folder = Path(folder)

    def save(self, trial, scores) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{trial._trial_id}.npy"
        handle, partial = tempfile.mkstemp(dir=self.folder, suffix=".partial")
        try:
            with os.fdopen(handle, "wb") as file:
                np.save(file, _as_float32(scores), allow_pickle=False)
            os.replace(partial, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise

    def load(self, trial, *, n_rows: int) -> np.ndarray | None:
        path = self.folder / f"{trial._trial_id}.npy"
        try:
            scores = np.load(path, allow_pickle=False)
        except (OSError, ValueError):  # none, or a file cut short
            return None
        return _checked(scores, n_rows)

    def describe(self) -> str:
        return f"the folder {os.fspath(self.folder)!r}"


class TableScores(ScoreStore):
    """A table of the study's own database (``autoimb_oof_scores``)."""

    shared = True

    def __init__(self, engine):
        super().__init__()
        import sqlalchemy as sa  # lazy: an optional library (autoimb[postgres])

        self.engine = engine
        metadata = sa.MetaData()
        self.table = sa.Table(
            _TABLE, metadata,
            sa.Column("trial_id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("scores", sa.LargeBinary, nullable=False))
        with contextlib.suppress(Exception):  # another worker created it first
            metadata.create_all(engine, checkfirst=True)

    def save(self, trial, scores) -> None:
        data = _as_float32(scores).tobytes()
        table, key = self.table, trial._trial_id
        with self.engine.begin() as connection:
            connection.execute(table.delete().where(table.c.trial_id == key))
            connection.execute(table.insert().values(trial_id=key, scores=data))

    def load(self, trial, *, n_rows: int) -> np.ndarray | None:
        import sqlalchemy as sa  # lazy: an optional library (autoimb[postgres])

        table = self.table
        try:
            with self.engine.connect() as connection:
                data = connection.execute(
                    sa.select(table.c.scores).where(table.c.trial_id == trial._trial_id)
                ).scalar()
        except Exception as exc:  # a lost connection: score the trial again
            logger.warning("Could not read the scores of trial %s: %s",
                           trial.number, exc)
            return None
        if data is None:
            return None
        return _checked(np.frombuffer(data, dtype=np.float32), n_rows)

    def describe(self) -> str:
        return f"the table {_TABLE!r} of the study's database"


def score_store_for(storage, location) -> ScoreStore:
    """The score store of a study in ``storage`` (an Optuna storage) at
    ``location`` (its path or URL as given, None in memory).

    Examples
    --------
    >>> score_store_for(None, "runs/autoimb.journal").folder.as_posix()
    'runs/autoimb.journal.scores'
    >>> type(score_store_for(None, None)).__name__
    'ScoreStore'
    """
    path = local_file(location) if location is not None else None
    if path is not None:
        return FolderScores(path + SCORES_DIR_SUFFIX)
    engine = getattr(storage, "engine", None)
    if engine is not None:
        try:
            return TableScores(engine)
        except Exception as exc:
            logger.warning("No table for out-of-fold scores in the study's database "
                           "(%s); each process keeps its own.", exc)
    return ScoreStore()


def _as_float32(scores) -> np.ndarray:
    return np.ascontiguousarray(scores, dtype=np.float32)


def _checked(scores, n_rows: int) -> np.ndarray | None:
    if scores is None or scores.ndim != 1 or len(scores) != n_rows:
        return None
    return scores
