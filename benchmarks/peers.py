"""autoimb against its peers: held-out cost on every shared data set, one command.

Every fit runs in a fresh process (``peers_systems.py``, the system's own venv
for FLAML and AutoGluon) on the training part of a stratified 75/25 split, with
fp_cost = 1 and fn_cost = the training part's negatives per positive, and is
scored on the test part. One row per finished fit is appended to
``results/peers/<run-name>/fits.csv`` at once; a rerun skips the fits already
there, so a killed run resumes. ``summary.md`` and the plots are rewritten after
every fit. See the "Peers" section of benchmarks/README.md.

Run from the repository root with the project's Python::

    python benchmarks/peers.py                                 # all 20 sets, 60 s
    python benchmarks/peers.py --small --budgets 30,60,120 --seeds 0,1,2,3
    python benchmarks/peers.py --budget 5 --only ecoli_imu,car_vgood \\
        --systems hgb_default,autoimb --run-name smoke
    python benchmarks/peers.py --autoimb-path ../old-checkout --systems autoimb \\
        --run-name before
    python benchmarks/peers.py --report-only smoke
"""

from __future__ import annotations

import os

# The fits may use both cores: give them the environment as it was before
# _common (imported below) caps the native thread pools of this process.
CHILD_ENV = dict(os.environ)

import argparse
import contextlib
import csv
import ctypes
import dataclasses
import datetime as dt
import json
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import peers_report
import peers_systems
import splits
from _common import BENCH_DIR, REPO_DIR, RESULTS_DIR, speed_probe, write_json
from peers_systems import AUTOIMB_OPTIONS_VAR, SMALL, SYSTEMS

PEERS_DIR = RESULTS_DIR / "peers"
WORKER = BENCH_DIR / "peers_systems.py"
COLUMNS = [
    "dataset", "seed", "system", "budget", "status", "error",
    "n_train", "pos_train", "n_test", "pos_test", "fp_cost", "fn_cost",
    "cost", "fp", "fn", "normalized_cost", "reported_normalized_cost", "optimism",
    "reported_raw_normalized_cost", "ap", "f1", "recall", "precision",
    "fit_seconds", "threshold_seconds", "predict_seconds", "process_seconds",
    "overran_budget", "peak_rss_mb", "rss_before_fit_mb", "trials",
    "trials_completed", "trials_fitted", "trials_queued", "trials_proposed_completed",
    "config",
    "versions", "python", "load_average", "finished_at", "log",
]


@dataclasses.dataclass(frozen=True)
class Fit:
    dataset: str
    seed: int
    system: str  # a key of SYSTEMS
    budget: float | None  # None: the system has no budget
    name: str  # the CSV's ``system`` value: the system, or --autoimb-name

    @property
    def key(self) -> tuple:
        return (self.dataset, self.seed, self.name, budget_key(self.budget))

    @property
    def label(self) -> str:
        budget = "" if self.budget is None else f" budget {budget_key(self.budget)} s"
        return f"{self.dataset} seed {self.seed} {self.name}{budget}"


def budget_key(value) -> str:
    """The budget as written in the CSV: '' for systems without one."""
    if value is None or value == "" or (isinstance(value, float) and np.isnan(value)):
        return ""
    return f"{float(value):g}"


# -- the plan -------------------------------------------------------------------------

