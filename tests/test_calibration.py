import numpy as np
import pytest
from sklearn.metrics import brier_score_loss

from autoimb._calibration import make_calibrator


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
    assert np.array_equal(make_calibrator("none").fit(scores, y).transform(scores), scores)
