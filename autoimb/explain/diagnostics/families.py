"""Strategy families: which way of handling the imbalance a trial used.

Every trial of the search falls in one family (no handling, class weights,
oversampling, undersampling, combined, balanced ensembles), read from its
model, class weighting and resampler. The diagnoses compare the best trial of
each family, and reports group the trials by family.
"""

from __future__ import annotations

import math

import pandas as pd

from autoimb.pipeline.models import MODELS

#: Strategy families, in the order reports show them.
FAMILIES = {
    "no_handling": "no handling",
    "weights": "class weights",
    "oversampling": "oversampling",
    "undersampling": "undersampling",
    "combined": "combined (weights and resampling, or SMOTE + cleaning)",
    "ensembles": "balanced ensembles",
}
_OVERSAMPLERS = {"random_over", "smote", "borderline_smote", "adasyn", "smotenc"}
_UNDERSAMPLERS = {"random_under", "tomek_links"}


def strategy_family(model: str, weighting: str = "none",
                    resampler: str = "none") -> str:
    """The family of an imbalance strategy, a key of :data:`FAMILIES`.

    Parameters
    ----------
    model : str
        A model family of the search space (e.g. ``"lightgbm"``).
    weighting : str, default="none"
        Its class weighting (``"none"``, ``"balanced"``, ``"custom"``...).
    resampler : str, default="none"
        Its resampler (``"none"``, ``"smote"``, ``"random_under"``...).

    Returns
    -------
    str
        ``"ensembles"`` for the models that balance each member themselves,
        ``"no_handling"``, ``"weights"``, ``"oversampling"``, ``"undersampling"``
        or ``"combined"``.

    Examples
    --------
    >>> strategy_family("lightgbm")
    'no_handling'
    >>> strategy_family("hist_gradient_boosting", "balanced", "smote")
    'combined'
    >>> strategy_family("balanced_random_forest")
    'ensembles'
    """
    weighting = _plain_choice(weighting)
    resampler = _plain_choice(resampler)
    info = MODELS.get(model)
    if info is not None and info.resamples_itself:
        return "ensembles"
    if resampler == "none":
        return "no_handling" if weighting == "none" else "weights"
    if weighting != "none" or resampler not in _OVERSAMPLERS | _UNDERSAMPLERS:
        return "combined"
    return "oversampling" if resampler in _OVERSAMPLERS else "undersampling"


def applied_resampler(row) -> str:
    """The resampler that acted in a trial, from its ``results_`` row: the
    ``resampler`` column (tables made before it: the one asked for)."""
    applied = row.get("resampler")
    return applied if isinstance(applied, str) else _plain_choice(
        row.get("params.resampler"))


def _plain_choice(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "none"
    return str(value)


def trial_families(results: pd.DataFrame) -> pd.Series:
    """The strategy family of each row of a ``results_`` table, by the
    resampler that acted on the training rows (its ``resampler`` column; a
    resampler that left them as they were is none)."""
    def family(row):
        model = row.get("params.model")
        if not isinstance(model, str):
            return None
        return strategy_family(model, row.get(f"params.{model}.class_weight"),
                               applied_resampler(row))
    return results.apply(family, axis=1)
