"""Workers on several processes share one study in a real PostgreSQL server.

A throwaway server is started for the module (initdb as the postgres user, on
loopback, in a temporary folder) and stopped afterwards.
"""

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap

import optuna
import pytest

pytestmark = pytest.mark.timeout(300)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(*command, **kwargs):
    runner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*runner, *command], check=True, capture_output=True,
                          text=True, **kwargs)


@pytest.fixture(scope="module")
def postgres_url():
    """URL of a fresh database on a throwaway PostgreSQL server."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        pytest.skip("PostgreSQL server binaries are not installed")
    pytest.importorskip("psycopg")
    bin_dir = bins[-1]
    folder = tempfile.mkdtemp(prefix="autoimb-pg-")
    if os.geteuid() == 0:
        shutil.chown(folder, user="postgres")
    data, port = os.path.join(folder, "data"), _free_port()
    _as_postgres(f"{bin_dir}/initdb", "-D", data, "--no-sync", "-A", "trust",
                 "-U", "postgres")
    _as_postgres(f"{bin_dir}/pg_ctl", "-D", data, "-w", "-l",
                 os.path.join(folder, "log"), "-o",
                 f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off",
                 "start")
    try:
        _as_postgres(f"{bin_dir}/createdb", "-h", "127.0.0.1", "-p", str(port),
                     "-U", "postgres", "autoimb")
        yield f"postgresql://postgres@127.0.0.1:{port}/autoimb"
    finally:
        _as_postgres(f"{bin_dir}/pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


WORKER = textwrap.dedent("""
    import sys
    import autoimb
    from sklearn.datasets import make_classification
    X, y = make_classification(n_samples=1500, weights=[0.9], random_state=0)
    model = autoimb.fit(X, y, search_space="fast", n_trials=int(sys.argv[2]), cv=3,
                        storage=sys.argv[1], study_name="shared", random_state=None,
                        show_progress_bar=False)
    print("best", model.best_score_)
""")


def test_workers_share_one_study(postgres_url, tmp_path):
    """Check that two worker processes started together on one PostgreSQL study
    split the trials between them and both end with the study's best model."""
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
    recipes = [t.user_attrs.get("recipe") for t in study.trials if "recipe" in t.user_attrs]
    assert len(recipes) == len(set(recipes))
    bests = {float(out.split()[-1]) for out, _ in outputs}
    assert min(bests) <= study.best_value  # the best trial, or a better blend


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
