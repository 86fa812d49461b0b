"""One study, one answer: ``fit``, a rerun of the same ``fit``, a fit with an
``autoimb worker`` beside it, and ``autoimb export`` of each study choose the
same final model and report the same bias-corrected score.

The choice is a function of the study's completed trials, their stored
out-of-fold scores and the study's settings: not of the clock at the moment of
choosing, nor of which process happens to hold which trial's scores.
"""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification

import autoimb
from autoimb.cli import main

pytestmark = pytest.mark.timeout(300)

TIMEOUT = "10"  # seconds per fit: a few dozen short trials


@pytest.fixture
def data_file(tmp_path):
    """1,200 rows, 8 features, 8% positives, some label noise."""
    X, y = make_classification(n_samples=1200, n_features=8, n_informative=4,
                               weights=[0.92], flip_y=0.03, random_state=3)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    path = tmp_path / "train.csv"
    frame.assign(y=y).to_csv(path, index=False)
    return str(path)


def _fit(data_file, study, out):
    assert main(["fit", data_file, "--target", "y", "--preset", "fast",
                 "--timeout", TIMEOUT, "--study", study, "--seed", "0",
                 "--fn-cost", "10", "--no-progress", "--out", out]) == 0
    return autoimb.load(out)


def _export(study, out):
    assert main(["export", "--study", study, "--out", out]) == 0
    return autoimb.load(out)


def _choice(model):
    return (model.strategy_, sorted(model.ensemble_), model.threshold_,
            model.best_score_, model.cv_metrics_["n_candidates"])


def _assert_same_choice(fitted, exported):
    assert _choice(exported)[:2] == _choice(fitted)[:2]
    assert exported.threshold_ == pytest.approx(fitted.threshold_, abs=1e-12)
    assert exported.best_score_ == pytest.approx(fitted.best_score_, rel=1e-9)
    assert exported.cv_metrics_["n_candidates"] == fitted.cv_metrics_["n_candidates"]


def test_fit_rerun_worker_and_export_choose_the_same_model(tmp_path, data_file,
                                                          monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    # (a) fit, then (c) export the study it made.
    first = _fit(data_file, "one", "a.joblib")
    _assert_same_choice(first, _export("one", "c.joblib"))

    # (b) the same fit again resumes the study (and may add trials), then (c').
    again = _fit(data_file, "one", "b.joblib")
    assert len(again.results_) >= len(first.results_)
    _assert_same_choice(again, _export("one", "c2.joblib"))
    # A rerun with more trials is never clearly worse than the first run.
    assert again.best_score_ <= 1.1 * first.best_score_

    # (d) fit with one `autoimb worker` beside it, then export.
    worker = subprocess.Popen(
        [sys.executable, "-m", "autoimb.cli", "worker", "--study", "two",
         "--wait", "60", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        shared = _fit(data_file, "two", "d.joblib")
        worker.wait(timeout=60)
    finally:
        worker.kill()
    out, err = worker.communicate()
    assert worker.returncode == 0, err
    ran = [line for line in out.splitlines() if "Worker ran" in line]
    assert ran and "Worker ran 0 trials" not in ran[0], out + err
    _assert_same_choice(shared, _export("two", "d_export.joblib"))
    assert np.isfinite(shared.best_score_)
