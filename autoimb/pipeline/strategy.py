"""A strategy: one point of the search space, and the pipeline it builds.

A strategy fixes the model, its class weighting and the resampler. Calibration and
the decision threshold are not part of it: they are cheap functions of the
strategy's out-of-fold scores, chosen afterwards for every strategy (see
:mod:`autoimb.pipeline.postprocessing`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from imblearn.pipeline import Pipeline
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from autoimb.pipeline.models import MODELS, make_model
from autoimb.pipeline.preprocessing import ColumnKinds, make_preprocessor
from autoimb.pipeline.prior import correct_odds, odds_factor
from autoimb.pipeline.resampling import (
    AdaptiveResampler,
    describe_resampling,
    left_as_is,
)

__all__ = ["Strategy", "StrategyPipeline"]


@dataclass(frozen=True)
class Strategy:
    """Everything one trial decides: model, weighting and resampling.

    Calibration and the decision threshold are not part of it: they are chosen
    from held-out predictions once the strategy has been scored.
    """

    model: str
    model_params: dict[str, Any] = field(default_factory=dict)
    weighting: str = "none"
    positive_weight: float | None = None
    resampler: str = "none"
    sampling_ratio: float | None = None
    k_neighbors: int | None = None

    def describe(self, resampling=None) -> str:
        """The strategy as one readable line.

        Parameters
        ----------
        resampling : list of dict, default=None
            What its resampler did in the fits it was part of (one
            ``summary_`` of :class:`~autoimb.pipeline.resampling.AdaptiveResampler`
            per fit, see :meth:`StrategyPipeline.resampling`): the line then
            says what was done on the training rows ("no resampling (...)"
            where it left them as they were), not what was asked. None: what
            is asked.

        Examples
        --------
        >>> Strategy("lightgbm", weighting="balanced").describe()
        'LightGBM, class weights balanced, no resampling'
        >>> print(Strategy("lightgbm", resampler="random_over", sampling_ratio=0.05
        ...                ).describe([{"left_as_is": "the data's own is above it"}]))
        ... # doctest: +NORMALIZE_WHITESPACE
        LightGBM, no resampling (random over-sampling to ratio 0.05 left the rows
        as is: the data's own is above it)
        """
        parts = [MODELS[self.model].label]
        if self.weighting == "custom":
            parts.append(f"positive class weight {self.positive_weight:.3g}")
        elif self.weighting == "scale_pos_weight":
            parts.append(f"scale_pos_weight {self.positive_weight:.3g}")
        elif self.weighting != "none":
            parts.append(f"class weights {self.weighting}")
        parts.append(describe_resampling(self.resampler, self.sampling_ratio,
                                         self.k_neighbors, resampling))
        return ", ".join(parts)

    def resampler_applied(self, resampling=None) -> str:
        """The resampler that acted on the training rows: :attr:`resampler`,
        or ``"none"`` when ``resampling`` (as for :meth:`describe`) says it
        left the rows as they were in every fit.

        Examples
        --------
        >>> Strategy("lightgbm", resampler="smote").resampler_applied(
        ...     [{"left_as_is": "fewer than 2 minority rows"}])
        'none'
        """
        if resampling and all(left_as_is(summary) for summary in resampling):
            return "none"
        return self.resampler

    def as_dict(self) -> dict[str, Any]:
        """The strategy as plain data (for metadata and reports)."""
        return asdict(self)

    def make_pipeline(self, kinds: ColumnKinds, random_state: int | None = None,
                      n_jobs: int = 1) -> StrategyPipeline:
        """The unfitted preprocessing, resampling and model pipeline.

        The resampler acts only in ``fit``: predictions never see it. The
        pipeline's probabilities are corrected for the class odds that
        resampling and weighting changed (see :mod:`autoimb.pipeline.prior`). ``n_jobs``
        threads for the models that take it.
        """
        steps = [("preprocess", make_preprocessor(kinds))]
        if self.resampler != "none":
            steps.append(("resample", AdaptiveResampler(
                method=self.resampler, sampling_ratio=self.sampling_ratio,
                k_neighbors=self.k_neighbors,
                categorical_features=kinds.encoded_categorical,
                random_state=random_state)))
        steps.append(("model", make_model(
            self.model, self.model_params, weighting=self.weighting,
            positive_weight=self.positive_weight, kinds=kinds,
            random_state=random_state, n_jobs=n_jobs)))
        return StrategyPipeline(Pipeline(steps), weighting=self.weighting,
                                positive_weight=self.positive_weight,
                                balances_itself=MODELS[self.model].resamples_itself)


class StrategyPipeline(ClassifierMixin, BaseEstimator):
    """A strategy's pipeline whose probabilities are on the real class balance.

    Parameters
    ----------
    pipeline : imblearn Pipeline
        Preprocessing, optional ``"resample"`` step, and ``"model"``.
    weighting : str, default="none"
        The model's class weighting (see :class:`Strategy`).
    positive_weight : float, default=None
    balances_itself : bool, default=False
        The model resamples each member to balanced classes.

    Attributes
    ----------
    pipeline_ : imblearn Pipeline
        The fitted pipeline.
    odds_factor_ : float
        How much the training inflated the positive class's odds; the
        probabilities divide their odds by it.
    classes_ : ndarray
    """

    def __init__(self, pipeline=None, *, weighting="none", positive_weight=None,
                 balances_itself=False):
        self.pipeline = pipeline
        self.weighting = weighting
        self.positive_weight = positive_weight
        self.balances_itself = balances_itself

    def fit(self, X, y):
        y = np.asarray(y)
        self.pipeline_ = clone(self.pipeline).fit(X, y)
        before = (int(np.sum(y == 0)), int(np.sum(y == 1)))
        resampler = self.pipeline_.named_steps.get("resample")
        after = resampler.summary_["after"] if resampler is not None else before
        self.odds_factor_ = odds_factor(
            weighting=self.weighting, positive_weight=self.positive_weight,
            before=before, after=after, balances_itself=self.balances_itself)
        self.classes_ = self.pipeline_.classes_
        return self

    def resampling(self) -> list:
        """What the fitted pipeline's resampler did (``[summary_]``), for
        :meth:`Strategy.describe`; ``[]`` without a resampler."""
        resampler = self.named_steps.get("resample")
        summary = getattr(resampler, "summary_", None)
        return [summary] if summary is not None else []

    @property
    def named_steps(self):
        """The steps of the fitted pipeline (of the unfitted one before ``fit``)."""
        return getattr(self, "pipeline_", self.pipeline).named_steps

    def predict_proba(self, X) -> np.ndarray:
        p = correct_odds(self.pipeline_.predict_proba(X)[:, 1], self.odds_factor_)
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]
