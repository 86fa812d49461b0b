"""A fitted model in a few lines: what ``AutoImbClassifier.summary()`` and
``autoimb fit`` print."""

from __future__ import annotations

from autoimb.storage.outcomes import (
    OUTCOMES,
    count_outcomes,
    describe_outcomes,
)

__all__ = ["search_line", "summary_text"]


def summary_text(model) -> str:
    """A fitted model's outcome in a few lines: strategy, score, threshold,
    the search, the study (``AutoImbClassifier.summary``)."""
    metric = model.objective_.metric_name
    m = model.cv_metrics_
    lines = [
        f"Best strategy: {model.strategy_}",
        f"Expected {metric} on new data: {model.best_score_:.6g} (bootstrap "
        f"bias-corrected for the choice among {m['n_candidates']} candidates; "
        f"{_raw_value(model)})",
        f"Cross-validated at the threshold: normalized cost "
        f"{m['normalized_cost']:.3f}, AP {m['average_precision']:.3f}, precision "
        f"{m['precision']:.3f}, recall {m['recall']:.3f}, Brier {m['brier']:.4f}",
        f"Threshold: {model.threshold_:.4g} on the calibrated probability of "
        f"{model.pos_label_!r}",
    ]
    best = m.get("best_candidate_value")
    if best is not None and best != model.best_score_raw_:
        within = (f"{m['tolerance']:.2g} standard errors" if "tolerance" in m
                  else "noise")  # a model saved before the tolerance was kept
        lines.insert(2, f"Chosen as the {m['chosen_as']}: within {within} of "
                        f"the best candidate's cross-validated {metric} "
                        f"{best:.6g}, and simpler: among candidates within "
                        "noise of the best, the simplest is preferred")
    search = search_line(model)
    if search:
        lines.append(search)
    location = getattr(model, "storage_location_", None)
    if location:
        lines.append(f"Study {model.study_name_!r} in {location}; open it with: "
                     f"autoimb dashboard {location}")
    return "\n".join(lines)


def _raw_value(model) -> str:
    """The chosen candidate's own cross-validated value, called optimistic
    only when it is better than the bias-corrected estimate.

    >>> from types import SimpleNamespace as NS
    >>> cost = NS(objective_=NS(direction="minimize"), best_score_=1086.54,
    ...           best_score_raw_=1130.0)
    >>> _raw_value(cost)
    'its raw cross-validated value: 1130'
    >>> _raw_value(NS(objective_=cost.objective_, best_score_=1130.0,
    ...               best_score_raw_=1086.54))
    'its own cross-validated value, optimistic: 1086.54'
    """
    raw, estimate = model.best_score_raw_, model.best_score_
    better = raw < estimate if model.objective_.direction == "minimize" \
        else raw > estimate
    if better:
        return f"its own cross-validated value, optimistic: {raw:.6g}"
    return f"its raw cross-validated value: {raw:.6g}"


def search_line(model) -> str | None:
    """The search in one line: trials by outcome, who ran them and how many
    at once, on which splits, and the time the fit took against its budget."""
    results = getattr(model, "results_", None)
    if results is None or not len(results):
        return None
    outcomes = _outcomes(results)
    ended = count_outcomes(o for o in outcomes if o in OUTCOMES)
    n_ended = sum(ended.values())
    line = f"Search: {n_ended} trials ({describe_outcomes(ended)})"
    running = outcomes.count("running")  # other workers' (close waits for them)
    others = len(results) - n_ended - running
    if others:
        line += f" and {others} queued but not run"
    if running:
        line += f" ({running} still running)"
    line += _who_ran(model, results, outcomes, n_ended)
    validation = getattr(model, "validation_", None)
    if validation is not None:
        line += f", scored on {validation.describe()}"
    total = getattr(model, "fit_times_", {}).get("total")
    if total is not None:
        line += f"; fit in {total:.1f} s"
        if model.timeout is not None:
            line += f" for a budget of {model.timeout:g} s"
    return line


def _outcomes(results) -> list[str]:
    """Each trial's outcome (tables made before outcomes were: from the state)."""
    if "outcome" in results:
        return list(results["outcome"])
    by_state = {"COMPLETE": "completed", "PRUNED": "pruned", "FAIL": "failed"}
    return [by_state.get(state, "queued") for state in results["state"]]


def _who_ran(model, results, outcomes, n_ended) -> str:
    """How many trials other processes ran (``autoimb worker``, earlier fits of
    the study), and how many at once this fit ran."""
    n_jobs = getattr(model, "n_jobs_", None)
    at_once = f"{n_jobs} at a time" if n_jobs else ""
    if "by_this_run" not in results:  # a model saved before it was recorded
        return f", {at_once}" if at_once else ""
    ours = [bool(mine) for mine, outcome in zip(results["by_this_run"], outcomes,
                                                strict=True) if outcome in OUTCOMES]
    by_others = len(ours) - sum(ours)
    if not by_others:
        return f", {at_once}" if at_once else ""
    if not any(ours):  # an export, or a fit whose trials others ran
        return ", all by other processes (autoimb worker, earlier fits)"
    text = (f", {by_others} of the {n_ended} by other processes (autoimb worker, "
            "earlier fits)")
    return text + (f"; this fit ran {at_once}" if at_once else "")
