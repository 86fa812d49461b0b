"""Calibrators of one-dimensional scores: none, sigmoid (Platt) and isotonic.

They are fitted on out-of-fold scores of rows that were never resampled, which
also undoes the distortion resampling brings to the model's probabilities.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.isotonic import IsotonicRegression

__all__ = ["logit", "make_calibrator", "sigmoid"]

_EPS = 1e-7
_SIGMOID_POOLS = 1_000


def _pool(sorted_z, weight):
    """Means and weights of at most ``_SIGMOID_POOLS`` runs of sorted values,
    each value weighing ``weight``."""
    n = len(sorted_z)
    if n <= _SIGMOID_POOLS:
        return sorted_z, weight
    starts = (np.arange(_SIGMOID_POOLS) * n) // _SIGMOID_POOLS
    totals = np.add.reduceat(weight, starts)
    return np.add.reduceat(sorted_z * weight, starts) / totals, totals


def logit(p):
    """``log(p / (1 - p))``, with ``p`` clipped to ``[1e-7, 1 - 1e-7]``."""
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def sigmoid(z):
    """The inverse of :func:`logit` (as ``tanh``, which never overflows)."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))


class IdentityCalibrator(BaseEstimator):
    """Leaves scores as they are."""

    def fit(self, scores, y, sample_weight=None):
        return self

    def transform(self, scores):
        return np.asarray(scores, dtype=float)


class SigmoidCalibrator(BaseEstimator):
    """Platt scaling on the logit of the scores: ``p = sigmoid(a * logit(s) + b)``.

    Fitted by Newton's method with backtracking on Platt's smoothed targets
    (``(n+ + 1) / (n+ + 2)`` for positives, ``1 / (n- + 2)`` for negatives),
    which keeps a few positives from pushing the probabilities to 0 and 1. Two
    parameters need few points: each class's sorted logits are pooled into at
    most 1,000 runs of equal size, each weighted by its length, so a fit costs
    the same on 40,000 rows as on 2,000 and can run hundreds of times per
    search (the loss is smooth in the logit, so pooling neighbours moves the fit
    by far less than its own noise).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = (rng.random(50_000) < 0.05).astype(int)
    >>> scores = 1 / (1 + np.exp(-(3 * y + rng.normal(size=50_000) - 2)))
    >>> calibrator = SigmoidCalibrator().fit(scores, y)
    >>> round(float(calibrator.transform(scores).mean()), 3)  # the base rate
    0.05
    """

    def fit(self, scores, y, sample_weight=None):
        """Fit on scores and 0/1 labels; ``sample_weight`` counts each row that
        many times (rows of equal score and label may come merged)."""
        y = np.asarray(y)
        sample_weight = np.ones(len(y)) if sample_weight is None else \
            np.asarray(sample_weight, dtype=float)
        n_pos = float(sample_weight[y == 1].sum())
        n_neg = float(sample_weight.sum() - n_pos)
        if n_pos == 0 or n_neg == 0:
            self.coef_, self.intercept_ = 1.0, 0.0
            return self
        z, target, weight = [], [], []
        for rows, label_target in ((y == 1, (n_pos + 1) / (n_pos + 2)),
                                   (y != 1, 1 / (n_neg + 2))):
            logits = logit(np.asarray(scores)[rows])
            order = np.argsort(logits, kind="stable")
            pooled, counts = _pool(logits[order], sample_weight[rows][order])
            z.append(pooled)
            weight.append(counts)
            target.append(np.full(len(pooled), label_target))
        z, target, weight = map(np.concatenate, (z, target, weight))

        def loss(a, b):
            u = a * z + b  # log(1 + e^-u) and log(1 + e^u) = that + u
            softplus = np.logaddexp(0.0, -u)
            return float(np.dot(weight, softplus + (1 - target) * u))

        a, b = 1.0, 0.0  # the identity on the logit scale
        current = loss(a, b)
        for _ in range(100):
            p = sigmoid(a * z + b)
            g = weight * (p - target)
            w = weight * np.maximum(p * (1 - p), 1e-12)
            grad_a, grad_b = float(np.dot(g, z)), float(g.sum())
            hzz, hz1, h11 = float(np.dot(w, z * z)) + 1e-9, float(np.dot(w, z)), \
                float(w.sum()) + 1e-9
            det = hzz * h11 - hz1 * hz1
            if det <= 0:
                break
            step_a = (h11 * grad_a - hz1 * grad_b) / det
            step_b = (hzz * grad_b - hz1 * grad_a) / det
            scale = 1.0
            while scale > 1e-6:  # backtrack until the loss goes down
                trial = loss(a - scale * step_a, b - scale * step_b)
                if trial <= current:
                    break
                scale /= 2
            else:
                break
            a, b = a - scale * step_a, b - scale * step_b
            improvement, current = current - trial, trial
            if improvement <= 1e-10 * max(current, 1.0):
                break
        self.coef_, self.intercept_ = float(a), float(b)
        return self

    def transform(self, scores):
        return sigmoid(self.coef_ * logit(scores) + self.intercept_)


class IsotonicCalibrator(BaseEstimator):
    """Isotonic regression of the labels on the scores, clipped to [0, 1]."""

    def fit(self, scores, y, sample_weight=None):
        self.isotonic_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        self.isotonic_.fit(np.asarray(scores, dtype=float), np.asarray(y, dtype=float),
                           sample_weight=sample_weight)
        return self

    def transform(self, scores):
        return self.isotonic_.predict(np.asarray(scores, dtype=float))


def make_calibrator(method: str):
    """An unfitted calibrator by name: ``"none"``, ``"sigmoid"`` or ``"isotonic"``.

    Examples
    --------
    >>> import numpy as np
    >>> calibrator = make_calibrator("isotonic").fit([0.1, 0.2, 0.7, 0.9], [0, 0, 1, 1])
    >>> calibrator.transform(np.array([0.15, 0.8])).tolist()
    [0.0, 1.0]
    """
    calibrators = {"none": IdentityCalibrator, "sigmoid": SigmoidCalibrator,
                   "isotonic": IsotonicCalibrator}
    return calibrators[method]()
