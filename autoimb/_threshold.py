"""Decision thresholds from sorted scores, in O(n log n).

Sort the scores once; cumulative sums of positives and negatives give the false
positives and false negatives of every cut in one pass. No model is refitted per
candidate threshold.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bayes_threshold", "best_cost_threshold", "best_f1_threshold", "cost_curve"]


def bayes_threshold(fp_cost: float, fn_cost: float) -> float:
    """The cost-optimal threshold for calibrated probabilities.

    Predicting positive when ``p >= fp_cost / (fp_cost + fn_cost)`` minimises the
    expected cost if ``p`` is the true probability of the positive class.

    Examples
    --------
    >>> bayes_threshold(10, 500)
    0.0196078431372549
    """
    return fp_cost / (fp_cost + fn_cost)


def cost_curve(y_true, scores):
    """Counts of every distinct cut of the scores.

    Parameters
    ----------
    y_true : array of shape (n,)
        1 for the positive class, 0 otherwise.
    scores : array of shape (n,)
        Higher means more likely positive.

    Returns
    -------
    thresholds : array of shape (m + 1,)
        Predict positive when ``score >= threshold``. The first is ``inf``
        (nothing positive); each other lies midway between two distinct scores,
        the last at the lowest score (everything positive).
    tp, fp : arrays of shape (m + 1,)
        True and false positives at each threshold.
    """
    y_true = np.asarray(y_true)
    scores = np.asarray(scores, dtype=float)
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], y_true[order]
    tp = np.cumsum(y == 1)
    fp = np.cumsum(y != 1)
    last_of_group = np.r_[s[1:] != s[:-1], True]
    s_group = s[last_of_group]
    lower = np.r_[s_group[1:], s_group[-1:]]
    cut = np.where(np.arange(len(s_group)) < len(s_group) - 1,
                   (s_group + lower) / 2.0, s_group)
    # Midpoints must still admit the group above them (floating point).
    cut = np.minimum(cut, s_group)
    thresholds = np.r_[np.inf, cut]
    return thresholds, np.r_[0, tp[last_of_group]], np.r_[0, fp[last_of_group]]


def best_cost_threshold(y_true, scores, fp_cost: float, fn_cost: float):
    """The threshold of least total cost on these rows, and that cost.

    Examples
    --------
    >>> t, cost = best_cost_threshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8],
    ...                               fp_cost=1, fn_cost=5)
    >>> round(t, 3), cost
    (0.225, 1.0)
    """
    thresholds, tp, fp = cost_curve(y_true, scores)
    n_pos = tp[-1]
    cost = fp * fp_cost + (n_pos - tp) * fn_cost
    best = int(np.argmin(cost))
    return float(thresholds[best]), float(cost[best])


def best_f1_threshold(y_true, scores):
    """The threshold of highest F1 on these rows, and that F1."""
    thresholds, tp, fp = cost_curve(y_true, scores)
    fn = tp[-1] - tp
    denominator = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denominator, out=np.zeros(len(tp)), where=denominator > 0)
    best = int(np.argmax(f1))
    return float(thresholds[best]), float(f1[best])
