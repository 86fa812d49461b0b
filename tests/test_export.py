"""Model files: round trips (joblib, skops), metadata, and refusing bad files."""

import copy
import json
import subprocess
import sys
import textwrap
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression

import autoimb
from autoimb import AutoImbError, AutoImbWarning, ModelFileError
from autoimb._classifier import remember_ids
from autoimb.deploy.export import FORMAT, read_envelope, write_envelope

# LightGBM with SMOTE-NC and isotonic calibration: a third-party booster, an
# imblearn pipeline with our resampler, and our calibrator and wrappers.
SPACE = {"models": {"lightgbm": {"n_estimators": 10, "class_weight": ["balanced"]}},
         "resampling": {"methods": ["smotenc"], "ratio": 0.5, "k_neighbors": 3},
         "calibration": {"methods": ["isotonic"]}}


@pytest.fixture(scope="module")
def fitted():
    """A model fitted on numeric, categorical and missing values, string labels."""
    rng = np.random.default_rng(0)
    n = 300
    signal = rng.normal(size=n)
    y = np.where(signal + rng.normal(scale=0.6, size=n) > 1.2, "fraud", "ok")
    X = pd.DataFrame({
        "amount": signal * 2 + rng.normal(size=n),
        "age": rng.integers(18, 90, size=n).astype(float),
        "channel": rng.choice(["web", "shop", "phone"], size=n),
    })
    X.loc[::11, "age"] = np.nan
    model = autoimb.fit(X, y, search_space=SPACE, n_trials=1, cv=3, fp_cost=1,
                        fn_cost=5, storage="memory", random_state=0,
                        show_progress_bar=False)
    return model, X


@pytest.fixture(scope="module")
def model_file(fitted, tmp_path_factory):
    model, _ = fitted
    return model.export(tmp_path_factory.mktemp("export") / "model.joblib")


