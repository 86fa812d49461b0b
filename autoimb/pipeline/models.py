"""Model families of the search, their hyperparameters and weightings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from imblearn.ensemble import BalancedRandomForestClassifier, EasyEnsembleClassifier
from lightgbm import LGBMClassifier
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    AdaBoostClassifier,
    ExtraTreesClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from autoimb._sklearn_compat import HistGradientBoostingClassifier

__all__ = ["MODELS", "make_model"]


@dataclass(frozen=True)
class ModelInfo:
    label: str
    hyperparameters: tuple[str, ...]
    weightings: tuple[str, ...]
    build: Callable
    resamples_itself: bool = False


def _class_weight(weighting, positive_weight):
    if weighting == "none":
        return None
    if weighting == "custom":
        return {0: 1.0, 1: float(positive_weight)}
    return weighting


def _logistic(params, weight, kinds, seed, n_jobs):
    model = LogisticRegression(max_iter=500, class_weight=weight, **params)
    if not kinds.has_categorical:
        return model
    # Sparse one-hot columns keep a wide categorical table cheap for the solver.
    onehot = ColumnTransformer(
        [("onehot", OneHotEncoder(handle_unknown="ignore", max_categories=50),
          kinds.encoded_categorical)],
        remainder="passthrough", sparse_threshold=1.0)
    return Pipeline([("onehot", onehot), ("logistic", model)])


# Above this many training rows, each tree of a random forest or extra trees
# draws this many (a bootstrap sample): the forest's cost stops growing with the
# data, which on 200,000 rows is what lets it run within a search's budget.
FOREST_ROWS = 50_000


def _forest(cls):
    def build(params, weight, kinds, seed, n_jobs):
        if kinds.n_rows * 0.5 > FOREST_ROWS:  # every fold keeps more rows than that
            params = {"bootstrap": True, "max_samples": FOREST_ROWS, **params}
        return cls(class_weight=weight, n_jobs=n_jobs, random_state=seed, **params)
    return build


def _hgb(params, weight, kinds, seed, n_jobs):
    # early_stopping="auto" switches on above 10,000 rows: fold models (fewer
    # rows) and the refit (all rows) would differ. The search sets max_iter.
    # Categorical columns split natively (by partitions of their values), which
    # generalises to unseen combinations far better than their ordinal codes.
    # Its bins ignore the class weights: scikit-learn's weighted binning costs
    # about 0.2 s per feature and fit (see _sklearn_compat).
    params = {"early_stopping": False,
              "categorical_features": kinds.few_level_categorical() or None, **params}
    return HistGradientBoostingClassifier(class_weight=weight, random_state=seed,
                                          **params)


def _lightgbm(params, weight, kinds, seed, n_jobs):
    extra = {}
    if isinstance(weight, tuple):  # ("scale_pos_weight", value)
        extra["scale_pos_weight"], weight = weight[1], None
    if "subsample" in params:
        extra["subsample_freq"] = 1
    model = LGBMClassifier(class_weight=weight, random_state=seed, n_jobs=n_jobs,
                           verbose=-1, **extra, **params)
    return CategoricalLGBM(model, categorical_features=tuple(kinds.encoded_categorical))


def _brf(params, weight, kinds, seed, n_jobs):
    return BalancedRandomForestClassifier(
        sampling_strategy="all", replacement=True, bootstrap=False,
        class_weight=weight, n_jobs=n_jobs, random_state=seed, **params)


def _easy(params, weight, kinds, seed, n_jobs):
    # Each balanced subset trains AdaBoost; 10 rounds as in Liu, Wu and Zhou's
    # EasyEnsemble (2009), not scikit-learn's default 50 (5 times the cost).
    return EasyEnsembleClassifier(estimator=AdaBoostClassifier(n_estimators=10),
                                  n_jobs=n_jobs, random_state=seed, **params)


_TREE = ("n_estimators", "max_depth", "min_samples_leaf", "max_features")
MODELS = {
    "logistic_regression": ModelInfo(
        "Logistic regression", ("C",), ("none", "balanced", "custom"), _logistic),
    "random_forest": ModelInfo(
        "Random forest", _TREE,
        ("none", "balanced", "balanced_subsample", "custom"),
        _forest(RandomForestClassifier)),
    "extra_trees": ModelInfo(
        "Extra trees", _TREE, ("none", "balanced", "balanced_subsample", "custom"),
        _forest(ExtraTreesClassifier)),
    "hist_gradient_boosting": ModelInfo(
        "HistGradientBoosting",
        ("learning_rate", "max_iter", "max_leaf_nodes", "min_samples_leaf",
         "l2_regularization", "max_features"),
        ("none", "balanced", "custom"), _hgb),
    "lightgbm": ModelInfo(
        "LightGBM",
        ("n_estimators", "learning_rate", "num_leaves", "min_child_samples",
         "subsample", "colsample_bytree", "reg_lambda"),
        ("none", "balanced", "custom", "scale_pos_weight"), _lightgbm),
    "balanced_random_forest": ModelInfo(
        "Balanced random forest", _TREE, ("none",), _brf, resamples_itself=True),
    "easy_ensemble": ModelInfo(
        "EasyEnsemble", ("n_estimators",), ("none",), _easy, resamples_itself=True),
}


def make_model(name, params, *, weighting="none", positive_weight=None, kinds,
               random_state=None, n_jobs=1):
    """The unfitted estimator of model family ``name`` with these settings.

    ``n_jobs`` threads for the families that take it (forests, LightGBM); the
    search fits one thread per model, the final refit uses every core.
    """
    info = MODELS[name]
    if weighting == "scale_pos_weight":
        weight = ("scale_pos_weight", float(positive_weight))
    else:
        weight = _class_weight(weighting, positive_weight)
    return info.build(dict(params), weight, kinds, random_state, n_jobs)


class CategoricalLGBM(ClassifierMixin, BaseEstimator):
    """LightGBM told which columns are categorical, without fit parameters.

    Parameters
    ----------
    estimator : LGBMClassifier
        The unfitted model.
    categorical_features : tuple of int, default=()
        Column indices LightGBM should treat as categorical.
    """

    def __init__(self, estimator=None, categorical_features=()):
        self.estimator = estimator
        self.categorical_features = categorical_features

    def fit(self, X, y):
        X = np.asarray(X, dtype=float)
        categories = list(self.categorical_features) or "auto"
        self.estimator_ = clone(self.estimator).fit(X, y,
                                                    categorical_feature=categories)
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X):
        return self.estimator_.predict_proba(np.asarray(X, dtype=float))

    def predict(self, X):
        return self.estimator_.predict(np.asarray(X, dtype=float))
