"""Class-weighted HistGradientBoosting: scikit-learn's weighted binning against
autoimb's (bins found without the weights), on the shared data sets.

For each data set below 50,000 rows: 5-fold stratified cross-validation of
``HistGradientBoostingClassifier(class_weight="balanced", early_stopping=False)``
(100 iterations, one thread), scikit-learn's class against
``autoimb._sklearn_compat.HistGradientBoostingClassifier``, on the same folds.
Written: fit seconds per fold, out-of-fold average precision and the normalized
cost at the Bayes threshold of balanced weights (0.5; fp cost 1, fn cost the
imbalance ratio, divided by the cheaper trivial rule's cost).

    python benchmarks/hgb_binning.py   # writes results/hgb_binning.{json,md}
"""

from __future__ import annotations

import time

import _common  # noqa: F401  (one thread per native pool, before numpy)
import numpy as np
import pandas as pd
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier as Weighted
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedKFold
from _common import (
    RESULTS_DIR,
    environment,
    environment_line,
    markdown_table,
    write_json,
)
from peers_systems import DATA_DIR
from threadpoolctl import threadpool_limits

from autoimb.pipeline.metrics import error_metrics
from autoimb._sklearn_compat import HistGradientBoostingClassifier as Unweighted


def load(path):
    frame = pd.read_csv(path, low_memory=False)
    y = frame.pop("target").to_numpy()
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            codes = frame[column].astype("category").cat.codes.astype(float)
            frame[column] = codes.where(codes >= 0)
    return frame.to_numpy(dtype=float), y


def cross_validate(cls, X, y):
    proba, seconds = np.zeros(len(y)), []
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    for train, test in folds.split(X, y):
        model = cls(class_weight="balanced", early_stopping=False, random_state=0)
        start = time.perf_counter()
        model.fit(X[train], y[train])
        seconds.append(time.perf_counter() - start)
        proba[test] = model.predict_proba(X[test])[:, 1]
    ratio = (y == 0).sum() / (y == 1).sum()
    errors = error_metrics(y, proba >= 0.5, fp_cost=1.0, fn_cost=ratio)
    return {"fit_s": float(np.mean(seconds)),
            "ap": float(average_precision_score(y, proba)),
            "norm_cost": float(errors["normalized_cost"])}


def main():
    env, rows = environment(), []
    for path in sorted(DATA_DIR.glob("*.csv.gz")):
        X, y = load(path)
        if len(y) > 50_000:
            continue
        with threadpool_limits(1):
            weighted = cross_validate(Weighted, X, y)
            unweighted = cross_validate(Unweighted, X, y)
        row = {"data": path.name.removesuffix(".csv.gz"), "rows": len(y),
               "features": X.shape[1],
               **{f"weighted_{k}": v for k, v in weighted.items()},
               **{f"unweighted_{k}": v for k, v in unweighted.items()}}
        print(row, flush=True)
        rows.append(row)
    write_json(RESULTS_DIR / "hgb_binning.json", {"environment": env, "rows": rows})
    write_markdown(env, rows)


def write_markdown(env: dict, rows: list) -> None:
    """``results/hgb_binning.md`` from the environment and the rows (as in the JSON)."""
    mean = pd.DataFrame(rows).mean(numeric_only=True)
    lines = [
        f"# Class-weighted HistGradientBoosting: weighted against unweighted bins "
        f"(scikit-learn {sklearn.__version__})", "",
        f"Run: {environment_line(env)}.", "",
        "Command: `python benchmarks/hgb_binning.py`; 5-fold stratified CV, "
        "`class_weight=\"balanced\"`, 100 iterations, one thread.", "",
        markdown_table(
            ["data", "rows", "features", "fit s weighted", "fit s unweighted",
             "AP weighted", "AP unweighted", "norm. cost weighted",
             "norm. cost unweighted"],
            [[row["data"], row["rows"], row["features"],
              *(f"{row[f'{variant}_{key}']:{spec}}"
                for key, spec in (("fit_s", ".2f"), ("ap", ".3f"), ("norm_cost", ".3f"))
                for variant in ("weighted", "unweighted"))]
             for row in [*rows, {**mean, "data": "**mean**", "rows": "",
                                 "features": ""}]],
            "lrrrrrrrr")]
    (RESULTS_DIR / "hgb_binning.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
