"""Bad input: each case either works as documented or fails with a message that
names the bad value and the way out. docs/bad_input.md lists them all.
"""

import warnings

import numpy as np
import optuna
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.utils._param_validation import InvalidParameterError

import autoimb
from autoimb import AutoImbError, AutoImbWarning, NoCompletedTrialError
from autoimb._validation import warn_if_row_identifier_in_X

TINY_SPACE = {"models": {"logistic_regression": {"C": 1.0, "class_weight": ["none"]}}}
TINY = {"search_space": TINY_SPACE, "n_trials": 1, "cv": 2, "storage": "memory",
        "random_state": 0, "show_progress_bar": False}
SMOTE_K10 = {**TINY_SPACE,
             "resampling": {"methods": ["smote"], "ratio": 1.0, "k_neighbors": 10}}


def fit(X, y, **options):
    return autoimb.fit(X, y, **{**TINY, **options})


@pytest.fixture(scope="module")
def data():
    """120 rows, 4 numeric columns, 24 positives (labels 0 and 1)."""
    rng = np.random.default_rng(0)
    y = np.zeros(120, dtype=int)
    y[:24] = 1
    X = pd.DataFrame(rng.normal(size=(120, 4)) + 0.8 * y[:, None], columns=list("abcd"))
    return X, y


def minority_of(n_pos, n=120):
    rng = np.random.default_rng(n_pos)
    y = np.zeros(n, dtype=int)
    y[:n_pos] = 1
    return pd.DataFrame(rng.normal(size=(n, 3)) + y[:, None], columns=list("abc")), y


@pytest.fixture(scope="module")
def mixed_model():
    """A model fitted on numeric, integer, categorical and code-like columns."""
    rng = np.random.default_rng(1)
    n = 150
    signal = rng.normal(size=n)
    y = np.where(signal > 0.9, "fraud", "ok")
    frame = pd.DataFrame({
        "amount": signal + rng.normal(scale=0.5, size=n),
        "visits": rng.integers(0, 20, size=n),
        "channel": rng.choice(["web", "shop", "phone"], size=n),
        "code": np.where(signal > 0.5, "1", rng.choice(["2", "3"], size=n)),
    })
    return fit(frame, y), frame


# -- X: values ------------------------------------------------------------------


def test_nan_in_X_is_imputed(data):
    """Check that NaN in numeric and categorical columns is imputed at fit and at
    predict, without warning or error."""
    X, y = data
    X = X.assign(k=np.where(np.arange(120) % 2, "u", "v"))
    X.loc[::5, "a"] = np.nan
    X.loc[::7, "k"] = None
    with warnings.catch_warnings():
        warnings.simplefilter("error", AutoImbWarning)
        model = fit(X, y)
    proba = model.predict_proba(X.assign(a=np.nan, k=None))
    assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1)


def test_inf_in_a_frame_is_refused_naming_the_column(data):
    """Check that an infinite value is refused, naming the column and the fix."""
    X, y = data
    X = X.copy()
    X.loc[3, "b"] = -np.inf
    with pytest.raises(AutoImbError, match=r"Column 'b' holds infinite values; "
                                           r"replace them with NaN"):
        fit(X, y)


def test_inf_in_an_array_is_refused_naming_the_fix(data):
    """Check that an infinite value in a NumPy array gets autoimb's message, which
    names the column and the fix."""
    X, y = data
    X = X.to_numpy().copy()
    X[3, 1] = np.inf
    with pytest.raises(AutoImbError, match=r"Column 'x1' holds infinite values"):
        fit(X, y)


def test_all_constant_columns_work(data):
    """Check that columns without variation fit, and give every row the same
    probability when no column varies."""
    X, y = data
    model = fit(pd.DataFrame({"a": np.ones(120), "b": np.zeros(120),
                              "c": ["x"] * 120}), y)
    proba = model.predict_proba(X.assign(a=1.0, b=0.0, c="x")[["a", "b", "c"]])
    assert np.allclose(proba, proba[0])


