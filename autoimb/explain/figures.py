"""Diagnostic figures of a binary classifier's scores.

Every function here is a pure function of numpy arrays that returns a
:class:`matplotlib.figure.Figure`. Figures are built with
``matplotlib.figure.Figure()`` directly, so no pyplot state and no global
backend choice is involved: importing this module never calls
``matplotlib.use`` and the figures can be made from any thread. Render one
to PNG bytes with :func:`figure_to_png` (which uses the Agg renderer).

Examples
--------
>>> import numpy as np
>>> from autoimb.explain.figures import figure_to_png, plot_cost_curve
>>> y = np.array([0, 0, 0, 1, 0, 1])
>>> p = np.array([0.1, 0.3, 0.35, 0.4, 0.6, 0.9])
>>> fig = plot_cost_curve(y, p, fp_cost=1.0, fn_cost=5.0, threshold=0.4)
>>> figure_to_png(fig)[:8]
b'\\x89PNG\\r\\n\\x1a\\n'
"""

from __future__ import annotations

import io
import logging
import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from autoimb.exceptions import AutoImbError
from autoimb.pipeline.threshold import cost_curve, cost_loss

__all__ = [
    "figure_to_png",
    "plot_bars",
    "plot_cost_curve",
    "plot_learning_curve",
    "plot_precision_recall",
    "plot_reliability",
    "plot_search_history",
]

logger = logging.getLogger(__name__)

#: The eight bytes every PNG file starts with.
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Labels (and gids) of the artists the plots draw; tests and callers can find
# the artists by these names.
_COST_LINE = "total cost"
_CHOSEN_GID = "chosen_threshold"
_BAYES_GID = "bayes_threshold"
_TRIVIAL_GID = "trivial_cost"
_MINIMUM_GID = "minimum_cost"
_ZOOM_GID = "zoom_note"
_PR_LINE_GID = "pr_curve"
_OPERATING_POINT_GID = "operating_point"
_DIAGONAL_GID = "diagonal"
_BEFORE_GID = "before_calibration"
_AFTER_GID = "after_calibration"


