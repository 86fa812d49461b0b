"""Tests of autoimb.storage.shutdown: SIGTERM stops a search as Ctrl-C does,
promptly."""

import os
import signal
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

import autoimb
from autoimb.exceptions import SearchTerminated, StorageUnavailableError
from autoimb.search import trials as _search
from autoimb.storage.location import resolve_storage
from autoimb.storage.shutdown import OutOfTime, call_stoppably, stop_at, stop_cleanly


def _sigterm_in_trial(monkeypatch, number):
    """Send SIGTERM to this process once trial ``number`` has chosen its strategy
    and starts fitting it."""
    original = _search.out_of_fold_scores
    calls = []

    def terminating(*args, **kwargs):
        calls.append(1)
        if len(calls) == number + 1:
            os.kill(os.getpid(), signal.SIGTERM)
        return original(*args, **kwargs)

    monkeypatch.setattr(_search, "out_of_fold_scores", terminating)


def _not_handled(signum, frame):
    raise AssertionError("SIGTERM reached the test's own handler")


def test_sigterm_fails_and_requeues_the_running_trial(small_data, tmp_path,
                                                      monkeypatch):
    """Check that SIGTERM during a trial of fit marks that trial failed at once,
    queues its parameters again (retry_of), raises SearchTerminated with exit code
    143 naming the trial and the study, restores the SIGTERM handler, and that
    the same fit then resumes the study."""
    X, y = small_data
    journal = str(tmp_path / "s.journal")
    options = {"search_space": "fast", "cv": 2, "storage": journal,
               "study_name": "term", "random_state": 0, "show_progress_bar": False}
    _sigterm_in_trial(monkeypatch, 2)
    before = signal.getsignal(signal.SIGTERM)
    # Should the search not handle SIGTERM, fail this test rather than end pytest.
    signal.signal(signal.SIGTERM, _not_handled)
    expected = (r"stopped by SIGTERM: trial 2 was stopped \(FAIL in Optuna\) and "
                r"queued again; "
                r"run the same command again to resume study 'term'")
    try:
        with pytest.raises(SearchTerminated, match=expected) as caught:
            autoimb.fit(X, y, n_trials=6, **options)
        assert signal.getsignal(signal.SIGTERM) is _not_handled
    finally:
        signal.signal(signal.SIGTERM, before)
    assert caught.value.code == 143
    study = optuna.load_study(study_name="term", storage=resolve_storage(journal)[0])
    stopped = study.trials[2]
    assert stopped.state == TrialState.FAIL
    assert stopped.user_attrs["error"] == "interrupted (SIGTERM); queued again"
    queued = [t for t in study.trials if t.user_attrs.get("retry_of") == 2]
    # A queued trial keeps its parameters in system_attrs until it runs.
    assert [(t.state, t.system_attrs["fixed_params"]) for t in queued] == [
        (TrialState.WAITING, stopped.params)]

    monkeypatch.undo()
    # Enough trials to run every queued one (the portfolio's, then the retry).
    target = sum(t.state.is_finished() or t.state == TrialState.WAITING
                 for t in study.trials)
    model = autoimb.fit(X, y, n_trials=target, **options)
    retried = [t for t in model.study_.trials if t.user_attrs.get("retry_of") == 2]
    assert [t.params for t in retried] == [stopped.params]
    assert retried[0].state in (TrialState.COMPLETE, TrialState.PRUNED)


def test_sigterm_during_a_journal_write_lets_it_finish(tmp_path, monkeypatch):
    """Check that SIGTERM arriving while the search writes to its journal file,
    just after Optuna took the file's lock, lets the write finish and release
    the lock, and still stops the search. (Before, the write was cut short and
    lost; a process ended there keeps the lock, which made a fit with worker
    processes wait 30 s for Optuna's grace period.)"""
    import time

    from optuna.storages.journal import _file

    journal = tmp_path / "s.journal"
    study = optuna.create_study(storage=resolve_storage(str(journal))[0])
    real_symlink, armed = os.symlink, [True]

    def symlink_then_sigterm(*args, **kwargs):  # Optuna's lock is taken here
        real_symlink(*args, **kwargs)
        if armed and Path(args[1]).name.endswith(".lock"):
            armed.clear()
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(_file.os, "symlink", symlink_then_sigterm)
    before = signal.signal(signal.SIGTERM, _not_handled)
    try:
        with pytest.raises(SearchTerminated), stop_cleanly(study):
            study.set_user_attr("written", True)
            time.sleep(5)  # SIGTERM, sent again after the write, ends this
        assert signal.getsignal(signal.SIGTERM) is _not_handled
    finally:
        signal.signal(signal.SIGTERM, before)
    assert not armed
    assert not Path(f"{journal}.lock").exists()
    assert study.user_attrs == {"written": True}


