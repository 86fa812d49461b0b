import numpy as np
import pytest

from autoimb.pipeline.resampling import RESAMPLERS, AdaptiveResampler
from autoimb.pipeline.strategy import Strategy


@pytest.fixture
def fold():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 4))
    y = (rng.random(1000) < 0.05).astype(int)
    return X, y


@pytest.mark.parametrize("method", ["random_over", "smote", "borderline_smote",
                                    "random_under"])
def test_ratio_is_reached(fold, method):
    """Check that over- and under-samplers reach the minority/majority ratio asked."""
    X, y = fold
    sampler = AdaptiveResampler(method, sampling_ratio=0.5, k_neighbors=5,
                                random_state=0)
    _, y_res = sampler.fit_resample(X, y)
    assert np.sum(y_res == 1) / np.sum(y_res == 0) == pytest.approx(0.5, abs=0.01)
    counts = (int(np.sum(y_res == 0)), int(np.sum(y_res == 1)))
    assert sampler.summary_["after"] == counts


def test_ratio_below_the_folds_own_leaves_it(fold):
    """Check that a ratio at or below the fold's own is not an error: the fold is
    left as it is, and the summary says why."""
    X, y = fold
    sampler = AdaptiveResampler("smote", sampling_ratio=0.01, k_neighbors=5)
    X_res, y_res = sampler.fit_resample(X, y)
    assert X_res is X and y_res is y
    assert "below the fold's own" in sampler.summary_["adapted"]


def test_k_neighbors_shrinks_to_the_minority(fold):
    """Check that k_neighbors larger than the minority rows allow is lowered."""
    X, y = fold
    keep = np.flatnonzero(y == 0)[:300].tolist() + np.flatnonzero(y == 1)[:4].tolist()
    sampler = AdaptiveResampler("smote", sampling_ratio=0.5, k_neighbors=10,
                                random_state=0)
    _, y_res = sampler.fit_resample(X[keep], y[keep])
    assert "lowered to 3" in sampler.summary_["adapted"]
    assert np.sum(y_res == 1) == 150


def test_adasyn_that_adds_nothing_leaves_the_fold(fold):
    """Check that ADASYN at a ratio just above the fold's own, where it would add
    no row, leaves the fold instead of failing the trial."""
    X, y = fold
    ratio = np.sum(y == 1) / np.sum(y == 0) + 0.002
    sampler = AdaptiveResampler("adasyn", sampling_ratio=ratio, k_neighbors=15,
                                random_state=0)
    _, y_res = sampler.fit_resample(X, y)
    assert len(y_res) == len(y)
    assert "adds no row" in sampler.summary_["adapted"]


def test_every_resampler_has_a_label():
    """Check that each resampler says in words what it does."""
    assert all(info.label for info in RESAMPLERS.values())


def test_interpolated_category_codes_are_snapped_to_a_code():
    """Check that SMOTE's interpolated rows get whole category codes in the
    categorical columns (a model splitting categories natively needs codes)."""
    from autoimb.pipeline.resampling import AdaptiveResampler

    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, 4, 200).astype(float), rng.normal(size=200)])
    y = (rng.random(200) < 0.1).astype(int)
    X_res, _ = AdaptiveResampler("smote", sampling_ratio=1.0, k_neighbors=3,
                                 categorical_features=[0],
                                 random_state=0).fit_resample(X, y)
    assert len(X_res) > len(X)
    assert np.array_equal(X_res[:, 0], np.round(X_res[:, 0]))
    assert not np.array_equal(X_res[:, 1], np.round(X_res[:, 1]))


def test_a_resampler_that_left_the_rows_as_is_is_named_by_what_it_did(fold):
    """Check that a strategy whose resampler left every fold as it was is named
    "no resampling (...)", not by the resampler asked for, and its applied
    resampler is none (issue 39)."""
    X, y = fold
    sampler = AdaptiveResampler("random_over", sampling_ratio=0.01)
    sampler.fit_resample(X, y)
    strategy = Strategy("lightgbm", resampler="random_over", sampling_ratio=0.01)
    done = [sampler.summary_, sampler.summary_]
    assert strategy.describe(done) == (
        "LightGBM, no resampling (random over-sampling to ratio 0.01 left the rows "
        "as is: the data's own ratio is at or above it)")
    assert strategy.resampler_applied(done) == "none"
    assert strategy.describe() == "LightGBM, random over-sampling to ratio 0.01"
    resampled = AdaptiveResampler("random_over", sampling_ratio=0.5)
    resampled.fit_resample(X, y)
    assert strategy.resampler_applied([resampled.summary_]) == "random_over"
    assert "in 1 of 2 folds" in strategy.describe([resampled.summary_,
                                                   sampler.summary_])


def test_a_cleaning_that_removed_no_row_counts_as_left_as_is():
    """Check that Tomek links removal on classes far apart (no link to
    remove) is recorded as having left the rows as they were."""
    X = np.vstack([np.zeros((50, 2)), np.full((5, 2), 100.0)])
    X = X + np.random.default_rng(0).normal(scale=0.1, size=X.shape)
    y = np.array([0] * 50 + [1] * 5)
    sampler = AdaptiveResampler("tomek_links")
    sampler.fit_resample(X, y)
    assert sampler.summary_["left_as_is"] == "it found no row to add or remove"
    assert Strategy("lightgbm", resampler="tomek_links").resampler_applied(
        [sampler.summary_]) == "none"