@pytest.mark.parametrize("empty", ["float", "object"])
def test_all_missing_column_works(data, empty):
    """Check that a column with no value at all (float NaN, or None objects) is
    kept as an all-missing numeric column, and fit and predict work."""
    X, y = data
    column = pd.Series([np.nan if empty == "float" else None] * 120,
                       dtype=float if empty == "float" else object)
    model = fit(X.assign(e=column), y)
    assert "e" in model.kinds_.numeric
    assert np.allclose(model.predict_proba(X.assign(e=column)).sum(axis=1), 1)


def test_single_feature_works(data):
    """Check that one column is enough."""
    X, y = data
    model = fit(X[["a"]], y)
    assert model.n_features_in_ == 1
    assert set(model.predict(X[["a"]])) <= {0, 1}


def test_many_categories_work(data):
    """Check that a categorical column with a distinct value per row fits
    (logistic regression one-hot encodes at most 50 of them, LightGBM takes them
    natively) and predicts values never seen."""
    X, y = data
    ids = [f"id{i}" for i in range(120)]
    with pytest.warns(AutoImbWarning, match="Column 'who' of X looks like a row "
                                            "identifier: a distinct value on each"):
        model = fit(X.assign(who=ids), y, search_space={
            "models": {"logistic_regression": {"C": 1.0, "class_weight": ["none"]},
                       "lightgbm": {"n_estimators": 5, "class_weight": ["none"]}}},
            n_trials=2)
    assert model.kinds_.categorical == ("who",)
    unseen = X.assign(who=[f"new{i}" for i in range(120)])
    assert np.allclose(model.predict_proba(unseen).sum(axis=1), 1)


# -- X: column types -----------------------------------------------------------


def test_mixed_type_object_column_is_categorical(data):
    """Check that an object column mixing numbers, strings and None is treated as
    categorical text, and fits."""
    X, y = data
    model = fit(X.assign(m=[1, "a", 2.5, None] * 30), y)
    assert model.kinds_.categorical == ("m",)
    assert model.predict(X.assign(m="a")).shape == (120,)


def test_text_columns_keep_their_values_and_share_equal_strings():
    """Check that a text column becomes an object column of the values' text, with
    missing values as NaN and mixed objects kept apart (1, True and "1.5" stay
    distinct texts), and that equal texts are one string object: a pointer a row,
    not a string each."""
    from autoimb._validation import check_frame

    raw = pd.DataFrame({
        "arrow": pd.Series(["a", "b", None, "a"] * 500, dtype="str"),
        "mixed": pd.Series([1, True, "1.5", None] * 500, dtype=object),
        "category": pd.Series(["x", "y", "x", None] * 500, dtype="category"),
    })
    X = check_frame(raw)

    for name, texts in [("arrow", ["a", "b", None, "a"]),
                        ("mixed", ["1", "True", "1.5", None]),
                        ("category", ["x", "y", "x", None])]:
        column = X[name]
        assert column.dtype == object
        assert [None if pd.isna(v) else v for v in column.iloc[:4]] == texts
        assert column.isna().sum() == 500
        present = column.dropna().to_numpy()
        assert len({id(value) for value in present}) == len(set(present))


def test_object_column_of_numbers_is_numeric(data):
    """Check that an object column holding only numbers and None is numeric, so
    that predicting with a float column gives the same probabilities."""
    X, y = data
    values = pd.Series(X["a"].tolist(), dtype=object)
    values[::9] = None
    model = fit(X.assign(a=values), y)
    assert "a" in model.kinds_.numeric
    assert np.array_equal(model.predict_proba(X.assign(a=values)),
                          model.predict_proba(X.assign(a=values.astype(float))))


@pytest.mark.parametrize("tz", [None, "UTC"])
def test_datetime_columns_become_days(data, tz):
    """Check that a datetime column (naive or with a time zone) becomes days since
    1970-01-01 and the model predicts on datetimes."""
    X, y = data
    when = pd.Series(pd.date_range("2020-01-01", periods=120, freq="D", tz=tz))
    when[::10] = pd.NaT
    model = fit(X.assign(when=when), y)
    assert "when" in model.kinds_.numeric
    assert model.predict(X.assign(when=when)).shape == (120,)


