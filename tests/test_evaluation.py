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

from autoimb._evaluation import cross_fit_postprocessing, out_of_fold_scores
from autoimb._objective import Objective
from autoimb._postprocessing import CALIBRATIONS
from autoimb._strategy import Strategy
from autoimb._validation import check_frame, column_kinds

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
    import autoimb._evaluation as evaluation

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


def test_merged_rows_keep_fold_labels_out_of_fold_decisions():
    """Check the black-box honesty test on tied scores, where rows are merged:
    flipping fold k's labels moves none of fold k's decisions."""
    scores, y, fold_ids = _tied()
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
    from autoimb._evaluation import merge_equal_rows

    scores, y, fold_ids = _scored()
    assert merge_equal_rows(scores, y, fold_ids) is None
