"""Calibrators of one-dimensional scores: none, sigmoid (Platt) and isotonic.

They are fitted on out-of-fold scores of rows that were never resampled, which
also undoes the distortion resampling brings to the model's probabilities.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

__all__ = ["make_calibrator"]

_EPS = 1e-7


def _logit(p):
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


class IdentityCalibrator(BaseEstimator):
    """Leaves scores as they are."""

    def fit(self, scores, y):
        return self

    def transform(self, scores):
        return np.asarray(scores, dtype=float)


class SigmoidCalibrator(BaseEstimator):
    """Platt scaling on the logit of the scores: ``p = sigmoid(a * logit(s) + b)``."""

    def fit(self, scores, y):
        y = np.asarray(y)
        if len(np.unique(y)) < 2:
            self.coef_, self.intercept_ = 1.0, 0.0
            return self
        model = LogisticRegression(C=1e4, max_iter=1000)
        model.fit(_logit(scores).reshape(-1, 1), y)
        self.coef_ = float(model.coef_[0, 0])
        self.intercept_ = float(model.intercept_[0])
        return self

    def transform(self, scores):
        z = self.coef_ * _logit(scores) + self.intercept_
        return 1.0 / (1.0 + np.exp(-z))


class IsotonicCalibrator(BaseEstimator):
    """Isotonic regression of the labels on the scores, clipped to [0, 1]."""

    def fit(self, scores, y):
        self.isotonic_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        self.isotonic_.fit(np.asarray(scores, dtype=float), np.asarray(y, dtype=float))
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