def test_timedelta_columns_become_days(data):
    """Check that a timedelta column becomes a number of days, not 120 categories."""
    X, y = data
    model = fit(X.assign(age=pd.to_timedelta(np.arange(120), unit="D")), y)
    assert "age" in model.kinds_.numeric


def test_complex_column_is_refused(data):
    """Check that a complex column is refused, naming the column and the fix."""
    X, y = data
    with pytest.raises(AutoImbError, match=r"Column 'z' holds complex numbers.*"
                                           r"real and imaginary parts"):
        fit(X.assign(z=X["a"] + 1j), y)


@pytest.mark.parametrize("copy", ["same", "inverted", "text"])
def test_target_left_in_X_warns(data, copy):
    """Check that a column of X that is the target, in any coding, warns."""
    X, y = data
    column = {"same": y, "inverted": 1 - y, "text": np.where(y == 1, "yes", "no")}[copy]
    with pytest.warns(AutoImbWarning, match="Column 'target' of X equals the target: "
                                            "it leaks the answer.*Drop it from X"):
        fit(X.assign(target=column), y)


def test_a_row_number_left_in_X_warns(data):
    """Check that whole numbers running through consecutive values, one per row
    (a row number or an id, in any order), warn and name the fix."""
    X, y = data
    ids = np.random.default_rng(0).permutation(120) + 1000
    with pytest.warns(AutoImbWarning, match=r"Column 'customer' of X looks like a "
                      r"row identifier: 120 consecutive whole numbers, one per row\. "
                      r".*Drop it from X \(on the command line: --id customer, "):
        fit(X.assign(customer=ids), y)


def test_columns_distinct_on_every_row_but_no_identifier_do_not_warn(data):
    """Check that numbers with decimals (measurements), an id on too few rows
    to tell, and one date per row (a feature, though consecutive days become
    consecutive numbers) raise no warning."""
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error", AutoImbWarning)
        fit(X.assign(amount=np.arange(120) * 3 + 7.25), y)  # distinct, decimals
        fit(X, y)  # its floats are distinct on every row
        fit(X.iloc[:40].assign(row=np.arange(40)), y[:40])  # under 50 rows
        fit(X.assign(day=pd.date_range("2026-01-01", periods=120)), y)  # a date a row


@pytest.mark.parametrize("kind", ["int", "float", "text"])
def test_an_id_kept_by_a_random_train_split_warns(data, kind):
    """Check that the ids a train split kept (a random, unsorted subset of
    0..n, so neither consecutive nor ordered) warn, as whole numbers or as
    text, and that the message names the column, how to leave it out and how
    to keep it."""
    X, y = data
    kept = np.random.default_rng(1).permutation(200)[:120]
    ids = {"int": kept, "float": kept.astype(float),
           "text": [f"C{i:05d}" for i in kept]}[kind]
    what = "a distinct value" if kind == "text" else "120 distinct whole numbers"
    with pytest.warns(AutoImbWarning, match=(
            rf"Column 'row_id' of X looks like a row identifier: {what}.*Drop it "
            r"from X \(on the command line: --id row_id.*if it is a measurement, "
            "keep it")):
        warn_if_row_identifier_in_X(X.assign(row_id=ids))
    with pytest.warns(AutoImbWarning, match="'row_id' of X looks like a row id"):
        fit(X.assign(row_id=ids), y)


