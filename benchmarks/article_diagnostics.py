"""Why does autoimb win or lose on the article's data? Each recipe alone, on test.

For each split of article_benchmark.py, fits autoimb restricted to ONE strategy
(a one-point search space, n_trials=1, so the whole 5-fold CV, cross-fitted
threshold and refit pipeline runs, but no selection happens) and scores it on the
held-out 20%:

* HGB, no weighting            (the baseline's model, autoimb's threshold)
* HGB, class_weight balanced
* HGB + SMOTE ratio 0.5, k=5
* random forest, balanced_subsample, scikit-learn defaults

Comparing these with the full search (article_benchmark.json) separates "the
pipeline is worse than scikit-learn on the same model" from "the search picked
a strategy whose CV advantage did not hold on test" (selection noise).

    python benchmarks/article_diagnostics.py            # ~5 min on one core

Writes benchmarks/results/article_diagnostics.{md,json}.
"""

from __future__ import annotations

import _common  # noqa: F401  (first: caps the thread pools before numpy loads)

import argparse
import json
import sys
import time
import warnings

import numpy as np
from sklearn.model_selection import train_test_split

import autoimb
from _common import RESULTS_DIR, environment, environment_line, fmt, write_json
from article_benchmark import DATA, FN_COST, FP_COST, TEST_SIZE, run_baseline
from sklearn.datasets import make_classification

STRATEGIES = {
    "HGB, no weighting": {
        "models": {"hist_gradient_boosting": {"class_weight": ["none"]}}},
    "HGB, balanced": {
        "models": {"hist_gradient_boosting": {"class_weight": ["balanced"]}}},
    "HGB + SMOTE 0.5 (k=5)": {
        "models": {"hist_gradient_boosting": {"class_weight": ["none"]}},
        "resampling": {"methods": ["smote"], "ratio": 0.5, "k_neighbors": 5}},
    "RF balanced_subsample (sklearn defaults)": {
        "models": {"random_forest": {"class_weight": ["balanced_subsample"]}}},
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--splits", default="0,1,2")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.splits.split(",") if s.strip()]
    X, y = make_classification(**DATA)
    bench_path = RESULTS_DIR / "article_benchmark.json"
    bench = json.loads(bench_path.read_text()) if bench_path.exists() else None
    searched = {r["seed"]: r["autoimb"] for r in (bench or {}).get("splits", [])}
    report = {"environment": environment(), "strategies": STRATEGIES, "splits": []}
    print(environment_line(report["environment"]), flush=True)
    for seed in seeds:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=TEST_SIZE, stratify=y, random_state=seed)
        rows = []
        for name, space in STRATEGIES.items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                model = autoimb.fit(X_train, y_train, search_space=space,
                                    fp_cost=FP_COST, fn_cost=FN_COST, n_trials=1,
                                    storage="memory", random_state=seed, n_jobs=1,
                                    show_progress_bar=False)
            seconds = time.perf_counter() - start
            test = autoimb.evaluate(model, X_test, y_test)
            rows.append({"strategy": name, "described": model.strategy_,
                         "cv_cost": model.best_score_,
                         "cv_cost_scaled_to_test": model.best_score_ * TEST_SIZE
                         / (1 - TEST_SIZE),
                         "test_cost": test["cost"], "fp": test["fp"], "fn": test["fn"],
                         "threshold": model.threshold_, "seconds": seconds})
            print(f"split {seed}  {name:<42} CV×¼ {rows[-1]['cv_cost_scaled_to_test']:>8,.0f}"
                  f"  test {test['cost']:>8,.0f}  (FP {test['fp']}, FN {test['fn']}, "
                  f"thr {model.threshold_:.4f})  {seconds:.1f} s", flush=True)
        baseline = run_baseline(X_train, y_train, X_test, y_test, seed)
        print(f"split {seed}  {'baseline TunedThresholdClassifierCV(HGB)':<42} "
              f"{'':>13}  test {baseline['test_cost']:>8,.0f}  (FP "
              f"{baseline['test_counts']['fp']}, FN {baseline['test_counts']['fn']}, "
              f"thr {baseline['threshold']:.4f})", flush=True)
        report["splits"].append({"seed": seed, "recipes": rows, "baseline": baseline,
                                 "searched": searched.get(seed)})
    write_json(RESULTS_DIR / "article_diagnostics.json", report)
    (RESULTS_DIR / "article_diagnostics.md").write_text(to_markdown(report) + "\n")
    print(f"wrote {RESULTS_DIR / 'article_diagnostics.md'} and .json")
    return 0


def to_markdown(report) -> str:
    names = list(STRATEGIES)
    lines = ["# Article diagnostics: each recipe alone, held-out cost", "",
             f"Measured: {environment_line(report['environment'])}.", "",
             "Each cell: autoimb restricted to that one strategy (n_trials=1; 5-fold "
             "CV, cross-fitted threshold, refit on the 16,000 training rows), scored on "
             "the 4,000 test rows: **test cost** (CV cost × ¼, i.e. the cost the CV "
             "predicted for 4,000 rows).", "",
             "| split | " + " | ".join(names) + " | baseline (TTCV HGB) | "
             "autoimb full search (its pick) |",
             "| --- |" + " ---: |" * (len(names) + 2)]
    means = {n: [] for n in names}
    base, full = [], []
    for s in report["splits"]:
        cells = []
        for r in s["recipes"]:
            cells.append(f"**{fmt(r['test_cost'])}** ({fmt(r['cv_cost_scaled_to_test'])})")
            means[r["strategy"]].append(r["test_cost"])
        b = s["baseline"]["test_cost"]
        base.append(b)
        a = s["searched"]
        if a:
            full.append(a["test_cost"])
            pick = (f"**{fmt(a['test_cost'])}** ({fmt(a['best_cv_cost_scaled_to_test'])})"
                    f" {a['best_strategy']}")
        else:
            pick = "-"
        lines.append(f"| {s['seed']} | " + " | ".join(cells) + f" | **{fmt(b)}** | {pick} |")
    lines.append("| **mean** | " + " | ".join(f"**{fmt(float(np.mean(means[n])))}**"
                                             for n in names)
                 + f" | **{fmt(float(np.mean(base)))}** | "
                 + (f"**{fmt(float(np.mean(full)))}**" if full else "-") + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
