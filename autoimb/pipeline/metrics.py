"""Metrics of thresholded, calibrated predictions, and business cost."""

from __future__ import annotations

import numpy as np

from autoimb.exceptions import AutoImbError

__all__ = ["METRICS", "TRIAL_ATTRS", "binary_metrics", "check_known_labels",
           "error_metrics", "expected_calibration_error", "ranking_metrics",
           "trivial_cost"]

#: The metrics every candidate is scored with, by key (as in ``results_``, the
#: trials' user attributes and :func:`binary_metrics`), with their names for
#: people, in the order tables show them.
METRICS = {
    "cost": "cost",
    "normalized_cost": "normalized cost",
    "average_precision": "average precision",
    "roc_auc": "ROC AUC",
    "f1": "F1",
    "precision": "precision",
    "recall": "recall",
    "balanced_accuracy": "balanced accuracy",
    "brier": "Brier score",
    "ece": "expected calibration error",
}

#: The numbers a trial records as user attributes: its metrics and threshold.
TRIAL_ATTRS = (*METRICS, "threshold")


def trivial_cost(y_true, fp_cost: float, fn_cost: float) -> float:
    """Cost of the best trivial classifier: all negative or all positive.

    Examples
    --------
    >>> trivial_cost([0, 0, 0, 1], fp_cost=1, fn_cost=10)
    3.0
    """
    y_true = np.asarray(y_true)
    n_pos = float(np.sum(y_true == 1))
    n_neg = float(len(y_true) - n_pos)
    return min(n_pos * fn_cost, n_neg * fp_cost)


def binary_metrics(y_true, proba, threshold: float, *, fp_cost: float,
                   fn_cost: float) -> dict[str, float]:
    """All the numbers a trial or an evaluation reports.

    Parameters
    ----------
    y_true : array of shape (n,)
        1 for the positive class, 0 otherwise.
    proba : array of shape (n,)
        Probability of the positive class.
    threshold : float
        Predict positive when ``proba >= threshold``.
    fp_cost, fn_cost : float
        Cost of a false positive and of a false negative.

    Returns
    -------
    dict
        cost, cost_per_row, normalized_cost (cost over that of the best trivial
        classifier: below 1 the model earns its keep), average_precision, roc_auc,
        f1, precision, recall, balanced_accuracy, brier, ece (expected
        calibration error), threshold, and the confusion matrix counts tn, fp,
        fn, tp.

    Examples
    --------
    >>> m = binary_metrics([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], 0.5,
    ...                    fp_cost=1, fn_cost=5)
    >>> m["cost"], m["tp"], m["fp"]
    (6.0, 1, 1)
    """
    proba = np.asarray(proba, dtype=float)
    metrics = error_metrics(y_true, proba >= threshold, fp_cost=fp_cost,
                            fn_cost=fn_cost)
    metrics.update(ranking_metrics(y_true, proba), threshold=float(threshold))
    return metrics


def error_metrics(y_true, pred, *, fp_cost: float, fn_cost: float) -> dict:
    """Cost, normalized cost, F1, precision, recall, balanced accuracy and the
    confusion matrix of 0/1 predictions.

    Every rate comes from the four counts (as scikit-learn defines them, 0 where
    a denominator is 0), so that scoring a trial costs a few passes over its
    rows.

    Examples
    --------
    >>> m = error_metrics([0, 0, 1, 1], [0, 1, 1, 0], fp_cost=1, fn_cost=5)
    >>> m["cost"], m["f1"], m["balanced_accuracy"]
    (6.0, 0.5, 0.5)
    """
    y_true = np.asarray(y_true).astype(int)
    pred = np.asarray(pred).astype(int)
    tp = int(np.sum((pred == 1) & (y_true == 1)))
    fp = int(np.sum((pred == 1) & (y_true == 0)))
    fn = int(np.sum((pred == 0) & (y_true == 1)))
    tn = int(np.sum((pred == 0) & (y_true == 0)))
    cost = float(fp * fp_cost + fn * fn_cost)
    trivial = trivial_cost(y_true, fp_cost, fn_cost)
    both = tp + fn > 0 and tn + fp > 0
    return {
        "cost": cost,
        "cost_per_row": cost / max(len(y_true), 1),
        "normalized_cost": cost / trivial if trivial > 0 else float("nan"),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "balanced_accuracy": (_ratio(tp, tp + fn) + _ratio(tn, tn + fp)) / 2
        if both else float("nan"),
        "tn": tn, "fp": fp, "fn": fn, "tp": tp,
    }


def _ratio(numerator, denominator) -> float:
    return float(numerator / denominator) if denominator > 0 else 0.0


