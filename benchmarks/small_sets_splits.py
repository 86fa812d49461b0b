"""autoimb against the balanced random forest on the six small sets, over more
splits than the peers runs: autoimb's held-out cost from ``selection_rules.py``
runs (the rule autoimb uses, ``library/1.5``: the model ``fit`` returns, refitted
on the training part) and the peers' from a ``peers.py`` run on the same
splits (both split with ``train_test_split(..., test_size=0.25, stratify=y,
random_state=seed)``, fp_cost 1, fn_cost the training part's imbalance ratio).

Run from the repository root, after those runs::

    python benchmarks/peers.py --run-name small_fresh --small \\
        --systems brf_tuned,lgbm_isotonic_bayes --seeds 4,5,6,7,8,9,10,11
    python benchmarks/small_sets_splits.py --rules-runs selection_rules_fresh,selection_rules_fresh2 \\
        --peers-run small_fresh

Prints the table (mean normalized cost per set and overall; paired difference
autoimb - balanced forest with its standard error over the fits) and, where the
peers run also holds autoimb (``--systems autoimb``), how another search of
the same split, through ``peers.py``, compares.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd

from _common import RESULTS_DIR, markdown_table

RULE = "library/1.5"


def autoimb_rows(runs):
    rows = []
    for run in runs:
        data = json.loads((RESULTS_DIR / f"{run}.json").read_text())
        rows += [{"dataset": r["dataset"], "seed": r["seed"],
                  "autoimb": r[f"{RULE} heldout"]} for r in data["rows"]]
    return pd.DataFrame(rows)


def peer_rows(run):
    fits = pd.read_csv(RESULTS_DIR / "peers" / run / "fits.csv")
    fits = fits[fits.status == "ok"]
    return (fits.pivot_table(index=["dataset", "seed"], columns="system",
                             values="normalized_cost").reset_index()
            .rename(columns={"autoimb": "autoimb_peers"}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules-runs", default="selection_rules_fresh,selection_rules_fresh2")
    parser.add_argument("--peers-run", default="small_fresh")
    args = parser.parse_args()
    table = autoimb_rows(args.rules_runs.split(",")).merge(
        peer_rows(args.peers_run), on=["dataset", "seed"])
    systems = ["autoimb", "brf_tuned", "lgbm_isotonic_bayes"]
    per = table.groupby("dataset")[systems].mean()
    body = [[name, *(f"{v:.4f}" for v in per.loc[name])] for name in per.index]
    body.append([f"**mean, {len(table)} fits (seeds "
                 f"{sorted(table.seed.unique().tolist())})**",
                 *(f"**{table[s].mean():.4f}**" for s in systems)])
    print(markdown_table(["data set", *systems], body, "lrrr"))
    difference = table.autoimb - table.brf_tuned
    print(f"\nautoimb - brf_tuned: {difference.mean():+.4f} ± "
          f"{difference.std(ddof=1) / np.sqrt(len(difference)):.4f} (lower on "
          f"{int((difference < 0).sum())}, higher on {int((difference > 0).sum())} "
          f"of {len(difference)})")
    if "autoimb_peers" in table:  # autoimb also run by peers.py on some splits
        both = table.dropna(subset=["autoimb_peers"])
        again = both.autoimb_peers - both.autoimb
        print(f"autoimb through peers.py on {len(both)} of these fits (seeds "
              f"{sorted(both.seed.unique().tolist())}): {both.autoimb_peers.mean():.4f} "
              f"against {both.autoimb.mean():.4f} in selection_rules.py (another "
              f"search of the same split: {again.mean():+.4f} ± "
              f"{again.std(ddof=1) / np.sqrt(len(again)):.4f}); balanced forest "
              f"{both.brf_tuned.mean():.4f}")


if __name__ == "__main__":
    main()
