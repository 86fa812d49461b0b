"""Checks of user input; each returns the converted value or raises a clear error."""

from __future__ import annotations

import difflib
import hashlib
import warnings
from numbers import Real

import numpy as np
import pandas as pd
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import column_or_1d

from ._preprocessing import ColumnKinds
from .exceptions import AutoImbError, AutoImbWarning

__all__ = [
    "check_costs",
    "check_frame",
    "check_target",
    "column_kinds",
    "data_fingerprint",
]


def check_frame(X, *, columns=None) -> pd.DataFrame:
    """Return ``X`` as a DataFrame with checked, converted columns.

    Numeric arrays get columns ``x0, x1, ...`` (or ``columns`` when given).
    Boolean columns become 0/1, datetime columns become days since 1970-01-01,
    strings, categories and mixed objects become categorical strings.
    Infinite values are refused.
    """
    if not isinstance(X, pd.DataFrame):
        X = np.asarray(X)
        if X.ndim != 2:
            raise AutoImbError(
                f"X must be 2-dimensional (rows, columns); got shape {X.shape}. "
                "Reshape your data with X.reshape(-1, 1) for a single feature.")
        names = list(columns) if columns is not None else [
            f"x{i}" for i in range(X.shape[1])]
        X = pd.DataFrame(X, columns=names)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise AutoImbError(
            f"X is empty (shape {X.shape}); pass at least one column and some rows.")
    duplicated = X.columns[X.columns.duplicated()].unique().tolist()
    if duplicated:
        raise AutoImbError(
            f"X has duplicate column names {duplicated}; rename them so each is unique.")
    X = X.copy()
    X.columns = [str(c) for c in X.columns]
    for name in X.columns:
        X[name] = _convert_column(X[name], name)
    return X


def _convert_column(col: pd.Series, name: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(col):
        return col.astype(float)
    if pd.api.types.is_datetime64_any_dtype(col):
        days = (col - pd.Timestamp("1970-01-01", tz=getattr(col.dt, "tz", None)))
        return days.dt.total_seconds() / 86400.0
    if pd.api.types.is_numeric_dtype(col):
        values = col.astype(float)
        if np.isinf(values.to_numpy()).any():
            raise AutoImbError(
                f"Column {name!r} holds infinite values; replace them with NaN "
                "(which autoimb imputes) or with a finite value.")
        return values
    if pd.api.types.is_complex_dtype(col):
        raise AutoImbError(f"Column {name!r} is complex; autoimb needs real numbers.")
    missing = col.isna()
    text = col.astype(object).where(missing, col.astype(str))
    return text.where(~missing, np.nan).astype(object)


def column_kinds(X: pd.DataFrame) -> ColumnKinds:
    """Split the columns of a checked frame into categorical and numeric."""
    categorical = tuple(c for c in X.columns if X[c].dtype == object)
    numeric = tuple(c for c in X.columns if X[c].dtype != object)
    return ColumnKinds(categorical=categorical, numeric=numeric, order=tuple(X.columns))


def check_target(y, n_rows: int, pos_label=None):
    """Return ``(classes, pos_label, y01)`` for a binary target.

    ``classes`` is the sorted pair of labels; the positive class is the minority
    unless ``pos_label`` says otherwise; ``y01`` is 1 for it and 0 for the other.
    """
    if y is None:
        raise AutoImbError(
            "AutoImbClassifier requires y to be passed, but the target y is None.")
    y = column_or_1d(y, warn=True)
    if len(y) != n_rows:
        raise AutoImbError(
            f"X has {n_rows} rows but y has {len(y)}; pass one label per row.")
    if pd.isna(pd.Series(y)).any():
        raise AutoImbError(
            f"y holds {int(pd.isna(pd.Series(y)).sum())} missing labels; drop those "
            "rows or fill their labels.")
    kind = type_of_target(y)
    if kind in ("continuous", "continuous-multioutput"):
        raise AutoImbError(
            f"Unknown label type: {kind}. y looks like a regression target; "
            "autoimb classifies, so pass two class labels.")
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise AutoImbError(
            f"y has only one class ({classes[0]!r}); a classifier needs two classes.")
    if len(classes) > 2:
        raise AutoImbError(
            "Only binary classification is supported. The type of the target is "
            f"multiclass: y has {len(classes)} classes ({', '.join(map(repr, classes[:6].tolist()))}"
            f"{', ...' if len(classes) > 6 else ''}); autoimb handles binary targets. "
            "Group the classes into two, e.g. y == rare_class.")
    if pos_label is None:
        pos_label = classes[int(np.argmin(counts))] if counts[0] != counts[1] \
            else classes[1]
    elif pos_label not in classes:
        raise AutoImbError(
            f"pos_label={pos_label!r} is not a label of y; the labels are "
            f"{classes.tolist()}.")
    y01 = (y == pos_label).astype(int)
    return classes, getattr(pos_label, "item", lambda: pos_label)(), y01


def check_costs(objective, fp_cost, fn_cost, y01):
    """Resolve the costs: ``fn_cost=None`` means the class ratio (n_neg / n_pos)."""
    if objective not in ("cost", "average_precision"):
        close = difflib.get_close_matches(str(objective), ["cost", "average_precision"])
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise AutoImbError(
            f"Unknown objective {objective!r}.{hint} "
            "Use 'cost' (with fp_cost and fn_cost) or 'average_precision'.")
    for name, value in (("fp_cost", fp_cost), ("fn_cost", fn_cost)):
        if value is None:
            continue
        if not isinstance(value, Real) or not np.isfinite(value) or value <= 0:
            raise AutoImbError(
                f"{name}={value!r} must be a positive number: the cost of one "
                f"{'false positive' if name == 'fp_cost' else 'false negative'}.")
    costs_given = fp_cost is not None or fn_cost is not None
    fp = 1.0 if fp_cost is None else float(fp_cost)
    if fn_cost is None:
        n_pos = max(int(np.sum(y01)), 1)
        fn = fp * (len(y01) - n_pos) / n_pos
    else:
        fn = float(fn_cost)
    return fp, fn, costs_given


def warn_if_target_in_X(X: pd.DataFrame, y01) -> None:
    """Warn when a column of X equals the target: it would leak the answer."""
    for name in X.columns:
        col = X[name]
        if col.dtype == object or col.isna().any():
            continue
        values = col.to_numpy()
        if np.array_equal(values, y01) or np.array_equal(values, 1 - y01):
            warnings.warn(
                f"Column {name!r} of X equals the target: it leaks the answer and the "
                f"search will look perfect. Drop it from X.", AutoImbWarning,
                stacklevel=3)


def data_fingerprint(X: pd.DataFrame, y01) -> str:
    """A short hash of the data, recorded in the study to refuse other data."""
    digest = hashlib.sha256()
    digest.update(",".join(X.columns).encode())
    digest.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
    digest.update(np.asarray(y01, dtype=np.int8).tobytes())
    return digest.hexdigest()[:16]
