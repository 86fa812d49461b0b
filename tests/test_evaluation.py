"""Honest evaluation: no stage is fitted on the rows that score it."""

import numpy as np
import pandas as pd
import pytest
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import Pipeline
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import StratifiedKFold

from autoimb._calibration import make_calibrator
from autoimb._evaluation import cross_fit_postprocessing, out_of_fold_scores
from autoimb._objective import Objective

N = 300


class RecordingSampler(BaseEstimator):
    """Over-samples and records the row ids it was fitted on."""

    def __init__(self, log=None):
        self.log = log

    def fit_resample(self, X, y):
        self.log.append(("resampler", set(X["row_id"].astype(int))))
        return RandomOverSampler(sampling_strategy=0.5, random_state=0).fit_resample(X, y)


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


def _rows_of(scores, all_scores):
    lookup = {round(s, 12): i for i, s in enumerate(all_scores)}
    return {lookup[round(s, 12)] for s in scores}


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    y = (rng.random(N) < 0.15).astype(int)
    X = pd.DataFrame({"row_id": np.arange(N), "signal": 2 * y + rng.normal(size=N)})
    folds = list(StratifiedKFold(4, shuffle=True, random_state=0).split(X, y))
    return X, y, folds


def test_no_stage_sees_the_rows_it_scores(data):
    """Check that resampler, model, calibrator and threshold are fitted only on rows
    other than those they score, fold by fold."""
    X, y, folds = data
    log = []

    def make_pipeline():
        return Pipeline([("resample", RecordingSampler(log)),
                         ("model", RecordingModel(log))])

    scores, fold_ids, _ = out_of_fold_scores(make_pipeline, X, y, folds)
    assert not np.isnan(scores).any()
    fits = [rows for stage, rows in log if stage == "model"]
    samples = [rows for stage, rows in log if stage == "resampler"]
    for (train, test), fitted, sampled in zip(folds, fits, samples, strict=True):
        assert fitted <= set(train) and sampled == set(train)
        assert not fitted & set(test)

    calibrator_rows, threshold_rows = [], []

    def recording_calibrator(method):
        calibrator = make_calibrator("none")
        original_fit = calibrator.fit

        def fit(s, y_fit):
            calibrator_rows.append(_rows_of(s, scores))
            return original_fit(s, y_fit)

        calibrator.fit = fit
        return calibrator

    class RecordingObjective(Objective):
        def tune_threshold(self, y_fit, s):
            threshold_rows.append(_rows_of(s, scores))
            return super().tune_threshold(y_fit, s)

    objective = RecordingObjective("cost", 1.0, 10.0)
    post = cross_fit_postprocessing(scores, y, fold_ids, calibration="none",
                                    objective=objective,
                                    make_calibrator=recording_calibrator)
    for k, (_, test) in enumerate(folds):
        held_out = set(np.flatnonzero(fold_ids == k))
        assert held_out == set(test)
        assert not calibrator_rows[k] & held_out
        assert not threshold_rows[k] & held_out
        assert calibrator_rows[k] | held_out == set(range(N))
    # the final calibrator and threshold (for the refitted model) use every row
    assert calibrator_rows[-1] == set(range(N)) and threshold_rows[-1] == set(range(N))
    assert len(post.fold_thresholds) == len(folds)


def test_threshold_of_each_fold_comes_from_other_folds(data):
    """Check that a fold's predictions use the threshold tuned without it, so a
    degenerate fold cannot choose its own threshold."""
    X, y, folds = data
    scores = np.where(y == 1, 0.8, 0.2)
    fold_ids = np.empty(N, dtype=int)
    for k, (_, test) in enumerate(folds):
        fold_ids[test] = k
    scores[fold_ids == 0] = np.where(y[fold_ids == 0] == 1, 0.1, 0.05)  # shifted fold
    post = cross_fit_postprocessing(scores, y, fold_ids, calibration="none",
                                    objective=Objective("cost", 1.0, 1.0))
    # fold 0's positives score 0.1, below the threshold the other folds chose
    assert post.fold_thresholds[0] > 0.1
    assert not post.pred[(fold_ids == 0) & (y == 1)].any()
    assert post.metrics["fn"] == int(np.sum(y[fold_ids == 0]))


def test_bayes_rule_kept_only_when_it_is_cheaper(data):
    """Check that the Bayes threshold replaces the tuned one only if it costs less."""
    X, y, folds = data
    rng = np.random.default_rng(1)
    scores = np.clip(0.1 + 0.6 * y + rng.normal(scale=0.2, size=N), 0.001, 0.999)
    fold_ids = np.arange(N) % 4
    objective = Objective("cost", 1.0, 20.0)
    post = cross_fit_postprocessing(scores, y, fold_ids, calibration="sigmoid",
                                    objective=objective)
    bayes_pred = post.proba >= objective.bayes_threshold
    tuned_cost = post.metrics["cost"]
    assert tuned_cost <= objective.rule_score(y, bayes_pred) + 1e-9
    assert post.rule in ("tuned", "bayes")


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