def test_whole_numbers_repeated_or_with_decimals_are_no_identifier(data):
    """Check that whole numbers repeated on some rows (counts) and distinct
    numbers with decimals (measurements) are not taken for identifiers."""
    X, _ = data
    rng = np.random.default_rng(2)
    counts = rng.integers(0, 1000, size=120)
    counts[1] = counts[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", AutoImbWarning)
        warn_if_row_identifier_in_X(X.assign(
            visits=counts, price=rng.permutation(200)[:120] + 0.5))


def test_binary_feature_unrelated_to_target_does_not_warn(data):
    """Check that a two-valued column that is not the target raises no warning."""
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error", AutoImbWarning)
        fit(X.assign(flag=np.arange(120) % 2 == 0), y)


# -- X: shape ------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(0, 0), (0, 4), (120, 0)])
def test_empty_frame_is_refused(data, shape):
    """Check that a frame without rows or without columns is refused."""
    X, y = data
    X = X.iloc[:shape[0], :shape[1]]
    message = rf"X is empty \(shape \({shape[0]}, {shape[1]}\)\); pass at least one"
    with pytest.raises(AutoImbError, match=message):
        fit(X, y[:shape[0]])


def test_X_and_y_of_different_lengths_are_refused(data):
    """Check that X and y of different lengths are refused with both lengths."""
    X, y = data
    with pytest.raises(AutoImbError, match="X has 120 rows but y has 119; pass one "
                                           "label per row"):
        fit(X, y[:-1])


def test_duplicate_column_names_are_refused(data):
    """Check that duplicate column names are refused, naming them and the fix."""
    X, y = data
    X = X.set_axis(["a", "a", "c", "d"], axis=1)
    with pytest.raises(AutoImbError, match=r"duplicate column names \['a'\]; rename"):
        fit(X, y)


def test_column_names_of_mixed_types_are_refused(data):
    """Check that int and str column names together are refused with the fix."""
    X, y = data
    with pytest.raises(TypeError, match=r"X.columns = X.columns.astype\(str\)"):
        fit(X.set_axis([0, "b", "c", "d"], axis=1), y)


def test_sparse_X_is_refused_naming_the_fix(data):
    """Check that a sparse matrix is refused with the way to make it dense."""
    X, y = data
    with pytest.raises((TypeError, AutoImbError), match=r"toarray\(\)"):
        fit(sp.csr_matrix(X.to_numpy()), y)


def test_3d_X_is_refused_naming_the_fix(data):
    """Check that a 3-D array is refused with its shape and how to flatten it."""
    X, y = data
    with pytest.raises(AutoImbError, match=r"2-dimensional.*shape \(120, 2, 2\).*"
                                           r"reshape\(len\(X\), -1\)"):
        fit(X.to_numpy().reshape(120, 2, 2), y)


def test_1d_X_is_refused_naming_the_fix(data):
    """Check that a 1-D array is refused with the reshape that fixes it."""
    X, y = data
    with pytest.raises(ValueError, match=r"reshape\(-1, 1\)"):
        fit(X["a"].to_numpy(), y)


# -- y -------------------------------------------------------------------------


def test_one_class_is_refused(data):
    """Check that a target with one class is refused, naming the class."""
    X, _ = data
    with pytest.raises(AutoImbError, match=r"y has only one class \('ok'\); a "
                                           r"classifier needs two"):
        fit(X, ["ok"] * 120)


def test_three_classes_are_refused(data):
    """Check that a multiclass target is refused, naming the classes and how to
    make it binary."""
    X, _ = data
    with pytest.raises(AutoImbError, match=r"y has 3 classes \(0, 1, 2\).*Group the "
                                           r"classes into two"):
        fit(X, np.arange(120) % 3)


def test_continuous_target_is_refused(data):
    """Check that a regression target is refused as such."""
    X, _ = data
    with pytest.raises(AutoImbError, match=r"Unknown label type: continuous.*"
                                           r"regression target"):
        fit(X, np.linspace(0, 1, 120))


@pytest.mark.parametrize("labels", [("neg", "pos"), (False, True), (0.25, 1.75),
                                    (-1, 1), (0.0, 1.0)],
                         ids=["str", "bool", "float", "signed", "float-int"])
def test_any_two_labels_work(data, labels):
    """Check that string, bool and float labels fit, the minority is the positive
    class and predict returns the training labels."""
    X, y = data
    target = np.where(y == 1, labels[1], labels[0])
    model = fit(X, target)
    assert list(model.classes_) == sorted(labels)
    assert model.pos_label_ == labels[1] and type(model.pos_label_) is type(labels[1])
    assert set(model.predict(X).tolist()) <= set(labels)


def test_categorical_labels_work(data):
    """Check that a pandas categorical target works."""
    X, y = data
    model = fit(X, pd.Series(np.where(y == 1, "b", "a")).astype("category"))
    assert model.pos_label_ == "b"


@pytest.mark.parametrize("missing", ["nan", "None", "NA"])
def test_missing_label_is_refused(data, missing):
    """Check that a missing label (NaN, None, pd.NA) is refused with its row."""
    X, y = data
    if missing == "nan":
        target = y.astype(float)
        target[5] = np.nan
    elif missing == "None":
        target = np.where(y == 1, "pos", "neg").astype(object)
        target[5] = None
    else:
        target = pd.array(y, dtype="Int64")
        target[5] = pd.NA
    with pytest.raises(AutoImbError, match=r"y holds 1 missing label\(s\) \(first at "
                                           r"row 5\); drop those rows or fill"):
        fit(X, target)


def test_labels_of_mixed_types_are_refused(data):
    """Check that labels mixing 1 and '1' are refused, naming the types and fix."""
    X, y = data
    target = np.array([1 if v else "1" for v in y], dtype=object)
    with pytest.raises(AutoImbError, match=r"y mixes label types \(int, str\).*"
                                           r"y.astype\(str\)"):
        fit(X, target)


def test_two_dimensional_y_is_refused(data):
    """Check that a y with two columns is refused with its shape and the fix."""
    X, y = data
    with pytest.raises(AutoImbError, match=r"one label per row.*shape \(120, 2\).*"
                                           r"single column"):
        fit(X, np.c_[y, y])


@pytest.mark.parametrize(("pos_label", "message"), [
    (7, r"pos_label=7 is not a label of y; the labels are \[0, 1\]\.$"),
    ("1", r"pos_label='1' is not a label of y; the labels are \[0, 1\]\. Did you "
          r"mean 1 \(int\)\?"),
    ([1], r"pos_label=\[1\] must be a single label"),
], ids=["absent", "text-of-a-number", "list"])
def test_pos_label_not_in_y_is_refused(data, pos_label, message):
    """Check that a pos_label that is not a label of y is refused, listing the
    labels and the likely intended one."""
    X, y = data
    with pytest.raises(AutoImbError, match=message):
        fit(X, y, pos_label=pos_label)


def test_pos_label_is_matched_to_the_label_type(data):
    """Check that pos_label=1 with bool labels means True, and predictions stay
    booleans."""
    X, y = data
    model = fit(X, y == 1, pos_label=1)
    assert model.pos_label_ is True
    assert model.predict(X).dtype == bool


# -- minority size -------------------------------------------------------------


def test_minority_of_one_row_names_the_minimum():
    """Check that one positive row is refused, naming the minimum of 2."""
    X, y = minority_of(1)
    with pytest.raises(AutoImbError, match=r"The class 1 has 1 row\(s\); honest "
                                           r"cross-validation needs at least 2 rows"):
        fit(X, y, search_space=SMOTE_K10)


def test_minority_of_two_rows_lowers_the_folds():
    """Check that 2 positive rows lower cv=3 to 2 folds with a warning, and SMOTE
    leaves folds with one positive as they are."""
    X, y = minority_of(2)
    with pytest.warns(AutoImbWarning, match=r"cv=3 needs 3 rows of each class but "
                                            r"class 1 has 2; using cv=2"):
        model = fit(X, y, search_space=SMOTE_K10, cv=3)
    trial = model.study_.trials[0]
    assert len(trial.intermediate_values) == 2
    assert "fewer than 2 minority rows; left as is" in trial.user_attrs["resampling"]


@pytest.mark.parametrize(("n_pos", "cv", "lowered"), [
    (5, 2, "k_neighbors 10 lowered to 1 (2 minority rows)"),
    (10, 5, "k_neighbors 10 lowered to 7 (8 minority rows)"),
])
def test_small_minority_lowers_k_neighbors(n_pos, cv, lowered):
    """Check that SMOTE's k_neighbors=10 shrinks to what each fold's positives
    allow, without a warning, and the trial completes."""
    X, y = minority_of(n_pos)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AutoImbWarning)
        model = fit(X, y, search_space=SMOTE_K10, cv=cv)
    trial = model.study_.trials[0]
    assert trial.state == optuna.trial.TrialState.COMPLETE
    assert lowered in trial.user_attrs["resampling"]


