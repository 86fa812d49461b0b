"""Memory of one cross-validated trial: a deep random forest on five folds.

A trial fits one pipeline per fold. On noisy data of tens of thousands of rows a
random forest of 100 unpruned trees is hundreds of megabytes, so what a trial
holds while its next fold fits matters more than the data. For each data set:
a stratified 75/25 split (seed 0) and ``AutoImbClassifier`` with a search space
of one fixed strategy (random forest, 100 trees, depth up to 40, one row per
leaf, 58 % of the features, balanced_subsample weights, no resampling), ``cv=5``,
``n_trials=1`` and ``ensemble_size=1``, in a fresh process. It records the
process's peak resident memory during ``fit`` (sampled every 0.05 s) above the
memory before it, and the pickled size of the refitted forest (one model on all
rows).

Run from the repository root (nothing else on the machine)::

    python benchmarks/trial_memory.py
    PYTHONPATH=<a worktree of another commit> python benchmarks/trial_memory.py --out x

Writes benchmarks/results/trial_memory.{md,json}.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, str(os.cpu_count()))

import argparse
import json
import pickle
import time
import warnings

import pandas as pd
from sklearn.model_selection import train_test_split

import autoimb
from _common import (ROW_MARK, RESULTS_DIR, environment, environment_line,
                     markdown_table, row_from_fresh_process, write_json)
from scale import PeakMemory
from threshold_rules import load

DATASETS = ("coil2000", "bank_marketing", "diabetes_readmit30")
FOREST = {
    "models": {"random_forest": {"n_estimators": 100, "max_depth": 40,
                                 "min_samples_leaf": 1, "max_features": 0.577,
                                 "class_weight": ["balanced_subsample"]}},
    "resampling": {"methods": ["none"]},
    "calibration": {"methods": ["none"]},
}


def run_one(name):
    X, y = load(name)
    X_tr, _, y_tr, _ = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    fp, fn = 1.0, float((y_tr == 0).sum() / (y_tr == 1).sum())
    model = autoimb.AutoImbClassifier(FOREST, fp_cost=fp, fn_cost=fn, cv=5, n_trials=1,
                                      ensemble_size=1, random_state=0,
                                      show_progress_bar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", autoimb.AutoImbWarning)
        start = time.perf_counter()
        with PeakMemory() as memory:
            model.fit(X_tr, y_tr)
        seconds = time.perf_counter() - start
    return {
        "dataset": name, "rows": len(X_tr), "columns": X.shape[1],
        "data_mb": X_tr.memory_usage(deep=True).sum() / 2**20,
        "model_mb": len(pickle.dumps(model.best_estimator_)) / 2**20,
        "peak_increase_mb": memory.peak - memory.before, "seconds": seconds,
        "version": autoimb.__file__,
    }


def report(rows, env):
    return "\n".join([
        "# Memory of one five-fold trial of a deep random forest", "",
        f"Run: {environment_line(env)}.", "",
        markdown_table(["data set", "rows", "columns", "data MB", "refitted forest MB",
                        "peak increase during fit MB", "fit s"],
                       [[r["dataset"], f"{r['rows']:,}", r["columns"],
                         f"{r['data_mb']:.1f}", f"{r['model_mb']:.0f}",
                         f"{r['peak_increase_mb']:.0f}", f"{r['seconds']:.1f}"]
                        for r in rows], "lrrrrrr"), ""])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="")
    parser.add_argument("--out", default="trial_memory")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the child process's set
    args = parser.parse_args()
    if args.one:
        print(ROW_MARK + json.dumps(run_one(args.one)), flush=True)
        return
    env = environment()
    rows = []
    for name in [n for n in DATASETS if not args.only or n in args.only.split(",")]:
        rows.append(row_from_fresh_process(__file__, name))
        print(pd.Series(rows[-1]).to_string(), flush=True)
        write_json(RESULTS_DIR / f"{args.out}.json", {"environment": env, "rows": rows})
        (RESULTS_DIR / f"{args.out}.md").write_text(report(rows, env))


if __name__ == "__main__":
    main()
