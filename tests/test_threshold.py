import numpy as np
import pytest

from autoimb.pipeline.threshold import (
    bayes_threshold,
    best_cost_threshold,
    best_f1_threshold,
    best_threshold,
    cost_curve,
    cost_loss,
)


def _brute_force_cost(y, s, fp_cost, fn_cost):
    best = np.inf
    for t in [np.inf, *np.unique(s)]:
        pred = s >= t
        cost = fp_cost * np.sum(pred & (y == 0)) + fn_cost * np.sum(~pred & (y == 1))
        best = min(best, cost)
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


def test_ties_choose_the_middle_of_the_plateau():
    """Check that among cuts of equal least cost the middle one is chosen, not the
    first (the highest threshold, on the side of the expensive false negatives)."""
    # With fp_cost = fn_cost, alternating labels make three cuts of cost 2.
    y = np.array([0, 0, 1, 0, 1, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    thresholds, tp, fp = cost_curve(y, s)
    cost = fp * 1.0 + (tp[-1] - tp) * 1.0
    ties = thresholds[cost == cost.min()]
    threshold, best = best_cost_threshold(y, s, 1.0, 1.0)
    assert best == cost.min() and len(ties) == 3
    assert threshold == pytest.approx(np.sort(ties)[1])


def test_a_wide_gap_puts_the_cut_near_the_cheap_errors():
    """Check that when positives rank above every negative with a wide gap and a
    missed positive costs 20 false alarms, the cut sits at 1/21 of the gap above
    the highest negative (where a linearly rising probability would cross the
    Bayes threshold), not midway, so that new positives scoring a little lower
    than the training ones are still caught."""
    rng = np.random.default_rng(0)
    negatives = rng.uniform(0.0, 0.2, size=400)
    positives = rng.uniform(0.6, 1.0, size=20)
    y = np.r_[np.zeros(400, dtype=int), np.ones(20, dtype=int)]
    s = np.r_[negatives, positives]
    low, high = negatives.max(), positives.min()
    midway, _ = best_threshold(y, s, cost_loss(1.0, 20.0))
    cut, cost = best_threshold(y, s, cost_loss(1.0, 20.0), position=1 / 21)
    assert cost == 0 and midway == pytest.approx((low + high) / 2)
    assert cut == pytest.approx(low + (high - low) / 21)


def test_objective_tunes_cost_thresholds_at_the_bayes_position():
    """Check that the cost objective's tuned threshold uses the cost-aware
    position, and the F1 threshold the middle."""
    from autoimb.pipeline.objective import Objective

    y = np.array([0, 0, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.7, 0.9])
    assert Objective("cost", 1.0, 9.0).tune_threshold(y, s) == pytest.approx(0.34)
    f1 = Objective("average_precision", 1.0, 1.0, costs_given=False)
    assert f1.tune_threshold(y, s) == pytest.approx(0.5)


def test_weights_count_rows():
    """Check that the counts and the best threshold of distinct rows weighted
    by their counts are those of the repeated rows."""
    rng = np.random.default_rng(3)
    s = rng.choice([0.1, 0.25, 0.4, 0.6, 0.8], size=300)
    y = (rng.random(300) < s).astype(int)
    keys, counts = np.unique(np.c_[s, y], axis=0, return_counts=True)
    ks, ky = keys[:, 0], keys[:, 1].astype(int)
    t1, tp1, fp1 = cost_curve(y, s)
    t2, tp2, fp2 = cost_curve(ky, ks, sample_weight=counts)
    np.testing.assert_array_equal(t1, t2)
    np.testing.assert_array_equal(tp1, tp2)
    np.testing.assert_array_equal(fp1, fp2)
    loss = cost_loss(1.0, 4.0)
    assert best_threshold(ky, ks, loss, sample_weight=counts) == \
        best_threshold(y, s, loss)
