"""Workers on several processes share one study in a real PostgreSQL server, and
survive crashes: a worker killed, a worker stopped, the database restarted or gone.

A throwaway server is started for the module (initdb as the postgres user, on
loopback, in a temporary folder) and stopped afterwards; tests stop and start it.
"""

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState
from sklearn.datasets import make_classification

pytestmark = pytest.mark.timeout(300)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(*command, **kwargs):
    runner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*runner, *command], check=True, capture_output=True,
                          text=True, **kwargs)


class Server:
    """A throwaway PostgreSQL server that tests can stop, start and restart."""

    def __init__(self, bin_dir, folder):
        self.bin_dir, self.folder = bin_dir, folder
        self.data, self.port = os.path.join(folder, "data"), _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/autoimb"

    def pg_ctl(self, *args):
        _as_postgres(f"{self.bin_dir}/pg_ctl", "-D", self.data, *args)

    def start(self):
        self.pg_ctl("-w", "-l", os.path.join(self.folder, "log"), "-o",
                    f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                    "-c fsync=off", "start")

    def stop(self, mode="fast"):
        self.pg_ctl("-w", "-m", mode, "stop")


@pytest.fixture(scope="module")
def server():
    """A fresh database on a throwaway PostgreSQL server."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        pytest.skip("PostgreSQL server binaries are not installed")
    pytest.importorskip("psycopg")
    folder = tempfile.mkdtemp(prefix="autoimb-pg-")
    if os.geteuid() == 0:
        shutil.chown(folder, user="postgres")
    pg = Server(bins[-1], folder)
    _as_postgres(f"{pg.bin_dir}/initdb", "-D", pg.data, "--no-sync", "-A", "trust",
                 "-U", "postgres")
    pg.start()
    try:
        _as_postgres(f"{pg.bin_dir}/createdb", "-h", "127.0.0.1", "-p", str(pg.port),
                     "-U", "postgres", "autoimb")
        yield pg
    finally:
        pg.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres_url(server):
    """URL of a fresh database on a throwaway PostgreSQL server."""
    return server.url


WORKER = textwrap.dedent("""
    import sys
    import autoimb
    from sklearn.datasets import make_classification
    X, y = make_classification(n_samples=1500, weights=[0.9], random_state=0)
    model = autoimb.fit(X, y, search_space="fast", n_trials=int(sys.argv[2]), cv=3,
                        storage=sys.argv[1], study_name="shared", random_state=None,
                        show_progress_bar=False)
    print("chosen", " ".join(map(str, model.ensemble_)) or "-")
""")


def test_workers_share_one_study(postgres_url, tmp_path):
    """Check that two worker processes started together on one PostgreSQL study
    split the trials between them and both end with a model chosen among the
    shared study's trials."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    workers = [subprocess.Popen([sys.executable, str(script), postgres_url, "10"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=240) for w in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-3000:]
    study = optuna.load_study(study_name="shared", storage=postgres_url)
    finished = [t for t in study.trials if t.state.is_finished()]
    done = [t for t in finished if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(done) >= 10
    pids = {t.user_attrs.get("worker") for t in finished}
    assert len(pids) == 2, "both workers should have run trials"
    # The recipes were queued once, not once per worker.
    recipes = [t.user_attrs.get("recipe") for t in study.trials
               if "recipe" in t.user_attrs]
    assert len(recipes) == len(set(recipes))
    complete = {t.number for t in finished if t.state.name == "COMPLETE"}
    for out, _ in outputs:  # each worker's model is made of the shared study's trials
        chosen = out.split("chosen", 1)[1].split()
        assert chosen == ["-"] or {int(n) for n in chosen} <= complete


def test_storage_url_resumes(postgres_url):
    """Check that a rerun with the same PostgreSQL study continues it."""
    from sklearn.datasets import make_classification

    import autoimb

    X, y = make_classification(n_samples=800, weights=[0.9], random_state=1)
    options = {"search_space": "fast", "cv": 3, "storage": postgres_url,
               "study_name": "resume", "random_state": 0, "show_progress_bar": False}
    first = autoimb.fit(X, y, n_trials=2, **options)
    second = autoimb.fit(X, y, n_trials=4, **options)
    assert second.study_name_ == first.study_name_
    assert len([t for t in second.study_.trials if t.state.is_finished()]) >= 4


# -- crash safety -----------------------------------------------------------------
#
# Trials must last long enough to be stopped in the middle: the search space below
# is random forests of 100 trees on 2000 rows, 1.5 to 3.5 s a trial on this machine
# (300 trees took 4.6 to 7.4 s, and the tests a minute each),
# so that no sleep is needed in library code. Heartbeats are shortened with the
# documented environment variables (see autoimb.storage.databases).

SLOW_SPACE = """
description = "Random forests of 100 trees: trials of a second or two, for crash tests"

[models.random_forest]
n_estimators = 100
min_samples_leaf = { type = "int", low = 1, high = 20, log = true }
class_weight = ["none", "balanced", "balanced_subsample"]

[resampling]
methods = ["none"]

[calibration]
methods = ["none", "sigmoid"]
"""

SLOW_WORKER = textwrap.dedent("""
    import sys
    import autoimb
    from sklearn.datasets import make_classification
    url, study, n_trials, space = sys.argv[1:5]
    X, y = make_classification(n_samples=2000, n_features=20, weights=[0.9],
                               random_state=0)
    model = autoimb.fit(X, y, search_space=space, n_trials=int(n_trials), cv=3,
                        storage=url, study_name=study, random_state=None,
                        show_progress_bar=False)
    print("TRIALS", len(model.results_), flush=True)
""")

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
WAIT = 120  # seconds, for a condition that takes a few seconds when the machine is idle


@pytest.fixture
def slow_space(tmp_path):
    path = tmp_path / "slow.toml"
    path.write_text(SLOW_SPACE)
    return str(path)


def _start(processes, args, env=None, **kwargs):
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, **(env or {})}, **kwargs)
    processes.append(process)
    return process


