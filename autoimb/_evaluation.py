"""Honest scoring of one strategy.

1. Out-of-fold scores: for each fold, fit the pipeline (resampling included) on
   the training part only, and score the held-out part.
2. Cross-fitted post-processing: for each fold k, fit the calibrator and choose
   the threshold on the out-of-fold scores of the *other* folds, then apply them to
   fold k. The rows that score a stage were never used to fit it.

Both the calibrator and the threshold work on ``n`` numbers, not on ``X``, so the
second step is cheap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ._calibration import make_calibrator
from ._metrics import error_metrics, ranking_metrics
from ._objective import Objective

__all__ = ["PostProcessing", "cross_fit_postprocessing", "out_of_fold_scores"]


def _rows(X, index):
    return X.iloc[index] if hasattr(X, "iloc") else X[index]


def out_of_fold_scores(make_pipeline: Callable, X, y, folds, *,
                       on_fold: Callable | None = None):
    """Score every row with a pipeline that never saw it.

    Parameters
    ----------
    make_pipeline : callable
        Returns a new unfitted pipeline (with ``fit`` and ``predict_proba``).
    X : DataFrame or array
    y : array of 0 and 1
    folds : list of (train, test) index arrays
    on_fold : callable, default=None
        Called as ``on_fold(k, test, scores)`` after fold ``k``; may raise (to prune).

    Returns
    -------
    scores : array of shape (n,)
        Probability of the positive class, out of fold.
    fold_ids : array of shape (n,)
        The fold each row was held out in.
    fit_seconds : float
    """
    n = len(y)
    scores = np.full(n, np.nan)
    fold_ids = np.full(n, -1)
    start = time.perf_counter()
    for k, (train, test) in enumerate(folds):
        pipeline = make_pipeline()
        pipeline.fit(_rows(X, train), y[train])
        scores[test] = pipeline.predict_proba(_rows(X, test))[:, 1]
        fold_ids[test] = k
        if on_fold is not None:
            on_fold(k, test, scores)
    return scores, fold_ids, time.perf_counter() - start


@dataclass
class PostProcessing:
    """The outcome of cross-fitted calibration and thresholding.

    Attributes
    ----------
    proba : array
        Calibrated out-of-fold probabilities, each from a calibrator that did not
        see its row.
    pred : array of bool
        Predictions, each from a threshold not chosen on its row.
    rule : {"tuned", "bayes"}
        Threshold rule kept: tuned on held-out scores, or the Bayes threshold
        ``fp_cost / (fp_cost + fn_cost)`` (calibrated strategies only).
    fold_thresholds : list of float
    metrics : dict
        :func:`~autoimb._metrics.binary_metrics` of ``proba`` and ``pred``.
    value : float
        The objective's value: total cost, or average precision.
    calibrator, threshold :
        Fitted on all out-of-fold scores, for the final model.
    """

    proba: np.ndarray
    pred: np.ndarray
    rule: str
    fold_thresholds: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    value: float = float("nan")
    calibrator: object = None
    threshold: float = 0.5


def cross_fit_postprocessing(scores, y, fold_ids, *, calibration: str,
                             objective: Objective,
                             make_calibrator: Callable = make_calibrator,
                             ) -> PostProcessing:
    """Calibrate and threshold out-of-fold scores, each fold by the other folds.

    Parameters
    ----------
    scores : array of shape (n,)
        Out-of-fold scores.
    y : array of 0 and 1
    fold_ids : array of shape (n,)
    calibration : {"none", "sigmoid", "isotonic"}
    objective : Objective
    make_calibrator : callable, default=autoimb._calibration.make_calibrator
        Builds an unfitted calibrator from ``calibration`` (replaceable in tests).
    """
    y = np.asarray(y)
    proba = np.empty(len(y))
    tuned = np.zeros(len(y), dtype=bool)
    fold_thresholds = []
    for k in np.unique(fold_ids):
        fit_rows, score_rows = fold_ids != k, fold_ids == k
        calibrator = make_calibrator(calibration).fit(scores[fit_rows], y[fit_rows])
        threshold = objective.tune_threshold(
            y[fit_rows], calibrator.transform(scores[fit_rows]))
        proba[score_rows] = calibrator.transform(scores[score_rows])
        tuned[score_rows] = proba[score_rows] >= threshold
        fold_thresholds.append(threshold)
    rule, pred = "tuned", tuned
    if calibration != "none" and objective.uses_costs_for_threshold:
        bayes = proba >= objective.bayes_threshold
        if objective.rule_score(y, bayes) < objective.rule_score(y, tuned):
            rule, pred = "bayes", bayes
    calibrator = make_calibrator(calibration).fit(scores, y)
    if rule == "bayes":
        threshold = objective.bayes_threshold
    else:
        threshold = objective.tune_threshold(y, calibrator.transform(scores))
    metrics = error_metrics(y, pred, fp_cost=objective.fp_cost,
                            fn_cost=objective.fn_cost)
    metrics.update(ranking_metrics(y, proba), threshold=float(threshold))
    value = metrics["cost"] if objective.kind == "cost" else metrics["average_precision"]
    return PostProcessing(proba=proba, pred=pred, rule=rule,
                          fold_thresholds=[float(t) for t in fold_thresholds],
                          metrics=metrics, value=float(value), calibrator=calibrator,
                          threshold=float(threshold))
