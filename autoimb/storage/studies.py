"""A study in its storage: created or joined, checked, its dead workers' trials failed.

:func:`open_study` creates a study or joins it, :func:`check_study_matches` tags
a new study with its data's fingerprint and settings or checks that an existing
one was made for the same, and :func:`fail_dead_workers_trials` fails the
trials that workers of this host left running when they died.

Environment variable (whole seconds; any storage):

``AUTOIMB_STUDY_WAIT_SECONDS`` (default 60)
    How long a process that finds a study just created by another one waits for
    that one to tag it (:func:`check_study_matches`).
"""

from __future__ import annotations

import logging
import os
import socket
import time

import optuna
from optuna.trial import TrialState

from autoimb._optuna_compat import storage_of, trial_id_of
from autoimb.exceptions import StudyMismatchError
from autoimb.storage.databases import _env_seconds
from autoimb.storage.outcomes import OUTCOME_KEY

__all__ = ["FINGERPRINT_KEY", "changed_settings", "check_study_matches",
           "fail_dead_workers_trials", "open_study", "worker_id"]

logger = logging.getLogger(__name__)

STUDY_WAIT_ENV = "AUTOIMB_STUDY_WAIT_SECONDS"
_DEFAULT_STUDY_WAIT = 60
FINGERPRINT_KEY = "autoimb.fingerprint"
CONFIG_KEY = "autoimb.config"
_SETTINGS_WAIT = 5  # seconds: a creating process writes the settings at once


# -- workers ----------------------------------------------------------------------


