"""Honest evaluation: no stage is fitted, or chosen, on the rows that score it.

The first test instruments the resampler and the model and records the rows they
were fitted on. The others are black-box: the labels of one fold's rows are
changed, and that fold's out-of-fold scores, probabilities and decisions must not
move. Every stage that looked at those labels (a threshold tuned on all rows, a
calibrator or a rule chosen on all rows) would make them move.
"""

import numpy as np
import pandas as pd
import pytest
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import Pipeline
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import StratifiedKFold

from autoimb._validation import check_frame, column_kinds
from autoimb.pipeline.evaluation import cross_fit_postprocessing, out_of_fold_scores
from autoimb.pipeline.objective import Objective
from autoimb.pipeline.postprocessing import CALIBRATIONS
from autoimb.pipeline.strategy import Strategy

N = 300


class RecordingSampler(BaseEstimator):
    """Over-samples and records the row ids it was fitted on."""

    def __init__(self, log=None):
        self.log = log

    def fit_resample(self, X, y):
        self.log.append(("resampler", set(X["row_id"].astype(int))))
        sampler = RandomOverSampler(sampling_strategy=0.5, random_state=0)
        return sampler.fit_resample(X, y)


class RecordingModel(ClassifierMixin, BaseEstimator):
    """Scores rows by their signal, with the row id in the last decimals."""

    def __init__(self, log=None):
        self.log = log

    def fit(self, X, y):
        self.log.append(("model", set(X["row_id"].astype(int))))
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        p = 1 / (1 + np.exp(-X["signal"].to_numpy()))
        p = 0.9 * p + X["row_id"].to_numpy() * 1e-6  # unique, maps back to the row
        return np.column_stack([1 - p, p])


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    y = (rng.random(N) < 0.15).astype(int)
    X = pd.DataFrame({"row_id": np.arange(N), "signal": 2 * y + rng.normal(size=N)})
    folds = list(StratifiedKFold(4, shuffle=True, random_state=0).split(X, y))
    return X, y, folds


def test_resampler_and_model_never_see_the_rows_they_score(data):
    """Check that the resampler and the model of each fold are fitted on exactly
    the other folds' rows, and every row gets a score."""
    X, y, folds = data
    log = []

    def make_pipeline():
        return Pipeline([("resample", RecordingSampler(log)),
                         ("model", RecordingModel(log))])

    scores, fold_ids, _ = out_of_fold_scores(make_pipeline, X, y, folds)
    assert not np.isnan(scores).any()
    fits = [rows for stage, rows in log if stage == "model"]
    samples = [rows for stage, rows in log if stage == "resampler"]
    for k, ((train, test), fitted, sampled) in enumerate(
            zip(folds, fits, samples, strict=True)):
        assert fitted <= set(train) and sampled == set(train)
        assert not fitted & set(test)
        assert set(np.flatnonzero(fold_ids == k)) == set(test)


def test_fold_labels_never_change_fold_scores(data):
    """Check, black-box, that changing every label of fold k leaves the
    out-of-fold scores of fold k as they were (a real resampling pipeline)."""
    X, y, folds = data
    frame = check_frame(X.drop(columns="row_id"))
    strategy = Strategy("logistic_regression", {"C": 1.0}, resampler="smote",
                        sampling_ratio=0.6, k_neighbors=3)

    def scores_for(labels):
        return out_of_fold_scores(
            lambda: strategy.make_pipeline(column_kinds(frame), random_state=0),
            frame, labels, folds)[0]

    base = scores_for(y)
    for _, test in folds:
        changed = y.copy()
        changed[test] = 1 - changed[test]
        assert np.array_equal(scores_for(changed)[test], base[test])


def _scored(n=600, n_folds=5, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.12).astype(int)
    scores = 1 / (1 + np.exp(-(1.8 * y + rng.normal(size=n) - 2.5)))
    return scores, y, np.arange(n) % n_folds


OBJECTIVES = [Objective("cost", 1.0, 12.0),
              Objective("average_precision", 1.0, 1.0, costs_given=False)]


@pytest.mark.parametrize("objective", OBJECTIVES, ids=["cost", "f1"])
@pytest.mark.parametrize("calibrations", [("none",), ("sigmoid",), ("isotonic",),
                                          tuple(CALIBRATIONS)])
