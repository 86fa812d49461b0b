"""Checks of user input; each returns the converted value or raises a clear error."""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from numbers import Real

import numpy as np
import pandas as pd
from sklearn.utils import check_array
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import column_or_1d

from autoimb._warnings import warn
from autoimb.exceptions import AutoImbError
from autoimb.pipeline.preprocessing import ColumnKinds

__all__ = [
    "LABEL_NAMES",
    "TrainingData",
    "as_numeric_if_possible",
    "check_costs",
    "check_frame",
    "check_input_shape",
    "check_target",
    "check_training_data",
    "column_kinds",
    "data_fingerprint",
    "match_columns",
    "match_kinds",
    "summarize_data",
]


def check_input_shape(X) -> None:
    """Refuse sparse matrices, arrays that are not 2-D and duplicate column names.

    :func:`check_frame` runs these checks too; this function lets a caller run
    them before scikit-learn's own checks, whose messages do not name the fix.
    """
    if isinstance(X, pd.DataFrame):
        duplicated = X.columns[X.columns.duplicated()].unique().tolist()
        if duplicated:
            raise AutoImbError(
                f"X has duplicate column names {duplicated}; rename them so each is "
                "unique.")
        return
    if hasattr(X, "toarray"):
        raise AutoImbError(
            f"X is a sparse matrix of shape {getattr(X, 'shape', '?')}; autoimb "
            "needs dense data. Convert it with X.toarray() (or pass a DataFrame).")
    ndim = np.asarray(X).ndim
    if ndim != 2:
        if ndim < 2:
            fix = ("Reshape your data with X.reshape(-1, 1) for a single feature, or "
                   "X.reshape(1, -1) for a single row.")
        else:
            fix = ("Flatten the extra dimensions into columns, e.g. "
                   "X.reshape(len(X), -1).")
        raise AutoImbError(
            f"X must be 2-dimensional (rows, columns); got {ndim} dimension(s), "
            f"shape {np.shape(X)}. {fix}")


def check_frame(X, *, columns=None) -> pd.DataFrame:
    """Return ``X`` as a DataFrame with checked, converted columns.

    Numeric arrays get columns ``x0, x1, ...`` (or ``columns`` when given).
    Boolean columns become 0/1, datetime columns days since 1970-01-01, timedelta
    columns days; object columns holding only numbers (and missing values) become
    numeric, and columns with no value at all become all-NaN numeric columns
    (imputed like any missing value). Strings, categories and mixed objects become
    categorical strings. Infinite values and complex numbers are refused.
    """
    check_input_shape(X)
    if not isinstance(X, pd.DataFrame):
        X = np.asarray(X)
        names = list(columns) if columns is not None else [
            f"x{i}" for i in range(X.shape[1])]
        X = pd.DataFrame(X, columns=names)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise AutoImbError(
            f"X is empty (shape {X.shape}); pass at least one column and some rows.")
    X = X.copy()
    X.columns = [str(c) for c in X.columns]
    duplicated = X.columns[X.columns.duplicated()].unique().tolist()
    if duplicated:
        raise AutoImbError(
            f"X has column names that are equal once written as text {duplicated} "
            "(e.g. 1 and '1'); rename them so each is unique.")
    for name in X.columns:
        X[name] = _convert_column(X[name], name)
    return X


def _convert_column(col: pd.Series, name: str) -> pd.Series:
    if isinstance(col.dtype, pd.SparseDtype):
        col = col.sparse.to_dense()
    if pd.api.types.is_complex_dtype(col):
        raise AutoImbError(
            f"Column {name!r} holds complex numbers; autoimb needs real numbers. "
            "Split it into its real and imaginary parts (two columns).")
    if pd.api.types.is_bool_dtype(col):
        return col.astype(float)
    if pd.api.types.is_datetime64_any_dtype(col):
        days = (col - pd.Timestamp("1970-01-01", tz=getattr(col.dt, "tz", None)))
        return days.dt.total_seconds() / 86400.0
    if pd.api.types.is_timedelta64_dtype(col):
        return col.dt.total_seconds() / 86400.0
    if pd.api.types.is_numeric_dtype(col):
        values = col.astype(float)
        if np.isinf(values.to_numpy()).any():
            raise AutoImbError(
                f"Column {name!r} holds infinite values; replace them with NaN "
                "(which autoimb imputes) or with a finite value.")
        return values
    missing = col.isna()
    if missing.all():  # nothing to learn from; an empty numeric column is imputed
        return pd.Series(np.nan, index=col.index, name=col.name, dtype=float)
    present = col[~missing]
    if col.dtype == object and _is_real_number(present.iloc[0]) and \
            present.map(_is_real_number).all():  # numbers stored as objects
        try:
            values = present.astype(float).reindex(col.index)
        except (OverflowError, TypeError, ValueError):
            values = None
        if values is not None:
            return _convert_column(values, name)
    # Equal texts share one string object, so that a column costs a pointer a
    # row rather than a string each (diabetes_readmit30's 39 text columns: about
    # 24 MB rather than 190 MB, and every fold's copy shares them too).
    codes, texts = pd.factorize(present.astype(str))
    values = np.full(len(col), np.nan, dtype=object)
    values[~missing.to_numpy()] = np.asarray(texts, dtype=object)[codes]
    return pd.Series(values, index=col.index, name=col.name, dtype=object)


