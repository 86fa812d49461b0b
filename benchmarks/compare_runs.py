"""Two runs of one system in ``peers.py``, set by set: held-out against reported.

For the (data set, seed) pairs both runs hold, it tables each run's held-out
normalized cost, its reported estimate, and the paired difference (after minus
before), then the means over the 19 shared sets (the article's synthetic set
apart) with the standard error of the mean paired difference; a difference
within two standard errors is called a tie.

Run from the repository root::

    python benchmarks/compare_runs.py --before today --after one_core --seeds 0 \\
        --out one_core_vs_today

writes ``results/<out>.md`` and prints it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math

import pandas as pd
from _common import RESULTS_DIR

PEERS = RESULTS_DIR / "peers"


def _rows(run: str, system: str, seeds) -> pd.DataFrame:
    fits = pd.read_csv(PEERS / run / "fits.csv")
    fits = fits[(fits["system"] == system) & (fits["status"] == "ok")
                & fits["seed"].isin(seeds)]
    return fits.set_index(["dataset", "seed"])[
        ["normalized_cost", "reported_normalized_cost", "trials_completed",
         "fit_seconds"]]


def compare(before: str, after: str, system: str, seeds) -> str:
    a, b = _rows(before, system, seeds), _rows(after, system, seeds)
    both = pd.merge(a, b, left_index=True, right_index=True,
                    suffixes=("_before", "_after"))
    both["difference"] = both["normalized_cost_after"] - both["normalized_cost_before"]
    lines = [
        f"# `{system}`: run `{after}` against run `{before}`",
        "",
        f"Seeds {', '.join(map(str, seeds))}; {len(both)} (data set, seed) pairs in "
        f"both runs; written {dt.date.today().isoformat()} by "
        "`benchmarks/compare_runs.py`. Normalized cost: held-out cost over the "
        "cheaper trivial rule's (lower is better); reported: the system's own "
        "estimate, the same way.",
        "",
        "| data set | seed | held-out before | held-out after | after − before "
        "| reported before | reported after | completed trials before / after "
        "| fit s before / after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (name, seed), r in both.sort_index().iterrows():
        lines.append(
            f"| {name} | {seed} | {r.normalized_cost_before:.4f} | "
            f"{r.normalized_cost_after:.4f} | {r.difference:+.4f} | "
            f"{r.reported_normalized_cost_before:.4f} | "
            f"{r.reported_normalized_cost_after:.4f} | "
            f"{r.trials_completed_before:.0f} / {r.trials_completed_after:.0f} | "
            f"{r.fit_seconds_before:.1f} / {r.fit_seconds_after:.1f} |")
    lines += ["", "| sets | pairs | held-out before | held-out after | "
              "reported before | reported after | mean difference ± SE | verdict |",
              "|---|---:|---:|---:|---:|---:|---:|---|"]
    shared = both[both.index.get_level_values("dataset") != "article"]
    for label, part in [("19 shared sets", shared), ("with the article's set", both)]:
        d = part["difference"]
        se = d.std(ddof=1) / math.sqrt(len(d)) if len(d) > 1 else float("nan")
        verdict = ("tie (within 2 SE)" if abs(d.mean()) <= 2 * se else
                   "after lower" if d.mean() < 0 else "after higher")
        lines.append(
            f"| {label} | {len(part)} | {part.normalized_cost_before.mean():.4f} | "
            f"{part.normalized_cost_after.mean():.4f} | "
            f"{part.reported_normalized_cost_before.mean():.4f} | "
            f"{part.reported_normalized_cost_after.mean():.4f} | "
            f"{d.mean():+.4f} ± {se:.4f} | {verdict} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="run name (results/peers/)")
    parser.add_argument("--after", required=True, help="run name (results/peers/)")
    parser.add_argument("--system", default="autoimb")
    parser.add_argument("--seeds", default="0", help="comma-separated")
    parser.add_argument("--out", help="results/<out>.md")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    text = compare(args.before, args.after, args.system, seeds)
    if args.out:
        (RESULTS_DIR / f"{args.out}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
