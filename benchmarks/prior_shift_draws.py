"""Prior shift over many draws: does adapting a model to a new positive rate
lower its cost, and when does it not?

Issue 39 saw :func:`autoimb.adapt_to_prior` raise the cost on two shifted
batches of mammography (fp_cost 10, fn_cost 500), even when told the true rate:
one draw each, with 10 to 20 positives. This script measures it over 20 draws
per shift on four data sets, with the rule that decides whether to adapt
(``adapted_``, see :class:`autoimb.PriorShiftAdapter`) and without it
(``force=True``, the behaviour before the rule).

For each data set: a stratified half fits one model (``autoimb.fit``, 25 s,
one trial at a time, seed 0; the data set's costs below), reused for every
draw. Each draw takes a random half of the other half (the *pool*), then
shifts it: ``x0.5`` and ``x0.25`` keep that share of its positives (all its
negatives), ``x2`` keeps all its positives and half its negatives (the odds of
the positive class doubled), ``x1`` keeps every row (no shift: adapting can
only lose there). On each batch, the cost of:

- ``before``: the model as it is;
- ``EM, always``: adapted to EM's estimate of the batch's rate, whatever it is
  (``force=True``: the behaviour before the rule);
- ``EM, rule``: the same, adapted only when the estimate differs from the
  training rate beyond the noise of both (the default now);
- ``true, always`` and ``true, rule``: the same, told the batch's true rate.

The table gives each one's mean change of cost against ``before`` with its
standard error over the draws (``mean +- SE``; a negative change is a gain),
the mean cost before, and how many of the draws the rule adapted.

Run from the repository root::

    python benchmarks/prior_shift_draws.py            # 4 data sets x 20 draws
    python benchmarks/prior_shift_draws.py --quick    # 2 data sets x 5 draws, 8 s fits

The data sets are read from ``../shared/datasets`` (``AUTOIMB_DATASETS`` to
change). Writes ``benchmarks/results/2026-12-08-prior_shift.md`` and the draws
beside it (``.csv``) (``--out`` to change;
``--quick`` writes to ``/tmp/prior_shift_quick.md`` unless ``--out`` is given).
"""

from __future__ import annotations

import _common  # noqa: F401  (first: caps the thread pools before numpy loads)

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import RESULTS_DIR, environment, environment_line, markdown_table
from sklearn.model_selection import train_test_split

import autoimb