# -- settings ------------------------------------------------------------------


@pytest.mark.parametrize(("name", "value"), [("fp_cost", 0), ("fn_cost", -1),
                                             ("fp_cost", float("nan"))])
def test_non_positive_costs_are_refused(data, name, value):
    """Check that a zero, negative or NaN cost is refused, naming the parameter,
    the allowed range and the value."""
    X, y = data
    with pytest.raises(InvalidParameterError,
                       match=rf"The '{name}' parameter of AutoImbClassifier must be a "
                             rf"float in the range \(0.0, inf\) or None. Got {value}"):
        fit(X, y, **{name: value})


def test_timeout_of_zero_is_refused(data):
    """Check that timeout=0 is refused, naming the allowed range."""
    X, y = data
    with pytest.raises(InvalidParameterError,
                       match=r"The 'timeout' parameter of AutoImbClassifier must be a "
                             r"float in the range \(0.0, inf\) or None. Got 0"):
        fit(X, y, timeout=0)


def test_unknown_objective_is_refused(data):
    """Check that an unknown objective is refused, listing the known ones."""
    X, y = data
    with pytest.raises(InvalidParameterError,
                       match=r"'objective' parameter of AutoImbClassifier must be a "
                             r"str among \{('cost', 'average_precision'|"
                             r"'average_precision', 'cost')\}. Got 'auc'"):
        fit(X, y, objective="auc")


