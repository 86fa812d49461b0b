"""The portfolio's balanced random forest: 250 trees (the top of the search
space's range) against 100 (imbalanced-learn's default), on the shared data sets.

For each data set below 50,000 rows: 5-fold stratified cross-validation of the
portfolio's balanced random forest (max_depth 40, min_samples_leaf 1, sqrt(p)/p
of the columns per split) through autoimb's own pipeline (preprocessing and
all), with 100 and with 250 trees, on the same folds, one thread. Written: fit
and predict seconds per fold, out-of-fold average precision, and the normalized
cost at the best threshold on the out-of-fold scores (fp cost 1, fn cost the
imbalance ratio, divided by the cheaper trivial rule's cost): both measure the
ranking a calibrator and a threshold then work with.

    python benchmarks/brf_trees.py   # writes results/brf_trees.{json,md}
"""

from __future__ import annotations

import math
import time

import _common  # noqa: F401  (one thread per native pool, before numpy)
import numpy as np
import pandas as pd
from _common import (
    RESULTS_DIR,
    environment,
    environment_line,
    markdown_table,
    write_json,
)
from peers_systems import DATA_DIR
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from autoimb.pipeline.objective import Objective
from autoimb._validation import check_frame, column_kinds
from autoimb.pipeline.strategy import Strategy

TREES = (100, 250)


def cross_validate(X, y, kinds, n_estimators):
    params = {"n_estimators": n_estimators, "max_depth": 40, "min_samples_leaf": 1,
              "max_features": math.sqrt(len(kinds.columns)) / len(kinds.columns)}
    strategy = Strategy("balanced_random_forest", params)
    proba, seconds = np.zeros(len(y)), []
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
        model = strategy.make_pipeline(kinds, 0, n_jobs=1)
        start = time.perf_counter()
        model.fit(X.iloc[train], y[train])
        proba[test] = model.predict_proba(X.iloc[test])[:, 1]
        seconds.append(time.perf_counter() - start)
    ratio = (y == 0).sum() / (y == 1).sum()
    oracle = Objective("cost", 1.0, float(ratio)).oracle_fold_score(y, proba)
    return {"s": float(np.mean(seconds)),
            "ap": float(average_precision_score(y, proba)),
            "cost": float(oracle)}


def main():
    env, rows = environment(), []
    for path in sorted(DATA_DIR.glob("*.csv.gz")):
        frame = pd.read_csv(path, low_memory=False)
        if len(frame) > 50_000:
            continue
        y = frame.pop("target").to_numpy()
        X = check_frame(frame)
        kinds = column_kinds(X)
        row = {"data": path.name.removesuffix(".csv.gz"), "rows": len(y)}
        with threadpool_limits(1):
            for trees in TREES:
                row.update({f"{k}_{trees}": v
                            for k, v in cross_validate(X, y, kinds, trees).items()})
        print(row, flush=True)
        rows.append(row)
    write_json(RESULTS_DIR / "brf_trees.json", {"environment": env, "rows": rows})
    write_markdown(env, rows)


def write_markdown(env: dict, rows: list) -> None:
    """``results/brf_trees.md`` from the environment and the rows (as in the JSON)."""
    mean = pd.DataFrame(rows).mean(numeric_only=True)
    a, b = TREES
    lines = [
        f"# The portfolio's balanced random forest: {a} against {b} trees", "",
        f"Run: {environment_line(env)}.", "",
        "Command: `python benchmarks/brf_trees.py`; 5-fold stratified CV through "
        "autoimb's pipeline, one thread. *cost*: normalized cost at the best "
        "threshold on the out-of-fold scores.", "",
        markdown_table(
            ["data", "rows", f"s/fold {a}", f"s/fold {b}", f"AP {a}", f"AP {b}",
             f"cost {a}", f"cost {b}"],
            [[row["data"], row["rows"], *(f"{row[f'{key}_{trees}']:{spec}}"
                                          for key, spec in (("s", ".2f"), ("ap", ".3f"),
                                                            ("cost", ".3f"))
                                          for trees in TREES)]
             for row in [*rows, {**mean, "data": "**mean**", "rows": ""}]],
            "lrrrrrrr")]
    (RESULTS_DIR / "brf_trees.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