DATA_DIR = Path(os.environ.get(
    "AUTOIMB_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
#: data set -> (fp_cost, fn_cost): mammography's are the issue's; the others
#: weigh a missed positive at about the data set's imbalance ratio.
DATASETS = {"mammography": (10.0, 500.0), "satimage_4": (1.0, 10.0),
            "letter_z": (1.0, 25.0), "kc1_defects": (1.0, 5.0)}
FACTORS = (1.0, 0.5, 0.25, 2.0)
N_DRAWS = 20
FIT_SECONDS = 25.0
VARIANTS = ("em_always", "em_rule", "true_always", "true_rule")


def cost(y01, pred01, fp_cost, fn_cost) -> float:
    """Total cost of 0/1 decisions."""
    return float(fp_cost * np.sum((pred01 == 1) & (y01 == 0))
                 + fn_cost * np.sum((pred01 == 0) & (y01 == 1)))


def draw_rows(y01, factor, rng) -> np.ndarray:
    """Positions of one batch: a random half of the pool, then shifted by
    ``factor`` (see the module docstring)."""
    half = np.sort(rng.choice(len(y01), len(y01) // 2, replace=False))
    pos, neg = half[y01[half] == 1], half[y01[half] == 0]
    if factor < 1:
        pos = rng.choice(pos, round(factor * len(pos)), replace=False)
    elif factor > 1:
        neg = rng.choice(neg, round(len(neg) / factor), replace=False)
    return np.sort(np.concatenate([pos, neg]))


def run(name: str, n_draws: int, fit_seconds: float) -> list[dict]:
    fp_cost, fn_cost = DATASETS[name]
    frame = pd.read_csv(DATA_DIR / f"{name}.csv.gz", low_memory=False)
    X, y = frame.drop(columns="target"), frame["target"]
    X_fit, X_pool, y_fit, y_pool = train_test_split(X, y, test_size=0.5, stratify=y,
                                                    random_state=0)
    start = time.perf_counter()
    model = autoimb.fit(X_fit, y_fit, fp_cost=fp_cost, fn_cost=fn_cost,
                        timeout=fit_seconds, n_jobs=1, storage="memory",
                        random_state=0, show_progress_bar=False)
    fit_s = time.perf_counter() - start
    X_pool = X_pool.reset_index(drop=True)
    y01 = (y_pool.to_numpy() == 1).astype(int)
    records = []
    for factor in FACTORS:
        for seed in range(n_draws):
            rows = draw_rows(y01, factor, np.random.default_rng(seed))
            X_b, y_b = X_pool.iloc[rows], y01[rows]
            true_rate = float(y_b.mean())
            adapters = {
                "em_always": autoimb.adapt_to_prior(model, X_b, force=True),
                "em_rule": autoimb.adapt_to_prior(model, X_b),
                "true_always": autoimb.adapt_to_prior(model, rate=true_rate,
                                                      force=True),
                "true_rule": autoimb.adapt_to_prior(model, rate=true_rate)}
            before = model.predict(X_b) == model.pos_label_
            record = {"dataset": name, "factor": factor, "seed": seed,
                      "n_rows": len(rows), "n_positive": int(y_b.sum()),
                      "training_rate": adapters["em_rule"].training_rate_,
                      "true_rate": true_rate,
                      "estimate": adapters["em_rule"].estimate_.rate,
                      "estimate_se": adapters["em_rule"].estimate_.std_error,
                      "strategy": model.strategy_,
                      "model_rule": model.cv_metrics_["threshold_rule"],
                      "fit_seconds": fit_s,
                      "before": cost(y_b, before, fp_cost, fn_cost)}
            for key, adapter in adapters.items():
                pred = adapter.predict(X_b) == model.pos_label_
                record[key] = cost(y_b, pred, fp_cost, fn_cost)
                record[f"{key}_adapted"] = bool(adapter.adapted_)
            records.append(record)
    return records


def mean_se(values) -> str:
    values = np.asarray(values, dtype=float)
    se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.nan
    return f"{values.mean():+.0f} ± {se:.0f}"


def table(records: list[dict]) -> str:
    frame = pd.DataFrame(records)
    headers = ["data set (fp, fn)", "shift", "rows", "positives", "training rate",
               "true rate", "EM (mean)", "cost before", "EM, always", "EM, rule",
               "adapted (EM)", "true, always", "true, rule", "adapted (true)"]
    rows = []
    for (name, factor), group in frame.groupby(["dataset", "factor"], sort=False):
        fp_cost, fn_cost = DATASETS[name]
        change = {v: group[v] - group["before"] for v in VARIANTS}
        rows.append([
            f"{name} ({fp_cost:g}, {fn_cost:g})", f"x{factor:g}",
            f"{group['n_rows'].mean():.0f}", f"{group['n_positive'].mean():.1f}",
            f"{group['training_rate'].iloc[0]:.4f}", f"{group['true_rate'].mean():.4f}",
            f"{group['estimate'].mean():.4f}", f"{group['before'].mean():.0f}",
            mean_se(change["em_always"]), mean_se(change["em_rule"]),
            f"{group['em_rule_adapted'].sum()}/{len(group)}",
            mean_se(change["true_always"]), mean_se(change["true_rule"]),
            f"{group['true_rule_adapted'].sum()}/{len(group)}"])
    return markdown_table(headers, rows, "lrrrrrrrrrrrrr")


def models(records: list[dict]) -> str:
    frame = pd.DataFrame(records).groupby("dataset", sort=False).first()
    return "\n".join(f"- {name}: {r.strategy} (threshold rule {r.model_rule}; "
                     f"fit {r.fit_seconds:.0f} s)" for name, r in frame.iterrows())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 data sets x 5 draws, 8 s fits: a check that it runs")
    parser.add_argument("--only", help="comma-separated data set names")
    parser.add_argument("--out", help="the Markdown file to write")
    args = parser.parse_args()
    names = list(DATASETS)[:2] if args.quick else list(DATASETS)
    if args.only:
        names = args.only.split(",")
    n_draws, fit_seconds = (5, 8.0) if args.quick else (N_DRAWS, FIT_SECONDS)
    out = Path(args.out) if args.out else (
        Path("/tmp/prior_shift_quick.md") if args.quick
        else RESULTS_DIR / "2026-12-08-prior_shift.md")
    env = environment()
    records = []
    for name in names:
        start = time.perf_counter()
        records += run(name, n_draws, fit_seconds)
        print(f"{name}: {time.perf_counter() - start:.0f} s", flush=True)
    text = (f"# Prior shift over {n_draws} draws per shift: adapting, with and "
            f"without the rule\n\n{environment_line(env)}\n\n"
            "`python benchmarks/prior_shift_draws.py"
            + (" --quick" if args.quick else "") + "`; see its docstring. "
            "Change of the batch's total cost against the model as it is, mean ± "
            "standard error over the draws (negative: adapting gained). *always*: "
            "adapted whatever the rate (`force=True`, the behaviour before the rule); "
            "*rule*: adapted only when the rate differs from the training rate "
            "beyond the noise of both (the default). *adapted*: draws the rule "
            f"adapted.\n\nModels:\n\n{models(records)}\n\n{table(records)}\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    pd.DataFrame(records).to_csv(out.with_suffix(".csv"), index=False)
    print(text)


if __name__ == "__main__":
    main()