@pytest.mark.parametrize("path", ["/proc/x/s.journal",
                                  "/nonexistent-autoimb/s.journal"])
def test_storage_in_a_missing_folder_is_refused(data, path):
    """Check that a journal path whose folder does not exist is refused with the
    path and the fix."""
    X, y = data
    with pytest.raises(AutoImbError, match=rf"The folder of storage='{path}' does not "
                                           r"exist; create it or choose another path"):
        fit(X, y, storage=path)


def test_unwritable_storage_file_is_refused(data):
    """Check that a journal path that cannot be created is refused with the fix."""
    X, y = data
    with pytest.raises(AutoImbError, match=r"Cannot write the study journal "
                                           r"'/proc/s.journal'.*storage='memory'"):
        fit(X, y, storage="/proc/s.journal")


def test_unknown_preset_suggests_the_closest(data):
    """Check that a misspelt preset name suggests the closest preset."""
    X, y = data
    with pytest.raises(AutoImbError, match=r"Unknown search space preset 'fsat'. Did "
                                           r"you mean 'fast'\? Presets: default, fast"):
        fit(X, y, search_space="fsat")


def test_preset_file_with_a_typo_names_the_key_and_the_file(data, tmp_path):
    """Check that a misspelt key in a search space file is named, with the file,
    the table and the closest key."""
    X, y = data
    path = tmp_path / "space.toml"
    path.write_text('[models.logistic_regression]\nC = 1.0\nclass_wieght = ["none"]\n')
    with pytest.raises(AutoImbError, match=rf"Unknown key 'class_wieght' in "
                                           rf"{path} \[models.logistic_regression\]. "
                                           r"Did you mean 'class_weight'\?"):
        fit(X, y, search_space=str(path))


# -- predict -------------------------------------------------------------------


def test_predict_refuses_missing_columns(mixed_model):
    """Check that predict names the columns missing from the frame."""
    model, frame = mixed_model
    with pytest.raises(AutoImbError, match=r"missing \['amount'\]. Pass a frame with "
                                           r"exactly the training columns"):
        model.predict(frame.drop(columns="amount"))


def test_predict_refuses_extra_columns(mixed_model):
    """Check that predict names the columns that were not there in training."""
    model, frame = mixed_model
    with pytest.raises(AutoImbError, match=r"unexpected \['extra'\]"):
        model.predict(frame.assign(extra=1))


def test_predict_reorders_columns(mixed_model):
    """Check that columns in another order give the same probabilities."""
    model, frame = mixed_model
    assert np.array_equal(model.predict_proba(frame[frame.columns[::-1]]),
                          model.predict_proba(frame))


