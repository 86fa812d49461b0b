"""Model families: how each is built from a strategy."""

import numpy as np
import pandas as pd

from autoimb._validation import check_frame, column_kinds
from autoimb.pipeline.models import make_model
from autoimb.pipeline.strategy import Strategy


def _frame(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "colour": rng.choice(["red", "green", "blue"], n),
        "code": [f"c{i}" for i in rng.integers(0, 1000, n)],  # many values
        "x": rng.normal(size=n),
    })
    y = ((frame.colour == "red") & (frame.x > 0.5)).astype(int).to_numpy()
    return check_frame(frame), y


def test_hist_gradient_boosting_splits_few_valued_categories_natively():
    """Check that HistGradientBoosting treats categorical columns with few values
    as categories (not ordinal codes), and those with hundreds as numbers."""
    frame, _ = _frame()
    kinds = column_kinds(frame)
    model = make_model("hist_gradient_boosting", {}, kinds=kinds)
    assert kinds.categorical == ("colour", "code")
    assert model.categorical_features == [0]
    assert model.early_stopping is False


def test_smote_on_categories_then_native_splits_fit():
    """Check that SMOTE on ordinal codes followed by native categorical splits
    fits and predicts (interpolated codes are snapped to codes)."""
    frame, y = _frame(seed=1)
    pipeline = Strategy("hist_gradient_boosting", {"max_iter": 20}, resampler="smote",
                        sampling_ratio=0.8, k_neighbors=3).make_pipeline(
        column_kinds(frame), random_state=0)
    pipeline.fit(frame, y)
    assert pipeline.predict_proba(frame).shape == (len(frame), 2)


def test_forests_on_many_rows_draw_a_capped_sample_per_tree():
    """Check that above 100,000 rows a random forest's and extra trees' trees draw
    a bootstrap sample of FOREST_ROWS rows, and below that all rows."""
    from dataclasses import replace

    from autoimb.pipeline.models import FOREST_ROWS

    frame, _ = _frame()
    kinds = column_kinds(frame)
    big = replace(kinds, n_rows=300_000)
    for name in ("random_forest", "extra_trees"):
        model = make_model(name, {}, kinds=big)
        assert model.bootstrap and model.max_samples == FOREST_ROWS
        assert make_model(name, {}, kinds=kinds).max_samples is None


def test_weighted_hist_gradient_boosting_bins_without_the_weights():
    """Check that class-weighted HistGradientBoosting finds its bins as an
    unweighted one does (scikit-learn's weighted binning costs about 0.2 s per
    feature and fit), while the weights still weigh its loss."""
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier

    from autoimb._sklearn_compat import WEIGHTED_BINNING

    X, y = make_classification(n_samples=400, n_features=5, weights=[0.9],
                               random_state=0)
    frame = check_frame(pd.DataFrame(X, columns=list("abcde")))
    weighted = make_model("hist_gradient_boosting", {"max_iter": 5},
                          weighting="balanced", kinds=column_kinds(frame))
    weighted.fit(X, y)
    plain = HistGradientBoostingClassifier(max_iter=5, early_stopping=False,
                                           random_state=0).fit(X, y)
    for ours, unweighted in zip(weighted._bin_mapper.bin_thresholds_,
                                plain._bin_mapper.bin_thresholds_, strict=True):
        np.testing.assert_array_equal(ours, unweighted)
    if WEIGHTED_BINNING:  # scikit-learn's own class weighs them
        sklearns = HistGradientBoostingClassifier(
            max_iter=5, early_stopping=False, class_weight="balanced",
            random_state=0).fit(X, y)
        assert any(len(a) != len(b) or not np.allclose(a, b) for a, b in zip(
            weighted._bin_mapper.bin_thresholds_,
            sklearns._bin_mapper.bin_thresholds_, strict=True))
    # The weights still weigh the loss: positives get higher probabilities.
    assert (weighted.predict_proba(X)[y == 1, 1].mean()
            > plain.predict_proba(X)[y == 1, 1].mean() + 0.1)
