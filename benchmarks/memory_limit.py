"""A search in a container short of memory: the default n_jobs against two trials at once.

Each fit runs in a fresh Python process placed, before it imports anything, in
a new memory control group (cgroup v1 or v2) limited to ``--limit`` MB, as a
container's limit would; its worker processes start in the same group. The
data: the benchmark's stratified 75/25 split (seed 0) of covertype_4v2 and
kddcup_http, fp_cost 1 and fn_cost the training part's imbalance ratio,
``autoimb.fit(..., timeout=--budget)``. Settings compared:

- ``n_jobs=2``: two trials at once in the fitting process and a worker process,
  what the default ran on this 2-core machine before the memory check;
- the default (``n_jobs=None``), which counts the memory the group leaves
  (:mod:`autoimb.search.memory`);
- ``--no-limit`` adds the default without a limit, for the trials and the
  held-out cost that the memory check gives up.

``--space oversampling`` searches only HistGradientBoosting and LightGBM after
an over-sampler to ratio 0.5-1.0, where most trials nearly double a large
set's training rows: the trials that a container short of memory cannot
hold, which the per-trial memory check is for.

Per fit: how it ended (its exit code; -9 is a kill), ``n_jobs_``, trials,
wall time, the group's peak memory (``memory.max_usage_in_bytes`` or
``memory.peak``) and how often it hit its limit, the warning autoimb gave, and
the held-out normalized cost. Needs root (to create control groups); one fit
at a time, nothing else on the machine.

    python benchmarks/memory_limit.py                 # both sets, 700 MB, 60 s
    python benchmarks/memory_limit.py --only kddcup_http --limit 600
    python benchmarks/memory_limit.py --cases 1:none,2:none --out memory_unlimited
    python benchmarks/memory_limit.py --only covertype_4v2 --space oversampling \
        --cases default:450 --out memory_oversampling

Writes benchmarks/results/memory_limit.{md,json} (``--out`` names them) after
every fit; the same command again, at the same commit, runs only the fits not
yet written, so runs with other ``--only``/``--cases`` add rows to the same
tables (and runs at another commit add theirs beside the older rows).
"""

from __future__ import annotations

import os

# autoimb's defaults, not the one-thread cap of the other benchmarks (_common).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, str(os.cpu_count()))

import argparse
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

from _common import RESULTS_DIR, ROW_MARK, environment, environment_line, markdown_table

DATASETS = ("covertype_4v2", "kddcup_http")
#: ``--space`` choices: the default space, or over-sampling only.
SPACES = {
    "default": None,
    "oversampling": {
        "models": {"hist_gradient_boosting": {}, "lightgbm": {}},
        "resampling": {"methods": ["random_over", "smote", "borderline_smote"],
                       "ratio": {"type": "float", "low": 0.5, "high": 1.0}},
    },
}
MB = 2 ** 20


class MemoryGroup:
    """A new memory control group limited to ``limit_mb`` (or unlimited), removed
    at the end of the ``with`` block."""

    def __init__(self, limit_mb: float | None):
        self.limit_mb = limit_mb
        name = f"autoimb-bench-{uuid.uuid4().hex[:8]}"
        v1 = Path("/sys/fs/cgroup/memory")
        if (v1 / "memory.limit_in_bytes").exists():
            self.folder, self.v1 = v1 / name, True
        elif Path("/sys/fs/cgroup/cgroup.controllers").exists():
            self.folder, self.v1 = Path("/sys/fs/cgroup") / name, False
        else:
            sys.exit("memory_limit.py: no memory control group here (cgroup v1 or v2).")

    def __enter__(self) -> MemoryGroup:
        try:
            self.folder.mkdir()
            if self.limit_mb is not None:
                name = "memory.limit_in_bytes" if self.v1 else "memory.max"
                (self.folder / name).write_text(str(int(self.limit_mb * MB)))
        except OSError as error:
            sys.exit(f"memory_limit.py: cannot make a control group ({error}); run "
                     "it as root.")
        return self

    def __exit__(self, *exc):
        for _ in range(50):  # the group empties once its processes have exited
            try:
                self.folder.rmdir()
                return False
            except OSError:
                time.sleep(0.2)
        return False

    @property
    def procs(self) -> str:
        return str(self.folder / "cgroup.procs")

    def figures(self) -> dict:
        """The group's peak memory (MB) and how often it hit its limit."""
        def number(name, key=None):
            try:
                text = (self.folder / name).read_text()
            except OSError:
                return None
            if key is None:
                return float(text.split()[0])
            values = dict(line.split() for line in text.splitlines() if " " in line)
            return float(values[key]) if key in values else None

        if self.v1:
            peak = number("memory.max_usage_in_bytes")
            return {"peak_mb": peak / MB if peak is not None else None,
                    "limit_hits": number("memory.failcnt"),
                    "oom_kills": number("memory.oom_control", "oom_kill")}
        peak = number("memory.peak")
        return {"peak_mb": peak / MB if peak is not None else None,
                "limit_hits": number("memory.events", "max"),
                "oom_kills": number("memory.events", "oom_kill")}


