"""Using both cores: one trial per core, or one model on every core?

For a few shared data sets of different sizes (one stratified 75/25 split, seed 0,
fp_cost 1, fn_cost = the training imbalance ratio), ``autoimb.fit`` with
``timeout=--budget`` runs in a fresh process in each mode:

- ``serial``: ``n_jobs=1``, each model on one core (the reproducible mode);
- ``model_threads``: ``n_jobs=1``, each model on every core
  (``AUTOIMB_THREADS_PER_MODEL=all``; also reproducible);
- ``trial_threads``: ``n_jobs=-1``, one trial per core in threads, each model on
  one core;
- ``trial_processes``: ``n_jobs=-1, parallel="processes"``, one trial per core,
  in this process and a worker process per other core, each model on one core.
  Processes share the study through a journal file in a temporary folder (the
  other modes keep it in memory; a journal costs about 8 ms per trial).

Recorded: finished trials, trials per minute, wall time, held-out normalized cost.

Run from the repository root, nothing else on the machine::

    python benchmarks/parallel.py
    python benchmarks/parallel.py --only yeast_me2 --budget 30
    python benchmarks/parallel.py --only mammography --budget 30 \
        --modes serial,trial_threads,trial_processes --out parallel_processes

Writes benchmarks/results/parallel.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATASETS = ("yeast_me2", "mammography", "letter_z", "covertype_4v2")
MODES = {
    "serial": ({"AUTOIMB_THREADS_PER_MODEL": "1"}, 1, "threads"),
    "model_threads": ({"AUTOIMB_THREADS_PER_MODEL": "all"}, 1, "threads"),
    "trial_threads": ({"AUTOIMB_THREADS_PER_MODEL": "1"}, -1, "threads"),
    "trial_processes": ({"AUTOIMB_THREADS_PER_MODEL": "1"}, -1, "processes"),
}

CHILD = """
import json, os, sys, tempfile, time, warnings
sys.path.insert(0, {here!r})
from threshold_rules import load
from sklearn.model_selection import train_test_split
import autoimb
name, budget, n_jobs, parallel = (sys.argv[1], float(sys.argv[2]), int(sys.argv[3]),
                                  sys.argv[4])
storage = ("memory" if parallel == "threads"
           else os.path.join(tempfile.mkdtemp(), "study.journal"))
X, y = load(name)
X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y,
                                          random_state=0)
fn = float((y_tr == 0).sum() / (y_tr == 1).sum())
warnings.simplefilter("ignore")
start = time.perf_counter()
model = autoimb.fit(X_tr, y_tr, fp_cost=1, fn_cost=fn, timeout=budget, n_jobs=n_jobs,
                    parallel=parallel, random_state=0, storage=storage,
                    show_progress_bar=False)
seconds = time.perf_counter() - start
states = model.results_.state.value_counts().to_dict()
print(json.dumps({{"seconds": seconds, "complete": int(states.get("COMPLETE", 0)),
                  "pruned": int(states.get("PRUNED", 0)),
                  "heldout": autoimb.evaluate(model, X_te, y_te)["normalized_cost"]}}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--only", default="")
    parser.add_argument("--modes", default="", help="e.g. serial,trial_processes")
    parser.add_argument("--out", default="parallel")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from _common import RESULTS_DIR, environment, environment_line, markdown_table, write_json

    env = environment()
    names = [n for n in DATASETS if not args.only or n in args.only.split(",")]
    rows = []
    for name in names:
        for mode, (variables, n_jobs, parallel) in MODES.items():
            if args.modes and mode not in args.modes.split(","):
                continue
            child_env = {**os.environ, **variables, "OMP_NUM_THREADS": str(os.cpu_count())}
            out = subprocess.run(
                [sys.executable, "-c", CHILD.format(here=str(HERE)), name,
                 str(args.budget), str(n_jobs), parallel], env=child_env,
                capture_output=True,
                text=True, check=True)
            row = {"dataset": name, "mode": mode, **json.loads(out.stdout.splitlines()[-1])}
            row["trials_per_minute"] = (row["complete"] + row["pruned"]) / row["seconds"] * 60
            rows.append(row)
            print(row, flush=True)
            write_json(RESULTS_DIR / f"{args.out}.json", {"environment": env, "rows": rows})
            lines = ["# One trial per core, or one model on every core?", "",
                     f"Run: {environment_line(env)}; budget {args.budget:.0f} s.", "",
                     markdown_table(
                         ["data set", "mode", "trials (complete/pruned)", "per minute",
                          "wall s", "held-out norm. cost"],
                         [[r["dataset"], r["mode"],
                           f"{r['complete'] + r['pruned']} ({r['complete']}/{r['pruned']})",
                           f"{r['trials_per_minute']:.1f}", f"{r['seconds']:.1f}",
                           f"{r['heldout']:.4f}"] for r in rows], "llrrrr")]
            (RESULTS_DIR / f"{args.out}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