def test_predict_converts_changed_dtypes(mixed_model):
    """Check that ints for floats, numeric strings for numbers and ints for text
    codes give the same probabilities as the training dtypes."""
    model, frame = mixed_model
    changed = frame.assign(amount=frame["amount"].map(repr),
                           visits=frame["visits"].astype(float),
                           code=frame["code"].astype(int))
    assert np.array_equal(model.predict_proba(changed), model.predict_proba(frame))


def test_predict_refuses_a_string_in_a_numeric_column(mixed_model):
    """Check that text in a numeric column is refused, naming column and value."""
    model, frame = mixed_model
    bad = frame.assign(amount=frame["amount"].astype(object))
    bad.loc[3, "amount"] = "n/a"
    with pytest.raises(AutoImbError, match=r"Column 'amount' was numeric in training "
                                           r"but holds 'n/a' here; pass numbers"):
        model.predict(bad)


def test_predict_refuses_an_array_of_another_width(data):
    """Check that an array with another number of columns is refused with both
    widths."""
    X, y = data
    model = fit(X.to_numpy(), y)
    with pytest.raises(ValueError, match="X has 3 features, but AutoImbClassifier is "
                                         "expecting 4 features"):
        model.predict(X.to_numpy()[:, :3])


def test_predict_on_a_frame_after_fitting_an_array(data):
    """Check that a model fitted on an array predicts on a frame by position."""
    X, y = data
    model = fit(X.to_numpy(), y)
    with pytest.warns(UserWarning, match="X has feature names"):
        proba = model.predict_proba(X)
    assert np.array_equal(proba, model.predict_proba(X.to_numpy()))


# -- failing trials ------------------------------------------------------------

BROKEN_LOGISTIC = {"logistic_regression": {"C": "not-a-number",
                                           "class_weight": ["none"]}}


def test_failing_trials_are_recorded_and_the_search_goes_on(data):
    """Check that a model whose fits raise fails its trials, each with the reason
    in user_attrs['error'] and results_, while the search completes the requested
    number of trials with the working model."""
    X, y = data
    space = {"models": {**BROKEN_LOGISTIC, "hist_gradient_boosting": {
        "max_iter": 10, "class_weight": ["none"]}}}
    model = fit(X, y, search_space=space, n_trials=4, random_state=1)
    trials = model.study_.trials
    failed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    completed = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert failed and len(completed) == 4
    assert {t.params["model"] for t in failed} == {"logistic_regression"}
    for t in failed:
        assert t.user_attrs["error"].startswith("InvalidParameterError: ")
        assert "'C' parameter of LogisticRegression" in t.user_attrs["error"]
    assert model.best_params_["model"] == "hist_gradient_boosting"
    reasons = model.results_.set_index("number")["reason"]
    assert all(reasons[t.number] == t.user_attrs["error"] for t in failed)


def test_all_trials_failing_raises_with_the_first_cause(data):
    """Check that when no trial can complete, fit raises NoCompletedTrialError
    whose message and __cause__ carry the first failure."""
    X, y = data
    with pytest.raises(NoCompletedTrialError,
                       match=r"No trial of study .* completed \(10 failed\)\. "
                             r"First failure: InvalidParameterError: .*'C' "
                             r"parameter.*Fix the cause") as err:
        fit(X, y, search_space={"models": BROKEN_LOGISTIC})
    assert "InvalidParameterError" in str(err.value.__cause__)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the broken fit overflows
def test_invalid_model_hyperparameter_fails_the_trial(data):
    """Check that a constant hyperparameter a model refuses (C=-1) fails the
    trials with scikit-learn's message instead of fitting a broken model."""
    X, y = data
    with pytest.raises(NoCompletedTrialError, match=r"'C' parameter of "
                                                    r"LogisticRegression must be"):
        fit(X, y, search_space={"models": {"logistic_regression": {"C": -1.0}}})


def test_categorical_column_empty_in_a_training_fold_works(data):
    """Check that a text column whose few values all fall in one held-out fold
    does not fail the trials."""
    X, y = data
    rare = pd.Series([None] * 120, dtype=object)
    rare[0] = "seen-once"
    model = fit(X[["a"]].assign(rare=rare), y)
    assert model.kinds_.categorical == ("rare",)
