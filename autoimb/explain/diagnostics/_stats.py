"""Statistics shared by the diagnoses.

Stratified bootstrap resamples of the rows (for the intervals of
:mod:`~autoimb.explain.diagnostics.separation`), the paired bootstrap standard
error of the difference between two sets of decisions or scores (for what
imbalance handling gains and what more rows gain), and gains normalized by the
cost of the best trivial rule, on the scale of :data:`MIN_GAIN`.
"""

from __future__ import annotations

import numpy as np

from autoimb.pipeline.metrics import (
    stratified_bootstrap_counts,
    trivial_cost,
    weighted_average_precision,
)

#: A gain worth a sentence of its own: 2% of the best trivial rule's cost (or 2
#: points of average precision), and beyond two standard errors. Relative gains
#: mislead near a cost of 0: halving a normalized cost of 0.01 changes nothing.
MIN_GAIN = 0.02


def _bootstrap(statistic, y, n_boot, random_state, chunk=50):
    """``statistic(weights)`` over stratified bootstrap resamples, in chunks."""
    rng = np.random.default_rng(random_state)
    values = []
    for done in range(0, n_boot, chunk):
        size = min(chunk, n_boot - done)
        values.append(statistic(stratified_bootstrap_counts(y, size, rng)))
    return np.concatenate(values)


def _losses(y, pred, objective):
    """Cost of each row's decision."""
    return np.where(pred & (y == 0), objective.fp_cost,
                    np.where(~pred & (y == 1), objective.fn_cost, 0.0))


def _paired_se(y, a, b, objective, *, n_boot=200, random_state=0) -> float:
    """Standard error of value(b) - value(a) (cost saved by b, or AP gained),
    by a stratified bootstrap of the rows: decisions for cost, scores for AP."""
    y = np.asarray(y).astype(int)
    if objective.kind == "cost":
        diff = _losses(y, np.asarray(a, bool), objective) - \
            _losses(y, np.asarray(b, bool), objective)

        def statistic(weights):
            # Totals over as many rows as there are: weights sum to len(y).
            return weights @ diff
    else:
        a, b = np.asarray(a, float), np.asarray(b, float)

        def statistic(weights):
            return (weighted_average_precision(weights, y, b)
                    - weighted_average_precision(weights, y, a))
    return float(np.nanstd(_bootstrap(statistic, y, n_boot, random_state)))


def _normalized(gain, trivial, objective):
    """A gain on the scale of :data:`MIN_GAIN`."""
    if objective.kind != "cost":
        return float(gain)
    return float(gain / trivial) if trivial else None


def _trivial(y, objective):
    """Cost of the best trivial rule, for normalized costs (cost objective)."""
    if objective.kind != "cost":
        return None
    return trivial_cost(y, objective.fp_cost, objective.fn_cost) or None
