"""What a study records so that a worker can join it: the job and its budget.

``fit`` writes two study user attributes (plain JSON) next to the ones it
already writes (``autoimb.fingerprint``, ``autoimb.config``, ``autoimb.seeds``,
``autoimb.validation``):

``autoimb.job``
    Written once, when the study is created, and last, so that a study that
    has it is ready to be joined. The data (its file and target column when
    known, the feature columns, the number of rows and the content's
    fingerprint), the positive class, the objective and the costs as given,
    the search space (its preset name or TOML file, and its content, so that it
    can be rebuilt exactly, with the hash that ``autoimb.config`` compares),
    ``cv`` and ``ensemble_size``.
``autoimb.budget``
    Written by every ``fit`` that searches the study: ``n_trials`` finished
    trials wanted in the study and, with a timeout, the absolute ``deadline``
    (seconds since the epoch), so that workers started at any time stop
    together. Machines that share a study need synchronised clocks (NTP) for
    the deadline to mean the same instant everywhere.
``autoimb.reserve``
    Seconds before the deadline that the fit keeps for choosing and refitting
    the final model, written by the fit as its trials teach it: workers keep
    the same, so that their last trials end when the fit's do.
``autoimb.search_closed``
    Set by the fit when its search ends (and cleared when a fit starts or
    resumes it): workers start no trial after it, and the fit waits for their
    running trials before it chooses, so that the choice sees every trial of
    the study (see :mod:`autoimb.search.choice`).

Examples
--------
>>> from autoimb import load_search_space
>>> from autoimb.search.job import rebuild_search_space, search_space_record, space_hash
>>> record = search_space_record("fast")
>>> record["preset"], record["sha256"] == space_hash(load_search_space("fast"))
('fast', True)
>>> rebuild_search_space(record, where="study 'demo'").model_names
['logistic_regression', 'hist_gradient_boosting', 'lightgbm']
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Mapping
from numbers import Integral

from autoimb._validation import plain_value
from autoimb.exceptions import StudyMismatchError
from autoimb.search.spaces import (
    SearchSpace,
    _presets_folder,
    list_search_spaces,
    load_search_space,
)
from autoimb.storage.studies import FINGERPRINT_KEY, changed_settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["BUDGET_KEY", "CLOSED_KEY", "JOB_KEY", "RESERVE_KEY", "ShareReserve",
           "TakeReserve", "budget_record", "check_joined_study", "job_record",
           "rebuild_search_space", "search_space_record", "space_hash"]

JOB_KEY = "autoimb.job"
BUDGET_KEY = "autoimb.budget"
RESERVE_KEY = "autoimb.reserve"
CLOSED_KEY = "autoimb.search_closed"
FORMAT = 1


def space_hash(space: SearchSpace) -> str:
    """The hash of a search space that ``autoimb.config`` records and compares."""
    return hashlib.sha256(repr(space).encode()).hexdigest()[:12]


def search_space_record(search_space, space: SearchSpace | None = None) -> dict:
    """How to rebuild ``search_space`` (as given to ``fit``) in another process.

    A preset is recorded by name *and* content (a worker with another version
    of autoimb rebuilds the same space), a TOML file by path and content, a
    mapping as JSON. A :class:`SearchSpace` object is recorded by hash only:
    a worker must then be given the same object.
    """
    space = space if space is not None else load_search_space(search_space)
    record = {"preset": None, "file": None, "toml": None, "mapping": None,
              "sha256": space_hash(space)}
    if isinstance(search_space, SearchSpace):
        return record
    if isinstance(search_space, Mapping):
        try:
            record["mapping"] = json.loads(json.dumps(search_space))
        except (TypeError, ValueError):
            pass
        return record
    text = os.fspath(search_space)
    if os.path.isfile(text):
        record["file"] = os.path.abspath(text)
        with open(text, encoding="utf-8") as f:
            record["toml"] = f.read()
    elif text in list_search_spaces():
        record["preset"] = text
        record["toml"] = _presets_folder().joinpath(f"{text}.toml").read_text(
            encoding="utf-8")
    return record


def rebuild_search_space(record: dict, *, where: str) -> SearchSpace:
    """The search space a study was made with, checked against its hash.

    Raises
    ------
    StudyMismatchError
        If the study recorded no content to rebuild it from (it was given as a
        :class:`SearchSpace` object), or the rebuilt space differs.
    """
    if record.get("toml") is not None:
        source = (f"preset {record['preset']!r}" if record.get("preset")
                  else record.get("file") or where)
        space = SearchSpace.from_mapping(tomllib.loads(record["toml"]), source=source)
    elif record.get("mapping") is not None:
        space = SearchSpace.from_mapping(record["mapping"], source=where)
    else:
        raise StudyMismatchError(
            f"The search space of {where} was given to fit as a SearchSpace object, "
            "which the study cannot record; pass the same space to the worker "
            "(search_space=...).")
    if space_hash(space) != record["sha256"]:
        raise StudyMismatchError(
            f"The search space rebuilt from {where} has hash {space_hash(space)}, "
            f"not the {record['sha256']} the study was made with; pass the same "
            "space to the worker (search_space=...).")
    return space


def job_record(settings, data, *, objective, X, y, fingerprint: str,
               space: SearchSpace) -> dict:
    """What a search of ``data`` (checked :class:`TrainingData`) with
    ``settings`` (:class:`SearchSettings`) records for workers.

    ``X`` and ``y`` are as given to ``fit``: the target column is ``y.name``
    when ``y`` is a named pandas Series.
    """
    name = getattr(y, "name", None)
    location = settings.data_location
    columns = getattr(X, "columns", None)
    cv = settings.cv
    return {
        "format": FORMAT,
        "data": {
            "location": None if location is None else os.path.abspath(
                os.fspath(location)),
            "target": name if isinstance(name, str) else None,
            "columns": None if columns is None else [str(c) for c in columns],
            "rows": int(data.kinds.n_rows),
            "fingerprint": fingerprint,
        },
        "pos_label": _json_value(data.pos_label),
        "objective": objective.kind,
        "fp_cost": _json_value(settings.fp_cost),
        "fn_cost": _json_value(settings.fn_cost),
        "search_space": search_space_record(settings.search_space, space),
        "cv": int(cv) if isinstance(cv, Integral) else None,
        "cv_given": cv is not None and not isinstance(cv, Integral),
        "ensemble_size": int(settings.ensemble_size),
    }


def _json_value(value):
    """``value`` as JSON can hold it: a plain scalar, or its text."""
    value = plain_value(value)
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


def budget_record(n_trials: int | None, budget) -> dict:
    """The study's budget: finished trials wanted, and the absolute deadline of a
    :class:`~autoimb.search.budget.Budget` with a timeout (seconds since the epoch)."""
    remaining = budget.remaining()
    return {"n_trials": n_trials, "timeout": budget.timeout,
            "deadline": None if budget.timeout is None else time.time() + remaining}


class ShareReserve:
    """The fit's callback: after each of its trials, record the time it keeps
    for the final model (``autoimb.reserve``) when it grew by a second or
    more, for the workers."""

    def __init__(self, budget):
        self.budget = budget
        self.shared = 0.0

    def __call__(self, study, trial) -> None:
        reserve = self.budget.reserve
        if reserve >= self.shared + 1.0:
            study.set_user_attr(RESERVE_KEY, round(reserve, 3))
            self.shared = reserve


class TakeReserve:
    """A worker's callback: after each trial, keep at least the fit's reserve
    (``autoimb.reserve``), and stop once the fit has closed the search
    (``autoimb.search_closed``)."""

    def __init__(self, budget):
        self.budget = budget

    def __call__(self, study, trial) -> None:
        attrs = study.user_attrs
        self.budget.shared_reserve = float(attrs.get(RESERVE_KEY) or 0.0)
        if attrs.get(CLOSED_KEY):
            study.stop()


def check_joined_study(study, *, fingerprint: str, config: dict, data=None) -> None:
    """Check that a worker's data and settings are those ``study`` was made with.

    Raises
    ------
    StudyMismatchError
        Naming both fingerprints when the worker's copy of the data differs, or
        the settings that differ.
    """
    attrs = study.user_attrs
    job = attrs.get(JOB_KEY, {})
    theirs = attrs.get(FINGERPRINT_KEY)
    if theirs != fingerprint:
        recorded = job.get("data", {})
        where = f" in {os.fspath(data)!r}" if data is not None else ""
        made = f"{recorded.get('rows')} rows" + (
            f" of {recorded['location']!r}" if recorded.get("location") else "")
        raise StudyMismatchError(
            f"The worker's data{where} has fingerprint {fingerprint}, but study "
            f"{study.study_name!r} was made with data of fingerprint {theirs} "
            f"({made}). A worker refuses other data: give it an identical copy of "
            "the study's data file (--data PATH).")
    details = changed_settings(study, config, label="worker")
    if details:
        raise StudyMismatchError(
            f"Study {study.study_name!r} was made with other settings than this "
            f"worker rebuilt from it ({details}); run the worker with the same "
            "version of autoimb as the study's fit.")