def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Systems: " + ", ".join(SYSTEMS) + ". Small sets (--small): "
               + ", ".join(SMALL) + ".")
    parser.add_argument("--run-name", default="default",
                        help="folder under benchmarks/results/peers/ "
                             "(default: %(default)s)")
    parser.add_argument("--budget", type=float, default=60,
                        help="seconds per fit for systems with a budget (default 60)")
    parser.add_argument("--budgets", help="several budgets, e.g. 30,60,120 "
                        "(overrides --budget)")
    parser.add_argument("--seeds", default="0", help="split seeds, e.g. 0,1,2,3")
    parser.add_argument("--evaluation", type=Path, metavar="DECISIONS.md",
                        help="run autoimb on evaluation splits (seeds >= "
                             f"{splits.EVALUATION_START}), testing the committed "
                             "decision record DECISIONS.md; see splits.py")
    parser.add_argument("--only", help="comma-separated data sets")
    parser.add_argument("--small", action="store_true",
                        help="only the six small data sets")
    parser.add_argument("--systems", help="comma-separated systems (default: all)")
    parser.add_argument("--autoimb-path", type=Path,
                        help="import autoimb from this checkout (default: this one)")
    parser.add_argument("--autoimb-name", default="autoimb",
                        help="the 'system' value of autoimb's rows, e.g. "
                             "autoimb_before with --autoimb-path (default: autoimb)")
    parser.add_argument("--autoimb-options", metavar="JSON",
                        help="keyword arguments added to autoimb.fit, e.g. "
                             "'{\"n_jobs\": 1}' (with --autoimb-name to tell the "
                             "rows apart; default: none, autoimb's defaults)")
    parser.add_argument("--retry-errors", action="store_true",
                        help="rerun the planned fits whose row is an error")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the fits still to run and exit")
    parser.add_argument("--report-only", metavar="RUN_NAME",
                        help="rewrite summary.md and the plots of a run and exit")
    args = parser.parse_args(argv)
    args.budgets = ([float(b) for b in args.budgets.split(",")] if args.budgets
                    else [args.budget])
    if args.autoimb_options:  # refused here, not by every fit of the run
        try:
            options = json.loads(args.autoimb_options)
        except json.JSONDecodeError as exc:
            parser.error(f"--autoimb-options is not JSON ({exc})")
        if not isinstance(options, dict):
            parser.error("--autoimb-options must be a JSON object of keyword "
                         "arguments, e.g. '{\"n_jobs\": 1}'")
    args.seeds = [int(s) for s in args.seeds.split(",")]
    try:
        args.split_kind = splits.kind(args.seeds)
    except ValueError as exc:
        parser.error(str(exc))
    args.systems = _choose(args.systems, list(SYSTEMS), "system")
    names = peers_systems.dataset_names()
    chosen = args.only or (",".join(SMALL) if args.small else None)
    args.datasets = _choose(chosen, names, "data set")
    if args.autoimb_path is not None:
        args.autoimb_path = args.autoimb_path.resolve()
        if not (args.autoimb_path / "autoimb" / "__init__.py").is_file():
            parser.error(f"--autoimb-path {args.autoimb_path} has no "
                         "autoimb/__init__.py")
    return args


def _choose(text: str | None, known: list[str], what: str) -> list[str]:
    if not text:
        return known
    chosen = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in chosen if t not in known]
    if unknown:
        sys.exit(f"Unknown {what}(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return chosen


def plan(args, n_rows: dict[str, int]) -> list[Fit]:
    """Budgets first, then seeds, then data sets from small to large, then systems.

    A system without a budget is fitted once per (data set, seed), and the report
    shows that fit at every budget.
    """
    fits = []
    datasets = sorted(args.datasets, key=lambda name: n_rows[name])
    for i, budget in enumerate(args.budgets):
        for seed in args.seeds:
            for dataset in datasets:
                for system in args.systems:
                    name = args.autoimb_name if system == "autoimb" else system
                    if SYSTEMS[system].uses_budget:
                        fits.append(Fit(dataset, seed, system, budget, name))
                    elif i == 0:
                        fits.append(Fit(dataset, seed, system, None, name))
    return fits


def interpreter(system: str) -> Path | None:
    """The Python of the system's venv, the current one, or None if missing."""
    venv = SYSTEMS[system].venv
    if venv is None:
        return Path(sys.executable)
    python = BENCH_DIR / venv / "bin" / "python"
    return python if python.exists() else None


# -- one fit in its own process ------------------------------------------------------

def split_file(run_dir: Path, dataset: str, seed: int) -> Path:
    """The split's row indices, computed once here and read by every worker."""
    path = run_dir / "splits" / f"{dataset}__seed{seed}.npz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        train, test = peers_systems.split_indices(peers_systems.load_target(dataset),
                                                  seed)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz",
                                         delete=False) as tmp:
            np.savez(tmp, train=train, test=test)
        Path(tmp.name).replace(path)
    return path


