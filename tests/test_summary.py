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
