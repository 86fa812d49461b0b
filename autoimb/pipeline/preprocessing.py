"""Preprocessing placed so that every resampler and model receives valid input.

Categorical columns come first, imputed and ordinal-encoded, so their indices are
``0 .. n_categorical - 1`` whatever the numeric side adds; numeric columns follow,
median-imputed (with missing-value indicators) and standardised. Samplers thus
never see a missing value or a string, SMOTENC knows which columns are
categorical, and LightGBM can treat them natively.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder, StandardScaler

__all__ = ["ColumnKinds", "make_preprocessor"]

MISSING_CATEGORY = "__missing__"


@dataclass(frozen=True)
class ColumnKinds:
    """Names of the categorical and numeric columns of the training frame, how
    many values each categorical column takes, and how many rows it has."""

    categorical: tuple[str, ...]
    numeric: tuple[str, ...]
    order: tuple[str, ...] = ()
    levels: tuple[int, ...] = ()
    n_rows: int = 0

    @property
    def columns(self) -> list[str]:
        """All columns, in training order."""
        return list(self.order) if self.order else [*self.categorical, *self.numeric]

    @property
    def encoded_categorical(self) -> list[int]:
        """Indices of the categorical columns after preprocessing."""
        return list(range(len(self.categorical)))

    def few_level_categorical(self, max_levels: int = 250) -> list[int]:
        """Indices (after preprocessing) of the categorical columns with at most
        ``max_levels`` values in training: those a model can split natively.
        With unknown level counts, every categorical column."""
        if len(self.levels) != len(self.categorical):
            return self.encoded_categorical
        return [i for i, n in enumerate(self.levels) if n <= max_levels]

    @property
    def has_categorical(self) -> bool:
        return bool(self.categorical)

    @property
    def has_numeric(self) -> bool:
        return bool(self.numeric)


def column_median(values: np.ndarray) -> float:
    """The median of a column's present values, 0 when none is present.

    :class:`~sklearn.impute.SimpleImputer` calls it column by column on the
    values present: ``strategy="median"`` would instead sort a masked copy of
    all columns at once, three copies of the data and three times the time on
    200,000 rows, in every fold of every trial.
    """
    return float(np.median(values)) if len(values) else 0.0


def make_preprocessor(kinds: ColumnKinds) -> ColumnTransformer:
    """Impute and encode categorical columns, impute and scale numeric ones."""
    transformers = []
    if kinds.categorical:
        transformers.append(("categorical", make_pipeline(
            SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY,
                          keep_empty_features=True),
            OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                           dtype=float),
        ), list(kinds.categorical)))
    if kinds.numeric:
        transformers.append(("numeric", make_pipeline(
            SimpleImputer(strategy=column_median, add_indicator=True,
                          keep_empty_features=True),
            # In place: the imputer's output is a fresh array (one copy of the
            # fold fewer, 14 MB per fit on covertype_4v2).
            StandardScaler(copy=False),
        ), list(kinds.numeric)))
    return ColumnTransformer(transformers, sparse_threshold=0.0,
                             verbose_feature_names_out=False)