def test_fold_labels_never_change_fold_decisions(calibrations, objective):
    """Check, black-box, that flipping every label of fold k changes neither the
    calibrated probabilities nor the decisions of fold k: calibrator, threshold,
    the choice of calibrator and the choice of rule were all made without them."""
    scores, y, fold_ids = _scored()
    base = cross_fit_postprocessing(scores, y, fold_ids, objective=objective,
                                    calibrations=calibrations)
    moved = 0
    for k in np.unique(fold_ids):
        rows = fold_ids == k
        changed = y.copy()
        changed[rows] = 1 - changed[rows]
        post = cross_fit_postprocessing(scores, changed, fold_ids, objective=objective,
                                        calibrations=calibrations)
        assert np.array_equal(post.pred[rows], base.pred[rows])
        assert np.allclose(post.proba[rows], base.proba[rows])
        moved += int(np.any(post.pred[~rows] != base.pred[~rows]))
    assert moved > 0  # the change does reach the other folds' decisions


def test_cross_fitted_cost_is_the_cost_of_the_decisions():
    """Check that the reported value is the cost of the decisions it reports, and
    that the final post-processor is fitted on every row."""
    scores, y, fold_ids = _scored(seed=1)
    objective = Objective("cost", 1.0, 12.0)
    post = cross_fit_postprocessing(scores, y, fold_ids, objective=objective)
    fp = np.sum(post.pred & (y == 0))
    fn = np.sum(~post.pred & (y == 1))
    assert post.value == pytest.approx(fp + 12.0 * fn)
    assert len(post.fold_choices) == len(post.fold_thresholds) == 5
    assert post.final.calibrator_ is not None
    assert post.metrics["threshold"] == post.threshold


def test_out_of_fold_calls_back_after_each_fold(data):
    """Check that on_fold runs once per fold with that fold's rows scored."""
    X, y, folds = data
    seen = []

    def make_pipeline():
        return Pipeline([("model", RecordingModel([]))])

    def on_fold(k, test, scores):
        assert not np.isnan(scores[test]).any()
        seen.append(k)

    out_of_fold_scores(make_pipeline, X, y, folds, on_fold=on_fold)
    assert seen == [0, 1, 2, 3]


def test_rows_no_fold_holds_out_stay_unscored(data):
    """Check that a split that holds out only some rows (a holdout) leaves the
    others unscored, with fold id -1."""
    X, y, folds = data
    train, test = folds[0]
    scores, fold_ids, _ = out_of_fold_scores(
        lambda: Pipeline([("model", RecordingModel([]))]), X, y, [(train, test)])
    assert np.isnan(scores[train]).all() and not np.isnan(scores[test]).any()
    assert (fold_ids[train] == -1).all() and (fold_ids[test] == 0).all()


def _tied(n=900, n_folds=5, seed=2):
    """Scores with few distinct values, as a forest gives on repeated rows."""
    scores, y, fold_ids = _scored(n, n_folds, seed)
    return np.round(scores, 2), y, fold_ids


@pytest.mark.parametrize("objective", OBJECTIVES, ids=["cost", "f1"])
@pytest.mark.parametrize("calibrations", [("none",), ("sigmoid",), ("isotonic",),
                                          tuple(CALIBRATIONS)])
def test_merged_rows_give_the_same_post_processing(calibrations, objective,
                                                   monkeypatch):
    """Check that post-processing tied scores on their distinct (score, label,
    fold) entries, weighted by counts, gives each row the probability, decision
    and value it gets row by row."""
    import autoimb.pipeline.evaluation as evaluation

    scores, y, fold_ids = _tied()
    assert evaluation.merge_equal_rows(scores, y, fold_ids) is not None
    merged = cross_fit_postprocessing(scores, y, fold_ids, objective=objective,
                                      calibrations=calibrations)
    monkeypatch.setattr(evaluation, "merge_equal_rows", lambda *a, **k: None)
    rows = cross_fit_postprocessing(scores, y, fold_ids, objective=objective,
                                    calibrations=calibrations)
    np.testing.assert_allclose(merged.proba, rows.proba, atol=1e-7)
    np.testing.assert_array_equal(merged.pred, rows.pred)
    assert merged.fold_choices == rows.fold_choices
    assert merged.value == pytest.approx(rows.value)
    assert merged.threshold == pytest.approx(rows.threshold)


def _rounded():
    """Distinct scores on enough rows to be rounded before they are merged."""
    from autoimb.pipeline.evaluation import ROUND_SCORES_ROWS

    return _scored(n=ROUND_SCORES_ROWS, n_folds=3, seed=5)