def run_one(name: str, n_jobs: str, budget: float, space: str = "default",
            seed: int = 0) -> dict:
    """One fit, in this process (already in its group)."""
    import tempfile
    import warnings

    import autoimb
    from autoimb.search.memory import available_mb
    from scale import _split  # the benchmark's split, and the frame's MB as there

    X_tr, X_te, y_tr, y_te, data_mb = _split(name, seed)
    fn = float((y_tr == 0).sum() / (y_tr == 1).sum())
    storage = os.path.join(tempfile.mkdtemp(prefix="autoimb-memory-"), "a.journal")
    room = available_mb()  # what fit's n_jobs=None sees
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", autoimb.AutoImbWarning)
        options = {} if SPACES[space] is None else {"search_space": SPACES[space]}
        model = autoimb.fit(X_tr, y_tr, fp_cost=1, fn_cost=fn, timeout=budget,
                            random_state=seed, storage=storage, show_progress_bar=False,
                            n_jobs=None if n_jobs == "default" else int(n_jobs),
                            **options)
    seconds = time.perf_counter() - start
    held = autoimb.evaluate(model, X_te, y_te)
    states = model.results_["state"].value_counts().to_dict()
    return {"n_jobs_": model.n_jobs_, "seconds": seconds, "available_mb": room,
            "complete": int(states.get("COMPLETE", 0)),
            "pruned": int(states.get("PRUNED", 0)), "failed": int(states.get("FAIL", 0)),
            "data_mb": data_mb,
            "pruned_for_memory": sum("memory" in t.user_attrs.get("pruned_reason", "")
                                     for t in model.study_.get_trials(deepcopy=False)),
            "heldout_normalized_cost": held["normalized_cost"],
            "warnings": [str(w.message) for w in caught if "n_jobs" in str(w.message)]}


def run_in_group(name: str, n_jobs: str, budget: float, limit_mb: float | None,
                 space: str = "default") -> dict:
    """One fit in a fresh process inside a new control group."""
    with MemoryGroup(limit_mb) as group:
        code = (f"import os, sys; open({group.procs!r}, 'w').write(str(os.getpid())); "
                f"sys.argv = [{__file__!r}, '--one', {name!r}, {n_jobs!r}, "
                f"'{budget}', {space!r}]; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
                "import runpy; runpy.run_path(sys.argv[0], run_name='__main__')")
        start = time.perf_counter()
        child = subprocess.run([sys.executable, "-c", code], capture_output=True,
                               text=True)
        row = {"dataset": name, "n_jobs": n_jobs, "limit_mb": limit_mb,
               "budget": budget, "space": space, "exit_code": child.returncode,
               "process_seconds": time.perf_counter() - start, **group.figures()}
    for line in child.stdout.splitlines():
        if line.startswith(ROW_MARK):
            row.update(json.loads(line[len(ROW_MARK):]))
    if child.returncode != 0:
        row["stderr_tail"] = child.stderr.strip().splitlines()[-3:]
    return row


