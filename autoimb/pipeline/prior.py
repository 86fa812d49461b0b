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

import math

import numpy as np

__all__ = ["adjust_to_prior", "correct_odds", "em_prior", "em_standard_error",
           "odds_factor"]


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


def adjust_to_prior(proba, training_rate: float, new_rate: float) -> np.ndarray:
    """Probabilities of the positive class after the positive rate changes.

    Under a prior shift (the class-conditional distributions ``p(x | y)`` stay,
    the positive rate moves from ``training_rate`` to ``new_rate``), Bayes' rule
    multiplies every row's odds by the same factor::

        odds(p') = odds(p) * odds(new_rate) / odds(training_rate)

    which is :func:`correct_odds` with ``factor = odds(training_rate) /
    odds(new_rate)``.

    Parameters
    ----------
    proba : array-like of shape (n,)
        Calibrated probabilities of the positive class at ``training_rate``.
    training_rate, new_rate : float
        Positive rates strictly between 0 and 1.

    Returns
    -------
    ndarray of shape (n,)

    Examples
    --------
    >>> adjust_to_prior([0.1, 0.5], training_rate=0.1, new_rate=0.5).round(3).tolist()
    [0.5, 0.9]
    >>> adjust_to_prior([0.3], training_rate=0.2, new_rate=0.2).tolist()
    [0.3]
    """
    for name, rate in (("training_rate", training_rate), ("new_rate", new_rate)):
        if not 0.0 < rate < 1.0:
            raise ValueError(
                f"{name}={rate!r} is not a positive rate strictly between 0 and 1; "
                "pass the fraction of positive rows, such as 0.05.")
    return correct_odds(proba, _odds_of(training_rate) / _odds_of(new_rate))


def em_prior(proba, training_rate: float, *, tol: float = 1e-6,
             max_iter: int = 1000) -> tuple[float, int, bool]:
    """Estimate the positive rate of unlabelled rows from calibrated probabilities.

    The EM algorithm of Saerens, Latinne and Decaestecker (2002): starting from
    ``pi' = training_rate``, adjust every probability to ``pi'`` by Bayes' rule
    (E step, :func:`adjust_to_prior`), then take their mean as the new ``pi'``
    (M step)::

        p_i' = (pi'/pi) p_i / ((pi'/pi) p_i + ((1 - pi')/(1 - pi)) (1 - p_i))
        pi'  = mean(p_i')

    until ``pi'`` moves by less than ``tol``. Each step increases the likelihood
    of the unlabelled rows under the model with prior ``pi'``, so the estimate is
    the maximum-likelihood rate when the probabilities are calibrated and only
    the rate changed.

    Parameters
    ----------
    proba : array-like of shape (n,)
        Calibrated probabilities of the positive class, from a model trained
        where the positive rate was ``training_rate``.
    training_rate : float
        The positive rate of the training rows, strictly between 0 and 1.
    tol : float, default=1e-6
        Stop when the rate changes by less than this between two steps.
    max_iter : int, default=1000
        Stop after this many steps, converged or not.

    Returns
    -------
    rate : float
        The estimated positive rate of the rows.
    n_iter : int
        Steps taken.
    converged : bool
        Whether the last step moved the rate by less than ``tol``.

    Notes
    -----
    A model that separates the classes poorly makes EM slow (the likelihood is
    flat in ``pi'``) and its estimate noisy; a model that is miscalibrated at the
    training rate biases it. A model whose probabilities are all equal (the
    trivial rule) cannot tell: every rate is a fixed point, and EM returns
    ``training_rate``.

    References
    ----------
    .. [1] M. Saerens, P. Latinne and C. Decaestecker, "Adjusting the outputs of
       a classifier to new a priori probabilities: a simple procedure", Neural
       Computation 14(1), 21-41, 2002.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.random(20_000) < 0.4                # 40% positives now
    >>> x = rng.normal(np.where(y, 1.0, -1.0))       # x | y is N(+-1, 1)
    >>> odds = np.exp(2 * x) * 0.1 / 0.9             # p(y | x) where 10% were
    >>> proba = odds / (1 + odds)
    >>> rate, n_iter, converged = em_prior(proba, training_rate=0.1)
    >>> print(f"true {y.mean():.3f}, estimated {rate:.3f} in {n_iter} steps")
    true 0.392, estimated 0.390 in 17 steps
    """
    proba = np.asarray(proba, dtype=float)
    if proba.ndim != 1 or len(proba) == 0:
        raise ValueError(
            f"em_prior needs a non-empty 1-d array of probabilities; got shape "
            f"{proba.shape}.")
    rate = training_rate
    lowest, highest = 0.5 / len(proba), 1.0 - 0.5 / len(proba)
    for n_iter in range(1, max_iter + 1):
        new = float(np.clip(adjust_to_prior(proba, training_rate, rate).mean(),
                            lowest, highest))
        if abs(new - rate) < tol:
            return new, n_iter, True
        rate = new
    return rate, max_iter, False


def em_standard_error(proba, training_rate: float, rate: float) -> float:
    """The standard error of EM's estimate ``rate`` of the positive rate.

    One over the square root of the observed information of the rows'
    likelihood in the rate: with ``q_i`` the probabilities adjusted to ``rate``
    (:func:`adjust_to_prior`), the score of row ``i`` is ``q_i / rate - (1 -
    q_i) / (1 - rate)`` and the information the sum of the scores' squares. For
    a model that separates the classes perfectly it is the binomial standard
    error ``sqrt(rate * (1 - rate) / n)`` of counting the labels; the less the
    model separates them, the larger. It measures sampling noise only, not the
    bias of a model whose probabilities are miscalibrated on the new rows.

    Parameters
    ----------
    proba : array-like of shape (n,)
        Calibrated probabilities of the positive class at ``training_rate``.
    training_rate, rate : float
        The training rate and EM's estimate (:func:`em_prior`), strictly
        between 0 and 1.

    Returns
    -------
    float
        ``inf`` when the probabilities tell nothing about the rate (all equal to
        the training rate).

    Examples
    --------
    >>> round(em_standard_error([0.0] * 90 + [1.0] * 10, 0.1, 0.1), 4)  # sqrt(.09/100)
    0.03
    """
    q = adjust_to_prior(np.asarray(proba, dtype=float), training_rate, rate)
    information = float(np.sum((q / rate - (1.0 - q) / (1.0 - rate)) ** 2))
    return 1.0 / math.sqrt(information) if information > 0 else math.inf


def _odds_of(rate: float) -> float:
    return rate / (1.0 - rate)
