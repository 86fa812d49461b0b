"""The ``autoimb`` command line, driven through real subprocesses.

End to end on the shared mammography data set (fit, predict, evaluate,
dashboard), then one test per error: message, exit status, no traceback.

Every subprocess pays about 2.5 s importing autoimb, so the quick error cases
(those that need no fitted search) all run at once, two or more at a time, in
the module fixture ``quick``; each test then checks its own case.
"""

import io
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

import autoimb

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
MAMMOGRAPHY = DATASETS / "mammography.csv.gz"
FP_COST, FN_COST = 1.0, 10.0
TIMEOUT = 300


def cli(*args, cwd, timeout=TIMEOUT):
    """Run ``python -m autoimb.cli ARGS`` in ``cwd``; return the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "autoimb.cli", *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)


def assert_error(result, status, *fragments):
    """One ``autoimb: error:`` line on stderr holding ``fragments``, no traceback."""
    assert result.returncode == status, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("autoimb: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    return lines[0]


# -- end to end on mammography ------------------------------------------------


@pytest.fixture(scope="module")
def mammography():
    """The shared data set, or skip when the repository has no shared/ next to it."""
    if not DATASETS.is_dir():
        pytest.skip(f"the shared data sets folder {DATASETS} is absent (the "
                    "repository is not cloned next to shared/)")
    if not MAMMOGRAPHY.is_file():
        pytest.skip(f"{MAMMOGRAPHY} is absent from the shared data sets")
    return pd.read_csv(MAMMOGRAPHY, low_memory=False)


@pytest.fixture(scope="module")
def fitted(mammography, tmp_path_factory):
    """``autoimb fit`` on mammography with a tiny budget, in a fresh folder; the
    text "1" of --pos-label stands for the integer label 1."""
    folder = tmp_path_factory.mktemp("fit")
    result = cli("fit", MAMMOGRAPHY, "--target", "target", "--preset", "fast",
                 "--trials", "3", "--cv", "3", "--seed", "0",
                 "--fp-cost", FP_COST, "--fn-cost", FN_COST, "--pos-label", "1",
                 cwd=folder)
    assert result.returncode == 0, result.stderr
    return folder, result


@pytest.fixture(scope="module")
def metrics(fitted):
    """``autoimb evaluate --json`` of the fitted model on mammography."""
    folder, _ = fitted
    result = cli("evaluate", "model.joblib", MAMMOGRAPHY, "--target", "target",
                 "--json", cwd=folder)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def scored(fitted, mammography):
    """``autoimb predict`` to stdout of a Parquet copy of mammography with an id
    column and the target still in it."""
    folder, _ = fitted
    frame = mammography.copy()
    frame.insert(0, "row_id", [f"r{i:05d}" for i in range(len(frame))])
    frame.to_parquet(folder / "with_id.parquet", index=False)
    result = cli("predict", "model.joblib", "with_id.parquet", "--id", "row_id",
                 cwd=folder)
    assert result.returncode == 0, result.stderr
    return frame, result


def test_fit_writes_model_journal_and_summary(fitted):
    """Check that fit prints the summary, writes the model and the study journal."""
    import autoimb

    folder, result = fitted
    out = result.stdout
    assert out.startswith("Best strategy: ")
    assert "Expected cost on new data: " in out
    assert "Threshold: " in out
    assert "autoimb dashboard autoimb.journal" in out
    assert "Model written to model.joblib (joblib)" in out
    assert "autoimb search" in result.stderr  # the progress bar
    assert (folder / "autoimb.journal").stat().st_size > 0
    model = autoimb.load(folder / "model.joblib")
    assert model.classes_.tolist() == [0, 1]
    assert model.pos_label_ == 1
    assert model.objective_.fp_cost == FP_COST
    assert model.objective_.fn_cost == FN_COST
    assert model.feature_names_in_.tolist() == ["X1", "X2", "X3", "X4", "X5", "X6"]


def test_predict_stdout_keeps_id_and_drops_target(scored, metrics):
    """Check that predict writes id, probability and label for every row, with the
    training labels at the stored threshold, ignoring the target column."""
    frame, result = scored
    out = pd.read_csv(io.StringIO(result.stdout))
    assert list(out.columns) == ["row_id", "probability", "label"]
    assert len(out) == len(frame) == 11183
    assert out["row_id"].tolist() == frame["row_id"].tolist()
    assert out["probability"].between(0, 1).all()
    assert set(out["label"]) == {0, 1}
    positive = out["probability"] >= metrics["threshold"]
    assert (out["label"] == positive.astype(int)).all()
    # The labels are those evaluate counts on the same rows.
    assert int(positive.sum()) == metrics["tp"] + metrics["fp"]


def test_predict_out_parquet_matches_stdout(fitted, scored):
    """Check that --out FILE.parquet writes the same predictions as stdout CSV."""
    folder, _ = fitted
    _, from_stdout = scored
    result = cli("predict", "model.joblib", MAMMOGRAPHY, "--out", "preds.parquet",
                 cwd=folder)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "wrote 11183 rows to preds.parquet" in result.stderr
    out = pd.read_parquet(folder / "preds.parquet")
    expected = pd.read_csv(io.StringIO(from_stdout.stdout))
    assert list(out.columns) == ["probability", "label"]
    np.testing.assert_allclose(out["probability"], expected["probability"])
    assert out["label"].tolist() == expected["label"].tolist()


def test_evaluate_json_metrics_are_consistent(metrics, mammography):
    """Check that evaluate --json reports the metrics and a cost made of the model's
    fp and fn costs and its confusion matrix."""
    expected = {"cost", "normalized_cost", "average_precision", "precision", "recall",
                "f1", "tn", "fp", "fn", "tp", "threshold", "n_rows", "n_positive",
                "fp_cost", "fn_cost", "pos_label"}
    assert expected <= set(metrics)
    assert metrics["fp_cost"] == FP_COST and metrics["fn_cost"] == FN_COST
    assert metrics["cost"] == pytest.approx(
        metrics["fp"] * FP_COST + metrics["fn"] * FN_COST)
    assert metrics["tn"] + metrics["fp"] + metrics["fn"] + metrics["tp"] == \
        len(mammography)
    assert metrics["tp"] + metrics["fn"] == int(mammography["target"].sum()) == \
        metrics["n_positive"]
    assert metrics["pos_label"] == 1
    for name in ("average_precision", "precision", "recall", "f1"):
        assert 0 <= metrics[name] <= 1
    assert 0 <= metrics["normalized_cost"] < 1  # beats the trivial rule on mammography


def test_evaluate_table_shows_metrics_and_confusion_matrix(fitted, metrics):
    """Check that evaluate without --json prints the metrics and the confusion matrix
    with the same counts as the JSON."""
    folder, _ = fitted
    result = cli("evaluate", "model.joblib", MAMMOGRAPHY, "--target", "target",
                 cwd=folder)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    names = [line.split("  ")[1] for line in text.splitlines()
             if line.startswith("  ") and not line.startswith("  true ")]
    assert names[:6] == ["cost", "normalized cost", "average precision", "precision",
                         "recall", "F1"]
    assert "Confusion matrix (rows: true label, columns: predicted label)" in text
    assert f"{metrics['fp']} FP x 1 + {metrics['fn']} FN x 10" in text
    rows = {line.split()[1]: line.split()[2:] for line in text.splitlines()
            if line.startswith("  true ")}
    assert rows == {"0": [str(metrics["tn"]), str(metrics["fp"])],
                    "1": [str(metrics["fn"]), str(metrics["tp"])]}


def _default_sigint():
    # A background job of a non-interactive shell (as CI may be) inherits SIGINT
    # ignored, and Python then never raises KeyboardInterrupt: restore the default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_dashboard_serves_the_study_of_fit(fitted):
    """Check that `autoimb dashboard autoimb.journal` serves the fit's study until
    interrupted."""
    folder, fit = fitted
    study = fit.stdout.split("Study '")[1].split("'")[0]
    proc = subprocess.Popen(
        [sys.executable, "-m", "autoimb.cli", "dashboard", "autoimb.journal",
         "--wait", "0"], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=_default_sigint)
    killer = threading.Timer(90, proc.kill)
    killer.start()
    try:
        line = proc.stdout.readline()
        assert line.startswith("autoimb dashboard: serving http://127.0.0.1:"), (
            line, proc.stderr.read() if proc.poll() is not None else "")
        url = line.split()[3]
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
        with urllib.request.urlopen(url.split("/dashboard")[0] + "/api/studies",
                                    timeout=30) as response:
            studies = json.load(response)["study_summaries"]
        assert [s["study_name"] for s in studies] == [study]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        killer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert "Traceback" not in err


def test_fit_skops_model_needs_trust(tmp_path):
    """Check that --format skops writes a model that predict refuses without --trust
    and scores with it, and that fit leaves the --id column out of the features."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"rid": np.arange(300) * 7, "a": rng.normal(size=300),
                          "b": rng.normal(size=300),
                          "kind": rng.choice(["x", "y"], size=300)})
    frame["y"] = np.where(frame["a"] + rng.normal(scale=0.5, size=300) > 1.2, "yes",
                          "no")
    frame.to_csv(tmp_path / "small.csv", index=False)
    fit = cli("fit", "small.csv", "--target", "y", "--preset", "fast", "--trials", "2",
              "--cv", "2", "--seed", "0", "--storage", "memory", "--no-progress",
              "--format", "skops", "--pos-label", "yes", "--id", "rid", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    assert "Model written to model.skops (skops)" in fit.stdout
    assert "Study" not in fit.stdout  # nothing kept in memory storage
    refused = cli("predict", "model.skops", "small.csv", cwd=tmp_path)
    assert_error(refused, 2, "'model.skops' is a skops model file", "--trust")
    trusted = cli("predict", "model.skops", "small.csv", "--trust", "--id", "rid",
                  cwd=tmp_path)
    assert trusted.returncode == 0, trusted.stderr
    out = pd.read_csv(io.StringIO(trusted.stdout))
    assert list(out.columns) == ["rid", "probability", "label"]
    assert out["rid"].tolist() == frame["rid"].tolist()
    assert set(out["label"]) <= {"yes", "no"}
    assert "yes" in set(out["label"])


def test_fit_remembers_the_id_for_every_later_command(tmp_path):
    """Check that the --id given to fit is remembered in the model: predict
    (which keeps it beside the predictions), evaluate, monitor, report and
    diagnose drop it without being told again, the diagnostics name the
    suspect rows by id, and the Python API drops it from a DataFrame."""
    rng = np.random.default_rng(3)
    n = 400
    frame = pd.DataFrame({"row_id": rng.permutation(2000)[:n] + 10_000,
                          "a": rng.normal(size=n), "b": rng.normal(size=n)})
    frame["target"] = (frame["a"] + rng.normal(scale=0.7, size=n) > 1.2).astype(int)
    frame.iloc[:300].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[300:].to_csv(tmp_path / "holdout.csv", index=False)
    frame.iloc[300:].drop(columns="target").to_csv(tmp_path / "batch.csv", index=False)
    fit = cli("fit", "train.csv", "--target", "target", "--id", "row_id", "--preset",
              "fast", "--trials", "2", "--cv", "2", "--seed", "0", "--storage",
              "memory", "--no-progress", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    assert "row identifier" not in fit.stderr
    commands = {
        "predict": ["predict", "model.joblib", "batch.csv"],
        "evaluate": ["evaluate", "model.joblib", "holdout.csv", "--target", "target"],
        "monitor": ["monitor", "model.joblib", "batch.csv", "--reference",
                    "holdout.csv"],
        "report": ["report", "model.joblib", "--out", "report.html", "--data",
                   "train.csv", "--target", "target", "--no-diagnostics"],
        "diagnose": ["diagnose", "model.joblib", "--json"],
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = {name: pool.submit(cli, *args, cwd=tmp_path)
                for name, args in commands.items()}
        results = {name: future.result() for name, future in done.items()}
    for name, result in results.items():
        assert result.returncode in (0, 1) if name == "monitor" else \
            result.returncode == 0, (name, result.stderr)
        assert "unexpected" not in result.stderr, (name, result.stderr)
    scores = pd.read_csv(io.StringIO(results["predict"].stdout))
    assert list(scores.columns) == ["row_id", "probability", "label"]
    assert scores["row_id"].tolist() == frame["row_id"].iloc[300:].tolist()
    assert "100 rows" in results["evaluate"].stdout
    noise = json.loads(results["diagnose"].stdout)["label_noise"]
    train = frame.iloc[:300]
    positive_ids = set(train.loc[train["target"] == 1, "row_id"])
    assert noise["id_name"] == "row_id"
    assert noise["positive_examples"]
    assert set(noise["positive_examples"]) <= positive_ids
    model = autoimb.load(tmp_path / "model.joblib")
    assert model.id_columns_ == ["row_id"]
    holdout = frame.iloc[300:].drop(columns="target")
    assert np.array_equal(model.predict_proba(holdout),
                          model.predict_proba(holdout.drop(columns="row_id")))


def test_fit_without_cv_chooses_the_splits_by_size(tmp_path):
    """Check that the command line, like the API, chooses the splits by the
    data's size and budget when --cv is not given: repeated folds for a small
    table with a --timeout."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    frame["target"] = (frame["a"] + rng.normal(scale=0.5, size=400) > 1.4).astype(int)
    frame.to_csv(tmp_path / "small.csv", index=False)
    fit = cli("fit", "small.csv", "--target", "target", "--preset", "fast",
              "--trials", "2", "--timeout", "60", "--seed", "0", "--storage",
              "memory", "--no-progress", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    model = autoimb.load(tmp_path / "model.joblib")
    assert model.validation_.describe() == "5 stratified folds, repeated 3 times"


def test_fit_with_a_timeout_and_no_trials_runs_until_the_budget(tmp_path):
    """Check that, as in the API, a --timeout without --trials bounds the search
    by time alone: the command line used to cap it at 50 trials, which a
    small table reaches well before a budget of minutes."""
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    frame["target"] = (frame["a"] + rng.normal(scale=0.5, size=300) > 1.4).astype(int)
    frame.to_csv(tmp_path / "small.csv", index=False)
    fit = cli("fit", "small.csv", "--target", "target", "--preset", "fast",
              "--timeout", "4", "--cv", "2", "--seed", "0", "--storage", "memory",
              "--no-progress", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    model = autoimb.load(tmp_path / "model.joblib")
    assert model.n_trials is None
    assert model.timeout == 4.0


# -- quick cases: errors, help, version ---------------------------------------

QUICK = {
    "missing_data": ["fit", "missing.csv", "--target", "target"],
    "target_typo": ["fit", "small.csv", "--target", "tagret"],
    "semicolons": ["fit", "semicolon.csv", "--target", "target"],
    "unknown_extension": ["fit", "data.xlsx", "--target", "target"],
    "corrupt_gzip": ["fit", "corrupt.csv.gz", "--target", "target"],
    "not_a_model": ["predict", "not_a_model.joblib", "small.csv"],
    "missing_model": ["evaluate", "missing.joblib", "small.csv", "--target", "target"],
    "columns_mismatch": ["predict", "tiny.joblib", "mismatch.csv"],
    "missing_id": ["predict", "tiny.joblib", "small.csv", "--id", "row"],
    "label_left_in_predict": ["predict", "tiny.joblib", "small.csv"],
    "label_left_in_reference": ["monitor", "tiny.joblib", "unlabelled.csv",
                                "--reference", "small.csv"],
    "label_left_in_evaluate": ["evaluate", "tiny.joblib", "labels.csv", "--target",
                               "target"],
    "trials_zero": ["fit", "small.csv", "--target", "target", "--trials", "0"],
    "negative_cost": ["fit", "small.csv", "--target", "target", "--fp-cost", "-1"],
    "objective_typo": ["fit", "small.csv", "--target", "target", "--objective", "cots"],
    "option_typo": ["fit", "small.csv", "--target", "target", "--trails", "3"],
    "preset_typo": ["fit", "small.csv", "--target", "target", "--preset", "fsat"],
    "out_folder_missing": ["fit", "small.csv", "--target", "target", "--out",
                           "nowhere/model.joblib"],
    "one_class": ["fit", "one_class.csv", "--target", "target"],
    "three_classes": ["fit", "three_classes.csv", "--target", "target"],
    "debug": ["fit", "missing.csv", "--target", "target", "--debug"],
    "warning": ["fit", "leak.csv", "--target", "target", "--storage",
                "nowhere/study.journal"],
    "version": ["--version"],
    "presets": ["presets"],
    "help": ["--help"],
    "help_fit": ["fit", "--help"],
    "help_predict": ["predict", "-h"],
    "help_evaluate": ["evaluate", "--help"],
    "help_dashboard": ["dashboard", "--help"],
    "dashboard_no_study": ["dashboard", "empty.journal", "--wait", "0"],
    "export_storage_typo": ["export", "--storage", "empty.jornal", "--study", "s"],
    "export_study_as_storage": ["export", "--storage", "empty", "--study", "empty"],
    "worker_storage_typo": ["worker", "--storage", "sqlite:///empty.db", "--study",
                            "s", "--wait", "1"],
    "dashboard_missing": ["-c", "import sys, autoimb.explain.dashboard as d; "
                          "del d.run_dashboard; from autoimb.cli import main; "
                          "sys.exit(main(['dashboard']))"],
}


def _write_quick_files(folder: Path) -> None:
    import autoimb

    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                          "city": rng.choice(["Oslo", "Lyon"], size=n)})
    frame["target"] = (frame["a"] + rng.normal(scale=0.5, size=n) > 1.2).astype(int)
    frame.to_csv(folder / "small.csv", index=False)
    model = autoimb.fit(frame.drop(columns="target"), frame["target"],
                        search_space="fast", n_trials=1, cv=2, storage="memory",
                        random_state=0, show_progress_bar=False)
    model.export(folder / "tiny.joblib")
    frame.drop(columns=["b", "target"]).assign(extra=1.0).to_csv(
        folder / "mismatch.csv", index=False)
    frame.assign(target=0).to_csv(folder / "one_class.csv", index=False)
    frame.assign(target=np.arange(n) % 3).to_csv(folder / "three_classes.csv",
                                                 index=False)
    frame.to_csv(folder / "semicolon.csv", sep=";", index=False)
    frame.assign(leak=frame["target"]).to_csv(folder / "leak.csv", index=False)
    frame.drop(columns="target").to_csv(folder / "unlabelled.csv", index=False)
    frame.assign(label=frame["target"]).to_csv(folder / "labels.csv", index=False)
    (folder / "data.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    (folder / "corrupt.csv.gz").write_bytes(b"a,b,target\n1,2,0\n")  # not gzip
    joblib.dump({"weights": [1, 2, 3]}, folder / "not_a_model.joblib")
    (folder / "empty.journal").write_bytes(b"")


class _Results:
    """The results of the QUICK cases, each waited for when first asked; a case
    that was not started ahead is started then."""

    def __init__(self, pool, run, names):
        self._pool, self._run = pool, run
        self._futures = {name: pool.submit(run, QUICK[name]) for name in names}

    def __getitem__(self, name):
        if name not in self._futures:
            self._futures[name] = self._pool.submit(self._run, QUICK[name])
        return self._futures[name].result()


def _selected_cases(session) -> list[str]:
    """The QUICK cases of the tests of this module that this session runs."""
    names = []
    for item in session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        module = getattr(getattr(item, "module", None), "__name__", None)
        if module == __name__ and params.get("case") in QUICK:
            names.append(params["case"])
    return list(dict.fromkeys(names))


@pytest.fixture(scope="module", autouse=True)
def quick(request, tmp_path_factory):
    """Start the selected QUICK cases in one prepared folder, two or more at a time,
    in the background of the end-to-end tests; each test reads its own case."""
    names = _selected_cases(request.session)
    folder = tmp_path_factory.mktemp("quick")
    if names:
        _write_quick_files(folder)

    def run(args):
        if args[0] == "-c":
            return subprocess.run([sys.executable, *args], cwd=folder,
                                  capture_output=True, text=True, timeout=TIMEOUT)
        return cli(*args, cwd=folder)

    pool = ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2)))
    try:
        yield _Results(pool, run, names)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("case", ["missing_data"])
def test_missing_data_file(quick, case):
    """Check that a missing data file is one error line with exit status 2."""
    assert_error(quick[case], 2, "Data file 'missing.csv' does not exist.")


@pytest.mark.parametrize("case", ["target_typo"])
def test_unknown_target_suggests_closest_column(quick, case):
    """Check that an unknown target column suggests the closest column names."""
    line = assert_error(quick[case], 2, "The target column 'tagret'",
                        "is not in 'small.csv'", "Did you mean 'target'?",
                        "Its columns: a, b, city, target.")
    assert line.count("Did you mean") == 1


@pytest.mark.parametrize("case", ["semicolons"])
def test_semicolon_csv_hints_at_the_delimiter(quick, case):
    """Check that a ;-separated .csv gets a hint about the delimiter."""
    assert_error(quick[case], 2, "'target' is not in 'semicolon.csv'",
                 "another delimiter")


@pytest.mark.parametrize("case", ["unknown_extension"])
def test_unknown_file_type(quick, case):
    """Check that an unknown data file extension lists the supported formats."""
    assert_error(quick[case], 2,
                 "Cannot read 'data.xlsx': unknown file type",
                 "Supported formats: .csv, .csv.gz, .tsv, .tsv.gz, .parquet")


@pytest.mark.parametrize("case", ["corrupt_gzip"])
def test_corrupt_data_file(quick, case):
    """Check that content that does not parse is one error line, status 2."""
    assert_error(quick[case], 2,
                 "Cannot read 'corrupt.csv.gz' as CSV (BadGzipFile", "corrupted")


@pytest.mark.parametrize(("case", "fragments"), [
    ("not_a_model", ["'not_a_model.joblib' is not a", "autoimb model file"]),
    ("missing_model", ["Model file 'missing.joblib' does not exist."]),
])
def test_not_an_autoimb_model(quick, case, fragments):
    """Check that a file that is not an autoimb model is refused with status 2."""
    assert_error(quick[case], 2, *fragments)


@pytest.mark.parametrize("case", ["columns_mismatch"])
def test_columns_that_do_not_match_the_model(quick, case):
    """Check that predict names the missing and unexpected columns, and that an
    unexpected column may be an id to pass with --id."""
    assert_error(quick[case], 2, "missing ['b']", "unexpected ['extra']",
                 "pass --id extra if that column identifies rows")


@pytest.mark.parametrize(("case", "fragments"), [
    ("label_left_in_predict", ["'small.csv' do not match the model's: unexpected "
                               "['target']", "If it is the label, leave it out of "
                               "'small.csv' (a model fitted from Python does not "
                               "record its label column)."]),
    ("label_left_in_reference", ["The reference 'small.csv' does not suit the model",
                                 "unexpected ['target']", "If it is the label, pass "
                                 "--target target"]),
    ("label_left_in_evaluate", ["unexpected ['label']", "pass --target label"]),
])
def test_a_label_column_left_in_the_data_says_to_pass_target(quick, case, fragments):
    """Check that a column named like a label that the model (fitted from
    Python, so not knowing its label column) was not trained on is refused with
    the way out: --target NAME where the command takes it."""
    assert_error(quick[case], 2, *fragments)


@pytest.mark.parametrize("case", ["missing_id"])
def test_missing_id_column(quick, case):
    """Check that an --id column absent from the data is an input error."""
    assert_error(quick[case], 2, "The id column 'row' is not in 'small.csv'")


@pytest.mark.parametrize(("case", "fragments"), [
    ("trials_zero", ["Invalid value for '--trials'", "see 'autoimb fit --help'"]),
    ("negative_cost", ["Invalid value for '--fp-cost': -1 is not a positive number"]),
    ("objective_typo", ["Invalid value for '--objective'", "'cots'",
                        "'average_precision'"]),
    ("option_typo", ["No such option: --trails", "--trials"]),
    ("preset_typo", ["Unknown search space preset 'fsat'. Did you mean 'fast'?"]),
    ("out_folder_missing", ["Cannot write the model file 'nowhere/model.joblib'",
                            "does not exist"]),
])
def test_bad_option_values(quick, case, fragments):
    """Check that bad option values are one error line with exit status 2."""
    assert_error(quick[case], 2, *fragments)


@pytest.mark.parametrize(("case", "fragment"), [
    ("one_class", "y has only one class"),
    ("three_classes", "y has 3 classes"),
])
def test_target_without_two_classes_gives_the_library_message(quick, case, fragment):
    """Check that a target with one class or three gives the library's message."""
    assert_error(quick[case], 2, fragment)


@pytest.mark.parametrize("case", ["debug"])
def test_debug_shows_the_traceback(quick, case):
    """Check that --debug (even after the command) adds the traceback to the error."""
    result = quick[case]
    assert result.returncode == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert "AutoImbError" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "autoimb: error: Data file 'missing.csv' does not exist.")


@pytest.mark.parametrize("case", ["warning"])
def test_warnings_are_one_line_each(quick, case):
    """Check that a library warning prints as one 'autoimb: warning:' line, before
    the error of a storage folder that does not exist."""
    result = quick[case]
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("autoimb: warning: Column 'leak' of X equals the "
                               "target")
    assert lines[1].startswith("autoimb: error: The folder of storage=")
    assert "nowhere/study.journal" in lines[1]


@pytest.mark.parametrize("case", ["version"])
def test_version(quick, case):
    """Check that --version prints the package version."""
    import autoimb

    assert quick[case].returncode == 0
    assert quick[case].stdout.strip() == f"autoimb {autoimb.__version__}"


@pytest.mark.parametrize("case", ["presets"])
def test_presets_lists_the_bundled_presets(quick, case):
    """Check that `autoimb presets` lists every preset with its description."""
    import autoimb

    result = quick[case]
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    presets = autoimb.list_search_spaces()
    assert [line.split()[0] for line in lines] == list(presets)
    for line, description in zip(lines, presets.values(), strict=True):
        assert " ".join(description.split()) in line


@pytest.mark.parametrize(("case", "fragments"), [
    ("help", ["Usage: autoimb [OPTIONS] COMMAND", "fit", "predict", "evaluate",
              "dashboard", "presets", "--version", "--debug"]),
    ("help_fit", ["Usage: autoimb fit", "--target", "--objective", "--fp-cost",
                  "--fn-cost", "--trials", "--timeout", "--preset", "--storage",
                  "--study", "--cv", "--seed", "--out", "--format", "--pos-label",
                  "--no-progress"]),
    ("help_predict", ["Usage: autoimb predict", "MODEL", "DATA", "--out", "--id"]),
    ("help_evaluate", ["Usage: autoimb evaluate", "--target", "--json"]),
    ("help_dashboard", ["Usage: autoimb dashboard", "STORAGE", "--host", "--port"]),
])
def test_help_everywhere(quick, case, fragments):
    """Check that --help works on the root and on every command."""
    result = quick[case]
    assert result.returncode == 0, result.stderr
    for fragment in fragments:
        assert fragment in result.stdout, fragment


@pytest.mark.parametrize("case", ["dashboard_no_study"])
def test_dashboard_without_study(quick, case):
    """Check that the dashboard on a storage without study fails cleanly."""
    assert_error(quick[case], 2, "No study in 'empty.journal'",
                 "--wait")


@pytest.mark.parametrize(("case", "fragments"), [
    ("export_storage_typo", ["No such file: 'empty.jornal'. Check the path.",
                             "Did you mean 'empty.journal'?"]),
    ("export_study_as_storage", ["No such file: 'empty'",
                                 "the study's name is given apart",
                                 "Study files in this folder: ", "'empty.journal'"]),
])
def test_export_of_a_mistyped_storage_says_no_such_file(quick, case, fragments):
    """Check that `autoimb export` on a mistyped journal path, or on the study's
    name given as --storage, says "No such file" with the study files nearby
    (it used to create the file and say that it held no study)."""
    assert_error(quick[case], 2, *fragments)


@pytest.mark.parametrize("case", ["worker_storage_typo"])
def test_worker_on_a_missing_file_says_what_it_waits_for(quick, case):
    """Check that `autoimb worker` on a missing SQLite file says at once that it
    waits for that path to appear, then fails naming it (exit 2)."""
    result = quick[case]
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("autoimb worker: waiting up to 1 s for 'empty.db' to "
                               "appear")
    assert lines[0].endswith("; did you mean 'empty.journal'?")
    assert lines[1].startswith("autoimb: error: No such file: 'empty.db' (storage "
                               "'sqlite:///empty.db') after waiting 1 s.")


@pytest.mark.parametrize("case", ["dashboard_missing"])
def test_dashboard_missing_function(quick, case):
    """Check that the dashboard command errors cleanly when run_dashboard is
    missing from autoimb.explain.dashboard."""
    assert_error(quick[case], 1, "The dashboard is not available",
                 "run_dashboard")


def test_help_and_version_load_no_machine_learning_library():
    """Check that ``autoimb --help`` and ``--version`` answer without importing
    scikit-learn, SciPy, Optuna or LightGBM, which took most of their 2-3 s
    (the time is measured in benchmarks/README.md, not here)."""
    heavy = ("sklearn", "scipy", "optuna", "lightgbm", "imblearn", "matplotlib")
    for flag in ("--help", "--version"):
        code = ("import sys\n"
                "from autoimb.cli import app\n"
                "try:\n"
                f"    app([{flag!r}])\n"
                "except SystemExit:\n"
                "    pass\n"
                "loaded = {m.split('.')[0] for m in sys.modules}\n"
                f"print(sorted(loaded & {set(heavy)!r}))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                             text=True, check=True).stdout
        assert out.strip().splitlines()[-1] == "[]", (flag, out[-500:])