def test_a_worker_process_exits_on_sigterm_outside_journal_writes(tmp_path):
    """Check that a process with :func:`exit_outside_journal_writes` ends at
    once on SIGTERM outside a journal write, with status 143, and after the
    write inside one (the write is then in the journal)."""
    import subprocess
    import sys

    code = f"""
import os, signal, time
import optuna
from optuna.storages.journal import _file
from autoimb.storage.shutdown import exit_outside_journal_writes
from autoimb.storage.location import resolve_storage
exit_outside_journal_writes()
study = optuna.create_study(storage=resolve_storage({str(tmp_path / "w.journal")!r})[0],
                            study_name="w")
real = os.symlink
def symlink_then_sigterm(*args):
    real(*args)
    os.kill(os.getpid(), signal.SIGTERM)
_file.os.symlink = symlink_then_sigterm
study.set_user_attr("written", True)
time.sleep(10)
"""
    done = subprocess.run([sys.executable, "-c", code], timeout=60)
    assert done.returncode == 143
    journal = resolve_storage(str(tmp_path / "w.journal"))[0]
    assert optuna.load_study(study_name="w", storage=journal).user_attrs == {
        "written": True}
    assert not (tmp_path / "w.journal.lock").exists()


def test_ctrl_c_is_left_to_the_caller():
    """Check that a KeyboardInterrupt without SIGTERM passes through unchanged
    (fit keeps the best model so far on Ctrl-C)."""
    study = optuna.create_study()
    with pytest.raises(KeyboardInterrupt) as caught, stop_cleanly(study):
        raise KeyboardInterrupt
    assert type(caught.value) is KeyboardInterrupt


def test_ignored_sigterm_stays_ignored():
    """Check that a process that ignores SIGTERM keeps ignoring it."""
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with stop_cleanly(optuna.create_study()):
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_lost_storage_is_reported_under_optuna_errors():
    """Check that a StorageUnavailableError that Optuna's bookkeeping replaced by
    an error of its own (while handling it) is what the search raises."""
    lost = StorageUnavailableError("The study storage x did not answer for 60 s")
    with pytest.raises(StorageUnavailableError, match="did not answer") as caught, \
            stop_cleanly(optuna.create_study()):
        try:
            raise lost
        except StorageUnavailableError:
            raise UnboundLocalError("local variable 'updated_state'")  # noqa: B904
    assert caught.value.__cause__ is lost


def _slow_neighbour_search(rows=60_000):
    """One native call of about 3 s (2 cores, 2026): the 4 nearest neighbours of
    every row among rows that take only 4 distinct values, where a k-d tree
    visits every duplicate (the case of SMOTE + ENN on kddcup_http)."""
    from sklearn.neighbors import NearestNeighbors

    X = np.random.default_rng(0).integers(0, 2, size=(rows, 2)).astype(float)
    return NearestNeighbors(n_neighbors=4).fit(X).kneighbors(X)


# pytest-timeout's default method uses SIGALRM, which stop_at then leaves alone.
@pytest.mark.timeout(120, method="thread")
def test_call_stoppably_lets_the_deadline_stop_a_long_native_call():
    """Check that stop_at's alarm stops the wait for a call that is one long
    native call (which the alarm alone only interrupts once the call has
    returned), at once, and that the call, left to its helper thread, went on
    far past that; a result and an error of a call come back as they are."""
    import threading
    import time

    assert call_stoppably(lambda: 6 * 7) == 42
    with pytest.raises(ZeroDivisionError):
        call_stoppably(lambda: 1 / 0)

    start = time.perf_counter()
    with pytest.raises(OutOfTime), stop_at(0.3):
        call_stoppably(_slow_neighbour_search)
    stopped = time.perf_counter() - start
    [helper] = [t for t in threading.enumerate() if t.name == "autoimb-fold"]
    helper.join()
    finished = time.perf_counter() - start
    assert stopped < 0.8
    assert finished > stopped + 1.0  # the native call itself ran on


@pytest.mark.timeout(120, method="thread")
def test_call_stoppably_keeps_the_callers_sklearn_configuration():
    """Check that scikit-learn's configuration, which holds per thread, is the
    caller's in the helper thread."""
    import sklearn

    with sklearn.config_context(assume_finite=True, transform_output="pandas"):
        seen = call_stoppably(sklearn.get_config)
    assert seen["assume_finite"] is True
    assert seen["transform_output"] == "pandas"


def test_call_stoppably_keeps_the_callers_limit_on_openmp_threads():
    """Check that the limit on OpenMP's threads, which holds per thread, is the
    caller's in the helper thread (one per model in a search of a trial per
    core), so that HistGradientBoosting in a fold does not use every core."""
    from threadpoolctl import threadpool_info, threadpool_limits

    def openmp_threads():
        return {lib["num_threads"] for lib in threadpool_info()
                if lib["user_api"] == "openmp"}

    with threadpool_limits(limits=1):
        assert call_stoppably(openmp_threads) == {1}
    with threadpool_limits(limits=2, user_api="openmp"):
        assert call_stoppably(openmp_threads) == {2}


def test_call_stoppably_keeps_the_callers_context_variables():
    """Check that context variables, which a new thread does not inherit, are
    the caller's in the helper thread: NumPy's error state among them."""
    with np.errstate(divide="raise"):
        seen = call_stoppably(np.geterr)
    assert seen["divide"] == "raise"