def ranking_metrics(y_true, scores, proba=None) -> dict:
    """Average precision and ROC AUC of scores; Brier score and expected
    calibration error of probabilities (``proba``, or the scores themselves).

    Examples
    --------
    >>> m = ranking_metrics([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> m["average_precision"], m["roc_auc"]
    (0.8333333333333333, 0.75)
    """
    y_true = np.asarray(y_true).astype(int)
    scores = np.asarray(scores, dtype=float)
    proba = scores if proba is None else np.asarray(proba, dtype=float)
    both = 0 < int(y_true.sum()) < len(y_true)
    once = np.ones((1, len(y_true)))
    ties = score_ties(scores, descending=True) if both else (None, None)
    return {
        "average_precision": float(weighted_average_precision(once, y_true, scores,
                                                              *ties)[0])
        if both else float("nan"),
        "roc_auc": float(weighted_roc_auc(once, y_true, scores, *ties)[0])
        if both else float("nan"),
        "brier": float(np.mean((proba - y_true) ** 2)) if len(y_true) else float("nan"),
        "ece": expected_calibration_error(y_true, proba),
    }


def expected_calibration_error(y_true, proba, n_bins: int = 10) -> float:
    """Mean gap between predicted probability and observed rate, over bins of
    equal size (by predicted probability), weighted by the rows in each.

    Equal-size bins, not equal-width ones: with rare positives nearly every
    probability falls in the lowest tenth of [0, 1].

    Examples
    --------
    >>> expected_calibration_error([0, 0, 1, 1], [0.0, 0.0, 1.0, 1.0], n_bins=2)
    0.0
    >>> expected_calibration_error([0, 0, 0, 0], [0.5, 0.5, 0.5, 0.5], n_bins=2)
    0.5
    """
    y_true = np.asarray(y_true, dtype=float)
    proba = np.asarray(proba, dtype=float)
    if len(y_true) == 0:
        return float("nan")
    order = np.argsort(proba, kind="mergesort")
    gaps = [abs(proba[rows].mean() - y_true[rows].mean()) * len(rows)
            for rows in np.array_split(order, min(n_bins, len(order)))]
    return float(np.sum(gaps) / len(y_true))


def stratified_bootstrap_counts(y, n_boot: int, rng) -> np.ndarray:
    """How often each row is drawn in ``n_boot`` bootstrap resamples, the
    positives and the negatives resampled apart (each resample keeps the class
    counts). Shape ``(n_boot, len(y))``."""
    y = np.asarray(y)
    counts = np.zeros((n_boot, len(y)))
    for label in (0, 1):
        rows = np.flatnonzero(y == label)
        if len(rows):
            drawn = rng.integers(0, len(rows), size=(n_boot, len(rows)))
            for b in range(n_boot):
                counts[b, rows] = np.bincount(drawn[b], minlength=len(rows))
    return counts


def score_ties(scores, *, descending: bool) -> tuple[np.ndarray, np.ndarray]:
    """The stable order that sorts ``scores``, and where each run of equal
    scores begins in it: what the weighted rank metrics group rows by."""
    scores = np.asarray(scores, dtype=float)
    order = np.argsort(-scores if descending else scores, kind="mergesort")
    s = scores[order]
    return order, np.flatnonzero(np.r_[True, s[1:] != s[:-1]])


def _weighted_counts_at_ties(weights, y, order, starts):
    """Weighted positives and negatives of each run of equal scores, under each
    row of ``weights``: two arrays of shape (n_weightings, n_runs)."""
    positive = (np.asarray(y)[order] == 1).astype(float)
    w = np.atleast_2d(weights)[:, order]
    return (np.add.reduceat(w * positive, starts, axis=1),
            np.add.reduceat(w * (1.0 - positive), starts, axis=1))


def weighted_roc_auc(weights, y, scores, order=None, starts=None) -> np.ndarray:
    """ROC AUC of ``scores`` under each row of ``weights`` (ties count half);
    NaN where a weighting leaves one class only. ``order`` and ``starts`` as
    :func:`weighted_average_precision` takes them (scores sorted decreasing).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.metrics import roc_auc_score
    >>> y, s = np.array([0, 1, 0, 1, 1]), np.array([0.1, 0.9, 0.4, 0.4, 0.8])
    >>> auc = weighted_roc_auc(np.ones((1, 5)), y, s)[0]
    >>> bool(np.isclose(auc, roc_auc_score(y, s)))
    True
    """
    if order is None:
        order, starts = score_ties(scores, descending=True)
    pos, neg = _weighted_counts_at_ties(weights, y, order, starts)
    below = neg.sum(axis=1, keepdims=True) - np.cumsum(neg, axis=1)  # lower scores
    numerator = (pos * (below + 0.5 * neg)).sum(axis=1)
    denominator = pos.sum(axis=1) * neg.sum(axis=1)
    return np.divide(numerator, denominator, out=np.full(len(pos), np.nan),
                     where=denominator > 0)