def worker_id() -> str:
    """This process, as recorded on the trials it runs: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def fail_dead_workers_trials(study, *, stopped=()) -> list[int]:
    """Mark failed the running trials of processes of this host that are gone.

    A killed worker leaves its trial RUNNING. Database storages fail such trials
    through heartbeats; a journal file has none, so a rerun on the same machine
    checks the process id each trial recorded. The failed trial's parameters are
    queued again, so the search retries them, once: a retry whose process died
    too, as did the process of the trial it retries (or of one further back), is
    not queued again (parameters that take more memory than the machine has
    would otherwise kill every rerun). ``stopped`` are the process ids that the
    caller killed itself at the end of its search: their trials are queued
    again and do not count as deaths. Returns the trial numbers failed.
    """
    host = socket.gethostname()
    storage = storage_of(study)
    failed = []
    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    for trial in by_number.values():
        if trial.state != TrialState.RUNNING:
            continue
        worker = trial.user_attrs.get("worker", "")
        worker_host, _, pid = worker.rpartition(":")
        if worker_host != host or not pid.isdigit() or _alive(int(pid)):
            continue
        died = int(pid) not in stopped
        first = _died_before(trial, by_number) if died else None
        error = (f"worker {worker} died while running this trial" if died else
                 f"worker {worker} was stopped at the end of the search while "
                 "running this trial")
        if first is not None:
            error += (f", as one did running the same parameters in trial {first}: "
                      "not queued again (they may need more memory than this "
                      "machine has)")
        try:
            storage.set_trial_user_attr(trial_id_of(trial), "error", error)
            if died:
                storage.set_trial_user_attr(trial_id_of(trial), _DIED_KEY, True)
            storage.set_trial_user_attr(trial_id_of(trial), OUTCOME_KEY,
                                        "failed" if died else "stopped")
            storage.set_trial_state_values(trial_id_of(trial), state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker failed it first (its heartbeat went stale)
        if first is not None:
            logger.warning("Trial %d of study %r: %s.", trial.number, study.study_name,
                           error)
        elif trial.params:
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
        failed.append(trial.number)
    return failed


#: Marks a trial whose process died (was not stopped by the search itself).
_DIED_KEY = "process_died"


def _died_before(trial, by_number) -> int | None:
    """The number of an earlier trial of ``trial``'s retries (``retry_of``,
    followed back) whose process died too; None if there is none."""
    seen = set()
    number = trial.user_attrs.get("retry_of")
    while isinstance(number, int) and number in by_number and number not in seen:
        seen.add(number)
        earlier = by_number[number]
        if earlier.user_attrs.get(_DIED_KEY):
            return number
        number = earlier.user_attrs.get("retry_of")
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_study(storage, *, study_name: str, direction: str, **kwargs):
    """Create the study ``study_name``, or load it if it exists.

    Returns ``(study, created)``: ``created`` is True only for the one process
    whose ``create_study`` made it, so that two workers started together never
    both take the study for new (both would queue the recipes). ``kwargs`` (the
    sampler, the pruner) go to Optuna.
    """
    try:
        return optuna.create_study(storage=storage, study_name=study_name,
                                   direction=direction, load_if_exists=False,
                                   **kwargs), True
    except optuna.exceptions.DuplicatedStudyError:
        return optuna.load_study(study_name=study_name, storage=storage,
                                 **kwargs), False


def check_study_matches(study, *, fingerprint: str, config: dict, created: bool,
                        ready_key: str = FINGERPRINT_KEY) -> bool:
    """Tag a new study, or check that an existing one was made for this data.

    Returns True if the study is new: this process created it, or it is an empty
    study without autoimb's tags (made by hand, or by a process that died before
    tagging it). The caller then sets it up and writes the fingerprint
    (``FINGERPRINT_KEY``), whose presence marks a tagged study.

    A study that another process has just created is tagged by that process, its
    settings first (at once) and ``ready_key`` last: wait a few seconds for the
    settings, then up to ``AUTOIMB_STUDY_WAIT_SECONDS`` (default 60) for
    ``ready_key``, so that two workers started together never both set it up.
    """
    if not created and CONFIG_KEY not in study.user_attrs and not study.trials:
        _wait_for_attr(study, CONFIG_KEY, _SETTINGS_WAIT)
    if not created and CONFIG_KEY in study.user_attrs:
        _wait_for_attr(study, ready_key,
                       _env_seconds(STUDY_WAIT_ENV, _DEFAULT_STUDY_WAIT))
    attrs = study.user_attrs
    if FINGERPRINT_KEY not in attrs:
        if study.trials:
            raise StudyMismatchError(
                f"Study {study.study_name!r} already holds {len(study.trials)} trials "
                "that autoimb did not make; pass another study_name.")
        study.set_user_attr(CONFIG_KEY, config)
        return True
    if attrs[FINGERPRINT_KEY] != fingerprint:
        raise StudyMismatchError(
            f"Study {study.study_name!r} belongs to a different data set (fingerprint "
            f"{attrs[FINGERPRINT_KEY]}, this data {fingerprint}). Pass another "
            "study_name, or the data the study was made with to resume it.")
    details = changed_settings(study, config, label="now")
    if details:
        raise StudyMismatchError(
            f"Study {study.study_name!r} was made with other settings ({details}). "
            "Pass another study_name, or the same settings to resume it.")
    return False


def _wait_for_attr(study, key: str, seconds: float) -> None:
    """Poll the study's user attributes until ``key`` is there, or ``seconds``."""
    start = time.monotonic()
    delay, told = 0.05, False
    while key not in study.user_attrs:
        waited = time.monotonic() - start
        if waited >= seconds:
            return
        if waited > 2 and not told:
            logger.info("Waiting up to %g s for the process that created study %r "
                        "to set it up.", seconds, study.study_name)
            told = True
        time.sleep(min(delay, seconds - waited))
        delay = min(2 * delay, 1.0)


def changed_settings(study, config: dict, *, label: str) -> str:
    """The settings recorded in ``study`` that differ from ``config``, in words
    (``""`` when none do); ``label`` names the side of ``config``."""
    old = study.user_attrs.get(CONFIG_KEY, {})
    changed = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
    return "; ".join(f"{k}: study {old.get(k)!r}, {label} {config.get(k)!r}"
                     for k in changed)
