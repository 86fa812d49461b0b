"""The fitted result: pipelines, one calibrator and a decision threshold."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

__all__ = ["ThresholdedPipeline"]


class ThresholdedPipeline(ClassifierMixin, BaseEstimator):
    """Fitted pipelines whose positive-class scores are averaged, calibrated, and
    turned into labels at a stored threshold.

    It is what :class:`~autoimb.AutoImbClassifier` keeps as ``best_estimator_``;
    it holds already-fitted parts, so it has no ``fit``. Usually it has one
    pipeline; a blend of the best strategies has several.

    Parameters
    ----------
    pipelines : list of fitted pipelines
        Preprocessing, (resampler,) and model, whose ``predict_proba`` gives
        probabilities on the real class balance (see :mod:`autoimb.pipeline.prior`).
    calibrator : fitted calibrator
        Maps the pipelines' averaged positive-class score to a probability.
    threshold : float
        Predict the positive class when its calibrated probability is at least this.
    classes : array of two labels
        Sorted labels, as in ``classes_``.
    pos_label : label
        The positive class, one of ``classes``.
    """

    def __init__(self, pipelines, calibrator, threshold, classes, pos_label):
        self.pipelines = pipelines
        self.calibrator = calibrator
        self.threshold = threshold
        self.classes = classes
        self.pos_label = pos_label

    @property
    def classes_(self):
        return np.asarray(self.classes)

    @property
    def _pos_index(self):
        return int(np.flatnonzero(self.classes_ == self.pos_label)[0])

    def positive_score(self, X) -> np.ndarray:
        """The pipelines' averaged positive-class score, before calibration."""
        return np.mean([pipeline.predict_proba(X)[:, 1] for pipeline in self.pipelines],
                       axis=0)

    def positive_proba(self, X) -> np.ndarray:
        """Calibrated probability of the positive class."""
        return np.clip(self.calibrator.transform(self.positive_score(X)), 0.0, 1.0)

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probabilities, columns in the order of ``classes_``."""
        p = self.positive_proba(X)
        proba = np.empty((len(p), 2))
        proba[:, self._pos_index] = p
        proba[:, 1 - self._pos_index] = 1.0 - p
        return proba

    def predict(self, X) -> np.ndarray:
        """Labels at the stored threshold."""
        positive = self.positive_proba(X) >= self.threshold
        return np.where(positive, self.pos_label,
                        self.classes_[1 - self._pos_index])