def weighted_average_precision(weights, y, scores, order=None,
                               starts=None) -> np.ndarray:
    """Average precision of ``scores`` under each row of ``weights`` (row
    weights, e.g. bootstrap counts), as
    :func:`sklearn.metrics.average_precision_score` defines it; NaN where a
    weighting leaves no positive. ``order`` (scores sorted decreasing) and
    ``starts`` (where each distinct score begins in it) may be given when the
    same scores are weighted many times.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.metrics import average_precision_score
    >>> y, s = np.array([0, 1, 0, 1, 1]), np.array([0.1, 0.9, 0.4, 0.35, 0.8])
    >>> ap = weighted_average_precision(np.ones((1, 5)), y, s)[0]
    >>> bool(np.isclose(ap, average_precision_score(y, s)))
    True
    """
    if order is None:
        order, starts = score_ties(scores, descending=True)
    tp, fp = _weighted_counts_at_ties(weights, y, order, starts)
    cum_tp, cum_fp = np.cumsum(tp, axis=1), np.cumsum(fp, axis=1)
    precision = np.divide(cum_tp, cum_tp + cum_fp, out=np.zeros_like(cum_tp),
                          where=(cum_tp + cum_fp) > 0)
    n_pos = cum_tp[:, -1]
    ap = (tp * precision).sum(axis=1) / np.maximum(n_pos, 1e-12)
    return np.where(n_pos > 0, ap, np.nan)


def check_known_labels(y, classes) -> np.ndarray:
    """``y`` as an array, once every label is one of ``classes`` (a fitted
    model's): missing labels are counted as ``fit`` counts them, other
    labels named.

    Examples
    --------
    >>> check_known_labels([0, 1, None, None], np.array([0, 1]))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    autoimb.exceptions.AutoImbError: y holds 2 missing label(s) (first at row 2); ...
    """
    y = np.asarray(y)
    missing = np.array([_is_missing(v) for v in y.ravel()], dtype=bool)
    if missing.any():
        raise AutoImbError(
            f"y holds {int(missing.sum())} missing label(s) (first at row "
            f"{int(np.flatnonzero(missing)[0])}); drop those rows or fill their "
            "labels.")
    known = set(np.asarray(classes).tolist())
    unknown = sorted({v for v in y.tolist() if v not in known}, key=str)
    if unknown:
        raise AutoImbError(
            f"y holds labels {unknown[:5]} the model was not trained on; its labels "
            f"are {np.asarray(classes).tolist()}.")
    return y


def _is_missing(value) -> bool:
    """None, NaN or pandas' NA/NaT (any label a reader leaves for an empty cell)."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, NaT, and pandas.NA raises
    except TypeError:
        return True


def evaluate(model, X, y) -> dict:
    """Metrics of a fitted model on labelled data, at its stored threshold.

    Parameters
    ----------
    model : AutoImbClassifier
        A fitted model (from :func:`autoimb.fit` or :func:`autoimb.load`).
    X : DataFrame or array-like
    y : array-like
        Labels of the same kind as in training.

    Returns
    -------
    dict
        cost (with the model's fp_cost and fn_cost), cost_per_row,
        normalized_cost, average_precision, roc_auc, f1, precision, recall,
        balanced_accuracy, brier, threshold, tn, fp, fn, tp, n_rows, n_positive.

    Examples
    --------
    >>> import autoimb
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=400, weights=[0.9], random_state=1)
    >>> model = autoimb.fit(X, y, search_space="fast", n_trials=1, cv=2,
    ...                     storage="memory", show_progress_bar=False)
    >>> sorted(autoimb.evaluate(model, X, y))[:3]
    ['average_precision', 'balanced_accuracy', 'brier']
    """
    y = check_known_labels(y, model.classes_)
    proba = model.predict_proba(X)[:, list(model.classes_).index(model.pos_label_)]
    y01 = (y == model.pos_label_).astype(int)
    metrics = binary_metrics(y01, proba, model.threshold_,
                             fp_cost=model.objective_.fp_cost,
                             fn_cost=model.objective_.fn_cost)
    metrics["n_rows"] = len(y01)
    metrics["n_positive"] = int(y01.sum())
    return metrics
