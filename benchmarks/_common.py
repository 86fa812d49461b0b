"""Helpers shared by the benchmark scripts: one-core setup, environment, Markdown.

Import this module before numpy, scikit-learn or autoimb: it caps the native
thread pools (OpenMP, BLAS) at one thread unless the caller already set them,
so that a benchmark uses one core and the timings of different runs compare.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import datetime as _dt
import json
import math
import platform
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
REPO_DIR = BENCH_DIR.parent


def protocol_split(X, y, seed: int):
    """Issue 9's protocol: a stratified 75/25 train/test split for ``seed``,
    fp_cost 1 and fn_cost the training part's imbalance ratio.

    Returns ``X_train, X_test, y_train, y_test, fp_cost, fn_cost``.
    """
    from sklearn.model_selection import train_test_split

    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y,
                                              random_state=seed)
    return X_tr, X_te, y_tr, y_te, 1.0, float((y_tr == 0).sum() / (y_tr == 1).sum())


def speed_probe() -> dict:
    """Seconds this machine takes, now, for two fixed pieces of work on one core:
    a pure-Python loop and a random forest (100 trees, 5,000 rows, 20 columns).

    The same code and seed completed about half as many trials on 2026-12-03 as
    on 2026-12-02 (ecoli_imu: 16 against 34), and the same five-fold forest
    trial took 24.3 s on coil2000 against 13.7 s: the machine, shared with
    others, ran slower. Trial counts and times of runs on different days compare
    only through this probe.
    """
    import time

    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    start = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    python_s = time.perf_counter() - start
    X, y = make_classification(n_samples=5000, n_features=20, random_state=0)
    start = time.perf_counter()
    RandomForestClassifier(100, n_jobs=1, random_state=0).fit(X, y)
    return {"python_loop_s": round(python_s, 3),
            "random_forest_s": round(time.perf_counter() - start, 3)}


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc/<pid>/task/*/children (Linux)."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo.extend(int(child) for child in children.read().split())
            except OSError:
                continue
    return tree


def proc_field_kb(path: str, field: str) -> int:
    """The kB of ``field`` (e.g. ``"VmRSS:"`` in /proc/PID/status, ``"Pss:"`` in
    /proc/PID/smaps_rollup); 0 when the process ended meanwhile."""
    try:
        with open(path) as lines:
            for line in lines:
                if line.startswith(field):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def environment() -> dict:
    """Versions, machine and repository state, for the results files."""
    import lightgbm
    import numpy
    import optuna
    import pandas
    import sklearn

    import autoimb

    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=REPO_DIR, capture_output=True,
                                  text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "autoimb",
                "search_spaces")
    return {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "autoimb": autoimb.__version__,
        "git_commit": git("rev-parse", "--short", "HEAD"),
        "library_uncommitted_changes": bool(dirty),
        "library_changed_files": [line.split(maxsplit=1)[-1]
                                  for line in dirty.splitlines()],
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "speed_probe": speed_probe(),
        "scikit-learn": sklearn.__version__,
        "optuna": optuna.__version__,
        "lightgbm": lightgbm.__version__,
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
    }


def environment_line(env: dict) -> str:
    dirty = (" + uncommitted changes to " + ", ".join(env["library_changed_files"])
             if env["library_uncommitted_changes"] else "")
    return (f"{env['date']}; {env['cpu_count']} cores, OMP_NUM_THREADS="
            f"{env['omp_num_threads']}; Python {env['python']}; autoimb "
            f"{env['autoimb']} (git {env['git_commit']}{dirty}); scikit-learn "
            f"{env['scikit-learn']}, optuna {env['optuna']}, lightgbm {env['lightgbm']}; "
            f"load average at start {env['load_average_at_start']}"
            + (f"; speed probe {env['speed_probe']}" if "speed_probe" in env else ""))


def fmt(value, spec=",.0f") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if isinstance(value, (int, float)):
        return format(value, spec)
    return str(value)


def markdown_table(headers, rows, align=None) -> str:
    """A GitHub Markdown table; ``align`` is a string of 'l'/'r' per column."""
    align = align or "l" * len(headers)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(sep) + " |"]
    for row in rows:
        cells = [str(c).replace("|", "\\|").replace("\n", " ") for c in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value):
    try:
        import numpy as np

        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            value = float(value)
            return value if math.isfinite(value) else None
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, np.bool_):
            return bool(value)
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    return str(value)


ROW_MARK = "benchmark row: "


def row_from_fresh_process(script, *args) -> dict:
    """Run ``script --one ...`` in a new Python process (so that its memory
    starts clean) and return the row it printed after ``ROW_MARK``, as JSON."""
    child = subprocess.run([sys.executable, str(script), "--one", *map(str, args)],
                           capture_output=True, text=True, check=True)
    return json.loads(next(line[len(ROW_MARK):] for line in child.stdout.splitlines()
                           if line.startswith(ROW_MARK)))


def trial_table(model):
    """``model.results_`` with each trial's wall duration (seconds) added."""
    import pandas as pd

    table = model.results_.copy()
    durations = {}
    for trial in model.study_.get_trials(deepcopy=False):
        if trial.datetime_start is not None and trial.datetime_complete is not None:
            durations[trial.number] = (trial.datetime_complete
                                       - trial.datetime_start).total_seconds()
    table.insert(3, "seconds", table["number"].map(durations).astype(float))
    return table if isinstance(table, pd.DataFrame) else pd.DataFrame(table)


def trial_counts(model) -> dict:
    """Finished trials by state; ``total`` counts complete + pruned + failed.

    Queued recipe trials that never ran stay WAITING and are counted apart.
    """
    states = model.results_["state"].value_counts().to_dict()
    done = {k: int(states.get(k.upper(), 0)) for k in ("complete", "pruned", "fail")}
    return {"total": sum(done.values()), "complete": done["complete"],
            "pruned": done["pruned"], "failed": done["fail"],
            "waiting": int(states.get("WAITING", 0)),
            "other": int(len(model.results_) - sum(done.values())
                         - states.get("WAITING", 0))}