@pytest.mark.parametrize("make", [_tied, _rounded], ids=["tied", "rounded"])
def test_merged_rows_keep_fold_labels_out_of_fold_decisions(make):
    """Check the black-box honesty test where rows are merged (tied scores, or
    many scores rounded): flipping fold k's labels moves none of fold k's
    decisions."""
    scores, y, fold_ids = make()
    objective = Objective("cost", 1.0, 12.0)
    base = cross_fit_postprocessing(scores, y, fold_ids, objective=objective)
    for k in np.unique(fold_ids):
        rows = fold_ids == k
        changed = y.copy()
        changed[rows] = 1 - changed[rows]
        post = cross_fit_postprocessing(scores, changed, fold_ids, objective=objective)
        assert np.array_equal(post.pred[rows], base.pred[rows])
        assert np.allclose(post.proba[rows], base.proba[rows])


def test_distinct_scores_are_not_merged():
    """Check that merging is skipped where it would not halve the rows."""
    from autoimb.pipeline.evaluation import merge_equal_rows

    scores, y, fold_ids = _scored()
    assert merge_equal_rows(scores, y, fold_ids) is None


def test_rounded_scores_keep_their_order_and_odds():
    """Check that rounding on the logit scale never reverses two scores, moves
    no logit by more than half a step, and leaves at most the grid's values."""
    from autoimb.pipeline.evaluation import round_scores

    rng = np.random.default_rng(3)
    scores = np.sort(np.r_[rng.random(20_000), 0.0, 1.0, 1e-9])
    rounded = round_scores(scores, step=0.01)
    assert np.all(np.diff(rounded[np.argsort(scores, kind="stable")]) >= 0)
    inside = (scores > 1e-7) & (scores < 1 - 1e-7)
    logit = np.log(scores[inside] / (1 - scores[inside]))
    moved = np.log(rounded[inside] / (1 - rounded[inside])) - logit
    assert np.max(np.abs(moved)) <= 0.005 + 1e-9
    assert len(np.unique(rounded)) < len(scores) // 5


def test_many_rows_are_post_processed_on_rounded_scores(monkeypatch):
    """Check that from ROUND_SCORES_ROWS rows on, post-processing merges rounded
    scores into far fewer entries, and gives nearly the choices, decisions and
    value of the rows themselves; average precision is the scores' own."""
    import autoimb.pipeline.evaluation as evaluation

    scores, y, fold_ids = _scored(n=evaluation.ROUND_SCORES_ROWS, n_folds=3, seed=4)
    assert evaluation.merge_equal_rows(scores, y, fold_ids) is None  # all distinct
    entries = []
    merge = evaluation.merge_rounded_rows

    def spy(*args, **kwargs):
        entries.append(merge(*args, **kwargs))
        return entries[-1]

    monkeypatch.setattr(evaluation, "merge_rounded_rows", spy)
    objective = Objective("cost", 1.0, 12.0)
    rounded = cross_fit_postprocessing(scores, y, fold_ids, objective=objective)
    assert len(entries) == 1 and len(entries[0][0]) < len(scores) / 5
    monkeypatch.setattr(evaluation, "ROUND_SCORES_ROWS", 10 * len(scores))
    rows = cross_fit_postprocessing(scores, y, fold_ids, objective=objective)
    assert len(entries) == 1  # row by row: the scores were all distinct
    assert rounded.fold_choices == rows.fold_choices
    assert rounded.value == pytest.approx(rows.value, rel=0.01)
    assert np.mean(rounded.pred != rows.pred) < 0.005
    assert rounded.calibration == rows.calibration  # the rule may flip at a tie
    np.testing.assert_allclose(rounded.proba, rows.proba, atol=0.01)
    assert rounded.metrics["average_precision"] == rows.metrics["average_precision"]


@pytest.mark.parametrize("groups", ["folds", "named"])
def test_merging_on_the_grid_equals_merging_rounded_scores(groups):
    """Check that counting rounded rows on the grid gives the entries, order
    and inverse map of merging the rounded scores by sorting."""
    from autoimb.pipeline.evaluation import (
        merge_equal_rows,
        merge_rounded_rows,
        round_scores,
    )

    scores, y, fold_ids = _scored(n=30_000, n_folds=4, seed=6)
    scores[:50] = 0.0  # clipped ends
    scores[50:60] = 1.0
    if groups == "named":
        fold_ids = np.array(["d", "c", "b", "a"])[fold_ids]
    grid = merge_rounded_rows(scores, y, fold_ids)
    sorted_ = merge_equal_rows(round_scores(scores), y, fold_ids)
    for a, b in zip(grid, sorted_, strict=True):
        np.testing.assert_array_equal(a, b)
    assert grid[1].dtype == y.dtype and grid[2].dtype == fold_ids.dtype
