"""Decision thresholds from sorted scores, in O(n log n).

Sort the scores once; cumulative sums of positives and negatives give the false
positives and false negatives of every cut in one pass. No model is refitted per
candidate threshold.

The threshold of least cost (or highest F1) on labelled rows is taken from the
middle of the cuts that tie for it, and between the two distinct scores around
it at a cost-aware position (:func:`best_threshold`). Two refinements were
measured and left out (``benchmarks/threshold_rules.py``): the median of the
best cuts of bootstrap resamples, and the minimum of a kernel-smoothed cost;
neither held out better on average.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["bayes_threshold", "best_cost_threshold", "best_f1_threshold",
           "best_threshold", "cost_curve", "cost_loss", "f1_loss"]


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


def _groups(y_true, scores, position=0.5):
    """Rows sorted by decreasing score, grouped by distinct score.

    Returns the thresholds of every cut (see :func:`cost_curve`), the sorting
    order, and the index in the sorted rows where each group starts.
    """
    y_true = np.asarray(y_true)
    scores = np.asarray(scores, dtype=float)
    order = np.argsort(-scores, kind="mergesort")
    s = scores[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    s_group = s[starts]
    lower = np.r_[s_group[1:], s_group[-1:]]
    cut = np.where(np.arange(len(s_group)) < len(s_group) - 1,
                   lower + position * (s_group - lower), s_group)
    # Midpoints must still admit the group above them (floating point).
    cut = np.minimum(cut, s_group)
    return np.r_[np.inf, cut], order, starts


def cost_curve(y_true, scores, position: float = 0.5, sample_weight=None):
    """Counts of every distinct cut of the scores.

    Parameters
    ----------
    y_true : array of shape (n,)
        1 for the positive class, 0 otherwise.
    scores : array of shape (n,)
        Higher means more likely positive.
    position : float, default=0.5
        Where between two neighbouring distinct scores a cut lies: 0 at the
        lower, 1 at the higher, 0.5 midway.
    sample_weight : array of shape (n,), default=None
        How many rows each entry stands for (rows of equal score and label may
        come merged); 1 each by default.

    Returns
    -------
    thresholds : array of shape (m + 1,)
        Predict positive when ``score >= threshold``. The first is ``inf``
        (nothing positive); each other lies between two distinct scores (at
        ``position``), the last at the lowest score (everything positive).
    tp, fp : arrays of shape (m + 1,)
        True and false positives at each threshold (integers, or weighted
        sums when ``sample_weight`` is given).
    """
    thresholds, order, starts = _groups(y_true, scores, position)
    positive = np.asarray(y_true)[order] == 1
    weight = 1.0 if sample_weight is None else np.asarray(sample_weight,
                                                           dtype=float)[order]
    tp = np.r_[0, np.add.reduceat(positive * weight, starts).cumsum()]
    fp = np.r_[0, np.add.reduceat(~positive * weight, starts).cumsum()]
    if sample_weight is None:
        return thresholds, tp.astype(int), fp.astype(int)
    return thresholds, tp, fp


def cost_loss(fp_cost: float, fn_cost: float) -> Callable:
    """The total cost of every cut, from its (weighted) counts."""
    def loss(tp, fp, n_pos):
        return fp * fp_cost + (n_pos - tp) * fn_cost
    return loss


def f1_loss(tp, fp, n_pos):
    """Minus the F1 score of every cut, from its (weighted) counts."""
    denominator = tp + fp + n_pos
    return -np.divide(2 * tp, denominator, out=np.zeros(np.shape(tp)),
                      where=denominator > 0)


def _middle_of_minimum(loss):
    """Index of the middle of the cuts of least loss, per row of ``loss``."""
    loss = np.atleast_2d(loss)
    low = loss.min(axis=1, keepdims=True)
    ties = loss <= low + 1e-9 * np.maximum(np.abs(low), 1.0)
    target = ties.sum(axis=1) // 2
    return np.argmax(np.cumsum(ties, axis=1) > target[:, None], axis=1)


def best_threshold(y_true, scores, loss: Callable, *, position: float = 0.5,
                   sample_weight=None):
    """The threshold of least ``loss`` on these rows, and that loss.

    Where several cuts share the least loss, the middle one is taken: the first
    would be the highest threshold of the optimal plateau, its edge. The cut lies
    between its two neighbouring distinct scores at ``position`` (see
    :func:`cost_curve`); for costs, ``fp_cost / (fp_cost + fn_cost)`` places it
    where the Bayes threshold would sit if the probability of the positive class
    rose linearly across the gap: where the classes separate with a wide gap,
    near the side of the cheaper errors, not midway.

    Parameters
    ----------
    y_true : array of shape (n,)
        1 for the positive class, 0 otherwise.
    scores : array of shape (n,)
    loss : callable
        ``loss(tp, fp, n_pos)`` of arrays of counts, lower is better:
        :func:`cost_loss` or :func:`f1_loss`.
    position : float, default=0.5
    sample_weight : array of shape (n,), default=None
        How many rows each entry stands for; 1 each by default.

    Returns
    -------
    threshold : float
        ``inf`` (nothing positive) when that is best.
    loss : float

    Examples
    --------
    >>> y = [0, 0, 0, 1, 1]
    >>> s = [0.1, 0.2, 0.3, 0.7, 0.9]
    >>> best_threshold(y, s, cost_loss(1.0, 9.0))[0]          # midway in the gap
    0.5
    >>> round(best_threshold(y, s, cost_loss(1.0, 9.0), position=0.1)[0], 2)
    0.34
    """
    thresholds, tp, fp = cost_curve(y_true, scores, position, sample_weight)
    losses = loss(tp, fp, tp[-1])
    best = int(_middle_of_minimum(losses)[0])
    return float(thresholds[best]), float(losses[best])


def best_cost_threshold(y_true, scores, fp_cost: float, fn_cost: float, *,
                        position: float = 0.5):
    """The threshold of least total cost on these rows, and that cost.

    Where several cuts share the least cost, the middle one is returned; the cut
    lies between its two neighbouring scores at ``position`` (see
    :func:`cost_curve`).

    Examples
    --------
    >>> t, cost = best_cost_threshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8],
    ...                               fp_cost=1, fn_cost=5)
    >>> round(t, 3), cost
    (0.225, 1.0)
    """
    return best_threshold(y_true, scores, cost_loss(fp_cost, fn_cost),
                          position=position)


def best_f1_threshold(y_true, scores):
    """The threshold of highest F1 on these rows, and that F1."""
    threshold, loss = best_threshold(y_true, scores, f1_loss)
    return threshold, -loss
