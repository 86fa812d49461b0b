import numpy as np
import pytest

from autoimb._threshold import (
    bayes_threshold,
    best_cost_threshold,
    best_f1_threshold,
    cost_curve,
)


def _brute_force_cost(y, s, fp_cost, fn_cost):
    best = np.inf
    for t in [np.inf, *np.unique(s)]:
        pred = s >= t
        best = min(best, fp_cost * np.sum(pred & (y == 0)) + fn_cost * np.sum(~pred & (y == 1)))
    return best


@pytest.mark.parametrize("seed", range(20))
def test_best_cost_matches_brute_force(seed):
    """Check that the sorted-scores threshold reaches the least cost of any cut."""
    rng = np.random.default_rng(seed)
    n = rng.integers(5, 80)
    y = (rng.random(n) < 0.2).astype(int)
    s = np.round(rng.random(n) + 0.3 * y, 1)  # rounding makes ties
    fp_cost, fn_cost = rng.uniform(0.5, 5), rng.uniform(1, 50)
    threshold, cost = best_cost_threshold(y, s, fp_cost, fn_cost)
    assert cost == pytest.approx(_brute_force_cost(y, s, fp_cost, fn_cost))
    pred = s >= threshold
    applied = fp_cost * np.sum(pred & (y == 0)) + fn_cost * np.sum(~pred & (y == 1))
    assert applied == pytest.approx(cost)


def test_threshold_lies_between_distinct_scores():
    """Check that a chosen threshold sits midway between two distinct scores."""
    threshold, cost = best_cost_threshold([0, 0, 1, 1], [0.1, 0.2, 0.6, 0.8], 1, 1)
    assert cost == 0
    assert threshold == pytest.approx(0.4)


def test_cost_curve_counts_are_cumulative():
    """Check that tp and fp grow from nothing predicted to everything predicted."""
    y = np.array([1, 0, 1, 0, 0])
    thresholds, tp, fp = cost_curve(y, np.array([0.9, 0.8, 0.7, 0.2, 0.2]))
    assert thresholds[0] == np.inf
    assert tp.tolist() == [0, 1, 1, 2, 2]
    assert fp.tolist() == [0, 0, 1, 1, 3]


def test_best_f1_threshold():
    """Check that the F1-optimal threshold separates perfectly separable scores."""
    threshold, f1 = best_f1_threshold([0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.7, 0.9])
    assert f1 == 1.0
    assert 0.3 < threshold <= 0.7


def test_bayes_threshold():
    """Check that the Bayes threshold is fp_cost / (fp_cost + fn_cost)."""
    assert bayes_threshold(10, 500) == pytest.approx(10 / 510)
