"""A real search process killed (SIGKILL) or interrupted (SIGINT, Ctrl-C) midway.

Each test runs ``autoimb.fit`` in a subprocess on a journal file in ``tmp_path``,
watches the journal until trials have finished and one is running, then signals
the process. Every wait is bounded.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState
from sklearn.datasets import make_classification

import autoimb

STUDY = "killed"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
WAIT_FOR_TRIALS = 240  # seconds: two cores are shared with other test runs
WAIT_FOR_EXIT = 120

WORKER = textwrap.dedent("""
    import signal
    import sys
    import warnings

    import numpy as np

    import autoimb

    # Ctrl-C raises KeyboardInterrupt even if the test runner was started with
    # SIGINT ignored (as background jobs of a non-interactive shell are).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    data, storage, study, n_trials, out = sys.argv[1:6]
    arrays = np.load(data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = autoimb.fit(arrays["X"], arrays["y"], search_space="fast", cv=3,
                            storage=storage, study_name=study, n_trials=int(n_trials),
                            random_state=0, show_progress_bar=False)
    for w in caught:
        print("WARNING", w.category.__name__, w.message, flush=True)
    print("TRIALS", len(model.results_), flush=True)
    model.export(out)
    print("EXPORTED", out, flush=True)
""")


@pytest.fixture(scope="module")
def arrays():
    """3000 rows, 10% positives."""
    return make_classification(n_samples=3000, n_features=12, n_informative=6,
                               weights=[0.9], random_state=0)


def start_worker(tmp_path, arrays, n_trials):
    X, y = arrays
    data = tmp_path / "data.npz"
    np.savez(data, X=X, y=y)
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    journal = tmp_path / "study.journal"
    model_file = tmp_path / "model.joblib"
    process = subprocess.Popen(
        [sys.executable, str(script), str(data), str(journal), STUDY, str(n_trials),
         str(model_file)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process, journal, model_file


def read_trials(journal):
    """The study's trials as the journal holds them now ([] before it exists)."""
    if not journal.exists():
        return []
    storage = JournalStorage(JournalFileBackend(str(journal)))
    try:
        study_id = storage.get_study_id_from_name(STUDY)
    except KeyError:
        return []
    return storage.get_all_trials(study_id, deepcopy=False)


def wait_until_running(process, journal, min_finished):
    """Wait until ``min_finished`` trials finished and one is fitting: it has
    recorded its worker and its strategy (all its parameters are chosen)."""
    deadline = time.monotonic() + WAIT_FOR_TRIALS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the worker exited early ({process.returncode}): "
                        f"{process.stderr.read()[-2000:]}")
        trials = read_trials(journal)
        finished = [t for t in trials if t.state in FINISHED]
        running = [t for t in trials if t.state == TrialState.RUNNING
                   and {"worker", "strategy"} <= set(t.user_attrs)]  # fitting
        if len(finished) >= min_finished and running:
            return finished, running[0]
        time.sleep(0.1)
    pytest.fail(f"no running trial after {min_finished} finished within "
                f"{WAIT_FOR_TRIALS} s")


@pytest.fixture
def stop_later():
    """Kill any worker a test leaves behind (by its own pid)."""
    processes = []
    yield processes.append
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=WAIT_FOR_EXIT)


def test_killed_worker_is_resumed_without_losing_trials(tmp_path, arrays, stop_later):
    """Check that after kill -9 midway, a rerun with the same storage and study
    name resumes: the dead process's trial is FAIL naming the dead worker, its
    parameters are retried, every trial finished before the kill keeps its number,
    state and value, and the study reaches the requested number of finished
    trials."""
    process, journal, _ = start_worker(tmp_path, arrays, n_trials=40)
    stop_later(process)
    seen_finished, running = wait_until_running(process, journal, min_finished=2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=WAIT_FOR_EXIT)  # reaped: the pid no longer exists
    assert process.returncode == -signal.SIGKILL

    at_kill = read_trials(journal)
    before = {t.number: (t.state, t.value) for t in at_kill if t.state in FINISHED}
    assert {t.number for t in seen_finished} <= set(before)
    dead = next(t for t in at_kill if t.number == running.number)
    assert dead.state == TrialState.RUNNING and dead.params
    worker = dead.user_attrs["worker"]
    assert worker.endswith(f":{process.pid}")

    # Queued portfolio trials run before the retry, which is queued on resume.
    waiting = sum(t.state == TrialState.WAITING for t in at_kill)
    target = len(before) + waiting + 2
    X, y = arrays
    model = autoimb.fit(X, y, search_space="fast", cv=3, storage=str(journal),
                        study_name=STUDY, n_trials=target, random_state=0,
                        show_progress_bar=False)
    trials = model.study_.get_trials(deepcopy=False)
    by_number = {t.number: t for t in trials}

    failed = by_number[dead.number]
    assert failed.state == TrialState.FAIL
    assert failed.user_attrs["error"] == (
        f"worker {worker} died while running this trial")
    retries = [t for t in trials if t.user_attrs.get("retry_of") == dead.number]
    assert len(retries) == 1
    assert retries[0].params == dead.params
    assert retries[0].state in FINISHED

    assert sum(t.state in FINISHED for t in trials) == target
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    for number, (state, value) in before.items():
        assert (by_number[number].state, by_number[number].value) == (state, value)
    completed = [t.value for t in trials if t.state == TrialState.COMPLETE]
    assert model.study_.best_value == min(completed)
    complete = {t.number for t in trials if t.state == TrialState.COMPLETE}
    assert set(model.ensemble_) <= complete  # chosen among completed trials
    assert model.predict(X).shape == (len(X),)


def test_ctrl_c_stops_cleanly_and_keeps_the_best_model(tmp_path, arrays, stop_later):
    """Check that SIGINT during a trial makes fit return the best model so far with
    an AutoImbWarning 'interrupted': the process exits 0, the exported file loads
    and predicts, the interrupted trial is not left RUNNING, and the same fit run
    again resumes the study keeping its completed trials."""
    process, journal, model_file = start_worker(tmp_path, arrays, n_trials=40)
    stop_later(process)
    wait_until_running(process, journal, min_finished=1)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=WAIT_FOR_EXIT)
    assert process.returncode == 0, err[-2000:]
    assert "TRIALS" in out, out
    assert "WARNING AutoImbWarning The search was interrupted; the model holds the " \
           "best of" in out
    assert f"EXPORTED {model_file}" in out

    trials = read_trials(journal)
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert sum(t.state == TrialState.COMPLETE for t in trials) < 40
    model = autoimb.load(model_file)
    X, y = arrays
    assert set(model.ensemble_) <= {t.number for t in trials
                                    if t.state == TrialState.COMPLETE}
    assert np.isfinite(model.best_score_)
    assert set(np.unique(model.predict(X))) <= {0, 1}
    assert np.allclose(model.predict_proba(X).sum(axis=1), 1)

    before = {t.number: t.value for t in trials if t.state == TrialState.COMPLETE}
    resumed = autoimb.fit(X, y, search_space="fast", cv=3, storage=str(journal),
                          study_name=STUDY, n_trials=len(before) + 1, random_state=0,
                          show_progress_bar=False)
    after = resumed.study_.get_trials(deepcopy=False)
    assert sum(t.state in FINISHED for t in after) == len(before) + 1
    assert {t.number: t.value for t in after if t.number in before} == before
