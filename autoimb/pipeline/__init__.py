"""The fitted pipeline and its parts.

What one strategy is made of and how it is scored: the models, the resamplers
and the probability correction after resampling, the preprocessing of columns,
calibrators and thresholds, the objective and its metrics, the cross-fitted
post-processing of out-of-fold scores, and :class:`ThresholdedPipeline`, the
model ``fit`` returns. These modules know nothing of studies or searches: they
import only one another and the package's base modules (``autoimb.exceptions``,
``autoimb._warnings``, ``autoimb._sklearn_compat``). The import contract in
``pyproject.toml`` (``[tool.importlinter]``) holds every layer to that.
"""
