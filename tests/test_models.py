"""Model families: how each is built from a strategy."""

import numpy as np
import pandas as pd

from autoimb._models import make_model
from autoimb._strategy import Strategy
from autoimb._validation import check_frame, column_kinds


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

    from autoimb._models import FOREST_ROWS

    frame, _ = _frame()
    kinds = column_kinds(frame)
    big = replace(kinds, n_rows=300_000)
    for name in ("random_forest", "extra_trees"):
        model = make_model(name, {}, kinds=big)
        assert model.bootstrap and model.max_samples == FOREST_ROWS
        assert make_model(name, {}, kinds=kinds).max_samples is None
