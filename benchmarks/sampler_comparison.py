"""TPE with group=True (autoimb's choice) against Optuna 5's default TPE.

Optuna 5's default TPE (multivariate on, group off) models jointly only the
parameters present in every trial and samples each conditional parameter on its
own; ``group=True`` models each conditional group. autoimb's space is mostly
conditional, so this compares both on real data: the best cross-validated
normalized cost reached after the same number of trials, over several seeds.

Run: python benchmarks/sampler_comparison.py   (about 15 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import statistics
import time

import optuna
import pandas as pd
from _common import REPO_DIR, RESULTS_DIR, environment, environment_line, \
    markdown_table, write_json

import autoimb
import autoimb._classifier as classifier_module

_TPE = optuna.samplers.TPESampler


def _use_sampler(group: bool):
    """Make autoimb build its TPE sampler with this ``group`` (benchmark only)."""
    def sampler(**kwargs):
        return _TPE(**{**kwargs, "group": group})

    optuna.samplers.TPESampler = sampler
    classifier_module.optuna.samplers.TPESampler = optuna.samplers.TPESampler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="mammography,wine_white_le4,"
                        "thyroid_hypo,oil_spill")
    parser.add_argument("--trials", type=int, default=25)
    parser.add_argument("--seeds", default="0,1")
    args = parser.parse_args()
    datasets = REPO_DIR.parent / "shared" / "datasets"
    env = environment()
    rows = []
    for name in args.datasets.split(","):
        frame = pd.read_csv(datasets / f"{name}.csv.gz", low_memory=False)
        X, y = frame.drop(columns="target"), frame["target"]
        for seed in map(int, args.seeds.split(",")):
            for group in (True, False):
                _use_sampler(group)
                start = time.perf_counter()
                model = autoimb.fit(X, y, search_space="default", n_trials=args.trials,
                                    cv=3, storage="memory", random_state=seed,
                                    ensemble_size=1, show_progress_bar=False)
                best = model.study_.best_trial
                rows.append({"data set": name, "seed": seed, "group": group,
                             "best normalized cost":
                                 round(best.user_attrs["normalized_cost"], 4),
                             "seconds": round(time.perf_counter() - start, 1),
                             "best strategy": best.user_attrs["strategy"]})
                print(rows[-1], flush=True)
    _use_sampler(True)
    table = pd.DataFrame(rows)
    lines = ["# TPE group=True vs Optuna 5's default TPE", "",
             f"Measured: {environment_line(env)}", "",
             f"`autoimb.fit(X, y, search_space='default', n_trials={args.trials}, cv=3, "
             "ensemble_size=1)`, default costs; best cross-validated normalized cost "
             "(lower is better).", "",
             markdown_table(list(table.columns), table.values.tolist()), ""]
    summary = table.groupby("group")["best normalized cost"].agg(["mean", "median"])
    wins = sum(
        g.loc[g["group"], "best normalized cost"].item()
        < g.loc[~g["group"], "best normalized cost"].item()
        for _, g in table.groupby(["data set", "seed"]))
    n = table.groupby(["data set", "seed"]).ngroups
    lines += ["| group | mean | median |", "|---|---:|---:|"]
    lines += [f"| {g} | {r['mean']:.4f} | {r['median']:.4f} |"
              for g, r in summary.iterrows()]
    lines += ["", f"group=True lower in {wins} of {n} (data set, seed) pairs; "
              f"mean difference {statistics.mean(table[table.group]['best normalized cost'].to_numpy() - table[~table.group]['best normalized cost'].to_numpy()):+.4f}."]
    (RESULTS_DIR / "sampler_comparison.md").write_text("\n".join(lines) + "\n")
    write_json(RESULTS_DIR / "sampler_comparison.json", {"rows": rows})
    print("\n".join(lines))


if __name__ == "__main__":
    main()