def _markdown(rows, env) -> str:
    def cell(row, key, spec):
        value = row.get(key)
        return "-" if value is None else format(value, spec)

    table = []
    for r in rows:
        ended = "completed" if r["exit_code"] == 0 else (
            "killed (SIGKILL)" if r["exit_code"] == -9 else f"exit {r['exit_code']}")
        trials = (f"{r['complete'] + r['pruned'] + r['failed']} "
                  f"({r['complete']}/{r['pruned']}/{r['failed']})"
                  if "complete" in r else "-")
        table.append([r["dataset"], r.get("space", "default"), r.get("commit", "-"),
                      cell(r, "data_mb", ".1f"),
                      "none" if r["limit_mb"] is None else f"{r['limit_mb']:.0f}",
                      r["n_jobs"], ended, str(r.get("n_jobs_", "-")), trials,
                      cell(r, "available_mb", ",.0f"),
                      cell(r, "seconds", ".1f"), cell(r, "peak_mb", ".0f"),
                      cell(r, "limit_hits", ".0f"), cell(r, "oom_kills", ".0f"),
                      str(r.get("pruned_for_memory", "-")),
                      cell(r, "heldout_normalized_cost", ".4f")])
    warned = sorted({w for r in rows for w in r.get("warnings", [])})
    return "\n".join([
        "# A search in a container short of memory", "",
        f"Run: {environment_line(env)}.", "",
        markdown_table(["data set", "space", "autoimb", "data MB", "limit MB", "n_jobs", "ended",
                        "n_jobs_", "trials (complete/pruned/failed)",
                        "available MB at fit", "fit s",
                        "group peak MB", "limit hits", "OOM kills",
                        "pruned for memory", "held-out"],
                       table),
        "",
        "*limit hits*: times the group's usage reached its limit (the kernel then "
        "reclaims page cache, or kills a process); *group peak*: the most the "
        "group held, page cache included; *available MB at fit*: what "
        "`autoimb.search.memory.available_mb()` saw just before `fit` (the data loaded); "
        "*data MB*: the training frame with its index, as in `scale.py` (autoimb's "
        "warnings count its columns alone); *autoimb*: the commit of each row; "
        "*pruned for memory*: trials pruned with a reason that names memory (the "
        "per-trial memory check, from `17988a2`; always 0 before it).",
        "",
        "Warnings autoimb gave:", "", *[f"- {w}" for w in warned], ""])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--one", nargs=4, metavar=("DATASET", "N_JOBS", "BUDGET", "SPACE"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=DATASETS)
    parser.add_argument("--limit", type=float, default=700.0, help="MB (700)")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds (60)")
    parser.add_argument("--no-limit", action="store_true",
                        help="also run the default without a limit")
    parser.add_argument("--cases", help="N_JOBS:LIMIT,... instead (N_JOBS an int or "
                        "'default', LIMIT MB or 'none'), e.g. 1:none,2:none")
    parser.add_argument("--space", choices=SPACES, default="default",
                        help="the search space: autoimb's default, or over-sampling "
                        "only (see above)")
    parser.add_argument("--out", default="memory_limit")
    args = parser.parse_args(argv)
    if args.one:
        name, n_jobs, budget, space = args.one
        print(ROW_MARK + json.dumps(run_one(name, n_jobs, float(budget), space)),
              flush=True)
        return
    env = environment()
    out = RESULTS_DIR / args.out
    rows = (json.loads(out.with_suffix(".json").read_text())["rows"]
            if out.with_suffix(".json").exists() else [])
    done = {(r["dataset"], r["n_jobs"], r["limit_mb"], r.get("space", "default"))
            for r in rows if r.get("commit") == env["git_commit"]}
    for name in [args.only] if args.only else DATASETS:
        cases = [("2", args.limit), ("default", args.limit)]
        if args.no_limit:
            cases.append(("default", None))
        if args.cases:
            cases = [(jobs, None if limit == "none" else float(limit)) for jobs, limit
                     in (case.split(":") for case in args.cases.split(","))]
        for n_jobs, limit in cases:
            if (name, n_jobs, limit, args.space) in done:
                continue
            row = {**run_in_group(name, n_jobs, args.budget, limit, args.space),
                   "commit": env["git_commit"]}
            print(json.dumps(row), flush=True)
            rows.append(row)
            out.with_suffix(".json").write_text(json.dumps(
                {"environment": env, "rows": rows}, indent=1, default=str))
            out.with_suffix(".md").write_text(_markdown(rows, env))


if __name__ == "__main__":
    main()
