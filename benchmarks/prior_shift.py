"""Prior shift on several real data sets: how close is the EM estimate of a new
positive rate, and which threshold rule adapts a model best?

For each data set: a stratified half fits a model (``fast`` preset, 4 trials,
3 folds, fp_cost 1, fn_cost 10, seed 0); the other half is shifted to a quarter
and to four times the training rate by dropping positives (or negatives) at
random, in 5 draws. On each shifted batch:

- the EM estimate of its rate (:func:`autoimb.estimate_prior`);
- the cost of the model as it is (``before``);
- the cost after :func:`autoimb.adapt_to_prior` on the batch, with each
  threshold rule: ``auto`` (the default: the model's own rule rerun at the new
  rate), ``bayes`` (fp / (fp + fn) on adjusted probabilities), ``retuned``
  (the cut tuned again on the out-of-fold probabilities weighed to the new
  rate), and ``kept`` (the model's threshold on adjusted probabilities);
- the cost after adapting to the true rate with ``auto`` (``known``).

Every adaptation is forced (``force=True``): this compares threshold rules, not
the rule that decides whether to adapt (``prior_shift_draws.py`` measures that).

Run from the repository root::

    python benchmarks/prior_shift.py                      # the default data sets
    python benchmarks/prior_shift.py --only satimage_4,mammography

Writes benchmarks/results/prior_shift.{md,json}.
"""

from __future__ import annotations

import _common  # noqa: F401  (first: caps the thread pools before numpy loads)

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import (RESULTS_DIR, environment, environment_line, markdown_table,
                     write_json)
from sklearn.model_selection import train_test_split

import autoimb
from autoimb.pipeline.prior import adjust_to_prior
from autoimb.deploy.prior_shift import positive_proba

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets"
DEFAULT = ("kc1_defects", "satimage_4", "thyroid_hypo", "coil2000", "wine_white_le4",
           "letter_z", "mammography", "polish_bankruptcy_1y")
FP_COST, FN_COST = 1.0, 10.0
FACTORS = (0.25, 4.0)
N_DRAWS = 5
RULES = ("auto", "bayes", "retuned")


def cost(y01, pred01) -> float:
    return float(FP_COST * np.sum((pred01 == 1) & (y01 == 0))
                 + FN_COST * np.sum((pred01 == 0) & (y01 == 1)))


def shifted_rows(y01, rate, rng):
    pos, neg = np.flatnonzero(y01 == 1), np.flatnonzero(y01 == 0)
    if rate < y01.mean():
        keep = round(rate * len(neg) / (1 - rate))
        return np.sort(np.concatenate([neg, rng.choice(pos, keep, replace=False)]))
    keep = round(len(pos) * (1 - rate) / rate)
    return np.sort(np.concatenate([pos, rng.choice(neg, keep, replace=False)]))


def run(name: str) -> list[dict]:
    frame = pd.read_csv(DATA_DIR / f"{name}.csv.gz", low_memory=False)
    X, y = frame.drop(columns="target"), frame["target"]
    X_fit, X_new, y_fit, y_new = train_test_split(X, y, test_size=0.5, stratify=y,
                                                  random_state=0)
    start = time.perf_counter()
    model = autoimb.fit(X_fit, y_fit, search_space="fast", n_trials=4, cv=3,
                        fp_cost=FP_COST, fn_cost=FN_COST, storage="memory",
                        random_state=0, show_progress_bar=False)
    fit_seconds = time.perf_counter() - start
    X_new = X_new.reset_index(drop=True)
    y01 = (y_new.to_numpy() == 1).astype(int)
    proba = positive_proba(model, X_new)  # the batch's rows are a subset of these
    rate = float(model.oof_target_.mean())
    rows_out = []
    for factor in FACTORS:
        for seed in range(N_DRAWS):
            rows = shifted_rows(y01, factor * rate, np.random.default_rng(seed))
            X_b, y_b = X_new.iloc[rows], y01[rows]
            record = {"dataset": name, "factor": factor, "seed": seed,
                      "n_rows": len(rows), "n_positive": int(y_b.sum()),
                      "training_rate": rate, "true_rate": float(y_b.mean()),
                      "strategy": model.strategy_, "fit_seconds": fit_seconds,
                      "model_rule": model.cv_metrics_["threshold_rule"],
                      "before": cost(y_b, proba[rows] >= model.threshold_)}
            estimate = autoimb.estimate_prior(model, X_b)
            record["estimate"] = estimate.rate
            for rule in RULES:
                adapted = autoimb.adapt_to_prior(model, rate=estimate.rate,
                                                 threshold=rule, force=True)
                p = adjust_to_prior(proba[rows], rate, adapted.rate_)
                record[rule] = cost(y_b, p >= adapted.threshold_)
            p = adjust_to_prior(proba[rows], rate, estimate.rate)
            record["kept"] = cost(y_b, p >= model.threshold_)
            known = autoimb.adapt_to_prior(model, rate=record["true_rate"],
                                           force=True)
            p = adjust_to_prior(proba[rows], rate, known.rate_)
            record["known"] = cost(y_b, p >= known.threshold_)
            rows_out.append(record)
    return rows_out


def summary(records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(records)
    frame["rel_error"] = frame["estimate"] / frame["true_rate"] - 1
    grouped = frame.groupby(["dataset", "factor"], sort=False)
    table = grouped.agg(
        strategy=("strategy", "first"), model_rule=("model_rule", "first"),
        n_positive=("n_positive", "mean"), true_rate=("true_rate", "mean"),
        estimate=("estimate", "mean"), worst_rel_error=("rel_error",
                                                        lambda e: e.abs().max()),
        before=("before", "mean"), auto=("auto", "mean"), known=("known", "mean"),
        bayes=("bayes", "mean"), retuned=("retuned", "mean"), kept=("kept", "mean"),
        auto_wins=("auto", lambda s: int((s < frame.loc[s.index, "before"]).sum())))
    return table.reset_index()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated data set names")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(DEFAULT)
    env = environment()
    records = []
    for name in names:
        start = time.perf_counter()
        records += run(name)
        print(f"{name}: {time.perf_counter() - start:.0f} s", flush=True)
    table = summary(records)
    headers = ["data set", "model (rule)", "shift", "positives", "true rate",
               "estimated (mean)", "worst error", "before", "auto", "known rate",
               "bayes", "retuned", "kept", "auto < before"]
    rows = [[r.dataset, f"{r.strategy} ({r.model_rule})", f"x{r.factor:g}",
             f"{r.n_positive:.0f}", f"{r.true_rate:.4f}", f"{r.estimate:.4f}",
             f"{r.worst_rel_error:.0%}", f"{r.before:.0f}", f"{r.auto:.0f}",
             f"{r.known:.0f}", f"{r.bayes:.0f}", f"{r.retuned:.0f}", f"{r.kept:.0f}",
             f"{r.auto_wins}/{N_DRAWS}"] for r in table.itertuples()]
    text = (f"# Prior shift: EM estimate and threshold rules\n\n{environment_line(env)}"
            f"\n\nMean cost over {N_DRAWS} draws (fp_cost {FP_COST:g}, fn_cost "
            f"{FN_COST:g}); see the docstring of benchmarks/prior_shift.py.\n\n"
            + markdown_table(headers, rows, "lllrrrrrrrrrrr") + "\n")
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "prior_shift.md").write_text(text)
    write_json(RESULTS_DIR / "prior_shift.json",
               {"environment": env, "records": records})
    print(text)


if __name__ == "__main__":
    main()
