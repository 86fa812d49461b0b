"""Class priors: undo the shift in class odds that resampling and weights bring.

A model fitted on data whose positives were over-sampled (or whose negatives were
under-sampled, or whose positives weigh more) predicts odds inflated by the same
factor ``w``. Bayes' rule undoes it exactly for a well-specified model::

    odds(p) = odds(p_s) / w,   i.e.   p = b * p_s / (b * p_s - p_s + 1),  b = 1 / w

This module computes ``w`` for a fitted pipeline (resampler, class weights, and
the balanced ensembles that resample inside) and applies the correction, so that
every strategy's scores are probabilities on the scale of the real class
balance, before any calibrator is fitted.
"""

from __future__ import annotations

import numpy as np

__all__ = ["correct_odds", "odds_factor"]


def correct_odds(proba, factor: float) -> np.ndarray:
    """Divide the odds of ``proba`` by ``factor``.

    Examples
    --------
    >>> correct_odds([0.5, 0.9], 9.0).round(3).tolist()
    [0.1, 0.5]
    """
    proba = np.asarray(proba, dtype=float)
    if factor == 1.0:
        return proba
    return proba / (proba + factor * (1.0 - proba))


def _odds(n_neg: float, n_pos: float) -> float:
    return n_pos / max(n_neg, 1e-12)


def odds_factor(*, weighting: str, positive_weight: float | None,
                before: tuple[int, int], after: tuple[int, int],
                balances_itself: bool) -> float:
    """By how much a pipeline's training inflates the odds of the positive class.

    Parameters
    ----------
    weighting : {"none", "balanced", "balanced_subsample", "custom", "scale_pos_weight"}
        The model's class weighting.
    positive_weight : float or None
        The positive class's weight for ``"custom"`` and ``"scale_pos_weight"``.
    before, after : (n_negative, n_positive)
        Class counts of the training rows, and of what the model was fitted on
        (after resampling; the same when nothing was resampled).
    balances_itself : bool
        The model resamples each of its members to balanced classes (balanced
        random forest, EasyEnsemble).

    Returns
    -------
    float
        ``w``: the model's odds are ``w`` times those of the training rows.

    Examples
    --------
    >>> odds_factor(weighting="none", positive_weight=None, before=(900, 100),
    ...             after=(900, 450), balances_itself=False)
    4.5
    >>> odds_factor(weighting="balanced", positive_weight=None, before=(900, 100),
    ...             after=(900, 100), balances_itself=False)
    9.0
    """
    factor = _odds(*after) / max(_odds(*before), 1e-12)
    n_neg, n_pos = after
    if balances_itself or weighting in ("balanced", "balanced_subsample"):
        factor *= n_neg / max(n_pos, 1)
    elif weighting in ("custom", "scale_pos_weight"):
        factor *= float(positive_weight)
    return float(factor)