def test_joblib_round_trip_in_a_fresh_process(fitted, model_file, tmp_path):
    """Check that a fresh Python process loads the joblib file and gives the same
    probabilities and labels, without the study."""
    model, X = fitted
    X.to_pickle(tmp_path / "X.pkl")
    script = textwrap.dedent(f"""
        import json, numpy as np, pandas as pd, autoimb
        model = autoimb.load({str(model_file)!r})
        X = pd.read_pickle({str(tmp_path / "X.pkl")!r})
        np.save({str(tmp_path / "proba.npy")!r}, model.predict_proba(X))
        print(json.dumps([model.predict(X).tolist(), hasattr(model, "study_")]))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True,
                            text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    labels, has_study = json.loads(result.stdout.splitlines()[-1])
    assert np.array_equal(np.load(tmp_path / "proba.npy"), model.predict_proba(X))
    assert labels == model.predict(X).tolist()
    assert has_study is False


def test_skops_round_trip(fitted, tmp_path):
    """Check that a skops file loads with trusted=True and predicts the same."""
    model, X = fitted
    path = model.export(tmp_path / "model.skops", format="skops")
    loaded = autoimb.load(path, trusted=True)
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.results_.equals(model.results_)


def test_skops_serializes_the_model_but_results(fitted):
    """Check that skops serializes everything of the model but results_ (LightGBM,
    the imblearn pipeline, our resampler, calibrator and wrappers): loaded with the
    types it names, it predicts the same."""
    model, X = fitted
    clone = copy.copy(model)
    del clone.results_
    data = sio.dumps(clone)
    untrusted = sio.get_untrusted_types(data=data)
    for name in ("lightgbm.basic.Booster", "imblearn.pipeline.Pipeline",
                 "autoimb.pipeline.resampling.AdaptiveResampler",
                 "autoimb.pipeline.calibration.IsotonicCalibrator",
                 "autoimb.pipeline.models.CategoricalLGBM",
                 "autoimb.pipeline.fitted.ThresholdedPipeline",
                 "autoimb._classifier.AutoImbClassifier"):
        assert name in untrusted
    loaded = sio.loads(data, trusted=untrusted)
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert np.array_equal(loaded.predict(X), model.predict(X))


def test_skops_file_needs_trust(fitted, tmp_path):
    """Check that a skops file is not loaded without trusted=..., and the error
    names the types to trust."""
    model, _ = fitted
    clone = copy.copy(model)
    del clone.results_
    path = clone.export(tmp_path / "model.skops", format="skops")
    with pytest.raises(ModelFileError, match=r"names types skops does not trust.*"
                                             r"autoimb._classifier.AutoImbClassifier"
                                             r".*trusted=True"):
        autoimb.load(path)
    assert autoimb.load(path, trusted=True).threshold_ == model.threshold_


def test_export_leaves_the_fitted_model_whole(fitted, tmp_path):
    """Check that writing a model file (or copying the model) takes nothing from
    the fitted model itself: it keeps its study and the state the diagnostics
    read, which only the file leaves out."""
    model, _ = fitted
    kept = {name for name in ("study_", "_context", "_chosen", "_pool")
            if hasattr(model, name)}
    assert kept == {"study_", "_context", "_chosen", "_pool"}
    model.export(tmp_path / "model.joblib")
    copy.copy(model)
    assert all(hasattr(model, name) for name in kept)
    assert not hasattr(autoimb.load(tmp_path / "model.joblib"), "study_")


def test_file_carries_metadata(fitted, model_file):
    """Check that the file records versions, columns, column kinds, classes,
    objective and costs, threshold and cross-validated score."""
    model, _ = fitted
    envelope = read_envelope(model_file)
    assert envelope["format"] == FORMAT and envelope["payload_format"] == "joblib"
    meta = envelope["metadata"]
    assert {"autoimb", "scikit-learn", "imbalanced-learn", "lightgbm", "optuna",
            "numpy", "pandas", "python"} <= set(meta["versions"])
    assert meta["versions"]["autoimb"] == autoimb.__version__
    assert meta["columns"] == ["amount", "age", "channel"]
    assert meta["dtypes"] == {"amount": "numeric", "age": "numeric",
                              "channel": "categorical"}
    assert meta["fitted_on_dataframe"] is True
    assert meta["classes"] == ["fraud", "ok"] and meta["pos_label"] == "fraud"
    assert (meta["objective"], meta["fp_cost"], meta["fn_cost"]) == ("cost", 1.0, 5.0)
    assert meta["threshold"] == model.threshold_
    assert meta["cv_score"] == model.best_score_
    assert meta["strategy"] == model.strategy_
    assert meta["best_params"] == model.best_params_


@pytest.mark.parametrize("fmt", ["joblib", "skops"])
def test_remembered_ids_survive_the_file_and_are_dropped_from_frames(fitted, tmp_path,
                                                                     fmt):
    """Check that the id columns a model remembers (``autoimb fit --id``) and
    the ids of its scored rows are in the file (and its metadata), and that the
    loaded model drops the id column from a DataFrame given to predict."""
    model, X = fitted
    clone = copy.copy(model)
    clone._context = model._context  # which rows were scored; copy.copy drops it
    ids = np.array([f"r{i}" for i in range(len(X))])
    remember_ids(clone, pd.DataFrame({"row_id": ids}))
    path = clone.export(tmp_path / f"model.{fmt}", format=fmt)
    assert read_envelope(path)["metadata"]["id_columns"] == ["row_id"]
    loaded = autoimb.load(path, trusted=fmt == "skops")
    assert loaded.id_columns_ == ["row_id"]
    assert loaded.oof_ids_.tolist() == ids.tolist()  # cv: every row scored
    assert np.array_equal(loaded.predict_proba(X.assign(row_id=ids)),
                          model.predict_proba(X))
    assert np.array_equal(loaded.predict(X.assign(row_id=ids)), model.predict(X))


def test_a_model_file_without_remembered_ids_still_works(fitted, model_file):
    """Check that a model file written without ``id_columns_`` (as before the
    model remembered ids) loads and predicts, and still refuses a column it was
    not trained on."""
    _, X = fitted
    model = autoimb.load(model_file)
    assert not hasattr(model, "id_columns_")
    assert model.predict(X).shape == (len(X),)
    with pytest.raises(AutoImbError, match=r"unexpected \['row_id'\]"):
        model.predict(X.assign(row_id=np.arange(len(X))))


def test_version_mismatch_warns(model_file, tmp_path):
    """Check that load warns, naming the library and both versions, when the file
    was written with other versions; the model still loads."""
    envelope = read_envelope(model_file)
    envelope["metadata"]["versions"]["scikit-learn"] = "0.0.1"
    path = tmp_path / "old.joblib"
    write_envelope(envelope, path)
    with pytest.warns(AutoImbWarning, match=r"was saved with scikit-learn 0.0.1 "
                                            r"\(now [0-9.]+\); predictions may "
                                            r"differ"):
        model = autoimb.load(path)
    assert model.threshold_ == envelope["metadata"]["threshold"]


def test_same_versions_do_not_warn(model_file):
    """Check that loading a file written by these versions raises no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", AutoImbWarning)
        autoimb.load(model_file)


@pytest.mark.parametrize("keep", [0.0, 0.5, 0.99])
def test_truncated_file_is_refused(model_file, tmp_path, keep):
    """Check that a truncated file is refused with ModelFileError saying it may
    be truncated and how to fix it."""
    content = open(model_file, "rb").read()
    path = tmp_path / "truncated.joblib"
    path.write_bytes(content[:int(len(content) * keep)])
    with pytest.raises(ModelFileError, match=r"is not a readable autoimb model file "
                                             r".*it may be truncated or corrupted. "
                                             r"Export the model again"):
        autoimb.load(path)


def test_corrupted_byte_in_the_model_is_refused(model_file, tmp_path):
    """Check that one changed byte inside the serialized model is caught by the
    checksum, before anything is unpickled."""
    content = bytearray(open(model_file, "rb").read())
    payload = read_envelope(model_file)["payload"]
    start = content.find(payload[len(payload) // 2:len(payload) // 2 + 64])
    assert start > 0
    content[start + 10] ^= 0xFF
    path = tmp_path / "corrupted.joblib"
    path.write_bytes(bytes(content))
    with pytest.raises(ModelFileError, match=r"checksum of .* does not match its "
                                             r"content: the file is corrupted"):
        autoimb.load(path)


def test_corrupted_header_is_refused(model_file, tmp_path):
    """Check that a file whose first bytes are damaged is refused."""
    content = bytearray(open(model_file, "rb").read())
    content[:8] = b"garbage!"
    path = tmp_path / "header.joblib"
    path.write_bytes(bytes(content))
    with pytest.raises(ModelFileError, match="truncated or corrupted"):
        autoimb.load(path)


@pytest.mark.parametrize("content", ["dict", "estimator", "text"])
def test_non_autoimb_file_is_refused(tmp_path, content):
    """Check that a joblib file of something else, or a text file, is refused
    with how to make a model file."""
    path = tmp_path / "other.joblib"
    if content == "text":
        path.write_text("amount,age\n1,2\n")
    else:
        other = {"format": "x"} if content == "dict" else LogisticRegression()
        joblib.dump(other, path)
    with pytest.raises(ModelFileError, match=r"is not (a readable |an )autoimb model "
                                             r"file"):
        autoimb.load(path)


class _TouchOnLoad:
    """Unpickling it creates a file: stands for code a hostile file would run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def test_a_file_that_is_not_a_model_runs_no_code(tmp_path):
    """Check that loading a pickle that is not an autoimb model file refuses it
    without unpickling it (which would run the code it carries)."""
    marker = tmp_path / "code-ran"
    path = tmp_path / "hostile.skops"
    joblib.dump({"format": FORMAT, "payload_format": "skops",
                 "hook": _TouchOnLoad(marker)}, path)
    with pytest.raises(ModelFileError):
        autoimb.load(path)
    assert not marker.exists()


def test_missing_file_is_refused(tmp_path):
    """Check that a path with no file is refused, naming it."""
    with pytest.raises(ModelFileError, match=r"Model file '.*nope.joblib' does not "
                                             r"exist"):
        autoimb.load(tmp_path / "nope.joblib")


def test_unknown_format_is_refused(fitted, tmp_path):
    """Check that an unknown export format is refused, listing the known ones,
    and nothing is written."""
    model, _ = fitted
    with pytest.raises(ModelFileError, match=r"Unknown model file format 'pickle'; "
                                             r"use 'joblib' or 'skops'"):
        model.export(tmp_path / "m.pkl", format="pickle")
    assert list(tmp_path.iterdir()) == []


def test_failed_export_keeps_the_previous_file(fitted, model_file, tmp_path):
    """Check that an export that fails midway leaves an existing file as it was,
    and no partial file."""
    model, _ = fitted
    path = tmp_path / "model.joblib"
    path.write_bytes(open(model_file, "rb").read())
    broken = copy.copy(model)
    broken.unpicklable_ = lambda: None
    with pytest.raises(Exception, match=r"lambda|pickle"):
        broken.export(path)
    assert path.read_bytes() == open(model_file, "rb").read()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.joblib"]


def test_loaded_model_refuses_mismatched_columns(fitted, model_file):
    """Check that a loaded model checks the columns it is given, naming them."""
    _, X = fitted
    model = autoimb.load(model_file)
    with pytest.raises(AutoImbError, match=r"missing \['age'\]; unexpected "
                                           r"\['agee'\]"):
        model.predict(X.rename(columns={"age": "agee"}))
    with pytest.raises(AutoImbError, match=r"Column 'amount' was numeric in training"):
        model.predict(X.assign(amount="lots"))


def test_loaded_model_says_a_label_column_left_in_x_is_the_label(fitted, model_file):
    """Check that a column named like a label, left in the frame given to
    predict, is named as the probable label with the way out."""
    _, X = fitted
    model = autoimb.load(model_file)
    with pytest.raises(AutoImbError, match=r"unexpected \['target'\]\. .*'target' "
                                           r"looks like the label: leave it out of X"):
        model.predict(X.assign(target=0))
