"""Trials and studies explain themselves in optuna-dashboard; the explain
subpackage loads only when used."""

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import optuna
import pytest
from conftest import make_small_data
from optuna_dashboard import get_note

import autoimb
import autoimb.explain
from autoimb.search import trials as _search

REPO = Path(__file__).resolve().parents[1]


def _imported_modules(code):
    """The modules a fresh interpreter imports to run ``code`` (``-X importtime``)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                            capture_output=True, text=True, timeout=120, env=env,
                            cwd=REPO)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines()
             if line.startswith("import time:") and "|" in line]
    return {line.rsplit("|", 1)[1].strip() for line in lines}


def test_the_estimator_does_not_import_matplotlib():
    """Check that ``import autoimb; autoimb.AutoImbClassifier`` imports the explain
    subpackage it needs (notes, dashboard server) but not matplotlib."""
    modules = _imported_modules(
        "import autoimb; autoimb.AutoImbClassifier\n"
        "import sys\n"
        "assert 'autoimb._classifier' in sys.modules\n"
        "assert not [m for m in sys.modules if m.startswith('matplotlib')]")
    # (-X importtime lists what import statements load, not importlib's own
    # loads such as autoimb's lazy names: the module the estimator imports is.)
    assert "autoimb.explain.explainer" in modules
    assert not {m for m in modules if m.split(".")[0] == "matplotlib"}
    assert "autoimb.explain.figures" not in modules


def test_figures_import_matplotlib_when_used():
    """Check that the figures module is what brings matplotlib in."""
    modules = _imported_modules("import autoimb.explain as e; e.plot_cost_curve")
    assert "matplotlib.figure" in modules


@pytest.mark.parametrize("name", autoimb.explain.__all__)
def test_every_explain_name_imports(name):
    """Check that every name the explain subpackage lists resolves."""
    assert getattr(autoimb.explain, name) is not None


def _note(study, trial):
    return get_note(optuna.Trial(study, trial._trial_id))


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    """One search on the ``small_data`` problem, its study in a journal file; the
    tests below only read it."""
    X, y = make_small_data()
    path = tmp_path_factory.mktemp("search") / "autoimb.journal"
    model = autoimb.fit(X, y, search_space="fast", n_trials=8, cv=3, fp_cost=1,
                        fn_cost=20, storage=str(path), random_state=0,
                        show_progress_bar=False)
    return model, path


def test_every_trial_has_a_note(search):
    """Check that each completed trial's note gives its strategy, every fold's score
    and its confusion matrix, and each pruned trial's note says why."""
    model, _ = search
    study = model.study_
    for trial in study.trials:
        note = _note(study, trial)
        assert trial.user_attrs["strategy"] in note
        if trial.state.name == "COMPLETE":
            c = trial.user_attrs["confusion"]
            assert f"{c['tp']} (TP)" in note and f"{c['fn']} (FN)" in note
            assert len(re.findall(r"^\| [123] \|", note, flags=re.M)) == 3
        elif trial.state.name == "PRUNED":
            assert "worse than the median" in note


def test_best_trial_has_its_figures(search):
    """Check that the trial that first reached the best value carries the PR curve,
    the cost curve and the reliability diagram, as PNG artifacts on disk."""
    model, path = search
    study = model.study_
    best = study.best_trial
    metas = optuna.artifacts.get_all_artifact_meta(best, storage=study._storage)
    names = {meta.filename for meta in metas}
    assert {"precision_recall.png", "cost_vs_threshold.png", "reliability.png"} <= names
    folder = path.parent / "autoimb.journal.artifacts"
    for meta in metas:
        assert (folder / meta.artifact_id).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_study_note_tells_data_objective_and_best(search, small_data):
    """Check that the study note gives the class counts, the costs and the returned
    model with links to its figures."""
    model, _ = search
    _, y = small_data
    note = get_note(model.study_)
    assert f"| 0 | {(y == 0).sum()} |" in note and f"| 1 | {(y == 1).sum()} |" in note
    assert "Cost of a false positive: 1; of a false negative: 20." in note
    assert "Best trial so far" in note
    assert len(re.findall(r"!\[[^\]]+\]\(/artifacts/", note)) == 3
    assert "totals over" not in note  # folds: every row is scored


def test_study_note_says_trial_values_count_only_the_rows_scored(small_data, tmp_path):
    """Check that, where trials are scored on a holdout but the model's costs
    are totals over all the training rows, the study note says so with both
    row counts; without it, the note's value read several times the best
    trial's value in the dashboard's table."""
    from sklearn.model_selection import StratifiedShuffleSplit

    X, y = small_data
    model = autoimb.fit(X, y, search_space="fast", n_trials=3, fp_cost=1, fn_cost=9,
                        cv=StratifiedShuffleSplit(1, test_size=0.25, random_state=0),
                        storage=str(tmp_path / "autoimb.journal"), random_state=0,
                        show_progress_bar=False)
    note = get_note(model.study_)
    scored = int(np.ceil(0.25 * len(y)))
    assert (f"These costs are totals over the {len(y)} training rows. A trial's "
            f"value in the trials table is its cost over the {scored} rows it was "
            f"scored on, about {len(y) / scored:.3g} times lower.") in note


def test_dashboard_serves_while_the_search_runs(small_data, tmp_path, monkeypatch,
                                                capsys):
    """Check that fit(dashboard=True) serves optuna-dashboard on 127.0.0.1 while the
    trials run, with the study in it, and stops it when fit returns."""
    X, y = small_data
    seen = {}
    original = _search.make_objective

    def watching(ctx):
        run = original(ctx)

        def trial(t):
            if "url" not in seen:
                err = capsys.readouterr().err
                seen["url"] = re.search(r"dashboard at (http://\S+)", err).group(1)
                base = seen["url"].split("/dashboard")[0]
                with urllib.request.urlopen(f"{base}/api/studies", timeout=10) as r:
                    seen["studies"] = json.load(r)["study_summaries"]
            return run(t)
        return trial

    monkeypatch.setattr(_search, "make_objective", watching)
    model = autoimb.fit(X, y, search_space="fast", n_trials=2, cv=3,
                        storage=str(tmp_path / "autoimb.journal"), random_state=0,
                        dashboard=True)
    assert seen["url"].startswith("http://127.0.0.1:")
    assert [s["study_name"] for s in seen["studies"]] == [model.study_name_]
    base = seen["url"].split("/dashboard")[0]
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{base}/api/studies", timeout=3)