def _slow_worker(processes, tmp_path, url, study, n_trials, space, env):
    script = tmp_path / "slow_worker.py"
    script.write_text(SLOW_WORKER)
    return _start(processes, [sys.executable, str(script), url, study, str(n_trials),
                              space], env)


def _cli_fit(tmp_path, url, study, n_trials, space):
    """The `autoimb fit` command line of a worker, on a CSV of 2000 rows."""
    data = tmp_path / "train.csv"
    if not data.exists():
        X, y = make_classification(n_samples=2000, n_features=20, weights=[0.9],
                                   random_state=0)
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
        frame.assign(y=y).to_csv(data, index=False)
    return [sys.executable, "-m", "autoimb.cli", "fit", str(data), "--target", "y",
            "--preset", space, "--storage", url, "--study", study, "--trials",
            str(n_trials), "--cv", "3", "--no-progress", "--out",
            str(tmp_path / "model.joblib")]


class Watcher:
    """Reads a study's trials from outside the workers, as they run. Make it before
    starting them: it creates Optuna's tables if the database has none yet."""

    def __init__(self, url, study):
        self.study = study
        self.storage = optuna.storages.RDBStorage(
            url, engine_kwargs={"pool_pre_ping": True})

    def trials(self):
        try:
            study_id = self.storage.get_study_id_from_name(self.study)
            return self.storage.get_all_trials(study_id, deepcopy=False)
        except Exception:  # no study yet
            return []

    def wait(self, condition, processes, what):
        """The first true value of ``condition(trials)``, polling until WAIT s."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            for process in processes:
                if process.poll() is not None:
                    pytest.fail(f"a worker exited ({process.returncode}) before "
                                f"{what}: {process.stderr.read()[-3000:]}")
            found = condition(self.trials())
            if found:
                return found
            time.sleep(0.1)
        pytest.fail(f"not {what} after {WAIT} s")


def _fitting(trials, pid):
    """The trial the process ``pid`` is fitting (its strategy chosen), or None."""
    return next((t for t in trials if t.state == TrialState.RUNNING
                 and t.user_attrs.get("worker", "").endswith(f":{pid}")
                 and "strategy" in t.user_attrs), None)


def _assert_study_is_whole(trials, n_trials, before=()):
    """Finished trials enough, unique numbers, none left running or queued, and
    every trial finished earlier unchanged."""
    numbers = [t.number for t in trials]
    shown = [(t.number, t.state.name, t.user_attrs.get("worker")) for t in trials]
    assert len(numbers) == len(set(numbers)), shown
    assert sum(t.state in FINISHED for t in trials) >= n_trials, shown
    assert not [t.number for t in trials
                if t.state in (TrialState.RUNNING, TrialState.WAITING)], shown
    by_number = {t.number: t for t in trials}
    for number, (state, value) in dict(before).items():
        assert (by_number[number].state, by_number[number].value) == (state, value)


def test_killed_worker_trial_is_failed_by_heartbeat_and_rerun(server, tmp_path,
                                                              slow_space, processes):
    """Check that a worker killed with SIGKILL in the middle of a trial leaves it
    RUNNING only until the grace period has passed: the other worker then marks
    it failed and runs its parameters again, and the study ends with the requested
    number of finished trials, unique trial numbers and none left RUNNING.

    Heartbeat every second, presumed dead 3 s after the last one; trials of 1.5-3.5 s
    (random forests of 100 trees), so that the kill lands mid-trial and the other
    worker still has trials to start after the grace period."""
    env = {"AUTOIMB_HEARTBEAT_SECONDS": "1", "AUTOIMB_HEARTBEAT_GRACE_SECONDS": "3"}
    n_trials = 8
    watcher = Watcher(server.url, "killed")
    a, b = (_slow_worker(processes, tmp_path, server.url, "killed", n_trials,
                         slow_space, env) for _ in range(2))
    # Kill A only once B is fitting too: B has then passed the check that a rerun
    # makes on start (fail_dead_workers_trials, for a journal file), and only the
    # heartbeat can fail A's trial.
    running = watcher.wait(lambda trials: _fitting(trials, b.pid)
                           and _fitting(trials, a.pid), [a, b],
                           "both workers fitting a trial")
    a.kill()
    a.communicate(timeout=30)
    out, err = b.communicate(timeout=WAIT)
    assert b.returncode == 0, err[-3000:]
    assert "TRIALS" in out

    trials = watcher.trials()
    killed = next(t for t in trials if t.number == running.number)
    assert killed.state == TrialState.FAIL
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == killed.number]
    assert [t.params for t in retries] == [killed.params]
    assert retries[0].state in FINISHED
    assert retries[0].user_attrs["worker"].endswith(f":{b.pid}")
    _assert_study_is_whole(trials, n_trials)


def test_workers_survive_a_database_restart(server, tmp_path, slow_space, processes):
    """Check that two workers carry on through a restart of the database that
    leaves it down for 3 s (pg_ctl stop, then start: a plain `pg_ctl restart` is
    down for well under a second, often between two calls of the workers): both
    finish their search, and no trial finished before the restart is lost or
    changed.

    During the outage every call of a worker to the database fails; each is
    retried with back-off (AUTOIMB_STORAGE_RETRY_SECONDS, 25 s here), and the
    connections the server closed are replaced (pool_pre_ping)."""
    env = {"AUTOIMB_HEARTBEAT_SECONDS": "1", "AUTOIMB_HEARTBEAT_GRACE_SECONDS": "30",
           "AUTOIMB_STORAGE_RETRY_SECONDS": "25"}
    n_trials = 6
    watcher = Watcher(server.url, "restart")
    workers = [_slow_worker(processes, tmp_path, server.url, "restart", n_trials,
                            slow_space, env) for _ in range(2)]
    watcher.wait(lambda trials: sum(t.state in FINISHED for t in trials) >= 2
                 and any(_fitting(trials, w.pid) for w in workers),
                 workers, "2 trials finished and one running")
    before = {t.number: (t.state, t.value) for t in watcher.trials()
              if t.state in FINISHED}
    server.stop()
    time.sleep(3)
    server.start()
    for worker in workers:
        out, err = worker.communicate(timeout=WAIT)
        assert worker.returncode == 0, err[-3000:]
        assert "TRIALS" in out
    _assert_study_is_whole(watcher.trials(), n_trials, before)


def test_sigterm_fails_and_requeues_the_running_trial(server, tmp_path, slow_space,
                                                      processes):
    """Check that SIGTERM to an `autoimb fit` worker marks its running trial failed
    at once (not after a grace period) and queues its parameters again (a WAITING
    trial with retry_of), and that the command exits with status 143 and one line
    saying so, without writing a model."""
    command = _cli_fit(tmp_path, server.url, "term", 8, slow_space)
    env = {"AUTOIMB_HEARTBEAT_SECONDS": "1", "AUTOIMB_HEARTBEAT_GRACE_SECONDS": "30"}
    watcher = Watcher(server.url, "term")
    worker = _start(processes, command, env, cwd=tmp_path)
    running = watcher.wait(lambda trials: _fitting(trials, worker.pid), [worker],
                           "the worker fitting a trial")
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=WAIT)
    assert worker.returncode == 143, err[-3000:]
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    stopped_number = int(last.split("trial ")[1].split()[0])
    assert stopped_number >= running.number
    assert last == (f"autoimb: error: stopped by SIGTERM: trial {stopped_number} was "
                    "stopped (FAIL in Optuna) and queued again; run the same command "
                    "again to resume study 'term'.")
    assert not (tmp_path / "model.joblib").exists()

    trials = watcher.trials()
    stopped = next(t for t in trials if t.number == stopped_number)
    assert stopped.state == TrialState.FAIL
    assert stopped.user_attrs["error"] == "interrupted (SIGTERM); queued again"
    queued = [t for t in trials if t.user_attrs.get("retry_of") == stopped_number]
    assert [(t.state, t.system_attrs["fixed_params"]) for t in queued] == [
        (TrialState.WAITING, stopped.params)]
    assert not [t for t in trials if t.state == TrialState.RUNNING]


def test_worker_exits_clearly_when_the_database_stays_down(server, tmp_path,
                                                           slow_space, processes):
    """Check that an `autoimb fit` worker whose database stays down longer than
    it retries (3 s here) exits with status 75 and one line naming the storage
    and how to resume; and that the same command, once the database is back,
    resumes the study: the trial it was running is failed and run again, and no
    finished trial is lost."""
    command = _cli_fit(tmp_path, server.url, "down", 6, slow_space)
    env = {"AUTOIMB_HEARTBEAT_SECONDS": "1", "AUTOIMB_HEARTBEAT_GRACE_SECONDS": "30",
           "AUTOIMB_STORAGE_RETRY_SECONDS": "3"}
    watcher = Watcher(server.url, "down")
    worker = _start(processes, command, env, cwd=tmp_path)
    watcher.wait(lambda trials: any(t.state in FINISHED for t in trials)
                 and _fitting(trials, worker.pid), [worker],
                 "a trial finished and one running")
    before = {t.number: (t.state, t.value) for t in watcher.trials()
              if t.state in FINISHED}
    server.stop()
    try:
        _, err = worker.communicate(timeout=WAIT)
    finally:
        server.start()
    assert worker.returncode == 75, err[-3000:]
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"autoimb: error: The study storage {server.url} did not "
                           "answer for 3 s ("), last
    assert last.endswith("Finished trials are safe in the database; once it answers "
                         "again, run the same command to resume the study (set "
                         "AUTOIMB_STORAGE_RETRY_SECONDS to wait longer).")
    left = [t for t in watcher.trials() if t.state == TrialState.RUNNING]

    rerun = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                           timeout=WAIT, env={**os.environ, **env})
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    trials = watcher.trials()
    _assert_study_is_whole(trials, 6, before)
    for dead in left:  # the trial the worker was running, if it had one
        failed = next(t for t in trials if t.number == dead.number)
        assert failed.state == TrialState.FAIL
        assert "died while running this trial" in failed.user_attrs["error"]
        assert [t.params for t in trials
                if t.user_attrs.get("retry_of") == dead.number] == [dead.params]


def _default_sigint():
    # A background job of a non-interactive shell inherits SIGINT ignored.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_dashboard_serves_a_postgresql_study(server, processes):
    """Check that `autoimb dashboard postgresql://...` serves the studies of the
    database: its HTTP API lists a study created there."""
    optuna.create_study(storage=server.url, study_name="dash", load_if_exists=True)
    dashboard = _start(processes, [sys.executable, "-m", "autoimb.cli", "dashboard",
                                   server.url, "--wait", "30"],
                       preexec_fn=_default_sigint)
    line = dashboard.stdout.readline()
    assert line.startswith("autoimb dashboard: serving http://127.0.0.1:"), (
        line, dashboard.stderr.read() if dashboard.poll() is not None else "")
    root = line.split()[3].split("/dashboard")[0]
    with urllib.request.urlopen(f"{root}/api/studies", timeout=30) as response:
        names = [s["study_name"] for s in json.load(response)["study_summaries"]]
    assert "dash" in names
    dashboard.send_signal(signal.SIGINT)
    out, err = dashboard.communicate(timeout=30)
    assert dashboard.returncode == 0, err
    assert "stopped" in out