def run_fit(fit: Fit, args, run_dir: Path) -> dict:
    python = interpreter(fit.system)
    budget_limit = fit.budget if fit.budget is not None else max(args.budgets)
    limit = budget_limit * 3 + 120
    log = run_dir / "logs" / (f"{fit.dataset}__{fit.name}__b{budget_key(fit.budget)}"
                              f"__s{fit.seed}.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    row = {"dataset": fit.dataset, "seed": fit.seed, "system": fit.name,
           "budget": budget_key(fit.budget),
           "python": _python_label(python),
           "load_average": round(os.getloadavg()[0], 2),
           "log": str(log.relative_to(run_dir))}
    with tempfile.TemporaryDirectory(prefix="peers-job-") as tmp:
        job, result = Path(tmp) / "job.json", Path(tmp) / "result.json"
        job.write_text(json.dumps({
            "dataset": fit.dataset, "seed": fit.seed, "system": fit.system,
            "budget": fit.budget,
            "split_file": str(split_file(run_dir, fit.dataset, fit.seed)),
            # scratch (autoimb's journal, AutoGluon's models), removed with tmp even
            # when the worker is killed
            "workdir": str(Path(tmp) / "work")}))
        start = time.perf_counter()
        with log.open("w") as out:
            out.write(f"# {fit.label}: {python} {WORKER.name}\n")
            out.flush()
            status, tree_peak_mb, killed = _run_worker(
                [str(python), str(WORKER), str(job), str(result)],
                _child_env(fit.system, args), out, limit)
        row["process_seconds"] = time.perf_counter() - start
        if result.exists():
            row.update(json.loads(result.read_text()))
    # The worker's own exact peak, or the sampled peak of its process tree if larger
    row["peak_rss_mb"] = max(tree_peak_mb, row.pop("worker_peak_rss_mb", 0) or 0)
    if killed:
        row.update(status="error", error=f"killed after {limit:.0f} s "
                   "(the limit is budget * 3 + 120 s)")
        row.setdefault("fit_seconds", row["process_seconds"])
    elif "status" not in row:
        code = os.waitstatus_to_exitcode(status)
        row.update(status="error",
                   error=f"worker exited with {code} and no result: {_last_line(log)}")
    if fit.budget is not None and row.get("fit_seconds") is not None:
        row["overran_budget"] = bool(row["fit_seconds"] > 1.1 * fit.budget)
    row["finished_at"] = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    return row


def _run_worker(command, env, out, limit: float):
    """Run the worker; return (wait status, peak MB of its process tree, killed).

    The peak is sampled every 0.2 s: the sum of the resident memory of the worker
    and its descendants (joblib or AutoGluon worker processes).
    """
    proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                            cwd=BENCH_DIR, start_new_session=True,
                            preexec_fn=_die_with_parent)
    start = time.monotonic()
    killed = False
    peak_kb = 0
    try:
        while True:
            pid, status, _ = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak_kb = max(peak_kb, _tree_rss_kb(proc.pid))
            if not killed and time.monotonic() - start > limit:
                _kill_group(proc.pid)
                killed = True
            time.sleep(0.2)
    except BaseException:  # Ctrl-C: take the fit down with us, write no row
        _kill_group(proc.pid)
        with contextlib.suppress(ChildProcessError):
            os.wait4(proc.pid, 0)
        raise
    finally:
        proc.returncode = 0  # reaped by wait4 above; keep Popen from waiting again
    return status, peak_kb / 1024, killed


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants (Linux /proc), kB."""
    total, stack = 0, [pid]
    while stack:
        here = Path("/proc") / str(stack.pop())
        try:
            status = (here / "status").read_text()
            total += next((int(line.split()[1]) for line in status.splitlines()
                           if line.startswith("VmRSS:")), 0)
            for task in (here / "task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return total


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _die_with_parent() -> None:
    """In the worker: get SIGKILL if the runner dies (Linux prctl), so no orphan
    keeps a core busy after the runner was killed."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PDEATHSIG


