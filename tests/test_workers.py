"""Workers join a study that fit made, an export builds its model, and n_jobs runs
trials in worker processes.

The PostgreSQL tests use the throwaway server of ``tests/test_postgres.py`` (one
per module). Studies that only workers should search are created without running
a trial (``_create_study``: fit's preparation step), so that which process runs
which trial does not depend on how busy the machine is.
"""

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import joblib
import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState
from sklearn.datasets import make_classification
from test_postgres import server  # noqa: F401  (the module's PostgreSQL server)

import autoimb
from autoimb._validation import check_training_data
from autoimb.cli import main
from autoimb.exceptions import AutoImbError, StudyMismatchError
from autoimb.search.budget import Budget
from autoimb.search.job import BUDGET_KEY, JOB_KEY, rebuild_search_space
from autoimb.search.processes import WorkerProcesses, release_left_lock, resolve_n_jobs
from autoimb.search.run import SearchRun
from autoimb.search.settings import SearchSettings
from autoimb.storage.location import StorageLocation

pytestmark = pytest.mark.timeout(180)

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
WAIT = 90  # seconds, for what takes a few seconds on an idle machine

# Trials of about a second (HistGradientBoosting on 1500 rows, 3 folds): long
# enough for a second process to join before the study's budget is reached.
SPACE = """
description = "HistGradientBoosting only, for worker tests"

[models.hist_gradient_boosting]
learning_rate = { type = "float", low = 0.05, high = 0.3, log = true }
max_iter = { type = "int", low = 40, high = 120, log = true }
class_weight = ["none", "balanced"]

[resampling]
methods = ["none"]

[calibration]
methods = ["none", "sigmoid"]
"""


# Trials of a second or more even on an idle machine, for the n_jobs test: the
# worker process needs 2-3 s to start and should still find trials to run.
SLOWER_SPACE = SPACE.replace(
    'max_iter = { type = "int", low = 40, high = 120, log = true }', "max_iter = 200")