def _check_scores(
    y_true: object, proba: object, *, proba_name: str = "proba"
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a binary target and one score per sample.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels in {0, 1}, 1 being the positive (minority) class.
    proba : array-like of shape (n_samples,)
        Scores, usually probabilities of the positive class.
    proba_name : str, default="proba"
        Name of the score argument, used in error messages.

    Returns
    -------
    y : ndarray of shape (n_samples,), dtype int
        The labels.
    p : ndarray of shape (n_samples,), dtype float
        The scores.

    Raises
    ------
    AutoImbError
        If the shapes differ, a label is not 0 or 1, a score is not finite,
        or there are no samples.
    """
    y = np.asarray(y_true)
    p = np.asarray(proba, dtype=float)
    if y.ndim != 1 or p.ndim != 1:
        raise AutoImbError(
            f"y_true and {proba_name} must be 1-D arrays, got shapes {y.shape} and "
            f"{p.shape}; pass the positive-class column only (e.g. proba[:, 1])."
        )
    if y.shape[0] != p.shape[0]:
        raise AutoImbError(
            f"y_true has {y.shape[0]} samples but {proba_name} has {p.shape[0]}; "
            "pass one score per sample."
        )
    if y.shape[0] == 0:
        raise AutoImbError("y_true is empty; pass at least one sample to plot.")
    labels = set(np.unique(y).tolist())
    if not labels <= {0, 1}:
        raise AutoImbError(
            f"y_true must hold only 0 and 1 (1 = positive class), got labels "
            f"{sorted(labels, key=str)!r}; encode the target as 0/1 first."
        )
    if not np.all(np.isfinite(p)):
        n_bad = int(np.sum(~np.isfinite(p)))
        raise AutoImbError(
            f"{proba_name} has {n_bad} non-finite value(s) (NaN or inf); "
            "drop those samples or fix the model that produced them."
        )
    return y.astype(int), p


def _check_cost(value: float, name: str) -> float:
    """Return ``value`` as a float, or raise if it is not a finite cost >= 0."""
    try:
        cost = float(value)
    except (TypeError, ValueError):
        raise AutoImbError(
            f"{name}={value!r} is not a number; pass a finite cost >= 0."
        ) from None
    if not math.isfinite(cost) or cost < 0:
        raise AutoImbError(f"{name}={value!r} is invalid; pass a finite cost >= 0.")
    return cost


def _cost_steps(
    y_true: np.ndarray, proba: np.ndarray, *, fp_cost: float, fn_cost: float
) -> tuple[np.ndarray, np.ndarray]:
    """Total misclassification cost as a step function of the threshold.

    The counts of every cut come from :func:`autoimb.pipeline.threshold.cost_curve`
    (one sort, cumulative sums: O(n log n)), the function the search chooses
    its thresholds with; a sample is predicted positive when its score is
    ``>= threshold``.

    Parameters
    ----------
    y_true : ndarray of shape (n_samples,)
        Labels in {0, 1}.
    proba : ndarray of shape (n_samples,)
        Scores.
    fp_cost, fn_cost : float
        Cost of one false positive and of one false negative.

    Returns
    -------
    thresholds : ndarray of shape (n_distinct + 1,)
        The distinct scores in increasing order (the lowest predicts
        everything positive), then one value above every score (everything
        negative): 1, or just above the top score if it is 1 or more.
    costs : ndarray of shape (n_distinct + 1,)
        ``costs[k]`` is the total cost for any threshold in
        ``(thresholds[k - 1], thresholds[k]]``.
    """
    # position=1: each cut at a distinct score, where the cost really changes.
    cuts, tp, fp = cost_curve(y_true, proba, position=1.0)
    costs = cost_loss(fp_cost, fn_cost)(tp, fp, tp[-1]).astype(float)
    top = float(np.max(proba))
    cuts = cuts.copy()
    cuts[0] = 1.0 if top < 1.0 else float(np.nextafter(top, np.inf))
    return cuts[::-1], costs[::-1]


def _cost_at(
    y_true: np.ndarray,
    proba: np.ndarray,
    threshold: float,
    *,
    fp_cost: float,
    fn_cost: float,
) -> float:
    """Total cost of predicting positive when ``proba >= threshold``."""
    pred = proba >= threshold
    fp = int(np.sum(pred & (y_true == 0)))
    fn = int(np.sum(~pred & (y_true == 1)))
    return fp_cost * fp + fn_cost * fn


def _precision_recall(
    y_true: np.ndarray, proba: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Precision-recall pairs at every distinct threshold, and average precision.

    Returns
    -------
    precision, recall : ndarray
        From the highest threshold (lowest recall) down to the lowest, with a
        first point ``(precision=1, recall=0)`` as scikit-learn does.
    average_precision : float
        ``sum_k (R_k - R_{k-1}) P_k``, the step-wise area (same definition as
        :func:`sklearn.metrics.average_precision_score`); NaN without
        positives.
    """
    order = np.argsort(-proba, kind="mergesort")
    p_sorted = proba[order]
    y_sorted = y_true[order]
    # Last index of each run of equal scores, in decreasing score order.
    distinct = np.flatnonzero(np.diff(p_sorted)) if p_sorted.size > 1 else []
    ends = np.r_[distinct, p_sorted.size - 1].astype(int)
    tp = np.cumsum(y_sorted)[ends]
    predicted = ends + 1
    n_pos = int(y_sorted.sum())
    precision = tp / predicted
    if n_pos == 0:
        recall = np.full_like(precision, np.nan)
        return np.r_[1.0, precision], np.r_[0.0, recall], float("nan")
    recall = tp / n_pos
    recall = np.r_[0.0, recall]
    precision = np.r_[1.0, precision]
    ap = float(np.sum(np.diff(recall) * precision[1:]))
    return precision, recall, ap


def plot_precision_recall(
    y_true: np.ndarray, proba: np.ndarray, *, threshold: float | None = None
) -> Figure:
    """Plot the precision-recall curve of positive-class scores.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels in {0, 1}, 1 being the positive (minority) class.
    proba : array-like of shape (n_samples,)
        Score of the positive class for each sample.
    threshold : float or None, default=None
        Decision threshold (positive when ``proba >= threshold``); its
        precision and recall are marked on the curve. ``None`` marks nothing.

    Returns
    -------
    matplotlib.figure.Figure
        One axes: the curve (gid ``"pr_curve"``), the prevalence as a
        dashed horizontal line (the precision of a random classifier) and,
        with a threshold, the operating point (gid ``"operating_point"``).
        The title holds the average precision (AP).

    Raises
    ------
    AutoImbError
        If the inputs are not a 0/1 target and one finite score per sample.

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_precision_recall(np.array([0, 1, 0, 1]),
    ...                             np.array([0.2, 0.9, 0.4, 0.3]), threshold=0.5)
    >>> fig.axes[0].get_title()
    'Precision-recall (AP = 0.833)'
    """
    y, p = _check_scores(y_true, proba)
    precision, recall, ap = _precision_recall(y, p)
    n_pos = int(y.sum())
    if n_pos == 0:
        logger.warning(
            "plot_precision_recall: y_true has no positive sample, recall is "
            "undefined; the curve is empty."
        )
    fig = Figure(figsize=(5.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    # Precision P_k holds over (R_{k-1}, R_k]: the same steps AP sums.
    (line,) = ax.plot(recall, precision, drawstyle="steps-pre", label="model")
    line.set_gid(_PR_LINE_GID)
    prevalence = n_pos / y.size
    ax.axhline(
        prevalence,
        linestyle="--",
        color="grey",
        label=f"random (prevalence {prevalence:.3g})",
    )
    if threshold is not None:
        pred = p >= float(threshold)
        tp = int(np.sum(pred & (y == 1)))
        n_pred = int(pred.sum())
        op_precision = tp / n_pred if n_pred else 1.0
        op_recall = tp / n_pos if n_pos else float("nan")
        (point,) = ax.plot(
            [op_recall],
            [op_precision],
            marker="o",
            markersize=9,
            linestyle="none",
            color="tab:red",
            label=(
                f"threshold {float(threshold):.3g}: precision {op_precision:.3f}, "
                f"recall {op_recall:.3f}"
            ),
        )
        point.set_gid(_OPERATING_POINT_GID)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.05)
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.set_title(f"Precision-recall (AP = {ap:.3f})")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize="small")
    return fig


def plot_cost_curve(
    y_true: np.ndarray,
    proba: np.ndarray,
    *,
    fp_cost: float,
    fn_cost: float,
    threshold: float,
) -> Figure:
    """Plot the total misclassification cost against the decision threshold.

    A sample is predicted positive when ``proba >= threshold``; the total cost
    is ``fp_cost * FP + fn_cost * FN``. It is computed at every cut between
    distinct scores by :func:`autoimb.pipeline.threshold.cost_curve` (cumulative sums
    over the sorted scores, O(n log n)), and drawn as a step function.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels in {0, 1}, 1 being the positive (minority) class.
    proba : array-like of shape (n_samples,)
        Score of the positive class for each sample.
    fp_cost : float
        Cost of one false positive (>= 0).
    fn_cost : float
        Cost of one false negative (>= 0).
    threshold : float
        The chosen decision threshold; marked with a labelled vertical line.

    Returns
    -------
    matplotlib.figure.Figure
        One axes with: the cost curve (label ``"total cost"``), the chosen
        threshold (gid ``"chosen_threshold"``), the Bayes threshold
        ``fp_cost / (fp_cost + fn_cost)`` (gid ``"bayes_threshold"``), optimal
        for calibrated probabilities, and the cost of the best trivial
        classifier ``min(n_neg * fp_cost, n_pos * fn_cost)`` as a dashed
        horizontal line (gid ``"trivial_cost"``) and the lowest cost (gid
        ``"minimum_cost"``). The legend is below the axes.

    Raises
    ------
    AutoImbError
        If the inputs are not a 0/1 target and one finite score per sample, or
        a cost is negative or not finite, or both costs are 0.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 0, 1, 1])
    >>> p = np.array([0.1, 0.6, 0.4, 0.8])
    >>> fig = plot_cost_curve(y, p, fp_cost=1, fn_cost=4, threshold=0.3)
    >>> line = [ln for ln in fig.axes[0].lines if ln.get_label() == "total cost"][0]
    >>> float(min(line.get_ydata()))
    1.0
    """
    y, p = _check_scores(y_true, proba)
    fp_cost = _check_cost(fp_cost, "fp_cost")
    fn_cost = _check_cost(fn_cost, "fn_cost")
    if fp_cost + fn_cost == 0:
        raise AutoImbError(
            "fp_cost and fn_cost are both 0, so every threshold costs nothing; "
            "pass a positive cost for at least one kind of error."
        )
    threshold = float(threshold)
    thresholds, costs = _cost_steps(y, p, fp_cost=fp_cost, fn_cost=fn_cost)
    n_pos = int(y.sum())
    n_neg = int(y.size - n_pos)
    trivial = min(n_neg * fp_cost, n_pos * fn_cost)
    bayes = fp_cost / (fp_cost + fn_cost)
    chosen_cost = _cost_at(y, p, threshold, fp_cost=fp_cost, fn_cost=fn_cost)

    # Below the lowest score everything is predicted positive: same cost as at
    # the lowest score. "steps-pre" draws costs[k] over (x[k-1], x[k]].
    x_left = min(0.0, float(thresholds[0]))
    xs = np.r_[x_left, thresholds]
    ys = np.r_[costs[0], costs]

    fig = Figure(figsize=(6.0, 4.8), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(xs, ys, drawstyle="steps-pre", color="tab:blue", label=_COST_LINE)
    best = int(np.argmin(costs))
    bayes_cost = _cost_at(y, p, bayes, fp_cost=fp_cost, fn_cost=fn_cost)
    view = _cost_view(xs, ys, marks=(threshold, bayes, float(thresholds[best])),
                      costs_of_interest=(chosen_cost, bayes_cost))
    off_axis = view is not None and trivial > view[3]
    ax.axhline(
        trivial,
        linestyle="--",
        color="grey",
        gid=_TRIVIAL_GID,
        label=f"best trivial classifier ({_short(trivial)}"
        + (", above the axis)" if off_axis else ")"),
    )
    same = math.isclose(threshold, bayes, rel_tol=1e-9, abs_tol=1e-12)
    # When the chosen threshold is the Bayes one, the thick red line shows
    # through on both sides of the dashed green one drawn on top of it.
    ax.axvline(
        threshold,
        color="tab:red",
        linewidth=3.5 if same else 1.5,
        alpha=0.6 if same else 1.0,
        zorder=2.5,
        gid=_CHOSEN_GID,
        label=f"chosen threshold {threshold:.3g} (cost {_short(chosen_cost)})",
    )
    ax.axvline(
        bayes,
        color="tab:green",
        linestyle="--" if same else ":",
        linewidth=1.5,
        zorder=3.0,
        gid=_BAYES_GID,
        label=(f"Bayes threshold fp/(fp+fn) = {bayes:.3g}: chosen = Bayes" if same
               else f"Bayes threshold fp/(fp+fn) = {bayes:.3g} (cost "
               f"{_short(bayes_cost)})"),
    )
    ax.annotate(
        "chosen = Bayes" if same else f"chosen {threshold:.3g}",
        xy=(threshold, 0.0),
        xycoords=("data", "axes fraction"),
        xytext=(3, 4),
        textcoords="offset points",
        color="tab:red",
        fontsize="small",
    )
    # The lowest cost holds over (thresholds[best - 1], thresholds[best]].
    ax.plot(
        [thresholds[best]],
        [costs[best]],
        marker="v",
        linestyle="none",
        color="black",
        zorder=3.5,
        gid=_MINIMUM_GID,
        label=f"lowest cost of this curve {_short(costs[best])} at "
        f"{thresholds[best]:.3g} (in hindsight)",
    )
    if view is not None:
        ax.set_xlim(view[0], view[1])
        ax.set_ylim(view[2], view[3])
        ax.annotate(
            f"zoomed on the low costs: the curve goes up to {_short(float(ys.max()))}",
            xy=(0.5, 1.0), xycoords="axes fraction", xytext=(0, 3),
            textcoords="offset points", ha="center", va="bottom",
            fontsize="small", color="#555555", gid=_ZOOM_GID,
        )
    ax.set_xlabel("Decision threshold (positive when score >= threshold)")
    ax.set_ylabel("Total cost")
    ax.set_title(f"Total cost (FP = {fp_cost:g}, FN = {fn_cost:g})",
                 pad=16 if view is not None else 6)
    ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", ncols=1, fontsize="small")
    return fig


def _cost_view(
    xs: np.ndarray,
    ys: np.ndarray,
    *,
    marks: tuple[float, ...],
    costs_of_interest: tuple[float, ...],
) -> tuple[float, float, float, float] | None:
    """Axis limits ``(x0, x1, y0, y1)`` around the low part of a cost curve.

    The cost of predicting everything positive (or negative) can be a hundred
    times the lowest cost, which squeezes the region that matters (the
    minimum, the chosen and the Bayes thresholds) into a flat line at the
    bottom. The value axis stops at the lowest cost plus three times the
    larger of (the worst cost of interest minus the lowest, a quarter of the
    lowest), and the threshold axis spans the thresholds whose cost is below
    that, and the ``marks``, with a margin. None when the whole curve fits
    under that limit anyway.
    """
    low = float(ys.min())
    high = float(ys.max())
    worst = max(costs_of_interest)
    span = max(worst - low, 0.25 * low) or 0.05 * (high - low)
    top = low + 3.0 * span
    if span <= 0 or top >= 0.8 * high:
        return None
    bottom = max(0.0, low - 0.3 * span)
    # ys[k] holds over (xs[k-1], xs[k]]: a step under the top spans from the
    # previous x to its own.
    under = np.flatnonzero(ys <= top)
    x_lo = float(xs[max(under[0] - 1, 0)])
    x_hi = float(xs[under[-1]])
    x_lo, x_hi = min(x_lo, *marks), max(x_hi, *marks)
    margin = 0.1 * (x_hi - x_lo or 0.1)
    x0 = max(x_lo - margin, float(xs[0]) - 0.02)
    x1 = min(x_hi + margin, float(xs[-1]) + 0.02)
    return x0, x1, bottom, top


def _reliability_points(
    y: np.ndarray, p: np.ndarray, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean score and observed positive rate in bins of ``p`` that hold about
    the same number of positives each.

    Bins of equal width, or of equal numbers of rows, put nearly every point
    of a rare positive class at the bottom left: on 2% prevalence nine bins
    in ten hold the low scores of negatives. Cutting the scores at the
    quantiles of the positives' scores instead gives each observed rate about
    ``n_positives / n_bins`` positives to rest on, and spreads the points over
    the scores positives get. Without positives (or with fewer than
    ``n_bins``), the bins hold equal numbers of rows.
    """
    positives = p[y == 1]
    reference = positives if positives.size >= n_bins else p
    edges = np.unique(np.quantile(reference, np.linspace(0.0, 1.0, n_bins + 1)))
    if edges.size < 2:
        return np.array([p.mean()]), np.array([y.mean()])
    # Inner edges only: bins are (-inf, e1), [e1, e2), ..., [e_last, +inf).
    idx = np.searchsorted(edges[1:-1], p, side="right")
    counts = np.bincount(idx, minlength=edges.size - 1)
    keep = counts > 0
    mean_p = np.bincount(idx, weights=p, minlength=edges.size - 1)[keep] / counts[keep]
    rate = np.bincount(idx, weights=y, minlength=edges.size - 1)[keep] / counts[keep]
    return mean_p, rate


def plot_reliability(
    y_true: np.ndarray,
    raw_proba: np.ndarray,
    calibrated_proba: np.ndarray,
    *,
    n_bins: int = 10,
) -> Figure:
    """Plot a reliability diagram before and after calibration.

    The samples are split into ``n_bins`` bins of each score cut at the
    quantiles of the positives' scores, so that each bin holds about the same
    number of positives (bins of equal width or of equal row counts leave
    almost every point at the bottom left when positives are rare); each bin
    gives one point (mean score, observed fraction of positives).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels in {0, 1}, 1 being the positive (minority) class.
    raw_proba : array-like of shape (n_samples,)
        Positive-class scores before calibration.
    calibrated_proba : array-like of shape (n_samples,)
        Positive-class probabilities after calibration, for the same samples.
    n_bins : int, default=10
        Number of bins (fewer when scores are tied).

    Returns
    -------
    matplotlib.figure.Figure
        One axes with the diagonal (gid ``"diagonal"``), the raw curve (gid
        ``"before_calibration"``) and the calibrated one (gid
        ``"after_calibration"``); the legend gives each Brier score.

    Raises
    ------
    AutoImbError
        If the inputs are not a 0/1 target and finite scores of one length,
        or ``n_bins`` is not an integer >= 1.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 0, 1, 1, 0, 1])
    >>> raw = np.array([0.2, 0.4, 0.5, 0.9, 0.6, 0.7])
    >>> fig = plot_reliability(y, raw, raw ** 2, n_bins=3)
    >>> sorted(ln.get_gid() for ln in fig.axes[0].lines)
    ['after_calibration', 'before_calibration', 'diagonal']
    """
    y, raw = _check_scores(y_true, raw_proba, proba_name="raw_proba")
    _, cal = _check_scores(y_true, calibrated_proba, proba_name="calibrated_proba")
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)):
        raise AutoImbError(f"n_bins={n_bins!r} is not an integer; pass e.g. 10.")
    if n_bins < 1:
        raise AutoImbError(f"n_bins={n_bins} must be >= 1; pass e.g. 10.")
    fig = Figure(figsize=(5.5, 5.0), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(
        [0, 1],
        [0, 1],
        linestyle="--",
        color="grey",
        gid=_DIAGONAL_GID,
        label="perfectly calibrated",
    )
    for scores, gid, name, color in (
        (raw, _BEFORE_GID, "before calibration", "tab:orange"),
        (cal, _AFTER_GID, "after calibration", "tab:blue"),
    ):
        mean_p, rate = _reliability_points(y, scores, int(n_bins))
        brier = float(np.mean((scores - y) ** 2))
        ax.plot(
            mean_p,
            rate,
            marker="o",
            color=color,
            gid=gid,
            label=f"{name} (Brier {brier:.4f})",
        )
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("Mean predicted probability (bins of equal numbers of positives)")
    ax.set_ylabel("Observed fraction of positives")
    ax.set_title("Reliability")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    return fig


#: A trial's value is an outlier of the search history when it lies further
#: from the best value than this many times the spread of the best three
#: quarters of the values (best value to their third quartile).
OUTLIER_SPREADS = 4.0


def _outlier_limit(values: np.ndarray, *, minimize: bool) -> float | None:
    """The worst value the search-history axis shows, or None to show all.

    Values worse than ``best + OUTLIER_SPREADS * (q - best)``, ``q`` the third
    quartile of the values counted from the best side (the 75th percentile
    when lower is better, the 25th when higher is), would flatten the others:
    the axis stops there and they are marked at its edge instead.
    """
    if values.size < 4:
        return None
    sign = 1.0 if minimize else -1.0
    v = sign * values  # lower is better from here on
    best = float(v.min())
    spread = float(np.quantile(v, 0.75)) - best
    if spread <= 0:
        spread = float(np.median(np.abs(v - best))) or abs(best) * 0.05 or 1.0
    limit = best + OUTLIER_SPREADS * spread
    if float(v.max()) <= limit:
        return None
    return sign * limit


def plot_search_history(
    numbers: np.ndarray,
    values: np.ndarray,
    *,
    minimize: bool,
    metric: str,
    stopped: np.ndarray | None = None,
) -> Figure:
    """Plot each trial's value and the best value so far.

    A few trials far worse than the rest (a model that failed on this data)
    would stretch the value axis until the others and the best-so-far line
    sit flat along one edge. The axis therefore stops at
    ``OUTLIER_SPREADS`` times the spread of the best three quarters of the
    values beyond the best one (see :func:`_outlier_limit`); the trials beyond
    it are drawn as triangles on the axis edge (gid ``"outliers"``), and a
    note says how many there are and how far they go.

    Parameters
    ----------
    numbers : array-like of int
        Trial numbers of the completed trials.
    values : array-like of float
        Their values, in the same order.
    minimize : bool
        Whether lower values are better.
    metric : str
        Name of the value, for the axis.
    stopped : array-like of int, default=None
        Numbers of trials that ran part way (pruned, stopped or failed),
        marked at the bottom.

    Returns
    -------
    matplotlib.figure.Figure
        The trials as dots (gid ``"trials"``), the best so far as a step line
        (gid ``"best_so_far"``), and the trials off the axis, if any, as
        triangles on its edge (gid ``"outliers"``) with a note (gid
        ``"outlier_note"``).

    Examples
    --------
    >>> fig = plot_search_history([0, 1, 3], [5.0, 3.0, 4.0], minimize=True,
    ...                           metric="cost", stopped=[2])
    >>> [ln for ln in fig.axes[0].lines if ln.get_gid() == "best_so_far"][0].get_ydata()
    array([5., 3., 3.])
    >>> fig = plot_search_history(range(8), [600, 610, 590, 14000, 605, 580, 620,
    ...                           575], minimize=True, metric="cost")
    >>> bool(fig.axes[0].get_ylim()[1] < 1000)
    True
    """
    numbers = np.asarray(numbers, dtype=int)
    values = np.asarray(values, dtype=float)
    order = np.argsort(numbers, kind="mergesort")
    numbers, values = numbers[order], values[order]
    best = (np.minimum if minimize else np.maximum).accumulate(values) \
        if values.size else values
    fig = Figure(figsize=(6.5, 4.0), layout="constrained")
    ax = fig.add_subplot()
    limit = _outlier_limit(values, minimize=minimize)
    if limit is None:
        far = np.zeros(values.size, dtype=bool)
    else:
        far = values > limit if minimize else values < limit
    ax.plot(numbers[~far], values[~far], "o", color="tab:blue", alpha=0.6,
            gid="trials", label="completed trial")
    ax.plot(numbers, best, drawstyle="steps-post", color="tab:red", gid="best_so_far",
            label="best so far")
    if stopped is not None and len(stopped):
        ax.plot(np.asarray(stopped), np.full(len(stopped), 0.0), "x", color="grey",
                transform=ax.get_xaxis_transform(), gid="stopped",
                label="pruned, stopped or failed")
    if far.any():
        shown = values[~far]
        low, high = float(shown.min()), float(shown.max())
        pad = 0.06 * (high - low or abs(high) or 1.0)
        ax.set_ylim(low - pad, high + pad)
        edge = 1.0 if minimize else 0.0
        ax.plot(numbers[far], np.full(int(far.sum()), edge), "^" if minimize else "v",
                color="tab:purple", clip_on=False, transform=ax.get_xaxis_transform(),
                gid="outliers", label="trial off the axis")
        worst = float(values[far].max() if minimize else values[far].min())
        n_far = int(far.sum())
        ax.annotate(
            f"{n_far} trial{'s' if n_far > 1 else ''} "
            f"{'above' if minimize else 'below'}, "
            f"{'up' if minimize else 'down'} to {_short(worst)}",
            xy=(1.0, 1.0), xycoords="axes fraction", xytext=(0, 3),
            textcoords="offset points", ha="right", va="bottom", fontsize="small",
            color="tab:purple", gid="outlier_note")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Trial number")
    ax.set_ylabel(f"{metric} ({'lower' if minimize else 'higher'} is better)")
    ax.set_title("Search history", loc="left" if far.any() else "center")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def _short(value: float) -> str:
    """A number for a note: thousands separated, 4 significant digits."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def plot_bars(
    labels: list[str],
    values: list[float],
    *,
    title: str,
    xlabel: str,
    highlight: int | None = None,
) -> Figure:
    """Plot one horizontal bar per label, the first at the top.

    Parameters
    ----------
    labels : list of str
    values : list of float
    title, xlabel : str
    highlight : int, default=None
        Index of a bar to draw in red (e.g. the winner).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_bars(["model", "resampler"], [0.8, 0.2], title="Importance",
    ...                 xlabel="share")
    >>> len(fig.axes[0].patches)
    2
    """
    values = np.asarray(values, dtype=float)
    fig = Figure(figsize=(6.5, 0.9 + 0.45 * max(len(labels), 1)), layout="constrained")
    ax = fig.add_subplot()
    colors = ["tab:red" if i == highlight else "tab:blue" for i in range(len(labels))]
    positions = np.arange(len(labels))[::-1]
    ax.barh(positions, values, color=colors)
    ax.set_yticks(positions, labels)
    for y, value in zip(positions, values, strict=True):
        ax.annotate(f"{value:.3g}", (value, y), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize="small")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.margins(x=0.15)
    ax.grid(axis="x", alpha=0.3)
    return fig


