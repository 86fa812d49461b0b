import numpy as np
import pytest

from autoimb._threshold import (
    bayes_threshold,
    best_cost_threshold,
    best_f1_threshold,
    cost_curve,
    cost_loss,
    f1_loss,
    stable_threshold,
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


def test_stable_threshold_generalises_at_least_as_well_as_the_exact_minimum():
    """Check that on small samples (400 rows, 20 positives) the bootstrap median
    threshold costs no more on fresh rows than the exact minimum of the sample,
    on average, and varies less from sample to sample."""
    rng = np.random.default_rng(0)

    def sample(n):
        y = (rng.random(n) < 0.05).astype(int)
        return y, 1 / (1 + np.exp(-(2.0 * y + rng.normal(size=n) - 3)))

    y_new, s_new = sample(100_000)

    def cost(t):
        pred = s_new >= t
        return np.sum(pred & (y_new == 0)) + 19.0 * np.sum(~pred & (y_new == 1))

    exact, stable = [], []
    for _ in range(60):
        y, s = sample(400)
        exact.append(cost(best_cost_threshold(y, s, 1.0, 19.0)[0]))
        stable.append(cost(stable_threshold(y, s, cost_loss(1.0, 19.0))))
    assert np.mean(stable) <= np.mean(exact)
    assert np.std(stable) <= np.std(exact)


def test_stable_threshold_finds_a_sharp_minimum():
    """Check that with plenty of rows the stable threshold is near the exact best
    cut, and costs about as little on the same rows."""
    rng = np.random.default_rng(3)
    y = (rng.random(20000) < 0.1).astype(int)
    s = 1 / (1 + np.exp(-(3 * y + rng.normal(size=20000) - 2)))
    exact, best = best_cost_threshold(y, s, 1.0, 9.0)
    t = stable_threshold(y, s, cost_loss(1.0, 9.0))
    pred = s >= t
    cost = np.sum(pred & (y == 0)) + 9.0 * np.sum(~pred & (y == 1))
    assert abs(t - exact) < 0.05
    assert cost <= best * 1.02


def test_stable_threshold_is_deterministic_and_handles_nothing_to_find():
    """Check that the same rows give the same threshold, and that with no positive
    the threshold predicts nothing positive."""
    rng = np.random.default_rng(1)
    y = (rng.random(300) < 0.2).astype(int)
    s = rng.random(300)
    loss = cost_loss(1.0, 4.0)
    assert stable_threshold(y, s, loss) == stable_threshold(y, s, loss)
    assert stable_threshold(np.zeros(50, dtype=int), s[:50], loss) == np.inf
    assert stable_threshold(y, s, f1_loss) <= s.max()
