import numpy as np
import pytest
from sklearn.metrics import brier_score_loss

from autoimb.pipeline.calibration import make_calibrator


@pytest.fixture
def miscalibrated():
    rng = np.random.default_rng(0)
    true_p = rng.uniform(0.01, 0.3, size=4000)
    y = (rng.random(4000) < true_p).astype(int)
    scores = np.sqrt(true_p)  # over-confident, as after over-sampling
    return scores, y


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_calibration_lowers_brier(miscalibrated, method):
    """Check that sigmoid and isotonic calibration fix over-confident scores."""
    scores, y = miscalibrated
    calibrated = make_calibrator(method).fit(scores, y).transform(scores)
    assert brier_score_loss(y, calibrated) < brier_score_loss(y, scores) - 0.005
    assert calibrated.min() >= 0 and calibrated.max() <= 1


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_calibration_is_monotone(miscalibrated, method):
    """Check that calibration never reverses the order of two scores."""
    scores, y = miscalibrated
    calibrator = make_calibrator(method).fit(scores, y)
    grid = np.linspace(0, 1, 101)
    assert np.all(np.diff(calibrator.transform(grid)) >= -1e-12)


def test_none_is_identity(miscalibrated):
    """Check that 'none' leaves scores unchanged."""
    scores, y = miscalibrated
    calibrated = make_calibrator("none").fit(scores, y).transform(scores)
    assert np.array_equal(calibrated, scores)


@pytest.mark.parametrize("n_rows", [4000, 60_000])
def test_sigmoid_matches_a_logistic_regression_on_platt_targets(n_rows):
    """Check that the Newton fit finds the maximum-likelihood Platt parameters
    (compared with scikit-learn's solver on the same smoothed targets, on every
    row), also when it pools many rows into runs of neighbouring scores."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    true_p = rng.uniform(0.01, 0.3, size=n_rows)
    y = (rng.random(n_rows) < true_p).astype(int)
    scores = np.sqrt(true_p)
    calibrator = make_calibrator("sigmoid").fit(scores, y)
    n_pos, n_neg = y.sum(), len(y) - y.sum()
    targets = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    z = np.log(scores / (1 - scores)).reshape(-1, 1)
    # soft targets as two weighted copies of every row
    model = LogisticRegression(C=1e10, tol=1e-10, max_iter=10000).fit(
        np.vstack([z, z]), np.r_[np.ones(len(y)), np.zeros(len(y))],
        sample_weight=np.r_[targets, 1 - targets])
    assert calibrator.coef_ == pytest.approx(model.coef_[0, 0], rel=1e-3)
    assert calibrator.intercept_ == pytest.approx(model.intercept_[0], rel=1e-3)


def test_sigmoid_with_one_class_is_identity():
    """Check that a sigmoid fitted on one class only leaves scores alone."""
    calibrator = make_calibrator("sigmoid").fit(np.array([0.2, 0.4]), np.array([0, 0]))
    assert calibrator.transform(np.array([0.3]))[0] == pytest.approx(0.3)


@pytest.mark.parametrize("method", ["none", "sigmoid", "isotonic"])
def test_weights_count_rows(method):
    """Check that a calibrator fitted on distinct rows weighted by their counts
    equals the one fitted on the repeated rows."""
    rng = np.random.default_rng(1)
    scores = rng.choice(np.linspace(0.02, 0.9, 12), size=600)
    y = (rng.random(600) < scores * 0.5).astype(int)
    keys, counts = np.unique(np.c_[scores, y], axis=0, return_counts=True)
    repeated = make_calibrator(method).fit(scores, y)
    weighted = make_calibrator(method).fit(keys[:, 0], keys[:, 1].astype(int),
                                           sample_weight=counts)
    grid = np.linspace(0.01, 0.95, 40)
    np.testing.assert_allclose(weighted.transform(grid), repeated.transform(grid),
                               atol=1e-7)


def test_sigmoid_on_tied_scores_is_the_likelihood_fit_once_merged():
    """Check that on 200,000 rows with few distinct scores, the fit on the
    merged rows is the maximum-likelihood fit of every row (pooling the rows
    in runs of equal size is off by more than 1e-3 there)."""
    from autoimb.pipeline import calibration as _calibration

    rng = np.random.default_rng(0)
    y = (rng.random(200_000) < 0.004).astype(int)
    scores = np.round(1 / (1 + np.exp(-(4 * y + rng.normal(size=200_000) - 5))), 3)
    keys, counts = np.unique(np.c_[scores, y], axis=0, return_counts=True)
    merged = make_calibrator("sigmoid").fit(keys[:, 0], keys[:, 1].astype(int),
                                            sample_weight=counts)
    pooled = make_calibrator("sigmoid").fit(scores, y)
    _calibration._SIGMOID_POOLS, pools = 10**9, _calibration._SIGMOID_POOLS
    try:
        exact = make_calibrator("sigmoid").fit(scores, y)
    finally:
        _calibration._SIGMOID_POOLS = pools
    grid = np.linspace(0.001, 0.999, 200)
    assert np.abs(merged.transform(grid) - exact.transform(grid)).max() < 1e-6
    assert np.abs(pooled.transform(grid) - exact.transform(grid)).max() > 1e-3
