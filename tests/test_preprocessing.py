"""Preprocessing: imputation, encoding and scaling before resamplers and models."""

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer

from autoimb.pipeline.preprocessing import ColumnKinds, column_median, make_preprocessor


def test_column_median_imputes_as_simple_imputer_median():
    """Check that the column-by-column median gives what
    ``SimpleImputer(strategy="median")`` gives: medians of the present values,
    0 for a column with none, and the same missing-value indicators."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(501, 4))
    X[rng.random(501) < 0.2, 1] = np.nan
    X[:, 3] = np.nan
    test = rng.normal(size=(20, 4))
    test[::3] = np.nan
    ours = SimpleImputer(strategy=column_median, add_indicator=True,
                         keep_empty_features=True).fit(X)
    sklearn = SimpleImputer(strategy="median", add_indicator=True,
                            keep_empty_features=True).fit(X)
    np.testing.assert_allclose(ours.statistics_, sklearn.statistics_)
    np.testing.assert_allclose(ours.transform(test), sklearn.transform(test))


def test_preprocessor_puts_categorical_first_and_fills_every_gap():
    """Check that the preprocessor leaves no missing value and places the
    categorical columns first, as the samplers and models expect."""
    X = pd.DataFrame({"x": [1.0, np.nan, 3.0, 4.0], "c": ["a", None, "b", "a"]})
    kinds = ColumnKinds(categorical=("c",), numeric=("x",), order=("x", "c"))
    out = make_preprocessor(kinds).fit_transform(X)
    assert not np.isnan(out).any()
    assert set(out[:, 0]) <= {0.0, 1.0, 2.0}  # ordinal codes
    assert out.shape == (4, 3)  # code, scaled x, x's missing indicator


def test_preprocessor_leaves_its_input_untouched():
    """Check that scaling in place (after the imputer's copy) never writes into
    the caller's data, given as an array or a frame, in fit or in transform."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(3.0, 2.0, size=(50, 3)), columns=["a", "b", "c"])
    for data, columns in [(frame, ("a", "b", "c")), (frame.to_numpy(), (0, 1, 2))]:
        before = np.array(data, copy=True)
        preprocessor = make_preprocessor(ColumnKinds((), columns))
        out = preprocessor.fit_transform(data)
        np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
        np.testing.assert_array_equal(np.asarray(data), before)
        preprocessor.transform(data)
        np.testing.assert_array_equal(np.asarray(data), before)
