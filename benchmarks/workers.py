"""Workers on one machine: what a second and a third process buy, threads against
processes, and what a study in PostgreSQL costs per trial against a journal file.

Three parts, each in fresh processes:

``processes``
    k = 1, 2, 3 ``autoimb worker`` processes are started on an empty journal
    file; the study is then created (fit's preparation step, no trial) with a
    budget of ``--budget`` seconds, and the workers run its trials until the
    study's deadline. Recorded: finished (completed + pruned) trials per minute
    between the study's creation and the last trial's end, and how long the
    workers took to start their first trial.
``threads``
    ``autoimb.fit(timeout=--budget)`` on a journal file, with ``n_jobs=1``, then
    ``n_jobs=2`` in threads and in processes. Recorded: finished trials, trials
    per minute of the search, wall time of the fit (search and refit).
``storage``
    The same seeded search of ``--overhead-trials`` quick trials (logistic
    regression on 600 rows, so that the storage's share shows) in memory, in a
    journal file and in PostgreSQL, rounds interleaved; the search's seconds per
    trial minus the in-memory figure is the storage's overhead per trial. Figures
    are turned off for all three (a journal study otherwise draws them, a
    PostgreSQL one cannot store them). PostgreSQL: ``--postgres URL``, or a
    throwaway server (initdb in a temporary folder, fsync on) when its binaries
    are in /usr/lib/postgresql/*/bin.

The search space of the first two parts is HistGradientBoosting of 100
iterations with searched learning rate, leaves and class weights, so that folds
cost about the same whichever the sampler proposes. Pruned trials stop after a
fold or two, so folds scored per minute measure the work done better than
trials do. On a machine that others use, a run gets only a share of the cores:
the CPU seconds of every process of a run from the study's creation or the start
of ``fit`` (``CPU share``: CPU seconds over wall seconds, at most the number of
cores; a worker process started by ``fit`` counts whole) and folds per
CPU-minute (the work done per CPU second, which load changes less) are recorded
too.

Run from the repository root (it uses both cores; note the load average)::

    python benchmarks/workers.py                          # mammography, 60 s runs
    python benchmarks/workers.py --parts storage --overhead-trials 40
    python benchmarks/workers.py --parts processes,threads --budget 30 --data yeast_me2

Writes benchmarks/results/workers.{md,json}.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (one thread per native pool, before numpy)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}

SPACE = """
description = "HistGradientBoosting of 100 iterations: trials of about equal cost"

[models.hist_gradient_boosting]
max_iter = 100
learning_rate = { type = "float", low = 0.03, high = 0.3, log = true }
max_leaf_nodes = { type = "int", low = 8, high = 64, log = true }
class_weight = ["none", "balanced"]

[resampling]
methods = ["none"]
"""

QUICK_SPACE = """
description = "Logistic regression only: quick trials, for the storage overhead"

[models.logistic_regression]
C = { type = "float", low = 0.001, high = 100.0, log = true }
class_weight = ["none", "balanced", "custom"]

[resampling]
methods = ["none"]

[calibration]
methods = ["none", "sigmoid"]
"""

FINISHED = ("COMPLETE", "PRUNED")

# A fit in a fresh process, timed; prints one JSON line.
FIT_CHILD = """
import json, resource, sys, time, warnings
sys.path.insert(0, {here!r})
from threshold_rules import load
import autoimb
name, space, storage, budget, n_jobs, parallel = sys.argv[1:7]
X, y = load(name)
warnings.simplefilter("ignore")
usage = resource.getrusage(resource.RUSAGE_SELF)
start = time.time()
model = autoimb.fit(X, y, search_space=space, fp_cost=1,
                    fn_cost=float((y == 0).sum() / (y == 1).sum()),
                    timeout=float(budget), n_jobs=int(n_jobs), parallel=parallel,
                    storage=storage, study_name="bench", random_state=0,
                    show_progress_bar=False)
print(json.dumps({{"start": start, "end": time.time(),
                  "cpu_before": usage.ru_utime + usage.ru_stime}}))
