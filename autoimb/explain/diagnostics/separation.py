"""How well the classes separate at all.

ROC AUC and average precision of the returned model's out-of-fold
probabilities, with 95% stratified bootstrap intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoimb.explain.diagnostics._stats import _bootstrap
from autoimb.pipeline.metrics import weighted_average_precision, weighted_roc_auc

#: ROC AUC below which the features are said to separate the classes poorly.
WEAK_AUC = 0.80


@dataclass(frozen=True)
class Separability:
    """How well the returned model's out-of-fold probabilities separate the
    classes, with 95% stratified bootstrap intervals.

    Attributes
    ----------
    roc_auc, roc_auc_interval
        ROC AUC (0.5: no signal, 1: perfect) and its interval.
    average_precision, average_precision_interval
        Average precision and its interval; a random ranking scores the
        prevalence.
    prevalence : float
        Share of positives among the rows.
    n_rows, n_positive : int
    n_boot : int
        Bootstrap resamples behind the intervals.
    """

    roc_auc: float
    roc_auc_interval: tuple[float, float]
    average_precision: float
    average_precision_interval: tuple[float, float]
    prevalence: float
    n_rows: int
    n_positive: int
    n_boot: int


def separability(y, proba, *, n_boot: int = 200,
                 random_state: int = 0) -> Separability:
    """ROC AUC and average precision of out-of-fold probabilities, with 95%
    stratified bootstrap intervals.

    Parameters
    ----------
    y : array of 0 and 1
    proba : array of float
        Out-of-fold probabilities of the positive class.
    n_boot : int, default=200
    random_state : int, default=0

    Returns
    -------
    Separability

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = (rng.random(2000) < 0.05).astype(int)
    >>> s = separability(y, rng.random(2000) + 2 * y)
    >>> s.roc_auc, s.roc_auc_interval
    (1.0, (1.0, 1.0))
    """
    y = np.asarray(y).astype(int)
    proba = np.asarray(proba, dtype=float)
    ones = np.ones((1, len(y)))
    auc = float(weighted_roc_auc(ones, y, proba)[0])
    ap = float(weighted_average_precision(ones, y, proba)[0])

    def both(weights):
        return np.column_stack([weighted_roc_auc(weights, y, proba),
                                weighted_average_precision(weights, y, proba)])

    boot = _bootstrap(both, y, n_boot, random_state)
    low, high = np.nanquantile(boot, [0.025, 0.975], axis=0)
    return Separability(
        roc_auc=auc, roc_auc_interval=(float(low[0]), float(high[0])),
        average_precision=ap,
        average_precision_interval=(float(low[1]), float(high[1])),
        prevalence=float(np.mean(y)), n_rows=len(y), n_positive=int(np.sum(y)),
        n_boot=n_boot)