def plot_learning_curve(
    n_train: list[int], values: list[float], *, metric: str, minimize: bool
) -> Figure:
    """Plot a value against the number of training rows per fold.

    Examples
    --------
    >>> fig = plot_learning_curve([100, 200, 400], [0.5, 0.4, 0.35],
    ...                           metric="normalized cost", minimize=True)
    >>> fig.axes[0].get_xlabel()
    'Training rows per fold'
    """
    fig = Figure(figsize=(6.0, 4.0), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(n_train, values, "o-", color="tab:blue", gid="learning_curve")
    ax.set_xlabel("Training rows per fold")
    ax.set_ylabel(f"{metric} ({'lower' if minimize else 'higher'} is better)")
    ax.set_title("Learning curve of the returned model's strategy")
    ax.grid(alpha=0.3)
    return fig


def figure_to_png(fig: Figure, *, dpi: int = 100) -> bytes:
    """Render a figure to PNG bytes with the Agg renderer.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to render.
    dpi : int, default=100
        Resolution in dots per inch.

    Returns
    -------
    bytes
        The PNG file's content; starts with ``b"\\x89PNG\\r\\n\\x1a\\n"``.

    Raises
    ------
    TypeError
        If ``fig`` is not a matplotlib Figure.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> figure_to_png(Figure(figsize=(1, 1)))[:4]
    b'\\x89PNG'
    """
    if not isinstance(fig, Figure):
        raise TypeError(
            f"fig must be a matplotlib.figure.Figure, got {type(fig).__name__}; "
            "pass the object a plot_* function returned."
        )
    buf = io.BytesIO()
    # Figure.savefig switches to the Agg canvas for "png" on its own, whatever
    # backend pyplot would use.
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