"""

# The search of a seeded fit, timed, figures off; prints one JSON line.
OVERHEAD_CHILD = """
import json, sys, time, warnings
import autoimb, autoimb.search.run as classifier
from sklearn.datasets import make_classification
space, storage, n_trials, name = sys.argv[1:5]
classifier.artifact_store_for = lambda location: None
timed = []
search = classifier.run_search
def run_search(*args, **kwargs):
    start = time.perf_counter()
    try:
        return search(*args, **kwargs)
    finally:
        timed.append(time.perf_counter() - start)
classifier.run_search = run_search
X, y = make_classification(n_samples=600, n_features=8, weights=[0.9], random_state=0)
warnings.simplefilter("ignore")
model = autoimb.fit(X, y, search_space=space, n_trials=int(n_trials), cv=3,
                    storage=storage, study_name=name, random_state=0,
                    ensemble_size=1, show_progress_bar=False)
print(json.dumps({"seconds": timed[0], "trials": len(model.results_)}))
"""


def _trials(storage: str, name: str = "bench"):
    sys.path.insert(0, str(REPO))
    import optuna

    from autoimb.storage.location import StorageLocation

    study = optuna.load_study(study_name=name, storage=StorageLocation.parse(
        storage).open(for_search=False))
    return study.get_trials(deepcopy=False)


def _finished(trials):
    return [t for t in trials if t.state.name in FINISHED]


def _cpu_seconds() -> float:
    """CPU seconds used so far by the children this process has waited for (and
    by the processes they waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid: int) -> float:
    """CPU seconds a running process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _with_cpu(row: dict, cpu: float, wall: float) -> dict:
    """``row`` with the CPU seconds of a run, the share of the machine's cores
    it obtained, and folds per CPU-minute (its efficiency, whatever the load)."""
    return {**row, "cpu_s": cpu, "cpu_share": cpu / wall,
            "folds_per_cpu_minute": row["folds"] / cpu * 60 if cpu > 0 else 0.0}


def _throughput(trials, since: float) -> dict:
    """Per minute from ``since`` to the last trial's end: completed trials,
    finished (completed or pruned) trials, and folds scored (the fairest
    measure of work: a trial pruned after one fold costs a fifth of one that
    completes); and the seconds from ``since`` to the first trial's start."""
    done = _finished(trials)
    if not done:
        return {"completed": 0, "finished": 0, "folds": 0, "completed_per_minute": 0.0,
                "finished_per_minute": 0.0, "folds_per_minute": 0.0,
                "first_trial_after_s": float("nan")}
    minutes = max(max(t.datetime_complete.timestamp() for t in done) - since,
                  1e-9) / 60
    completed = sum(t.state.name == "COMPLETE" for t in done)
    folds = sum(len(t.intermediate_values) for t in done)
    first = min(t.datetime_start.timestamp() for t in trials if t.datetime_start)
    return {"completed": completed, "finished": len(done), "folds": folds,
            "completed_per_minute": completed / minutes,
            "finished_per_minute": len(done) / minutes,
            "folds_per_minute": folds / minutes, "first_trial_after_s": first - since}


# -- part 1: k worker processes ---------------------------------------------------


def run_processes(k: int, name: str, budget: float, folder: Path) -> dict:
    import pandas as pd
    from threshold_rules import load

    from autoimb.search.budget import Budget
    from autoimb.search.run import SearchRun
    from autoimb.search.settings import SearchSettings
    from autoimb._validation import check_training_data

    X, y = load(name)
    data = folder / f"{name}.parquet"
    if not data.exists():
        pd.concat([X, y.rename("target")], axis=1).to_parquet(data)
    space = folder / "space.toml"
    journal = folder / f"workers{k}.journal"
    logs = [folder / f"worker{k}-{i}.log" for i in range(k)]
    workers = []
    for log in logs:
        with open(log, "w") as err:
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "autoimb.cli", "worker", "--storage",
                 str(journal), "--study", "bench", "--wait", "300"],
                stdout=subprocess.DEVNULL, stderr=err, env=ENV, cwd=folder))
    deadline = time.monotonic() + 300
    while not all("waiting up to" in log.read_text() for log in logs):
        if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
            raise RuntimeError(f"workers did not start: {logs[0].read_text()[-2000:]}")
        time.sleep(0.2)
    # The workers' start (imports, about 3 s of CPU each) is not counted.
    cpu = _cpu_seconds() + sum(_process_cpu(w.pid) for w in workers)
    frame = pd.read_parquet(data)
    X, y = frame.drop(columns="target"), frame["target"]
    settings = SearchSettings(
        str(space), fp_cost=1, fn_cost=float((y == 0).sum() / (y == 1).sum()),
        n_trials=10**6, timeout=budget, storage=str(journal), study_name="bench",
        random_state=0, show_progress_bar=False, data_location=str(data))
    created = time.time()
    SearchRun(settings, check_training_data(X, y), inputs=(X, y),
              budget=Budget(budget)).prepare()
    for worker in workers:
        worker.wait(timeout=budget + 300)
    wall = time.time() - created
    trials = _trials(str(journal))
    by_worker = {}
    for t in _finished(trials):
        by_worker[t.user_attrs["worker"]] = by_worker.get(t.user_attrs["worker"], 0) + 1
    return {"part": "processes", "workers": k,
            **_with_cpu(_throughput(trials, created), _cpu_seconds() - cpu, wall),
            "per_worker": sorted(by_worker.values()),
            "exit_codes": [w.returncode for w in workers],
            "load_after": [round(x, 2) for x in os.getloadavg()]}


