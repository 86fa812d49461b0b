"""Reported against held-out normalized cost, before and after: one table.

Reads the ``fits.csv`` of peers runs (``benchmarks/peers.py``) and writes, per data
set, what each system reported on its training rows and what it got on the test
rows, for autoimb before the honest-numbers change (``autoimb_before``), autoimb
with every choice cross-fitted but one partition of folds on small data
(``autoimb_one_partition``, commit 045ce95), autoimb with repeated folds on
small data (``autoimb_previous``, commit 324cf39, run on 2026-12-01), autoimb
now (``autoimb``: the same search at 60 s, with faster post-processing; run on
2026-12-02) and scikit-learn's ``TunedThresholdClassifierCV``
(``hgb_balanced_tuned``), with the mean gap (held-out - reported) and the median
of (held-out - reported) / held-out.

Run from the repository root, after the peers runs::

    python benchmarks/honest_numbers.py --runs honest,default --budget 60 --seed 0

Writes benchmarks/results/honest_numbers.md.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from _common import RESULTS_DIR, fmt, markdown_table

SYSTEMS = ("autoimb_before", "autoimb_one_partition", "autoimb_previous", "autoimb",
           "hgb_balanced_tuned")
LABELS = {"autoimb_before": "autoimb before",
          "autoimb_one_partition": "autoimb, one partition",
          "autoimb_previous": "autoimb, repeated folds (run of 2026-12-01)",
          "autoimb": "autoimb now",
          "hgb_balanced_tuned": "TunedThresholdClassifierCV"}


def load(runs, budget, seed):
    frames = []
    for run in runs:
        path = RESULTS_DIR / "peers" / run / "fits.csv"
        if path.exists():
            frames.append(pd.read_csv(path))
    table = pd.concat(frames, ignore_index=True)
    table = table[(table.seed == seed) & table.error.isna()]
    budgeted = table.budget.isna() | (table.budget == budget)
    table = table[budgeted & table.system.isin(SYSTEMS)]
    return table.drop_duplicates(["dataset", "system"], keep="last")


def summary(table):
    rows = []
    for system in SYSTEMS:
        part = table[table.system == system].dropna(subset=["reported_normalized_cost"])
        if part.empty:
            continue
        held = part.normalized_cost
        gap = held - part.reported_normalized_cost
        relative = (gap / held.where(held > 0)).dropna()
        rows.append([LABELS[system], len(part), f"{held.mean():.4f}",
                     f"{part.reported_normalized_cost.mean():.4f}", f"{gap.mean():+.4f}",
                     f"{gap.median():+.4f}", f"{relative.median():+.1%}"])
    return markdown_table(["system", "data sets", "mean held-out", "mean reported",
                           "mean gap", "median gap", "median gap / held-out"], rows,
                          "lrrrrrr")


def per_dataset(table):
    wide = table.pivot(index="dataset", columns="system",
                       values=["reported_normalized_cost", "normalized_cost"])
    rows = []
    for name in wide.index:
        cells = [name]
        for system in SYSTEMS:
            rep = wide.get(("reported_normalized_cost", system), pd.Series()).get(name)
            held = wide.get(("normalized_cost", system), pd.Series()).get(name)
            cells += [fmt(rep, ".3f"), fmt(held, ".3f")]
        rows.append(cells)
    headers = ["data set"] + [f"{LABELS[s]} {k}" for s in SYSTEMS
                              for k in ("reported", "held-out")]
    return markdown_table(headers, rows, "l" + "r" * (len(headers) - 1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="honest,default")
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="honest_numbers")
    args = parser.parse_args()
    table = load(args.runs.split(","), args.budget, args.seed)
    shared = table[table.dataset != "article"]
    lines = [
        "# Honest numbers: reported against held-out normalized cost", "",
        f"Peers runs {args.runs.split(',')}, split seed {args.seed}, budget "
        f"{args.budget:.0f} s; stratified 75/25 split, fp_cost 1, fn_cost = training "
        "imbalance ratio; normalized cost = cost / the cheaper trivial rule's, both on "
        "the test part. *Reported* is the system's own estimate from its training "
        "rows: for autoimb `best_score_` over the trivial cost of the training rows "
        "(before: the best trial's raw value; every later version: "
        "bias-corrected), for "
        "TunedThresholdClassifierCV minus its `best_score_`.", "",
        "## The 19 shared data sets", "", summary(shared), "",
        "## With the article's synthetic set (20 data sets)", "", summary(table), "",
        "## Per data set", "", per_dataset(table), ""]
    out = RESULTS_DIR / f"{args.out}.md"
    out.write_text("\n".join(lines))
    print(out.read_text())


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
