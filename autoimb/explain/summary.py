"""A fitted model in a few lines: what ``AutoImbClassifier.summary()`` and
``autoimb fit`` print."""

from __future__ import annotations

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
    """The search in one line: trials by state, how many at once, on which
    splits, and the time the fit took against its budget."""
    results = getattr(model, "results_", None)
    if results is None or not len(results):
        return None
    states = results["state"].value_counts()
    ended = {word: int(states.get(state, 0)) for state, word in
             (("COMPLETE", "completed"), ("PRUNED", "pruned"), ("FAIL", "failed"))}
    counts = ", ".join(f"{n} {word}" for word, n in ended.items())
    line = f"Search: {sum(ended.values())} trials ({counts})"
    others = len(results) - sum(ended.values())
    if others:
        line += f" and {others} queued but not run"
    n_jobs = getattr(model, "n_jobs_", None)
    if n_jobs:
        line += f", {n_jobs} at a time"
    validation = getattr(model, "validation_", None)
    if validation is not None:
        line += f", scored on {validation.describe()}"
    total = getattr(model, "fit_times_", {}).get("total")
    if total is not None:
        line += f"; fit in {total:.1f} s"
        if model.timeout is not None:
            line += f" for a budget of {model.timeout:g} s"
    return line
