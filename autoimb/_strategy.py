"""A strategy: one point of the search space, and the pipeline it builds."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from imblearn.pipeline import Pipeline

from ._models import MODELS, make_model
from ._preprocessing import ColumnKinds, make_preprocessor
from ._resampling import RESAMPLERS, AdaptiveResampler

__all__ = ["CALIBRATIONS", "Strategy"]

CALIBRATIONS = {
    "none": "no calibration",
    "sigmoid": "sigmoid (Platt) calibration",
    "isotonic": "isotonic calibration",
}


@dataclass(frozen=True)
class Strategy:
    """Everything one trial decides: model, weighting, resampling, calibration.

    The decision threshold is not part of it: it is computed from held-out
    predictions once the strategy has been scored.
    """

    model: str
    model_params: dict[str, Any] = field(default_factory=dict)
    weighting: str = "none"
    positive_weight: float | None = None
    resampler: str = "none"
    sampling_ratio: float | None = None
    k_neighbors: int | None = None
    calibration: str = "none"

    def describe(self) -> str:
        """The strategy as one readable line.

        Examples
        --------
        >>> Strategy("lightgbm", weighting="balanced", calibration="isotonic").describe()
        'LightGBM, class weights balanced, no resampling, isotonic calibration'
        """
        parts = [MODELS[self.model].label]
        if self.weighting == "custom":
            parts.append(f"positive class weight {self.positive_weight:.3g}")
        elif self.weighting == "scale_pos_weight":
            parts.append(f"scale_pos_weight {self.positive_weight:.3g}")
        elif self.weighting != "none":
            parts.append(f"class weights {self.weighting}")
        if self.resampler == "none":
            parts.append("no resampling")
        else:
            text = RESAMPLERS[self.resampler].label
            if self.sampling_ratio is not None:
                text += f" to ratio {self.sampling_ratio:.2f}"
            if self.k_neighbors is not None:
                text += f" (k={self.k_neighbors})"
            parts.append(text)
        parts.append(CALIBRATIONS[self.calibration])
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """The strategy as plain data (for metadata and reports)."""
        return asdict(self)

    def make_pipeline(self, kinds: ColumnKinds, random_state: int | None = None,
                      ) -> Pipeline:
        """The unfitted preprocessing, resampling and model pipeline.

        The resampler acts only in ``fit``: predictions never see it.
        """
        steps = [("preprocess", make_preprocessor(kinds))]
        if self.resampler != "none":
            steps.append(("resample", AdaptiveResampler(
                method=self.resampler, sampling_ratio=self.sampling_ratio,
                k_neighbors=self.k_neighbors, categorical_features=kinds.encoded_categorical,
                random_state=random_state)))
        steps.append(("model", make_model(
            self.model, self.model_params, weighting=self.weighting,
            positive_weight=self.positive_weight, kinds=kinds, random_state=random_state)))
        return Pipeline(steps)
