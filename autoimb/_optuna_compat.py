"""The only module using private Optuna names, as ``_sklearn_compat`` does for
scikit-learn.

Optuna keeps a study's storage and the storage's ids of a study and a trial on
private attributes; writing to a trial that another process left behind, and the
dashboard's artifact routes, need them. TPE's log of the normal distribution
function is a Python loop over its input (:func:`speed_up_tpe`). If a future
Optuna renames one, this is the one file to change.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING

import scipy.special
from optuna.storages import BaseStorage, RDBStorage
from optuna.storages._heartbeat import BaseHeartbeat

if TYPE_CHECKING:
    from optuna.artifacts._protocol import ArtifactStore

__all__ = [
    "CACHED_STORAGE_BACKEND_CALLS",
    "JOURNAL_RECORD_START",
    "ArtifactStore",
    "rdb_storage_calls",
    "speed_up_tpe",
    "storage_of",
    "study_id_of",
    "trial_id_of",
    "trial_stand_in",
]

#: How every record of a journal file starts: ``JournalStorage`` writes one JSON
#: object per line, ``{"op_code": ..., "worker_id": ..., ...}``.
JOURNAL_RECORD_START = b'{"op_code":'

#: Private ``RDBStorage`` methods that Optuna's ``_CachedStorage`` (the wrapper
#: ``optuna.create_study`` puts around every ``RDBStorage``) calls instead of the
#: public ones: a wrapper of the database calls must cover them too.
#: ``tests/test_storage.py`` checks this list against Optuna's source.
CACHED_STORAGE_BACKEND_CALLS = (
    "_create_new_trial",
    "_get_best_trial_id",
    "_get_trials",
    "_set_trial_param",
)


def storage_of(study) -> BaseStorage:
    """The storage object a study reads and writes (``study._storage``)."""
    return study._storage


def study_id_of(study) -> int:
    """The storage's id of a study (``study._study_id``), not its name."""
    return study._study_id


def trial_id_of(trial) -> int:
    """The storage's id of a trial (``trial._trial_id``), not its number; works for
    a live :class:`optuna.Trial` and a :class:`~optuna.trial.FrozenTrial`."""
    return trial._trial_id


def trial_stand_in(study, trial) -> SimpleNamespace:
    """What ``optuna_dashboard.save_note`` reads from a live :class:`optuna.Trial`
    (``storage``, ``study``, ``_trial_id``), for a finished trial: building a real
    ``optuna.Trial`` would call the sampler's ``before_trial`` hook on it."""
    return SimpleNamespace(storage=storage_of(study), study=study,
                           _trial_id=trial_id_of(trial))


def rdb_storage_calls() -> list[str]:
    """Names of the ``RDBStorage`` methods that may query the database: the
    public methods it defines, the abstract methods of ``BaseStorage`` and of the
    heartbeat protocol (among them the private ``_get_stale_trial_ids``), and the
    private methods ``_CachedStorage`` calls. A wrapper that overrides these sees
    every call Optuna makes to the database."""
    public = {name for name, value in vars(RDBStorage).items()
              if callable(value) and not name.startswith("_")}
    return sorted(public | BaseStorage.__abstractmethods__
                  | BaseHeartbeat.__abstractmethods__
                  | set(CACHED_STORAGE_BACKEND_CALLS))


def speed_up_tpe() -> bool:
    """Give Optuna's TPE SciPy's vectorized ``log_ndtr``; ``True`` once it has it.

    ``optuna.samplers._tpe._truncnorm._log_ndtr`` (Optuna 4 to 5.1) calls a Python
    function per element (``np.frompyfunc``); it is TPE's largest cost, and it
    grows with the trials in the study: with autoimb's default space a proposal
    takes about 38 ms after 200 trials, 21 ms with SciPy's ``log_ndtr`` (the
    same function, values equal to 1e-7 relative; Optuna issue #5478). The
    replacement is process-wide and made once: every TPE sampler in the process
    gets it. An Optuna without that function is left as it is.
    """
    try:
        from optuna.samplers._tpe import _truncnorm
    except ImportError:  # pragma: no cover - a future Optuna
        return False
    if not callable(getattr(_truncnorm, "_log_ndtr", None)):
        return False  # pragma: no cover - a future Optuna
    _truncnorm._log_ndtr = scipy.special.log_ndtr
    return True
