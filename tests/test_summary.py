"""Tests of the fit summary (autoimb.explain.summary)."""

from types import SimpleNamespace

import pandas as pd

from autoimb.explain.summary import search_line, summary_text


def _model(estimate, raw, direction="minimize", **attrs):
    metrics = {"n_candidates": 12, "normalized_cost": 0.4, "average_precision": 0.5,
               "precision": 0.3, "recall": 0.6, "brier": 0.01}
    metric = "cost" if direction == "minimize" else "average_precision"
    return SimpleNamespace(
        objective_=SimpleNamespace(metric_name=metric, direction=direction),
        cv_metrics_=metrics, strategy_="LightGBM, no resampling", best_score_=estimate,
        best_score_raw_=raw, threshold_=0.1, pos_label_=1, **attrs)


def test_the_raw_value_is_called_optimistic_only_when_it_is_better():
    """Check that the summary calls the raw cross-validated value optimistic
    only when it is better than the bias-corrected estimate (issue 39: a cost
    of 1130 was called optimistic beside an estimate of 1086.54)."""
    text = summary_text(_model(1086.54, 1130.0))
    assert "optimistic" not in text
    assert "Expected cost on new data: 1086.54 (" in text
    assert "its raw cross-validated value: 1130)" in text
    text = summary_text(_model(1130.0, 1086.54))
    assert "its own cross-validated value, optimistic: 1086.54)" in text
    ap = summary_text(_model(0.40, 0.45, direction="maximize"))
    assert "optimistic: 0.45)" in ap
    ap = summary_text(_model(0.45, 0.40, direction="maximize"))
    assert "optimistic" not in ap


def _results(outcomes, workers, own):
    by_outcome = {"completed": "COMPLETE", "pruned": "PRUNED", "stopped": "PRUNED",
                  "skipped": "PRUNED", "failed": "FAIL", "queued": "WAITING"}
    return pd.DataFrame({"state": [by_outcome[o] for o in outcomes],
                         "outcome": outcomes, "worker": workers,
                         "by_this_run": [worker in own for worker in workers]})


def test_the_search_line_counts_trials_by_outcome():
    """Check that the summary tells skipped (never started) and stopped (cut by
    the budget, or at the deadline) trials from pruned and failed ones, where it
    said "61 trials (15 completed, 45 pruned, 1 failed)" (issue 39)."""
    outcomes = (["completed"] * 15 + ["pruned"] * 2 + ["skipped"] * 44
                + ["stopped"] + ["queued"])
    model = _model(1.0, 1.0, n_jobs_=2,
                   results_=_results(outcomes, ["h:1"] * 62 + [None], ["h:1"]))
    assert search_line(model) == (
        "Search: 62 trials (15 completed, 2 pruned, 44 skipped, 1 stopped) and 1 "
        "queued but not run, 2 at a time")


def test_the_search_line_counts_the_trials_other_processes_ran():
    """Check that the summary says how many trials other processes (an
    `autoimb worker`) ran, where it said "1 at a time" while a worker ran 5 of
    the study's 7 trials (issue 39)."""
    model = _model(1.0, 1.0, n_jobs_=1, results_=_results(
        ["completed"] * 7, ["h:1", "h:2"] + ["w:9"] * 5, ["h:1", "h:2"]))
    assert search_line(model) == (
        "Search: 7 trials (7 completed), 5 of the 7 by other processes (autoimb "
        "worker, earlier fits); this fit ran 1 at a time")
    alone = _model(1.0, 1.0, n_jobs_=1, results_=_results(
        ["completed"] * 7, ["w:9"] * 7, ["h:1"]))
    assert search_line(alone) == (
        "Search: 7 trials (7 completed), all by other processes (autoimb worker, "
        "earlier fits)")
