"""Decision thresholds from sorted scores, in O(n log n).

Sort the scores once; cumulative sums of positives and negatives give the false
positives and false negatives of every cut in one pass. No model is refitted per
candidate threshold.

Two rules choose a threshold from labelled scores:

- :func:`best_cost_threshold` (and :func:`best_f1_threshold`): the best cut on
  these rows. Where several cuts tie, the middle one, not the first: the first
  minimum is the highest threshold of the optimal plateau, the edge on the side
  of the expensive false negatives.
- :func:`stable_threshold`: the median of the best cuts of bootstrap resamples of
  the rows. With a few dozen positives the cost curve is flat and noisy near its
  minimum; the median sits in the middle of the near-optimal region instead of on
  one noisy dip, which is what generalises to new rows. This is the rule the
  search uses.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["bayes_threshold", "best_cost_threshold", "best_f1_threshold",
           "cost_curve", "cost_loss", "f1_loss", "stable_threshold"]


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


def cost_curve(y_true, scores, position: float = 0.5):
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

    Returns
    -------
    thresholds : array of shape (m + 1,)
        Predict positive when ``score >= threshold``. The first is ``inf``
        (nothing positive); each other lies between two distinct scores (at
        ``position``), the last at the lowest score (everything positive).
    tp, fp : arrays of shape (m + 1,)
        True and false positives at each threshold.
    """
    thresholds, order, starts = _groups(y_true, scores, position)
    positive = np.asarray(y_true)[order] == 1
    tp = np.r_[0, np.add.reduceat(positive.astype(float), starts).cumsum()]
    fp = np.r_[0, np.add.reduceat((~positive).astype(float), starts).cumsum()]
    return thresholds, tp.astype(int), fp.astype(int)


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
    thresholds, tp, fp = cost_curve(y_true, scores, position)
    cost = cost_loss(fp_cost, fn_cost)(tp, fp, tp[-1])
    best = int(_middle_of_minimum(cost)[0])
    return float(thresholds[best]), float(cost[best])


def best_f1_threshold(y_true, scores):
    """The threshold of highest F1 on these rows, and that F1."""
    thresholds, tp, fp = cost_curve(y_true, scores)
    loss = f1_loss(tp, fp, tp[-1])
    best = int(_middle_of_minimum(loss)[0])
    return float(thresholds[best]), float(-loss[best])


def stable_threshold(y_true, scores, loss: Callable, *, position: float = 0.5,
                     n_boot: int = 64, random_state: int = 0) -> float:
    """The median of the best thresholds of bootstrap resamples of the rows.

    Each resample weighs every row by a Poisson(1) count (the bootstrap), finds
    the cut of least ``loss`` on those weights (the middle one where several tie),
    and the median of their thresholds is returned. Where the minimum of the loss
    is sharp, every resample finds it; where a plateau or several dips of
    near-equal loss exist, the median lands in their middle rather than on the
    edge that the exact minimum of one sample happens to pick.

    Parameters
    ----------
    y_true : array of shape (n,)
        1 for the positive class, 0 otherwise.
    scores : array of shape (n,)
    loss : callable
        ``loss(tp, fp, n_pos)`` of arrays of weighted counts, lower is better:
        :func:`cost_loss` or :func:`f1_loss`.
    position : float, default=0.5
        Where a cut lies between the two distinct scores around it (see
        :func:`cost_curve`). For costs, ``fp_cost / (fp_cost + fn_cost)``: if
        the probability of the positive class rose linearly across the gap, the
        Bayes threshold would sit there. Where the classes separate with a
        wide gap, that keeps the threshold near the cheap errors' side.
    n_boot : int, default=64
        Number of bootstrap resamples.
    random_state : int, default=0
        Seed of the resampling; the same rows always give the same threshold.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = (rng.random(500) < 0.1).astype(int)
    >>> s = rng.random(500) + y
    >>> t = stable_threshold(y, s, cost_loss(1, 9))
    >>> bool(0.5 < t < 1.2)
    True
    """
    y_true = np.asarray(y_true)
    thresholds, order, starts = _groups(y_true, scores, position)
    positive = (y_true[order] == 1).astype(float)
    rng = np.random.default_rng(random_state)
    chosen = []
    chunk = max(1, min(n_boot, 4_000_000 // max(len(order), 1)))
    for done in range(0, n_boot, chunk):
        size = min(chunk, n_boot - done)
        weights = rng.poisson(1.0, size=(size, len(order))).astype(float)
        tp_group = np.add.reduceat(weights * positive, starts, axis=1)
        fp_group = np.add.reduceat(weights * (1.0 - positive), starts, axis=1)
        zeros = np.zeros((size, 1))
        tp = np.hstack([zeros, np.cumsum(tp_group, axis=1)])
        fp = np.hstack([zeros, np.cumsum(fp_group, axis=1)])
        # Rows drawn zero times tie the cuts around them: the middle of the tie
        # spreads the cut over the gap the resample leaves.
        best = _middle_of_minimum(loss(tp, fp, tp[:, -1:]))
        chosen.append(thresholds[best])
    chosen = np.concatenate(chosen)
    finite = chosen[np.isfinite(chosen)]
    if len(finite) <= len(chosen) // 2:
        return float("inf")  # most resamples predict nothing positive
    # The median of all, with "nothing positive" counted as above every score.
    return float(np.median(chosen))
