"""Metrics of decisions and scores: the same numbers as scikit-learn's."""

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from autoimb.pipeline.metrics import error_metrics, ranking_metrics


def _cases():
    rng = np.random.default_rng(0)
    for n, rate, levels in [(500, 0.05, None), (2000, 0.3, 7), (60, 0.5, 3)]:
        y = (rng.random(n) < rate).astype(int)
        scores = rng.random(n) * 0.6 + 0.4 * y
        if levels:  # many ties
            scores = np.round(scores * levels) / levels
        yield y, scores


@pytest.mark.parametrize(("y", "scores"), list(_cases()))
def test_metrics_match_scikit_learn(y, scores):
    """Check that the rates computed from counts and one sort equal
    scikit-learn's, ties and all, for decisions at several thresholds."""
    ranking = ranking_metrics(y, scores)
    assert ranking["average_precision"] == pytest.approx(
        average_precision_score(y, scores), abs=1e-12)
    assert ranking["roc_auc"] == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
    assert ranking["brier"] == pytest.approx(brier_score_loss(y, scores), abs=1e-12)
    for threshold in (0.0, 0.3, 0.5, 0.9, 2.0):
        pred = (scores >= threshold).astype(int)
        errors = error_metrics(y, pred, fp_cost=1.0, fn_cost=4.0)
        assert errors["f1"] == pytest.approx(f1_score(y, pred, zero_division=0))
        assert errors["precision"] == pytest.approx(
            precision_score(y, pred, zero_division=0))
        assert errors["recall"] == pytest.approx(recall_score(y, pred, zero_division=0))
        assert errors["balanced_accuracy"] == pytest.approx(
            balanced_accuracy_score(y, pred))
        assert errors["cost"] == errors["fp"] * 1.0 + errors["fn"] * 4.0


def test_one_class_leaves_rank_metrics_undefined():
    """Check that with one class only AP, ROC AUC and balanced accuracy are NaN
    rather than an error or a misleading number."""
    y = np.zeros(10, dtype=int)
    ranking = ranking_metrics(y, np.linspace(0, 1, 10))
    assert np.isnan(ranking["average_precision"]) and np.isnan(ranking["roc_auc"])
    errors = error_metrics(y, np.zeros(10, dtype=int), fp_cost=1.0, fn_cost=1.0)
    assert np.isnan(errors["balanced_accuracy"]) and errors["f1"] == 0.0


def test_missing_labels_are_counted_as_fit_counts_them():
    """Check that evaluate, a monitor's labelled batch and diagnose say "N
    missing label(s)" for missing labels, as fit does, where they said "y holds
    labels ['nan'] the model was not trained on" (issue 39)."""
    import re

    from sklearn.datasets import make_classification

    import autoimb
    from autoimb.exceptions import AutoImbError

    X, y = make_classification(n_samples=300, weights=[0.85], random_state=0)
    model = autoimb.fit(X, y, search_space="fast", n_trials=1, cv=2,
                        storage="memory", show_progress_bar=False)
    held = y.astype(float)
    held[[3, 7]] = np.nan
    message = re.escape("y holds 2 missing label(s) (first at row 3); drop those "
                        "rows or fill their labels.")
    with pytest.raises(AutoImbError, match=message):
        autoimb.evaluate(model, X, held)
    with pytest.raises(AutoImbError, match=message):
        autoimb.Monitor(model).check(X, held)
    with pytest.raises(AutoImbError, match=message):
        model.diagnose(X, held)
    with pytest.raises(AutoImbError, match=r"y holds labels \[7\] the model was not"):
        autoimb.evaluate(model, X, np.where(y == 1, 7, 0))
