"""The odds correction after resampling and class weights."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification

from autoimb._validation import check_frame, column_kinds
from autoimb.pipeline.prior import correct_odds, odds_factor
from autoimb.pipeline.strategy import Strategy


@pytest.mark.parametrize(("weighting", "positive_weight", "after", "expected"), [
    ("none", None, (900, 100), 1.0),
    ("none", None, (900, 900), 9.0),        # over-sampled to balance
    ("none", None, (100, 100), 9.0),        # under-sampled to balance
    ("balanced", None, (900, 100), 9.0),
    ("balanced", None, (900, 450), 9.0),    # resampled, then balanced by weights
    ("custom", 4.0, (900, 100), 4.0),
    ("scale_pos_weight", 3.0, (900, 300), 9.0),
])
def test_odds_factor(weighting, positive_weight, after, expected):
    """Check the factor by which training inflated the positive class's odds."""
    factor = odds_factor(weighting=weighting, positive_weight=positive_weight,
                         before=(900, 100), after=after, balances_itself=False)
    assert factor == pytest.approx(expected)


def test_correct_odds_inverts_the_inflation():
    """Check that correcting by w undoes multiplying the odds by w."""
    p = np.array([0.01, 0.2, 0.5, 0.9])
    inflated = correct_odds(p, 1 / 7.0)
    assert np.allclose(correct_odds(inflated, 7.0), p)


@pytest.mark.parametrize("strategy", [
    Strategy("logistic_regression", {"C": 1.0}, resampler="random_over",
             sampling_ratio=1.0),
    Strategy("logistic_regression", {"C": 1.0}, weighting="balanced"),
    Strategy("balanced_random_forest", {"n_estimators": 50, "min_samples_leaf": 5}),
])
def test_resampled_and_weighted_pipelines_predict_the_real_base_rate(strategy):
    """Check that a strategy trained on balanced classes (over-sampling, weights, a
    balanced ensemble) predicts probabilities whose mean is near the real positive
    rate, not near one half."""
    X, y = make_classification(n_samples=6000, n_features=8, n_informative=3,
                               weights=[0.94], flip_y=0.05, random_state=0)
    frame = check_frame(pd.DataFrame(X))
    pipeline = strategy.make_pipeline(column_kinds(frame), random_state=0)
    pipeline.fit(frame.iloc[:4000], y[:4000])
    p = pipeline.predict_proba(frame.iloc[4000:])[:, 1]
    raw = pipeline.pipeline_.predict_proba(frame.iloc[4000:])[:, 1]
    rate = y[4000:].mean()
    assert pipeline.odds_factor_ > 5
    assert raw.mean() > 0.2  # what it would say without the correction
    assert abs(p.mean() - rate) < 0.04
    assert abs(p.mean() - rate) < abs(raw.mean() - rate) / 5