# -- part 2: threads against processes ----------------------------------------------


def run_fit(mode: str, n_jobs: int, name: str, budget: float, folder: Path) -> dict:
    journal = folder / f"fit-{mode}.journal"
    cpu = _cpu_seconds()
    out = subprocess.run(
        [sys.executable, "-c", FIT_CHILD.format(here=str(HERE)), name,
         str(folder / "space.toml"), str(journal), str(budget), str(n_jobs),
         "processes" if mode == "processes" else "threads"],
        env=ENV, capture_output=True, text=True, check=True, cwd=folder)
    times = json.loads(out.stdout.splitlines()[-1])
    cpu += times["cpu_before"]  # the fit's imports and data reading: not counted
    trials = _trials(str(journal))
    wall = times["end"] - times["start"]
    return {"part": "threads", "mode": mode, "n_jobs": n_jobs,
            **_with_cpu(_throughput(trials, times["start"]), _cpu_seconds() - cpu,
                        wall),
            "wall_s": times["end"] - times["start"],
            "processes": len({t.user_attrs.get("worker") for t in _finished(trials)}),
            "load_after": [round(x, 2) for x in os.getloadavg()]}


# -- part 3: storage overhead per trial ---------------------------------------------


def _as_postgres(*command):
    runner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*runner, *command], check=True, capture_output=True, text=True)