def _child_env(system: str, args) -> dict:
    env = dict(CHILD_ENV)
    if system == "autoimb":
        path = str(args.autoimb_path or REPO_DIR)
        env["PYTHONPATH"] = os.pathsep.join(
            [path, *filter(None, [env.get("PYTHONPATH")])])
        if args.autoimb_options:
            env[AUTOIMB_OPTIONS_VAR] = args.autoimb_options
    return env


def _python_label(python: Path) -> str:
    venv = python.parent.parent
    return venv.name if venv.parent == BENCH_DIR else str(python)


def _last_line(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines()
             if line.strip()]
    return lines[-1][:300] if lines else "(empty log)"


# -- the CSV -------------------------------------------------------------------------

def read_fits(path: Path) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame(columns=COLUMNS)
    return pd.read_csv(path, keep_default_na=True, dtype={"budget": str})


def done_keys(fits: pd.DataFrame, *, errors: bool = True) -> set[tuple]:
    """Keys of the rows in fits.csv (without the error rows if not ``errors``)."""
    return {(r.dataset, int(r.seed), r.system, budget_key(_float_or_none(r.budget)))
            for r in fits.itertuples() if errors or r.status != "error"}


def _float_or_none(value):
    try:
        return None if pd.isna(value) or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def append_row(path: Path, row: dict) -> None:
    """Append one row; rewrite the file if its header is not today's columns."""
    columns = COLUMNS + sorted(set(row) - set(COLUMNS))
    if path.exists():
        with path.open(newline="") as f:
            header = next(csv.reader(f), [])
        if header != columns:
            table = pd.concat([read_fits(path), pd.DataFrame([row])], ignore_index=True)
            ordered = [c for c in columns if c in table] + [
                c for c in table if c not in columns]
            _write_atomic(path, table[ordered])
            return
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as f:
            csv.writer(f).writerow(columns)
    with path.open("a", newline="") as f:
        csv.DictWriter(f, fieldnames=columns).writerow(
            {k: _cell(row.get(k)) for k in columns})


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def _write_atomic(path: Path, table: pd.DataFrame) -> None:
    tmp = path.with_suffix(".csv.tmp")
    table.to_csv(tmp, index=False)
    tmp.replace(path)


def drop_errors(path: Path, fits: list[Fit]) -> int:
    table = read_fits(path)
    if table.empty:
        return 0
    planned = {f.key for f in fits}
    keys = [(r.dataset, int(r.seed), r.system, budget_key(_float_or_none(r.budget)))
            for r in table.itertuples()]
    drop = np.array([k in planned and s == "error"
                     for k, s in zip(keys, table["status"], strict=True)], dtype=bool)
    if drop.any():
        _write_atomic(path, table[~drop])
    return int(drop.sum())


# -- main ----------------------------------------------------------------------------

def describe(row: dict) -> str:
    if row.get("status") != "ok":
        return f"ERROR {row.get('error')}"
    parts = [f"normalized cost {row['normalized_cost']:.4f}"]
    if row.get("reported_normalized_cost") is not None:
        parts.append(f"(reported {row['reported_normalized_cost']:.4f})")
    parts.append(f"AP {row['ap']:.3f}, {row['fit_seconds']:.1f} s, "
                 f"{row['peak_rss_mb']:.0f} MB")
    if row.get("trials") is not None:
        parts.append(f"{row['trials']} trials")
    if row.get("trials_completed") is not None:
        fitted = (f", {row['trials_fitted']} fitted a fold"
                  if row.get("trials_fitted") is not None else "")
        proposed = (f", {row['trials_proposed_completed']} of them proposed by the "
                    f"search, {row['trials_queued']} queued"
                    if row.get("trials_queued") is not None else "")
        parts.append(f"({row['trials_completed']} completed{fitted}{proposed})")
    return " ".join(parts)


