"""How each trial of a study ended, in autoimb's words rather than Optuna's.

Optuna knows three ends of a trial: COMPLETE, PRUNED and FAIL. autoimb prunes
trials for reasons that have nothing to do with doing badly, and fails some that
raised no error, so each trial records its *outcome* as a user attribute
(:data:`OUTCOME_KEY`) where it ends:

``completed``
    every fold was scored; the trial has a value (Optuna: COMPLETE).
``pruned``
    stopped by the pruner between folds because it was doing worse than the
    trials before it (Optuna: PRUNED).
``stopped``
    cut by the time budget between or inside its folds, or interrupted by
    SIGTERM or Ctrl-C (then queued again) (Optuna: PRUNED, or FAIL when
    interrupted).
``skipped``
    never started: the time left or the memory left could not hold it
    (Optuna: PRUNED).
``failed``
    raised an error, or its process died (Optuna: FAIL).

Optuna's states stay as they are. A trial recorded without an outcome (by an
older autoimb) gets the one its state implies.
"""

from __future__ import annotations

from collections.abc import Iterable

from optuna.trial import TrialState

__all__ = ["OUTCOMES", "OUTCOME_KEY", "count_outcomes", "describe_outcomes",
           "outcome_of", "record_outcome"]

#: The trial user attribute that holds the outcome.
OUTCOME_KEY = "autoimb.outcome"

#: The outcomes of a trial that ended, in the order summaries list them.
OUTCOMES = ("completed", "pruned", "stopped", "skipped", "failed")

_BY_STATE = {TrialState.COMPLETE: "completed", TrialState.PRUNED: "pruned",
             TrialState.FAIL: "failed", TrialState.RUNNING: "running",
             TrialState.WAITING: "queued"}


def record_outcome(trial, outcome: str) -> None:
    """Record how ``trial`` (a live :class:`optuna.Trial`) ends."""
    if outcome not in OUTCOMES:
        raise ValueError(f"Unknown trial outcome {outcome!r}; known: {OUTCOMES}.")
    trial.set_user_attr(OUTCOME_KEY, outcome)


def outcome_of(trial) -> str:
    """How ``trial`` (a FrozenTrial) ended: one of :data:`OUTCOMES`, or
    ``"running"`` / ``"queued"`` for a trial that has not.

    The recorded outcome counts only once the trial has ended as it says: a
    trial that recorded "completed" and then failed storing its value failed.

    Examples
    --------
    >>> from optuna.trial import create_trial
    >>> outcome_of(create_trial(state=TrialState.PRUNED))
    'pruned'
    >>> outcome_of(create_trial(state=TrialState.PRUNED,
    ...                         user_attrs={OUTCOME_KEY: "skipped"}))
    'skipped'
    """
    state = trial.state
    if not state.is_finished():
        return _BY_STATE.get(state, state.name.lower())
    recorded = trial.user_attrs.get(OUTCOME_KEY)
    if recorded == "completed" and state != TrialState.COMPLETE:
        recorded = None
    if recorded in OUTCOMES and (recorded != "failed" or state == TrialState.FAIL):
        return recorded
    return _BY_STATE[state]


def count_outcomes(outcomes: Iterable[str]) -> dict[str, int]:
    """How many of ``outcomes`` are each of :data:`OUTCOMES` (all of them
    listed, in order), then any other (``"running"``, ``"queued"``).

    >>> count_outcomes(["skipped", "completed", "skipped", "queued"])
    {'completed': 1, 'pruned': 0, 'stopped': 0, 'skipped': 2, 'failed': 0, 'queued': 1}
    """
    counts = dict.fromkeys(OUTCOMES, 0)
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def describe_outcomes(counts: dict[str, int], *,
                      always: str | None = "completed") -> str:
    """Counts of outcomes in words: ``always`` even when none, the others
    when any.

    >>> describe_outcomes({"completed": 15, "pruned": 2, "stopped": 1,
    ...                    "skipped": 44, "failed": 0})
    '15 completed, 2 pruned, 44 skipped, 1 stopped'
    >>> describe_outcomes({"completed": 0, "failed": 3}, always=None)
    '3 failed'
    """
    order = ("completed", "pruned", "skipped", "stopped", "failed")
    words = [f"{counts.get(outcome, 0)} {outcome}" for outcome in order
             if outcome == always or counts.get(outcome, 0)]
    return ", ".join(words)
