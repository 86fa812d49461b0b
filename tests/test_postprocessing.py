"""Choosing the calibrator and the threshold rule from labelled scores."""

import numpy as np
import pytest

from autoimb.pipeline.objective import Objective
from autoimb.pipeline.postprocessing import CALIBRATIONS, PostProcessor, inner_groups


def _log_loss(y, p):
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return -np.mean(np.where(y == 1, np.log(p), np.log(1 - p)))


@pytest.fixture
def overconfident():
    """Scores that put far too much mass near 1, as an over-sampled model does."""
    rng = np.random.default_rng(0)
    true_p = rng.uniform(0.005, 0.25, size=3000)
    y = (rng.random(3000) < true_p).astype(int)
    return np.sqrt(true_p), y


def test_chooses_a_calibrator_that_fixes_overconfident_scores(overconfident):
    """Check that over-confident scores get a calibrator, and that the chosen
    probabilities have a lower log loss than the raw scores."""
    scores, y = overconfident
    post = PostProcessor(Objective("cost", 1.0, 10.0)).fit(scores, y)
    assert post.calibration_ in ("sigmoid", "isotonic")
    assert _log_loss(y, post.transform(scores)) < _log_loss(y, scores) - 0.05


def test_keeps_no_calibration_when_scores_are_calibrated():
    """Check that scores that are already probabilities keep 'none' when it is
    offered first and nothing does clearly better."""
    rng = np.random.default_rng(1)
    p = rng.uniform(0.01, 0.5, size=5000)
    y = (rng.random(5000) < p).astype(int)
    post = PostProcessor(Objective("cost", 1.0, 5.0), ("none", "sigmoid")).fit(p, y)
    assert _log_loss(y, post.transform(p)) <= _log_loss(y, p) + 0.002


def test_bayes_rule_refused_on_uncalibrated_scores(overconfident):
    """Check that with calibration forbidden, over-confident scores keep the tuned
    threshold: the Bayes threshold assumes probabilities, and would predict far
    too many positives."""
    scores, y = overconfident
    objective = Objective("cost", 1.0, 10.0)
    post = PostProcessor(objective, ("none",)).fit(scores, y)
    assert post.rule_ == "tuned"
    assert post.threshold_ > objective.bayes_threshold + 0.1


def test_bayes_rule_needs_costs():
    """Check that the average-precision objective without costs always tunes the
    threshold (for F1): there is no Bayes threshold without costs."""
    rng = np.random.default_rng(2)
    p = rng.uniform(0.01, 0.5, size=2000)
    y = (rng.random(2000) < p).astype(int)
    objective = Objective("average_precision", 1.0, 1.0, costs_given=False)
    assert PostProcessor(objective).fit(p, y).rule_ == "tuned"


def test_inner_groups_are_stratified_and_deterministic():
    """Check that rows without usable groups are dealt into three groups with
    the same share of positives, the same way every time."""
    rng = np.random.default_rng(3)
    y = (rng.random(300) < 0.1).astype(int)
    scores = rng.random(300)
    groups = inner_groups(y, scores)
    assert set(groups) == {0, 1, 2}
    assert np.array_equal(groups, inner_groups(y, scores))
    positives = [int(y[groups == g].sum()) for g in range(3)]
    assert max(positives) - min(positives) <= 1
    given = np.arange(300) % 4
    assert np.array_equal(inner_groups(y, scores, given), given)


def test_describe_names_both_choices(overconfident):
    """Check that the choices read as words."""
    scores, y = overconfident
    post = PostProcessor(Objective("cost", 1.0, 10.0)).fit(scores, y)
    assert post.describe().startswith(CALIBRATIONS[post.calibration_])


def test_weighted_rows_need_groups():
    """Check that weighted entries without groups are refused: the groups dealt
    otherwise would be groups of entries, not of rows."""
    with pytest.raises(ValueError, match="groups"):
        PostProcessor(Objective("cost", 1.0, 5.0)).fit(
            [0.1, 0.9], [0, 1], sample_weight=[3, 1])