def _is_real_number(value) -> bool:
    return isinstance(value, (Real, np.number, bool, np.bool_)) and \
        not isinstance(value, (complex, np.complexfloating))


def column_kinds(X: pd.DataFrame) -> ColumnKinds:
    """Split the columns of a checked frame into categorical and numeric."""
    categorical = tuple(c for c in X.columns if X[c].dtype == object)
    numeric = tuple(c for c in X.columns if X[c].dtype != object)
    levels = tuple(int(X[c].nunique(dropna=False)) for c in categorical)
    return ColumnKinds(categorical=categorical, numeric=numeric, order=tuple(X.columns),
                       levels=levels, n_rows=len(X))


def check_target(y, n_rows: int, pos_label=None):
    """Return ``(classes, pos_label, y01)`` for a binary target.

    ``classes`` is the sorted pair of labels; the positive class is the minority
    unless ``pos_label`` says otherwise; ``y01`` is 1 for it and 0 for the other.
    Labels may be of any one type (numbers, strings, booleans).
    """
    if y is None:
        raise AutoImbError(
            "AutoImbClassifier requires y to be passed, but the target y is None.")
    try:
        y = column_or_1d(y, warn=True)
    except ValueError as exc:
        try:
            shape = np.shape(y)
        except Exception:  # ragged nested lists
            shape = "ragged"
        raise AutoImbError(
            f"y must hold one label per row (1-dimensional); got shape {shape}. "
            "Pass a single column, e.g. frame['target'] or y[:, 0].") from exc
    if len(y) != n_rows:
        raise AutoImbError(
            f"X has {n_rows} rows but y has {len(y)}; pass one label per row.")
    missing = pd.isna(pd.Series(y, dtype=object))
    if missing.any():
        raise AutoImbError(
            f"y holds {int(missing.sum())} missing label(s) (first at row "
            f"{int(np.flatnonzero(missing.to_numpy())[0])}); drop those rows or fill "
            "their labels.")
    try:
        classes, counts = np.unique(y, return_counts=True)
    except TypeError as exc:  # e.g. 1 and "1" in one object array
        types = sorted({type(plain_value(v)).__name__ for v in y})
        raise AutoImbError(
            f"y mixes label types ({', '.join(types)}) that cannot be compared; give "
            "every label the same type, e.g. y.astype(str).") from exc
    if len(classes) < 2:
        raise AutoImbError(
            f"y has only one class ({plain_value(classes[0])!r}); a classifier needs "
            "two. "
            "Check that y is the right column, or add rows of the other class.")
    if len(classes) > 2:
        kind = type_of_target(y)
        if kind in ("continuous", "continuous-multioutput"):
            raise AutoImbError(
                f"Unknown label type: {kind}. y holds {len(classes)} distinct numbers "
                "and looks like a regression target; autoimb classifies, so pass two "
                "class labels (e.g. y > threshold).")
        raise AutoImbError(
            "Only binary classification is supported. The type of the target is "
            f"multiclass: y has {len(classes)} classes ("
            f"{', '.join(map(repr, classes[:6].tolist()))}"
            f"{', ...' if len(classes) > 6 else ''}); autoimb handles binary targets. "
            "Group the classes into two, e.g. y == rare_class.")
    if pos_label is None:
        pos_label = classes[int(np.argmin(counts))] if counts[0] != counts[1] \
            else classes[1]
    else:
        pos_label = _match_label(pos_label, classes)
    y01 = (y == pos_label).astype(int)
    return classes, plain_value(pos_label), y01