@contextlib.contextmanager
def throwaway_postgres():
    """A PostgreSQL server in a temporary folder (fsync on), or None."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        yield None
        return
    folder = tempfile.mkdtemp(prefix="autoimb-bench-pg-")
    if os.geteuid() == 0:
        shutil.chown(folder, user="postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = os.path.join(folder, "data")
    _as_postgres(f"{bins[-1]}/initdb", "-D", data, "-A", "trust", "-U", "postgres")
    _as_postgres(f"{bins[-1]}/pg_ctl", "-D", data, "-w", "-l",
                 os.path.join(folder, "log"), "-o",
                 f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start")
    try:
        _as_postgres(f"{bins[-1]}/createdb", "-h", "127.0.0.1", "-p", str(port),
                     "-U", "postgres", "bench")
        yield f"postgresql://postgres@127.0.0.1:{port}/bench"
    finally:
        _as_postgres(f"{bins[-1]}/pg_ctl", "-D", data, "-w", "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def run_overhead(storages: dict, n_trials: int, rounds: int, folder: Path) -> list:
    space = folder / "quick.toml"
    space.write_text(QUICK_SPACE)
    rows = []
    for r in range(rounds):
        for kind, storage in storages.items():
            out = subprocess.run(
                [sys.executable, "-c", OVERHEAD_CHILD, str(space), storage(r),
                 str(n_trials), f"overhead-{r}"],
                env=ENV, capture_output=True, text=True, check=True, cwd=folder)
            row = {"part": "storage", "storage": kind, "round": r,
                   **json.loads(out.stdout.splitlines()[-1])}
            row["per_trial_ms"] = row["seconds"] / row["trials"] * 1000
            rows.append(row)
            print(row, flush=True)
    return rows


# -- report ---------------------------------------------------------------------------


_HEADS = ["completed", "finished", "folds", "completed /min", "finished /min",
          "folds /min", "CPU share", "folds per CPU-min"]


def _cells(row) -> list:
    return [row["completed"], row["finished"], row["folds"],
            *(f"{row[k]:.1f}" for k in ("completed_per_minute", "finished_per_minute",
                                         "folds_per_minute")),
            f"{row['cpu_share']:.2f}", f"{row['folds_per_cpu_minute']:.1f}"]


def report(env, args, rows) -> str:
    from _common import environment_line, markdown_table

    lines = ["# Workers on one machine", "",
             f"Run: {environment_line(env)}; data {args.data}; budget "
             f"{args.budget:.0f} s per run.", "",
             f"Command: `python benchmarks/workers.py {' '.join(sys.argv[1:])}`", ""]
    processes = [r for r in rows if r["part"] == "processes"]
    if processes:
        lines += ["## Worker processes on one study (journal file)", "",
                  markdown_table(
                      ["workers", *_HEADS, "first trial after s",
                       "finished per worker", "load after"],
                      [[r["workers"], *_cells(r), f"{r['first_trial_after_s']:.1f}",
                        r["per_worker"], r["load_after"]] for r in processes],
                      "rrrrrrrrrrll"), ""]
    fits = [r for r in rows if r["part"] == "threads"]
    if fits:
        lines += ["## Threads against processes (`fit`, journal file)", "",
                  markdown_table(
                      ["mode", "n_jobs", *_HEADS, "processes seen", "fit wall s",
                       "load after"],
                      [[r["mode"], r["n_jobs"], *_cells(r), r["processes"],
                        f"{r['wall_s']:.1f}", r["load_after"]] for r in fits],
                      "lrrrrrrrrrrrl"), ""]
    storage = [r for r in rows if r["part"] == "storage"]
    if storage:
        import numpy as np

        kinds = list(dict.fromkeys(r["storage"] for r in storage))
        median = {k: float(np.median([r["per_trial_ms"] for r in storage
                                      if r["storage"] == k])) for k in kinds}
        lines += ["## Storage overhead per trial (seeded search, quick trials)", "",
                  markdown_table(
                      ["storage", "search ms per trial (median of rounds)",
                       "each round", "overhead vs memory ms"],
                      [[k, f"{median[k]:.0f}",
                        ", ".join(f"{r['per_trial_ms']:.0f}" for r in storage
                                  if r["storage"] == k),
                        f"{median[k] - median['memory']:.0f}" if "memory" in median
                        else "-"] for k in kinds], "lrlr"), ""]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="processes,threads,storage")
    parser.add_argument("--data", default="mammography")
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--overhead-trials", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default="auto",
                        help="a database URL, 'auto' (a throwaway server) or 'none'")
    parser.add_argument("--out", default="workers")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(REPO))
    from _common import RESULTS_DIR, environment, write_json

    env = environment()
    parts = args.parts.split(",")
    rows = []
    folder = Path(tempfile.mkdtemp(prefix="autoimb-bench-workers-"))
    (folder / "space.toml").write_text(SPACE)

    def save():
        write_json(RESULTS_DIR / f"{args.out}.json",
                   {"environment": env, "args": vars(args), "rows": rows})
        (RESULTS_DIR / f"{args.out}.md").write_text(report(env, args, rows))

    try:
        if "processes" in parts:
            for k in map(int, args.workers.split(",")):
                rows.append(run_processes(k, args.data, args.budget, folder))
                print(rows[-1], flush=True)
                save()
        if "threads" in parts:
            for mode, n_jobs in (("serial", 1), ("threads", 2), ("processes", 2)):
                rows.append(run_fit(mode, n_jobs, args.data, args.budget, folder))
                print(rows[-1], flush=True)
                save()
        if "storage" in parts:
            with contextlib.ExitStack() as stack:
                url = args.postgres
                if url == "auto":
                    url = stack.enter_context(throwaway_postgres())
                storages = {"memory": lambda r: "memory",
                            "journal": lambda r: str(folder / f"overhead-{r}.journal")}
                if url and url != "none":
                    storages["postgresql"] = lambda r: url
                rows.extend(run_overhead(storages, args.overhead_trials, args.rounds,
                                         folder))
                save()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