def write_run_info(run_dir: Path, args) -> None:
    def git(path, *command):
        try:
            return subprocess.run(["git", "-C", str(path), *command], text=True,
                                   capture_output=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    autoimb_path = args.autoimb_path or REPO_DIR
    info_path = run_dir / "run.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {"starts": []}
    info["starts"].append({
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "argv": sys.argv[1:], "cpu_count": os.cpu_count(),
        "splits": args.split_kind,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "speed_probe": speed_probe(),
        "python": platform.python_version(), "platform": platform.platform(),
        "benchmark_git_commit": git(REPO_DIR, "rev-parse", "--short", "HEAD"),
        "autoimb_path": str(autoimb_path),
        "autoimb_git_commit": git(autoimb_path, "rev-parse", "--short", "HEAD"),
        "autoimb_uncommitted_changes": bool(git(autoimb_path, "status", "--porcelain",
                                                "--untracked-files=no", "--",
                                                "autoimb", "search_spaces")),
        "interpreters": {s: _python_label(p) if (p := interpreter(s)) else None
                         for s in SYSTEMS},
    })
    write_json(info_path, info)


def main(argv=None) -> int:
    try:
        return run(parse_args(argv))
    except KeyboardInterrupt:
        print("\nInterrupted: the fit in progress was stopped and left no row; the "
              "same command resumes.", file=sys.stderr)
        return 130


def run(args) -> int:
    if args.report_only:
        run_dir = PEERS_DIR / args.report_only
        if not (run_dir / "fits.csv").exists():
            sys.exit(f"No {run_dir / 'fits.csv'}: nothing to report.")
        peers_report.write_report(run_dir)
        print(f"Wrote {run_dir / 'summary.md'} and {run_dir / 'plots'}/")
        return 0
    run_dir = PEERS_DIR / args.run_name
    csv_path = run_dir / "fits.csv"
    n_rows = {name: len(peers_systems.load_target(name)) for name in args.datasets}
    fits = plan(args, n_rows)
    missing = [s for s in args.systems if interpreter(s) is None]
    for system in missing:
        print(f"{system}: skipped, {BENCH_DIR / SYSTEMS[system].venv} does not exist "
              f"(run: bash benchmarks/setup_peers.sh); no row is written, a later run "
              "fills it in", flush=True)
    done = done_keys(read_fits(csv_path), errors=not args.retry_errors)
    n_done = sum(f.key in done for f in fits)
    todo = [f for f in fits if f.key not in done and f.system not in missing]
    print(f"{run_dir}: {len(fits)} fits planned, {n_done} already in fits.csv, "
          f"{len(fits) - n_done - len(todo)} skipped, {len(todo)} to run", flush=True)
    if args.dry_run:
        for fit in todo:
            print("  " + fit.label)
        return 0
    if args.retry_errors:
        print(f"Dropped {drop_errors(csv_path, fits)} error rows to retry", flush=True)
    if "autoimb" in args.systems and (args.split_kind == "evaluation"
                                      or args.evaluation is not None):
        if args.evaluation is None:
            sys.exit(f"--seeds {','.join(map(str, args.seeds))} are evaluation splits: "
                     "autoimb runs on them only with --evaluation DECISIONS.md, the "
                     "committed record of what was decided on development splits "
                     "(see benchmarks/splits.py); to compare or decide, use seeds "
                     f"below {splits.EVALUATION_START}.")
        splits.claim(args.seeds, autoimb_path=args.autoimb_path or REPO_DIR,
                     decisions=args.evaluation, run_name=args.run_name)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_run_info(run_dir, args)
    for i, fit in enumerate(todo, 1):
        print(f"[{i}/{len(todo)}] {fit.label} ...", end=" ", flush=True)
        row = run_fit(fit, args, run_dir)
        append_row(csv_path, row)
        print(describe(row), flush=True)
        try:
            peers_report.write_report(run_dir)
        except Exception as exc:  # a report bug must not stop the fits
            print(f"  (report failed: {type(exc).__name__}: {exc})", flush=True)
    if csv_path.exists():
        peers_report.write_report(run_dir)
        print(f"Wrote {csv_path}, {run_dir / 'summary.md'} and {run_dir / 'plots'}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
