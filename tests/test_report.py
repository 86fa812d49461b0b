"""The HTML report: autoimb.report and ``autoimb report``, down to a real
headless Chromium that opens the file and loads every figure.

The browser test needs Debian's Chromium at /usr/bin/chromium
(``bash .ci/install_browser.sh``) and the ``playwright`` Python package, as
tests/test_dashboard_browser.py does; it is skipped locally without them and
fails when ``CI`` is set. Screenshots go to ``$AUTOIMB_SCREENSHOT_DIR`` if set
(``docs/images`` holds the ones the README shows), else to pytest's tmp_path.
"""

import base64
import html
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest

import autoimb
from autoimb.cli import main
from autoimb.explain.report import importances

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SECTIONS = ("data", "pipeline", "history", "importance", "families", "curves",
            "confusion", "diagnostics")


def _images(text):
    """The src of every <img> of an HTML text."""
    return re.findall(r'<img src="([^"]+)"', text)


def _assert_self_contained(text):
    """No URL the file would fetch: every image inline, no link or script out."""
    assert not re.search(r'(src|href)="(https?:)?//', text)
    assert "<script" not in text and "<link" not in text
    for src in _images(text):
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def fitted():
    """A quick search on 600 rows, kept in memory."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=600, n_features=8, n_informative=4,
                               weights=[0.9], random_state=0)
    model = autoimb.fit(X, y, search_space="fast", n_trials=5, cv=3, fp_cost=1,
                        fn_cost=20, storage="memory", random_state=0,
                        show_progress_bar=False)
    return model, X, y


def test_report_right_after_fit_has_every_section(fitted, tmp_path):
    """Check that autoimb.report writes one self-contained file with every
    section and seven figures (history, importances, families, precision-recall,
    cost curve, reliability, learning curve)."""
    model, _, _ = fitted
    path = autoimb.report(model, tmp_path / "report.html", time_limit=60)
    text = Path(path).read_text(encoding="utf-8")
    _assert_self_contained(text)
    for anchor in SECTIONS:
        assert f'<section id="{anchor}">' in text
    assert len(_images(text)) == 7
    assert model.strategy_ in text.replace("&#x27;", "'")
    assert f"{model.threshold_:.4g}" in text
    m = model.cv_metrics_
    assert re.search(rf'<td class="num">{m["tp"]}</td>', text)


def test_report_of_a_loaded_model_and_its_data_again(fitted, tmp_path):
    """Check that a model without its search context still gets its report (the
    data summary and raw scores were kept at fit time), and the learning curve
    when the data is given again."""
    model, X, y = fitted
    loaded = pickle.loads(pickle.dumps(model))
    assert not hasattr(loaded, "_context")
    assert getattr(loaded, "study_", None) is None
    text = autoimb.explain.render_report(loaded)
    _assert_self_contained(text)
    assert len(_images(text)) == 6
    assert "pass X and y" in text
    assert "missing values (cells)" in text
    with_data = autoimb.explain.render_report(loaded, X=X, y=y)
    assert len(_images(with_data)) == 7


def test_report_without_diagnostics(fitted):
    """Check that diagnose=False leaves the diagnostics section out."""
    model, _, _ = fitted
    text = autoimb.explain.render_report(model, diagnose=False)
    assert '<section id="diagnostics">' not in text
    assert len(_images(text)) == 6


def test_importances_need_a_few_trials(fitted):
    """Check that importances say how many trials they need instead of guessing
    from too few, and weigh the choices once there are enough."""
    model, _, _ = fitted
    results = model.results_
    done = results[results["state"] == "COMPLETE"]
    found, note = importances(done.iloc[:2], minimize=True)
    assert found is None and "at least 3" in note
    assert note.startswith("2 completed trials: ")
    found, note = importances(done.iloc[:1], minimize=True)
    assert note.startswith("1 completed trial: ")
    found, note = importances(results, minimize=True)
    assert found is not None and sum(found.values()) == pytest.approx(1.0)
    assert set(found) == {"model", "class weights", "resampler", "calibration",
                          "threshold rule"}


def test_report_refuses_a_missing_folder(fitted, tmp_path):
    """Check that a report path in a folder that does not exist is refused."""
    model, _, _ = fitted
    with pytest.raises(autoimb.AutoImbError, match="does not exist"):
        autoimb.report(model, tmp_path / "nowhere" / "r.html", diagnose=False)


@pytest.mark.parametrize(("args", "fragment"), [
    (["--data", "train.csv"], "--data and --target go together"),
    (["--storage", "missing.journal", "--study", "x"],
     "autoimb: error: No such file: 'missing.journal'. Check the path."),
    (["--storage", "sqlite:///missing.db", "--study", "x"],
     "autoimb: error: No such file: 'missing.db'"),
])
def test_cli_report_errors(fitted, tmp_path, capsys, monkeypatch, args, fragment):
    """Check that `autoimb report` refuses half the data options, and a study it
    cannot read, with one line saying why."""
    model, _, _ = fitted
    path = model.export(tmp_path / "model.joblib")
    monkeypatch.chdir(tmp_path)
    assert main(["report", path, *args]) == 2
    assert fragment in capsys.readouterr().err
    assert not (tmp_path / "missing.journal").exists()
    assert not (tmp_path / "missing.db").exists()


# -- a real data set, through the command line, in a real browser -----------------


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "autoimb.cli", *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def thyroid_report(tmp_path_factory):
    """`autoimb fit` on the shared thyroid_hypo data set (fast preset, 6 trials,
    a journal study), then `autoimb report` of the model file and its study."""
    data = DATASETS / "thyroid_hypo.csv.gz"
    if not data.exists():
        pytest.skip(f"shared data set {data} is not present next to the repository")
    folder = tmp_path_factory.mktemp("report")
    fit = _cli("fit", data, "--target", "target", "--preset", "fast", "--trials", 6,
               "--seed", 0, "--storage", folder / "autoimb.journal", "--out",
               folder / "model.joblib", "--no-progress", cwd=folder)
    assert fit.returncode == 0, fit.stderr
    made = _cli("report", folder / "model.joblib", "--out", folder / "report.html",
                cwd=folder)
    assert made.returncode == 0, made.stderr
    assert "the trials come from the model file" not in made.stderr
    return folder / "report.html"


def test_cli_report_of_a_real_study(thyroid_report):
    """Check that the report of a real study names it, reads its trials, and is
    self-contained."""
    text = thyroid_report.read_text(encoding="utf-8")
    _assert_self_contained(text)
    assert "autoimb.journal" in text and "read when this report was made" in text
    assert int(re.search(r"(\d+) trials \(", text).group(1)) >= 6
    assert len(_images(text)) == 6  # no learning curve without --data


def _missing(reason):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure; run "
                    ".ci/install_browser.sh)")
    pytest.skip(f"{reason}; install it with: bash .ci/install_browser.sh")


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_report_opens_offline_in_chromium_with_every_figure(thyroid_report):
    """Check that headless Chromium opens the report of a real study from disk,
    with no network, every figure decoded (naturalWidth > 0) and no console
    error; save screenshots."""
    if not os.path.exists(CHROMIUM):
        _missing(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright Python package is not installed")
    folder = Path(os.environ.get("AUTOIMB_SCREENSHOT_DIR") or thyroid_report.parent)
    folder.mkdir(parents=True, exist_ok=True)
    errors, requests = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                     headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1500})
            page.on("console", lambda m: errors.append(m.text)
                    if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(thyroid_report.as_uri())
            page.wait_for_load_state("load")
            images = page.evaluate(
                "Array.from(document.images).map(i => "
                "[i.alt, i.complete, i.naturalWidth, i.naturalHeight])")
            page.screenshot(path=str(folder / "report.png"))
            page.locator("#curves").screenshot(path=str(folder / "report_curves.png"))
            headings = page.locator("h2").all_inner_texts()
        finally:
            browser.close()
    print(images)
    assert len(images) == 6
    assert all(complete and width > 0 and height > 0
               for _, complete, width, height in images), images
    assert {alt for alt, *_ in images} == {
        "search history", "parameter importances", "strategy families",
        "precision-recall", "cost against threshold", "reliability"}
    assert errors == []
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    assert "Diagnostics: is imbalance the real problem?" in headings
    assert (folder / "report.png").stat().st_size > 50_000


def _trials(rows):
    """A results_ table of trials given as (number, state, value, model,
    class_weight, resampler, strategy)."""
    import pandas as pd

    table = []
    for number, state, value, model, weight, resampler, strategy in rows:
        table.append({"number": number, "state": state, "value": value,
                      "params.model": model, f"params.{model}.class_weight": weight,
                      "params.resampler": resampler, "strategy": strategy,
                      "normalized_cost": value / 1000, "average_precision": 0.5,
                      "recall": 0.8, "precision": 0.2, "calibration": "sigmoid"})
    return pd.DataFrame(table)


def _stub_model(returned, *, ensemble=None, chosen_as="prior default"):
    from types import SimpleNamespace

    from autoimb.pipeline.objective import Objective

    return SimpleNamespace(objective_=Objective("cost", 10.0, 500.0),
                           best_trial_number_=returned,
                           ensemble_=ensemble or [returned],
                           cv_metrics_={"chosen_as": chosen_as,
                                        "threshold_rule": "bayes"})


def _table_rows(html_text):
    """The cells of each row of the first table of an HTML text."""
    table = html_text.split("<table>", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table)
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row) for row in rows]


TRIALS = [
    (0, "COMPLETE", 640.0, "lightgbm", None, "none", "LightGBM, no resampling"),
    (1, "PRUNED", float("nan"), "logistic_regression", "balanced", "none",
     "Logistic regression, class weights balanced"),
    (2, "COMPLETE", 620.0, "lightgbm", None, "smote", "LightGBM, SMOTE"),
    (3, "COMPLETE", 14_000.0, "lightgbm", None, "smote", "LightGBM, SMOTE (k=3)"),
    (4, "FAIL", float("nan"), "lightgbm", None, "smote", "LightGBM, SMOTE (k=9)"),
    (5, "COMPLETE", 610.0, "lightgbm", None, "random_under",
     "LightGBM, random under-sampling"),
]


def test_families_table_counts_trials_and_completed_trials_apart():
    """Check that a family whose one trial was pruned reads "1 trial, 0
    completed, none completed" (not "completed trials 1" beside "none
    completed"), and a family of three trials of which two completed reads 3
    and 2."""
    from autoimb.explain.report import _family_section

    text = _family_section(_stub_model(2), _trials(TRIALS))
    rows = {cells[0]: cells for cells in _table_rows(text)}
    header = _table_rows(text)[0]
    assert header[1:4] == ["trials", "completed", "best trial of the family"]
    assert rows["class weights"][1:4] == ["1", "0", "none completed"]
    assert rows["oversampling"][1:4] == ["3", "2", "#2"]
    assert rows["no handling"][1:4] == ["1", "1", "#0"]
    assert rows["undersampling"][1:4] == ["1", "1", "#5"]
    assert rows["balanced ensembles"][1:4] == ["0", "0", "not tried"]


def test_families_section_names_the_returned_model_and_the_best_single_trial():
    """Check that the families section says which trial the returned model is
    and which is the best single trial by cross-validated cost, when they
    differ, and that nothing there is called "the best strategy"."""
    from autoimb.explain.report import _family_section

    text = html.unescape(_family_section(_stub_model(2), _trials(TRIALS)))
    assert "The returned model is trial #2 (highlighted)." in text
    assert ("The best single trial by cross-validated cost is #5 (LightGBM, "
            "random under-sampling, 610); the returned model was chosen as the "
            "prior default") in text
    assert "best strategy" not in text.lower()
    same = html.unescape(_family_section(_stub_model(5), _trials(TRIALS)))
    assert ("The returned model is trial #5 (highlighted). It is also the best "
            "single trial by cross-validated cost (610).") in same
    blend = html.unescape(_family_section(_stub_model(2, ensemble=[2, 0]),
                                          _trials(TRIALS)))
    assert "The returned model averages trials #2, #0" in blend


def test_report_says_the_returned_model_and_why_its_threshold_is_not_the_lowest(
        fitted):
    """Check that the report calls the model it returns "the returned model"
    (never "the best strategy", which named three different things), and that
    the cost figure's caption says the curve's lowest point is found in
    hindsight and where the chosen threshold comes from (its rule)."""
    model, _, _ = fitted
    text = html.unescape(autoimb.explain.render_report(model, diagnose=True,
                                                       time_limit=30))
    assert "best strategy" not in text.lower()
    assert f"The returned model: {model.strategy_}." in text
    assert "found in hindsight" in text
    rule = model.cv_metrics_["threshold_rule"]
    assert {"bayes": "The chosen threshold is the Bayes one",
            "tuned": "The chosen threshold was tuned"}[rule] in text


def test_report_numbers_are_never_in_scientific_notation():
    """Check that an expected cost of 22,409.6 reads 22,410 (not 2.241e+04), and
    that small values keep four significant digits."""
    from autoimb.explain.report import _n

    assert _n(22_409.6) == "22,410"
    assert _n(-150_000.4) == "-150,000"
    assert _n(1130.0) == "1,130"
    assert _n(0.01961) == "0.01961"
    assert _n(1086.54) == "1,087"


def test_history_tells_trials_by_outcome_and_marks_only_those_that_ran(monkeypatch):
    """Check that the search history counts trials by how they ended (a trial
    the budget skipped never ran: it was counted "pruned" and drawn as a
    pruned trial, as Optuna's state PRUNED said) and marks at the bottom only
    the trials that ran part way."""
    import pandas as pd

    from autoimb.explain import figures
    from autoimb.explain.report import _history_section

    seen = {}

    def capture(numbers, values, **kwargs):
        seen["stopped"] = list(kwargs["stopped"])
        return figures.Figure()

    monkeypatch.setattr(figures, "plot_search_history", capture)
    monkeypatch.setattr("autoimb.explain.report._figure", lambda *a, **k: "")
    results = pd.DataFrame({
        "number": [0, 1, 2, 3, 4],
        "state": ["COMPLETE", "PRUNED", "PRUNED", "FAIL", "COMPLETE"],
        "outcome": ["completed", "skipped", "pruned", "stopped", "completed"],
        "value": [5.0, None, None, None, 4.0]})
    model = type("Model", (), {"objective_": type(
        "Objective", (), {"kind": "cost", "metric_name": "cost"})()})()
    text = _history_section(model, results, "the study")
    assert "5 trials (2 completed, 1 pruned, 1 skipped, 1 stopped)" in text
    assert seen["stopped"] == [2, 3]