def plain_value(value):
    """A numpy scalar as the Python value it holds; anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def _match_label(pos_label, classes):
    """The element of ``classes`` equal to ``pos_label``, or a clear error."""
    labels = [plain_value(c) for c in classes]
    if np.ndim(pos_label) != 0:
        raise AutoImbError(
            f"pos_label={pos_label!r} must be a single label, one of {labels}.")
    for label in classes:
        try:
            same = bool(label == pos_label)
        except (TypeError, ValueError):
            same = False
        if same and isinstance(plain_value(label), str) == isinstance(pos_label, str):
            return label
    hint = ""
    by_text = [c for c in labels if str(c) == str(pos_label)]
    if by_text:
        hint = f" Did you mean {by_text[0]!r} ({type(by_text[0]).__name__})?"
    raise AutoImbError(
        f"pos_label={pos_label!r} is not a label of y; the labels are {labels}.{hint}")


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
    """Warn when a column of X is the target (in any coding): it leaks the answer."""
    y01 = np.asarray(y01)
    same_as_first = y01 == y01[0]
    for name in X.columns:
        col = X[name]
        if col.isna().any():
            continue
        same = (col == col.iloc[0]).to_numpy()
        if np.array_equal(same, same_as_first) and col[~same].nunique() == 1:
            warn(f"Column {name!r} of X equals the target: it leaks the answer and "
                 "the search will look perfect. Drop it from X.")


def warn_if_row_identifier_in_X(X: pd.DataFrame, *, min_rows: int = 50) -> None:
    """Warn about a column that looks like a row identifier: whole numbers or
    text with a distinct value on every row, in any order (a row number, a
    customer id, the row numbers a train split kept). It tells nothing about new
    rows, yet a model can split on it, and where the rows are ordered (by time,
    by class) it leaks their order. Numbers with decimals, distinct on every
    row too (measurements), are not flagged, nor are dates and durations (give
    ``X`` before :func:`check_frame` turns them into numbers).

    It warns rather than drops the column, as the column may be a measurement
    that happens to hold whole numbers; the message says how to leave it out.

    Examples
    --------
    >>> import warnings
    >>> ids = np.random.default_rng(0).permutation(200)[:100]  # a train split
    >>> frame = pd.DataFrame({"id": ids, "x": np.linspace(0, 1, 100)})
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_if_row_identifier_in_X(frame)
    >>> [str(w.message)[:47] for w in caught]
    ["Column 'id' of X looks like a row identifier: 1"]
    """
    n = len(X)
    if n < min_rows:
        return
    for name in X.columns:
        col = X[name]
        if col.isna().any() or col.nunique() != n:
            continue
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            values = col.to_numpy(dtype=float)
            if not np.array_equal(values, np.floor(values)):
                continue  # decimals: a measurement
            consecutive = values.max() - values.min() + 1 == n
            what = (f"{n} {'consecutive' if consecutive else 'distinct'} whole "
                    "numbers, one per row")
        elif (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)
              or isinstance(col.dtype, pd.CategoricalDtype)):
            what = f"a distinct value on each of its {n} rows"
        else:
            continue
        warn(f"Column {name!r} of X looks like a row identifier: {what}. It says "
             "nothing about new rows, and where the rows are ordered it leaks "
             "their order. Drop it from X (on the command line: --id "
             f"{name}, which also keeps it beside the predictions); if it is a "
             "measurement, keep it and ignore this warning.")


def data_fingerprint(X: pd.DataFrame, y01) -> str:
    """A short hash of the data, recorded in the study to refuse other data."""
    digest = hashlib.sha256()
    digest.update(",".join(X.columns).encode())
    digest.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
    digest.update(np.asarray(y01, dtype=np.int8).tobytes())
    return digest.hexdigest()[:16]



@dataclass(frozen=True)
class TrainingData:
    """Training data, checked: what a search runs on.

    Attributes
    ----------
    X : DataFrame
        Columns of one kind each (numbers, or text for categories), dates and
        durations as numbers.
    y : ndarray of 0 and 1
        1 for ``pos_label``.
    classes : ndarray of shape (2,)
    pos_label : label
    kinds : ColumnKinds
    feature_names : list of str or None
        The columns' names when ``X`` was given as a DataFrame.
    """

    X: pd.DataFrame
    y: np.ndarray
    classes: np.ndarray
    pos_label: object
    kinds: ColumnKinds
    feature_names: list | None

    @property
    def negative_label(self):
        return self.classes[self.classes != self.pos_label][0]

    @property
    def n_positives(self) -> int:
        return int(np.sum(self.y))


def check_training_data(X, y, pos_label=None) -> TrainingData:
    """Check ``X`` and ``y`` as given to ``fit`` (or read by a worker), and
    warn of a column that holds the target or looks like a row identifier.

    Examples
    --------
    >>> import pandas as pd
    >>> data = check_training_data(pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0],
    ...                                          "b": list("xyxy")}),
    ...                            ["no", "yes", "no", "no"])
    >>> data.pos_label, data.y.tolist(), data.kinds.categorical
    ('yes', [0, 1, 0, 0], ('b',))
    """
    check_input_shape(X)
    if isinstance(X, pd.DataFrame):
        checked, names = check_frame(X), [str(c) for c in X.columns]
    else:
        array = check_array(X, dtype=None, ensure_all_finite=False,
                            ensure_min_samples=2)
        checked, names = check_frame(as_numeric_if_possible(array)), None
    classes, pos_label, y01 = check_target(y, len(checked), pos_label)
    warn_if_target_in_X(checked, y01)
    # Before check_frame made dates and durations numbers: a date per row is a
    # feature, not an identifier.
    warn_if_row_identifier_in_X(X if isinstance(X, pd.DataFrame) else checked)
    return TrainingData(X=checked, y=y01, classes=classes, pos_label=pos_label,
                        kinds=column_kinds(checked), feature_names=names)


def as_numeric_if_possible(X):
    """An object array of numbers as floats (as :func:`check_training_data`
    reads arrays); other arrays as they are."""
    if X.dtype == object:
        try:
            return X.astype(float)
        except ValueError:
            return X
    return X


#: Names that say "label": a column so named that is not a feature is most
#: likely the target left in the data.
LABEL_NAMES = ("target", "label", "labels", "y", "class", "outcome", "response")


def match_columns(X: pd.DataFrame, expected) -> pd.DataFrame:
    """Reorder X to the training columns, or say which columns differ (and
    that one named like a label is most likely the target left in X)."""
    expected = [str(c) for c in expected]
    given = [str(c) for c in X.columns]
    missing = [c for c in expected if c not in given]
    extra = [c for c in given if c not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {missing[:10]}{' ...' if len(missing) > 10 else ''}")
        if extra:
            parts.append(f"unexpected {extra[:10]}{' ...' if len(extra) > 10 else ''}")
        labels = [c for c in extra if c.lower() in LABEL_NAMES]
        hint = (f" {labels[0]!r} looks like the label: leave it out of X." if labels
                else "")
        raise AutoImbError(
            "The feature names should match those that were passed during fit: "
            f"{'; '.join(parts)}. Pass a frame with exactly the training columns."
            f"{hint}")
    if given != expected:
        X = X.copy()
        X.columns = given
        X = X[expected]
    return X


def match_kinds(X: pd.DataFrame, kinds) -> pd.DataFrame:
    """Give each column the kind it had in training, or say which cannot."""
    for name in kinds.numeric:
        if X[name].dtype == object:
            values = pd.to_numeric(X[name], errors="coerce")
            bad = X[name].notna() & values.isna()
            if bad.any():
                raise AutoImbError(
                    f"Column {name!r} was numeric in training but holds "
                    f"{X[name][bad].iloc[0]!r} here; pass numbers (or NaN) in it.")
            X[name] = values.astype(float)
    for name in kinds.categorical:
        if X[name].dtype != object:
            values = X[name]
            text = values.map(lambda v: str(int(v)) if float(v).is_integer() else str(v)
                              if pd.notna(v) else np.nan)
            X[name] = text.astype(object)
    return X


def summarize_data(X: pd.DataFrame, y01: np.ndarray, classes, pos_label) -> dict:
    """Rows, columns, classes and missing values of the training data.

    Small enough to keep with a fitted model (``data_summary_``).

    Parameters
    ----------
    X : DataFrame
        The checked training frame.
    y01 : array of 0 and 1
        1 for ``pos_label``.
    classes : array of two labels
    pos_label : label

    Returns
    -------
    dict
        ``n_rows``, ``n_columns``, ``n_categorical``, ``n_numeric``,
        ``class_counts`` (label as text to rows, negative first),
        ``missing_cells``, ``rows_with_missing`` and ``missing_by_column`` (the
        20 columns with most missing values).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> X = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": ["x", "y", None]})
    >>> summary = summarize_data(X, np.array([0, 1, 0]), np.array(["no", "yes"]),
    ...                          "yes")
    >>> summary["class_counts"], summary["missing_cells"]
    ({'no': 2, 'yes': 1}, 2)
    """
    classes = np.asarray(classes)
    negative = classes[classes != pos_label][0]
    y01 = np.asarray(y01)
    missing = X.isna().sum()
    top = missing[missing > 0].sort_values(ascending=False, kind="mergesort")[:20]
    n_categorical = int(sum(X[c].dtype == object for c in X.columns))
    return {
        "n_rows": len(X),
        "n_columns": int(X.shape[1]),
        "n_categorical": n_categorical,
        "n_numeric": int(X.shape[1] - n_categorical),
        "class_counts": {str(negative): int(np.sum(y01 == 0)),
                         str(pos_label): int(np.sum(y01 == 1))},
        "missing_cells": int(missing.sum()),
        "rows_with_missing": int(X.isna().any(axis=1).sum()),
        "missing_by_column": {str(k): int(v) for k, v in top.items()},
    }