@pytest.fixture
def space(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text(SPACE)
    return str(path)


@pytest.fixture
def data_file(tmp_path):
    """A CSV of 1500 rows (8 features, an id column, label ``y``, 10% positive)."""
    X, y = make_classification(n_samples=1500, n_features=8, n_informative=5,
                               weights=[0.9], random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame.insert(0, "id", np.arange(len(frame)))
    path = tmp_path / "train.csv"
    frame.assign(y=y).to_csv(path, index=False)
    return str(path)


def _read(path):
    frame = pd.read_csv(path)
    return frame.drop(columns=["id", "y"]), frame["y"]


def _create_study(storage, name, data_file, space, *, n_trials, timeout=None):
    """A study made by fit's preparation step alone: job and budget recorded, no
    trial run, as a fit that has just started leaves it."""
    X, y = _read(data_file)
    settings = SearchSettings(
        space, n_trials=n_trials, timeout=timeout, cv=3, storage=storage,
        study_name=name, random_state=0, show_progress_bar=False,
        data_location=data_file)
    return SearchRun(settings, check_training_data(X, y), inputs=(X, y),
                     budget=Budget(timeout)).prepare().study


def _start_worker(processes, storage, name, *args, cwd=None):
    command = [sys.executable, "-m", "autoimb.cli", "worker", "--storage", storage,
               "--study", name, *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=cwd)
    processes.append(process)
    return process


def _wait_for_line(process, text):
    """The first line of the process's stderr that holds ``text``."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if text in line:
            return line
        if not line and process.poll() is not None:
            break
    pytest.fail(f"no line with {text!r} from the worker ({process.poll()})")


def _study(storage, name):
    return optuna.load_study(study_name=name,
                             storage=StorageLocation.parse(storage).open(
                                 for_search=False))


def _trials(storage, name):
    return _study(storage, name).get_trials(deepcopy=False)


def _workers(trials):
    return {t.user_attrs["worker"] for t in trials if t.state in FINISHED}


# -- what the study records -----------------------------------------------------


def test_fit_records_the_job_a_worker_needs(tmp_path, data_file, space):
    """Check that a study made by fit records, as plain JSON, the data's file,
    target, columns and fingerprint, the objective and costs as given, a search
    space that rebuilds to the same hash, cv, ensemble_size, and the budget with
    an absolute deadline."""
    journal = str(tmp_path / "study.journal")
    before = time.time()
    study = _create_study(journal, "job", data_file, space, n_trials=7, timeout=600)
    attrs = study.user_attrs
    job, budget = attrs[JOB_KEY], attrs[BUDGET_KEY]
    assert json.loads(json.dumps(job)) == job
    assert job["data"] == {"location": os.path.abspath(data_file), "target": "y",
                           "columns": [f"x{i}" for i in range(8)], "rows": 1500,
                           "fingerprint": attrs["autoimb.fingerprint"]}
    assert (job["pos_label"], job["objective"], job["fp_cost"], job["fn_cost"]) == (
        1, "cost", None, None)
    assert (job["cv"], job["cv_given"], job["ensemble_size"]) == (3, False, 5)
    assert job["search_space"]["file"] == space
    rebuilt = rebuild_search_space(job["search_space"], where="the test")
    assert job["search_space"]["sha256"] == attrs["autoimb.config"]["search_space"]
    assert rebuilt.model_names == ["hist_gradient_boosting"]
    assert budget["n_trials"] == 7 and budget["timeout"] == 600
    assert before + 590 < budget["deadline"] <= time.time() + 600


def test_a_preset_is_recorded_by_name_and_content(tmp_path):
    """Check that a preset is recorded by its name and its TOML text, so that a
    worker whose preset of that name differs still rebuilds the study's space."""
    X, y = make_classification(n_samples=300, weights=[0.9], random_state=0)
    settings = SearchSettings("fast", n_trials=1, cv=3,
                              storage=str(tmp_path / "s.journal"),
                              study_name="preset", show_progress_bar=False)
    study = SearchRun(settings, check_training_data(X, y), inputs=(X, y),
                      budget=Budget(None)).prepare().study
    record = study.user_attrs[JOB_KEY]["search_space"]
    assert record["preset"] == "fast" and "[models.lightgbm]" in record["toml"]
    assert study.user_attrs[JOB_KEY]["data"]["location"] is None
    assert rebuild_search_space(record, where="x") == autoimb.load_search_space("fast")


# -- workers on a journal file ----------------------------------------------------


def test_worker_gives_up_waiting_with_a_clear_error(tmp_path, capsys):
    """Check that a worker whose study does not appear says once that it waits,
    then fails after --wait seconds naming the study, the storage and the way
    out."""
    journal = str(tmp_path / "empty.journal")
    Path(journal).touch()  # the file exists; the study does not
    started = time.monotonic()
    status = main(["worker", "--storage", journal, "--study", "missing",
                   "--wait", "1.5"])
    err = capsys.readouterr().err
    assert status == 2
    assert 1.5 <= time.monotonic() - started < 30
    assert err.count("waiting up to 1.5 s for study 'missing'") == 1
    assert (f"autoimb: error: Study 'missing' does not exist in {journal} within "
            "1.5 s. It holds no study. Create it with `autoimb fit DATA --target "
            f"COL --storage {journal} --study missing`") in err


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_worker_waits_for_a_missing_file_without_creating_it(tmp_path, capsys,
                                                             kind):
    """Check that a worker given a journal or SQLite file that does not exist
    says at once that it waits for that path, creates nothing, and fails naming
    it when --wait runs out."""
    path = tmp_path / ("study.journal" if kind == "journal" else "study.db")
    storage = str(path) if kind == "journal" else f"sqlite:///{path}"
    started = time.monotonic()
    status = main(["worker", "--storage", storage, "--study", "s", "--wait", "1"])
    err = capsys.readouterr().err
    assert status == 2
    assert 1 <= time.monotonic() - started < 30
    assert not path.exists() and list(tmp_path.iterdir()) == []
    lines = err.strip().splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith(f"autoimb worker: waiting up to 1 s for {str(path)!r} "
                               "to appear, then for study 's' in it")
    assert lines[1].startswith(f"autoimb: error: No such file: {str(path)!r}")
    assert "after waiting 1 s" in lines[1]


def test_worker_refuses_a_file_in_a_missing_folder_at_once(tmp_path, capsys):
    """Check that a worker given a path in a folder that does not exist fails at
    once (nothing could create the file there), whatever --wait says."""
    journal = tmp_path / "nowhere" / "study.journal"
    started = time.monotonic()
    status = main(["worker", "--storage", str(journal), "--study", "s"])
    err = capsys.readouterr().err
    assert status == 2 and time.monotonic() - started < 15
    assert f"No such file: {str(journal)!r}; its folder" in err
    assert "waiting" not in err and not journal.parent.exists()


@pytest.mark.parametrize("given", ["nosuch.journal", "thy", "sqlite:///nosuch.db"])
def test_export_of_a_missing_file_creates_nothing(tmp_path, capsys, monkeypatch,
                                                  given):
    """Check that `autoimb export` (and export_study) on a mistyped path, or on a
    study's name given as the path, says "No such file" with the study files
    nearby, and creates no journal, SQLite file or scores folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "thyroid.journal").write_text("")
    status = main(["export", "--storage", given, "--study", "thy", "--no-progress"])
    err = capsys.readouterr().err
    shown = given.removeprefix("sqlite:///")
    assert status == 2
    assert f"autoimb: error: No such file: {shown!r}" in err
    assert "Study files in this folder: 'thyroid.journal'." in err
    if given == "thy":
        assert "Did you mean 'thyroid.journal'?" in err
    with pytest.raises(AutoImbError, match=f"No such file: {shown!r}"):
        autoimb.export_study(given, "thy")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thyroid.journal"]


def test_worker_waits_for_the_journal_that_fit_creates(tmp_path, data_file, space):
    """Check the documented flow on a journal file: the worker starts first, says
    it waits for the file, creates nothing, then joins the study fit makes."""
    journal = tmp_path / "later.journal"
    processes = []
    try:
        worker = _start_worker(processes, str(journal), "later", "--wait", "60",
                               "--no-progress")
        line = _wait_for_line(worker, "waiting up to 60 s")
        assert f"for {str(journal)!r} to appear" in line, line
        time.sleep(1.5)  # a poll or two
        assert not journal.exists()
        _create_study(str(journal), "later", data_file, space, n_trials=2)
        _, err = worker.communicate(timeout=WAIT)
        assert worker.returncode == 0, err
        assert "joined study 'later'" in err
        assert sum(t.state in FINISHED for t in _trials(str(journal), "later")) == 2
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()


def test_worker_stops_after_its_own_trials(tmp_path, data_file, space):
    """Check that run_worker(n_trials=2) runs two trials of a study whose budget
    allows more, reading the data from the file the study records."""
    journal = str(tmp_path / "study.journal")
    _create_study(journal, "own", data_file, space, n_trials=6)
    report = autoimb.run_worker(journal, "own", n_trials=2, show_progress_bar=False)
    assert len(report.trials) == 2 and report.n_trials == 6
    trials = _trials(journal, "own")
    assert sum(t.state in FINISHED for t in trials) == 2
    assert _workers(trials) == {f"{socket.gethostname()}:{os.getpid()}"}


def test_worker_stops_at_the_study_deadline(tmp_path, data_file, space):
    """Check that a worker stops at the deadline the study records (the fit's
    timeout from its start), not after the study's trials: every trial it runs
    ends by then, give or take a trial that ran long."""
    journal = str(tmp_path / "study.journal")
    _create_study(journal, "deadline", data_file, space, n_trials=1000, timeout=12)
    deadline = _study(journal, "deadline").user_attrs[BUDGET_KEY]["deadline"]
    report = autoimb.run_worker(journal, "deadline", show_progress_bar=False)
    assert 0 < len(report.trials) < 1000
    assert time.time() < deadline + 5
    time.sleep(max(0.0, deadline - time.time()))
    late = autoimb.run_worker(journal, "deadline", show_progress_bar=False)
    assert late.trials == {}


def test_a_worker_after_the_deadline_counts_the_study_trials(tmp_path, data_file,
                                                            space):
    """Check that a worker started after the study's deadline says how many
    finished trials the study holds, where it said 0 for a study holding 7
    (issue 39)."""
    journal = str(tmp_path / "study.journal")
    _create_study(journal, "late", data_file, space, n_trials=1000, timeout=4)
    deadline = _study(journal, "late").user_attrs[BUDGET_KEY]["deadline"]
    autoimb.run_worker(journal, "late", n_trials=2, show_progress_bar=False)
    held = sum(t.state in FINISHED for t in _trials(journal, "late"))
    assert held >= 1
    time.sleep(max(0.0, deadline - time.time()))
    late = autoimb.run_worker(journal, "late", show_progress_bar=False)
    assert late.trials == {} and late.finished_in_study == held
    assert late.describe().endswith(
        f"the study holds {held} finished trials of its budget of 1000")


def test_cli_fit_then_worker_and_export_on_a_journal(tmp_path, data_file, space,
                                                     monkeypatch, capsys):
    """Check `autoimb export` on a journal study made by `autoimb fit`: it writes
    a model file that loads and predicts, names the study, and a worker joining
    the finished study reads the recorded data file and runs nothing."""
    monkeypatch.chdir(tmp_path)
    assert main(["fit", data_file, "--target", "y", "--id", "id", "--preset", space,
                 "--trials", "4", "--cv", "3", "--study", "cli", "--seed", "0",
                 "--no-progress", "--out", "fit.joblib"]) == 0
    assert main(["worker", "--study", "cli", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Worker ran 0 trials of study 'cli'" in out
    assert "autoimb export --storage autoimb.journal --study cli" in out

    assert main(["export", "--study", "cli", "--out", "exported.joblib"]) == 0
    out = capsys.readouterr().out
    assert "Model written to exported.joblib (joblib)" in out
    model = autoimb.load("exported.joblib")
    X, _ = _read(data_file)
    assert model.study_name_ == "cli" and model.target_name_ == "y"
    assert model.predict(X).shape == (len(X),)
    assert np.allclose(model.predict_proba(X).sum(axis=1), 1)
    completed = {t.number for t in _trials("autoimb.journal", "cli")
                 if t.state == TrialState.COMPLETE}
    assert set(model.ensemble_) <= completed
    assert main(["predict", "exported.joblib", data_file, "--id", "id",
                 "--out", "scores.csv"]) == 0
    assert len(pd.read_csv("scores.csv")) == len(X)
    # The export remembers the --id given to fit, as fit's own model does.
    assert model.id_columns_ == ["id"] == autoimb.load("fit.joblib").id_columns_
    assert main(["predict", "exported.joblib", data_file, "--out", "ids.csv"]) == 0
    assert pd.read_csv("ids.csv").columns.tolist() == ["id", "probability", "label"]


def test_n_jobs_2_in_processes_runs_trials_in_two_processes(tmp_path, data_file):
    """Check that fit(n_jobs=2, parallel="processes") on a journal file finishes
    the requested trials with trials from two processes, this one and a worker,
    and chooses its model knowing the worker's out-of-fold scores (stored with
    the study by the worker, not computed again)."""
    X, y = _read(data_file)
    assert "max_iter = 200" in SLOWER_SPACE
    space = tmp_path / "slower.toml"
    space.write_text(SLOWER_SPACE)
    journal = str(tmp_path / "study.journal")
    model = autoimb.fit(X, y, search_space=str(space), n_trials=10, cv=3,
                        storage=journal, study_name="jobs", n_jobs=2,
                        parallel="processes", random_state=0, show_progress_bar=False)
    trials = model.study_.get_trials(deepcopy=False)
    assert sum(t.state in FINISHED for t in trials) >= 10
    workers = _workers(trials)
    me = f"{socket.gethostname()}:{os.getpid()}"
    assert len(workers) == 2 and me in workers, workers
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    theirs = {t.number for t in trials if t.state == TrialState.COMPLETE
              and t.user_attrs["worker"] != me}
    assert theirs
    stored = model._context.scores
    assert all(stored.load(t, n_rows=len(y)) is not None for t in trials
               if t.number in theirs)
    assert model.predict(X).shape == (len(X),)


def test_by_default_a_timed_search_runs_one_trial_per_core(tmp_path, data_file):
    """Check that with the default n_jobs a search with a timeout of 30 s or more
    on a journal file runs its trials in this process and a worker (on 2 cores),
    and says so in n_jobs_; the same search bounded by trials alone runs one
    trial at a time."""
    if joblib.cpu_count() < 2:
        pytest.skip("one core: the default runs one trial at a time")
    X, y = _read(data_file)
    space = tmp_path / "slower.toml"
    space.write_text(SLOWER_SPACE)
    journal = str(tmp_path / "study.journal")
    options = {"search_space": str(space), "cv": 3, "storage": journal,
               "random_state": 0, "show_progress_bar": False}
    timed = autoimb.fit(X, y, n_trials=10, timeout=60, study_name="timed", **options)
    assert timed.n_jobs_ == min(joblib.cpu_count(), 4)
    assert len(_workers(timed.study_.get_trials(deepcopy=False))) >= 2
    assert 0 <= timed.fit_times_["stop_workers"] < 10  # SIGTERM, SIGKILL at 3 s
    assert timed.fit_times_["search"] > 0
    counted = autoimb.fit(X, y, n_trials=3, study_name="counted", **options)
    assert counted.n_jobs_ == 1
    assert len(_workers(counted.study_.get_trials(deepcopy=False))) == 1


def test_a_worker_that_does_not_stop_is_killed_and_cleaned_up_after(
        tmp_path, monkeypatch, caplog):
    """Check that stopping the workers kills one that ignores SIGTERM after
    _STOP_SECONDS, removes the journal lock it held, so that the next write does
    not wait 30 s for it (Optuna's grace period), and fails its running trial
    and queues it again; all logged, and not warned about as a worker's crash."""
    caplog.set_level(logging.WARNING, logger="autoimb.search.processes")
    monkeypatch.setattr(autoimb.search.processes, "_STOP_SECONDS", 1.0)
    journal = str(tmp_path / "study.journal")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import os, signal, sys, time\n"
         "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
         "sys.stdin.readline()\n"
         f"os.symlink({journal!r}, {journal!r} + '.lock')\n"
         "print('locked', flush=True)\n"
         "time.sleep(60)\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(journal))
        study = optuna.create_study(storage=storage, study_name="s")
        trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        trial.set_user_attr("worker", f"{socket.gethostname()}:{holder.pid}")
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline() == "locked\n"
        workers = WorkerProcesses(1, 1, storage=journal, study=study)
        workers.children = [(holder, tmp_path / "worker-0.log")]
        start = time.monotonic()
        workers._stop_all()
        assert time.monotonic() - start < WAIT / 3  # not Optuna's 30 s
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            workers._report()
    finally:
        holder.kill()
        holder.communicate()
    assert holder.returncode == -9
    assert not os.path.lexists(journal + ".lock")
    assert f"Worker process {holder.pid} had not stopped 1.0 s after" in caplog.text
    assert "Removed the lock of journal file" in caplog.text
    trials = study.get_trials(deepcopy=False)
    assert trials[0].state == TrialState.FAIL
    assert trials[0].user_attrs["error"].startswith("worker ")
    assert trials[1].state == TrialState.WAITING
    assert trials[1].system_attrs["fixed_params"] == trials[0].params


def test_a_journal_lock_taken_again_is_not_removed(tmp_path):
    """Check that a lock file released and taken again by a live process after
    the kill (another inode, or the same inode at another time) is left alone,
    as is a lock that was not there, and that a lock left as it was is removed."""
    lock = str(tmp_path / "study.journal.lock")
    os.symlink(str(tmp_path / "study.journal"), lock)
    held = autoimb.search.processes._lock_identity(lock)
    os.rename(lock, lock + ".old")  # a new lock beside the old one: another inode
    os.symlink(str(tmp_path / "study.journal"), lock)
    assert not release_left_lock(lock, held)
    assert os.path.lexists(lock)
    held = autoimb.search.processes._lock_identity(lock)
    os.unlink(lock)
    time.sleep(0.05)  # file times move in clock ticks
    os.symlink(str(tmp_path / "study.journal"), lock)
    assert not release_left_lock(lock, held)
    assert os.path.lexists(lock)
    assert not release_left_lock(lock, None)
    assert os.path.lexists(lock)
    assert release_left_lock(lock, autoimb.search.processes._lock_identity(lock))
    assert not os.path.lexists(lock)
    assert sorted(os.listdir(tmp_path)) == ["study.journal.lock.old"]


@pytest.mark.parametrize(("n_jobs", "options", "expected"), [
    (None, {"timeout": 60}, 4),
    (None, {"timeout": 30}, 4),
    (None, {"timeout": 29}, 1),
    (None, {}, 1),
    (None, {"timeout": 60, "storage": "memory"}, 1),
    (None, {"timeout": 60, "cv": [([0], [1]), ([1], [0])]}, 1),
    (None, {"timeout": 60, "parallel": "threads"}, 1),
    (None, {"timeout": 60, "storage": "sqlite:///s.db"}, 4),
    (-1, {}, 8),
    (3, {"timeout": 60}, 3),
])
def test_resolve_n_jobs(monkeypatch, n_jobs, options, expected):
    """Check how many trials run at once for each n_jobs setting, on 8 cores:
    the default parallelizes only a timed search whose trials can run in
    processes, and at most 4 of them."""
    monkeypatch.setattr(autoimb.search.processes, "_cores", lambda: 8)
    assert resolve_n_jobs(n_jobs, **options) == expected


def test_processes_need_a_shared_storage():
    """Check that parallel="processes" on a study in memory runs its trials in
    threads, saying why and how to use processes."""
    X, y = make_classification(n_samples=300, weights=[0.9], random_state=0)
    with pytest.warns(autoimb.AutoImbWarning,
                      match="parallel='processes' runs trials in threads here: a "
                      "study in memory cannot be shared with other processes; pass "
                      "storage=None"):
        model = autoimb.fit(X, y, search_space="fast", n_trials=2, cv=3, n_jobs=2,
                            parallel="processes", storage="memory",
                            show_progress_bar=False)
    assert len(model.results_) >= 2


def test_worker_refuses_a_study_in_memory():
    """Check that a worker asked to join a study in memory says why it cannot."""
    with pytest.raises(AutoImbError, match="A study in memory cannot be joined by a "
                       "worker"):
        autoimb.run_worker("memory", "any")


# -- workers on PostgreSQL ------------------------------------------------------------


def test_worker_waits_for_the_study_then_joins(server, tmp_path, data_file,  # noqa: F811
                                               space, processes):
    """Check that a worker started before its study exists says once that it
    waits, joins the study when fit creates it, and runs the study's trials."""
    worker = _start_worker(processes, server.url, "later", "--wait", "60")
    _wait_for_line(worker, "waiting up to 60 s for study 'later'")
    _create_study(server.url, "later", data_file, space, n_trials=3)
    out, err = worker.communicate(timeout=WAIT)
    assert worker.returncode == 0, err[-3000:]
    assert "waiting" not in err  # said once, before
    assert "autoimb worker: joined study 'later'" in err
    assert "Worker ran 3 trials of study 'later'" in out
    trials = _trials(server.url, "later")
    assert sum(t.state in FINISHED for t in trials) == 3
    assert _workers(trials) == {f"{socket.gethostname()}:{worker.pid}"}


def test_worker_with_other_data_refuses_naming_both_fingerprints(
        server, tmp_path, data_file, space, capsys):  # noqa: F811
    """Check that a worker whose copy of the data differs by one value refuses to
    run, with both fingerprints and the way out, and runs no trial."""
    study = _create_study(server.url, "other", data_file, space, n_trials=3)
    theirs = study.user_attrs["autoimb.fingerprint"]
    frame = pd.read_csv(data_file)
    frame.loc[7, "x3"] += 1.0
    copy = tmp_path / "copy.csv"
    frame.to_csv(copy, index=False)
    X, y = frame.drop(columns=["id", "y"]), frame["y"]
    status = main(["worker", "--storage", server.url, "--study", "other", "--data",
                   str(copy), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2
    from autoimb._validation import check_frame, data_fingerprint

    mine = data_fingerprint(check_frame(X), (y == 1).astype(int))
    assert mine != theirs
    assert err.strip() == (
        f"autoimb: error: The worker's data in {str(copy)!r} has fingerprint {mine}, "
        f"but study 'other' was made with data of fingerprint {theirs} (1500 rows of "
        f"{os.path.abspath(data_file)!r}). A worker refuses other data: give it an "
        "identical copy of the study's data file (--data PATH).")
    assert {t.state for t in _trials(server.url, "other")} == {TrialState.WAITING}
    with pytest.raises(StudyMismatchError, match=f"fingerprint {mine}, but"):
        autoimb.run_worker(server.url, "other", data=(X, y))


def test_two_workers_and_an_export_make_a_model(server, tmp_path, data_file,  # noqa: F811
                                                space, processes):
    """Check that two `autoimb worker` processes share a study on PostgreSQL until
    its budget, each running trials, and that `autoimb export` then writes a
    model file that loads and predicts, chosen among the study's trials."""
    workers = [_start_worker(processes, server.url, "pair", "--no-progress",
                             "--wait", "60", cwd=tmp_path) for _ in range(2)]
    for worker in workers:
        _wait_for_line(worker, "waiting up to 60 s for study 'pair'")
    _create_study(server.url, "pair", data_file, space, n_trials=10)
    for worker in workers:
        out, err = worker.communicate(timeout=WAIT)
        assert worker.returncode == 0, err[-3000:]
        assert "Worker ran " in out
    trials = _trials(server.url, "pair")
    assert sum(t.state in FINISHED for t in trials) >= 10
    assert _workers(trials) == {f"{socket.gethostname()}:{w.pid}" for w in workers}

    out_file = tmp_path / "model.joblib"
    export = subprocess.run(
        [sys.executable, "-m", "autoimb.cli", "export", "--storage", server.url,
         "--study", "pair", "--out", str(out_file)],
        capture_output=True, text=True, timeout=WAIT)
    assert export.returncode == 0, export.stderr[-3000:]
    assert f"Model written to {out_file} (joblib)" in export.stdout
    model = autoimb.load(out_file)
    X, _ = _read(data_file)
    assert model.predict(X).shape == (len(X),)
    assert set(model.ensemble_) <= {t.number for t in trials
                                    if t.state == TrialState.COMPLETE}
    assert model.storage_location_ == server.url


# A random forest of 30 deep trees on 4,000 rows: trials of a second or two, long
# enough to kill a worker in the middle of one, short enough for the search to
# run the retry of its trial.
LONG_TRIALS_SPACE = """
description = "long random-forest trials, for the killed-worker test"

[models.random_forest]
n_estimators = 30
max_depth = 40
min_samples_leaf = 1
max_features = 0.5
class_weight = ["none"]

[resampling]
methods = ["none"]

[calibration]
methods = ["none"]
"""


def _child_workers():
    """Process ids of this process's worker processes (``autoimb.search.processes``)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"autoimb.workers.worker" in cmdline:
            pids.append(int(stat.parent.name))
    return pids


def test_a_worker_killed_by_the_system_is_reported_and_its_trial_failed(tmp_path):
    """Check that a worker process killed with SIGKILL in the middle of a trial
    (as the out-of-memory killer does, which the worker asks to take it first)
    leaves no trial running: the search fails its trial and queues it again
    while it goes on, finishes in this process, and a warning names the likely
    cause and the n_jobs to pass."""
    if not Path("/proc").is_dir():
        pytest.skip("finding the worker process reads /proc")
    if Path("/proc/self/oom_score_adj").read_text().strip() == "1000":
        pytest.skip("this process already has the worker's oom_score_adj")
    X, y = make_classification(n_samples=4000, n_features=20, n_informative=8,
                               weights=[0.9], random_state=0)
    space = tmp_path / "long.toml"
    space.write_text(LONG_TRIALS_SPACE)
    journal = tmp_path / "study.journal"
    killed, adjusted = [], []

    def kill_the_worker_in_a_trial():
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pids = _child_workers()
            try:
                running = {t.user_attrs.get("worker", "").rsplit(":", 1)[-1]
                           for t in _trials(journal, "killed")
                           if t.state == TrialState.RUNNING}
            except Exception:  # the study not made yet
                running = set()
            mine = [pid for pid in pids if str(pid) in running]
            if mine:
                adjusted.append(Path(f"/proc/{mine[0]}/oom_score_adj").read_text())
                os.kill(mine[0], signal.SIGKILL)
                killed.append(mine[0])
                return
            time.sleep(0.2)

    killer = threading.Thread(target=kill_the_worker_in_a_trial, daemon=True)
    killer.start()
    with pytest.warns(autoimb.AutoImbWarning) as caught:
        model = autoimb.fit(X, y, search_space=str(space), timeout=20, n_jobs=2,
                            cv=3, storage=str(journal), study_name="killed",
                            random_state=0, show_progress_bar=False)
    killer.join()
    assert killed, "the worker never ran a trial"
    # The out-of-memory killer would take the worker first, not this process.
    assert [int(a) for a in adjusted] == [1000]
    messages = [str(w.message) for w in caught]
    assert any(f"Worker process {killed[0]} was killed (SIGKILL) during the search, "
               "most likely by the system for want of memory" in m
               and m.endswith("Pass n_jobs=1 to run fewer trials at once.")
               for m in messages), messages
    trials = model.study_.get_trials(deepcopy=False)
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    died = [t for t in trials if t.state == TrialState.FAIL and "died while running"
            in t.user_attrs.get("error", "")]
    assert [t.user_attrs["worker"].rsplit(":", 1)[1] for t in died] == [str(killed[0])]
    retries = [t for t in trials if t.user_attrs.get("retry_of") == died[0].number]
    assert [t.params for t in retries] == [died[0].params]
    # Queued again during the search, which then ran it.
    assert retries[0].state in FINISHED
    assert model.predict(X[:5]).shape == (5,)
