"""autoimb against scikit-learn's TunedThresholdClassifierCV on the article's data.

The data: ``make_classification(n_samples=20000, n_features=25, n_informative=10,
weights=[0.97, 0.03], flip_y=0.02, random_state=42)``; costs fp=10, fn=500.
For each split seed, an 80/20 stratified train/test split; on the training part

* autoimb: ``autoimb.fit(..., fp_cost=10, fn_cost=500, n_trials=None,
  timeout=<budget>, storage="memory", random_state=<seed>, n_jobs=1)``: no trial
  starts after ``budget`` seconds (the trial running then finishes), then the best
  strategy is refitted;
* baseline: ``TunedThresholdClassifierCV(HistGradientBoostingClassifier(),
  scoring=<cost scorer>)`` (5-fold, threshold minimising the cost);

and both are scored on the held-out 20%: cost = 10*FP + 500*FN.

Run from the repository root::

    python benchmarks/article_benchmark.py                  # 3 splits x 120 s
    python benchmarks/article_benchmark.py --budget 30 --splits 0

Writes benchmarks/results/article_benchmark.{md,json} and the trial tables
benchmarks/results/article_trials_split<seed>.csv. Native thread pools are
capped at one thread (see _common.py), so the two methods get one core each.
"""

from __future__ import annotations

import _common  # noqa: F401  (first: caps the thread pools before numpy loads)

import argparse
import sys
import time
import traceback
import warnings

import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import confusion_matrix, make_scorer
from sklearn.model_selection import TunedThresholdClassifierCV, train_test_split

import autoimb
from _common import (
    RESULTS_DIR,
    environment,
    environment_line,
    fmt,
    markdown_table,
    trial_counts,
    trial_table,
    write_json,
)

FP_COST, FN_COST = 10.0, 500.0
ARTICLE_REFERENCE = 29_320  # the article's test-set-picked threshold, its own split
DATA = {"n_samples": 20000, "n_features": 25, "n_informative": 10, "weights": [0.97, 0.03],
            "flip_y": 0.02, "random_state": 42}
TEST_SIZE = 0.2
TOP = 10


def cost(y_true, y_pred) -> float:
    _tn, fp, fn, _tp = confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    return float(FP_COST * fp + FN_COST * fn)


def counts(y_true, y_pred) -> dict:
    tn, fp, fn, tp = confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    return {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)}


def best_test_cost(y_true, proba) -> float:
    """The least cost any threshold reaches on these rows (an oracle, for context)."""
    order = np.argsort(-proba, kind="mergesort")
    y_sorted = np.asarray(y_true)[order]
    p_sorted = proba[order]
    tp = np.cumsum(y_sorted)
    fp = np.cumsum(1 - y_sorted)
    last = np.r_[p_sorted[1:] != p_sorted[:-1], True]  # cut between distinct scores
    n_pos = y_sorted.sum()
    costs = FP_COST * fp[last] + FN_COST * (n_pos - tp[last])
    return float(min(costs.min(), FN_COST * n_pos))


def run_autoimb(X_train, y_train, X_test, y_test, seed, budget, preset, n_jobs=1):
    start = time.perf_counter()
    model = autoimb.fit(X_train, y_train, search_space=preset, fp_cost=FP_COST,
                        fn_cost=FN_COST, n_trials=None, timeout=budget,
                        storage="memory", random_state=seed, n_jobs=n_jobs,
                        show_progress_bar=False)
    wall = time.perf_counter() - start
    trials = model.study_.get_trials(deepcopy=False)
    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    search = (max(ends) - min(starts)).total_seconds() if starts and ends else None
    test = autoimb.evaluate(model, X_test, y_test)
    proba = model.predict_proba(X_test)[:, 1]
    table = trial_table(model)
    durations = table["seconds"].dropna()
    by_state = table.groupby("state")["seconds"].agg(["count", "mean", "median", "max"])
    recipes = table[table["recipe"].notna()][["number", "recipe", "state", "value",
                                              "seconds"]]
    return model, table, {
        "test_cost": test["cost"],
        "test_counts": {k: test[k] for k in ("tn", "fp", "fn", "tp")},
        "test_normalized_cost": test["normalized_cost"],
        "test_average_precision": test["average_precision"],
        "test_oracle_cost": best_test_cost(y_test, proba),
        "wall_seconds": wall,
        "search_seconds": search,
        "refit_and_overhead_seconds": None if search is None else wall - search,
        "trials": trial_counts(model),
        "trial_seconds_mean": float(durations.mean()) if len(durations) else None,
        "trial_seconds_median": float(durations.median()) if len(durations) else None,
        "trial_seconds_by_state": {
            s: {k: float(v) for k, v in row.items()} for s, row in by_state.iterrows()},
        "best_trial_number": int(model.best_trial_number_),
        "best_strategy": model.strategy_,
        "best_params": model.best_params_,
        "best_cv_cost": model.best_score_,
        "best_cv_cost_scaled_to_test": model.best_score_ * TEST_SIZE / (1 - TEST_SIZE),
        "cv_metrics": model.cv_metrics_,
        "threshold": model.threshold_,
        "recipes": recipes.to_dict(orient="records"),
    }


def run_baseline(X_train, y_train, X_test, y_test, seed):
    scorer = make_scorer(cost, greater_is_better=False)
    start = time.perf_counter()
    # random_state only fixes HGB's early-stopping validation split (on for
    # n_samples > 10000), so the baseline is reproducible too.
    baseline = TunedThresholdClassifierCV(
        HistGradientBoostingClassifier(random_state=seed), scoring=scorer, n_jobs=1,
    ).fit(X_train, y_train)
    wall = time.perf_counter() - start
    pred = baseline.predict(X_test)
    proba = baseline.predict_proba(X_test)[:, 1]
    default_pred = (baseline.estimator_.predict_proba(X_test)[:, 1] >= 0.5).astype(int)
    return {
        "test_cost": cost(y_test, pred),
        "test_counts": counts(y_test, pred),
        "test_oracle_cost": best_test_cost(y_test, proba),
        "hgb_at_0.5_test_cost": cost(y_test, default_pred),
        "threshold": float(baseline.best_threshold_),
        "cv_best_score": float(baseline.best_score_),
        "wall_seconds": wall,
    }


def top_trials_markdown(table, seed) -> str:
    cols = ["number", "state", "value", "seconds", "normalized_cost",
            "average_precision", "threshold", "threshold_rule", "strategy", "recipe"]
    top = table.sort_values("value", na_position="last").head(TOP)
    rows = [[int(r["number"]), r["state"], fmt(r["value"]), fmt(r["seconds"], ".1f"),
             fmt(r["normalized_cost"], ".3f"), fmt(r["average_precision"], ".3f"),
             fmt(r["threshold"], ".4f"), fmt(r["threshold_rule"]), r["strategy"],
             fmt(r["recipe"])] for _, r in top.iterrows()]
    return (f"#### Split {seed}: top {TOP} trials by cross-validated cost "
            f"(of {len(table)})\n\n" + markdown_table(cols, rows, "llrrrrrlll"))


def to_markdown(report) -> str:
    s = report["settings"]
    lines = [
        "# Article benchmark: autoimb vs TunedThresholdClassifierCV",
        "",
        f"Measured: {environment_line(report['environment'])}.",
        "",
        f"Data: `make_classification({', '.join(f'{k}={v}' for k, v in DATA.items())})`; "
        f"80/20 stratified splits (seeds {s['splits']}); test part "
        f"{report['splits'][0]['n_test']} rows "
        f"({report['splits'][0]['n_test_positive']} positive). Cost = "
        f"{FP_COST:g}·FP + {FN_COST:g}·FN on the test part.",
        "",
        f"autoimb: preset `{s['preset']}`, `timeout={s['budget']}`, `n_trials=None`, "
        f"`storage=\"memory\"`, `n_jobs={s.get('n_jobs', 1)}`, `random_state=<split seed>`. Baseline: "
        "`TunedThresholdClassifierCV(HistGradientBoostingClassifier(), "
        "scoring=make_scorer(cost, greater_is_better=False))`, 5-fold.",
        "",
        "| split | autoimb cost | baseline cost | Δ (autoimb − baseline) | autoimb FP/FN "
        "| baseline FP/FN | autoimb s (incl. refit) | baseline s | trials "
        "(complete/pruned/failed) | best strategy |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in report["splits"]:
        a, b = r["autoimb"], r["baseline"]
        t = a["trials"]
        lines.append(
            f"| {r['seed']} | {fmt(a['test_cost'])} | {fmt(b['test_cost'])} | "
            f"{a['test_cost'] - b['test_cost']:+,.0f} | "
            f"{a['test_counts']['fp']}/{a['test_counts']['fn']} | "
            f"{b['test_counts']['fp']}/{b['test_counts']['fn']} | "
            f"{a['wall_seconds']:.1f} | {b['wall_seconds']:.1f} | "
            f"{t['total']} ({t['complete']}/{t['pruned']}/{t['failed']}) | "
            f"{a['best_strategy']} |")
    m = report["means"]
    lines.append(
        f"| **mean** | **{fmt(m['autoimb_test_cost'])}** | "
        f"**{fmt(m['baseline_test_cost'])}** | "
        f"**{m['autoimb_test_cost'] - m['baseline_test_cost']:+,.0f}** | | | "
        f"{m['autoimb_wall_seconds']:.1f} | {m['baseline_wall_seconds']:.1f} | "
        f"{m['autoimb_trials']:.1f} | |")
    lines += [
        "",
        f"Reference: the article's test-set-picked threshold reached "
        f"**{ARTICLE_REFERENCE:,}** on its own split (unknown to us; a threshold picked "
        "on the test rows is optimistic, so it is a reference, not a target).",
        "",
        "### Context per split",
        "",
        "| split | autoimb CV cost ×¼ (expected test cost) | autoimb threshold | "
        "autoimb test oracle | baseline threshold | baseline test oracle | "
        "HGB @0.5 | search s | refit+overhead s | median s/trial |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in report["splits"]:
        a, b = r["autoimb"], r["baseline"]
        lines.append(
            f"| {r['seed']} | {fmt(a['best_cv_cost_scaled_to_test'])} | "
            f"{a['threshold']:.4f} | {fmt(a['test_oracle_cost'])} | "
            f"{b['threshold']:.4f} | {fmt(b['test_oracle_cost'])} | "
            f"{fmt(b['hgb_at_0.5_test_cost'])} | {fmt(a['search_seconds'], '.1f')} | "
            f"{fmt(a['refit_and_overhead_seconds'], '.1f')} | "
            f"{fmt(a['trial_seconds_median'], '.1f')} |")
    lines += [
        "",
        "*Test oracle*: the least test cost any threshold reaches with that model's "
        "probabilities (picked on the test rows, like the article's number).",
        "",
        "### The article's recipes (queued as the first trials), CV cost on the "
        "training part",
        "",
        "| split | " + " | ".join(
            rec["recipe"] for rec in report["splits"][0]["autoimb"]["recipes"]) + " |",
        "| --- |" + " ---: |" * len(report["splits"][0]["autoimb"]["recipes"]),
    ]
    for r in report["splits"]:
        cells = [f"{fmt(rec['value'])} ({rec['state'].lower()})"
                 if rec["state"] != "COMPLETE" else fmt(rec["value"])
                 for rec in r["autoimb"]["recipes"]]
        lines.append(f"| {r['seed']} | " + " | ".join(cells) + " |")
    lines += ["", "### Trial tables", ""]
    for r in report["splits"]:
        lines += [r["top_trials_markdown"], ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=120.0,
                        help="seconds of autoimb search per split (default 120)")
    parser.add_argument("--splits", default="0,1,2",
                        help="comma-separated split seeds (default 0,1,2)")
    parser.add_argument("--preset", default="default",
                        help='autoimb search_space (default "default")')
    parser.add_argument("--n-jobs", type=int, default=1,
                        help="autoimb trials in parallel (default 1; -1: one per core)")
    parser.add_argument("--out", default="article_benchmark",
                        help="stem of the results files in benchmarks/results/")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.splits.split(",") if s.strip()]

    X, y = make_classification(**DATA)
    report = {"settings": {"budget": args.budget, "splits": seeds,
                           "preset": args.preset, "n_jobs": args.n_jobs,
                           "fp_cost": FP_COST,
                           "fn_cost": FN_COST, "data": DATA, "test_size": TEST_SIZE},
              "environment": environment(), "article_reference": ARTICLE_REFERENCE,
              "splits": [], "failures": []}
    print(environment_line(report["environment"]), flush=True)
    for seed in seeds:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=TEST_SIZE, stratify=y, random_state=seed)
        print(f"\n== split {seed}: train {len(y_train)} ({int(y_train.sum())} pos), "
              f"test {len(y_test)} ({int(y_test.sum())} pos)", flush=True)
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                model, table, a = run_autoimb(X_train, y_train, X_test, y_test, seed,
                                              args.budget, args.preset, args.n_jobs)
        except Exception as exc:  # record it, run the baseline, fail at the end
            error = {"error": f"{type(exc).__name__}: {exc}",
                     "traceback": traceback.format_exc(),
                     "wall_seconds": time.perf_counter() - start}
            print(f"autoimb FAILED: {error['error']}\n{error['traceback']}",
                  file=sys.stderr, flush=True)
            b = run_baseline(X_train, y_train, X_test, y_test, seed)
            print(f"baseline: test cost {b['test_cost']:>9,.0f}", flush=True)
            report["failures"].append({"seed": seed, **error, "baseline": b})
            continue
        t = a["trials"]
        print(f"autoimb : test cost {a['test_cost']:>9,.0f}  "
              f"(FP {a['test_counts']['fp']}, FN {a['test_counts']['fn']})  "
              f"{a['wall_seconds']:.1f} s, {t['total']} trials "
              f"({t['complete']} complete, {t['pruned']} pruned, {t['failed']} failed)"
              f"\n          best: {a['best_strategy']}", flush=True)
        b = run_baseline(X_train, y_train, X_test, y_test, seed)
        print(f"baseline: test cost {b['test_cost']:>9,.0f}  "
              f"(FP {b['test_counts']['fp']}, FN {b['test_counts']['fn']})  "
              f"{b['wall_seconds']:.1f} s, threshold {b['threshold']:.4f}", flush=True)
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        table.sort_values("value", na_position="last").to_csv(
            RESULTS_DIR / f"{args.out.replace('benchmark', 'trials')}_split{seed}.csv",
            index=False)
        report["splits"].append({
            "seed": seed, "n_train": len(y_train), "n_test": len(y_test),
            "n_test_positive": int(y_test.sum()), "autoimb": a, "baseline": b,
            "top_trials": table.sort_values("value", na_position="last").head(TOP)
            .to_dict(orient="records"),
            "top_trials_markdown": top_trials_markdown(table, seed)})
        del model

    splits = report["splits"]
    if not splits:
        write_json(RESULTS_DIR / f"{args.out}.json", report)
        (RESULTS_DIR / f"{args.out}.md").write_text(failures_markdown(report) + "\n")
        print(f"autoimb failed on every split; wrote {RESULTS_DIR / args.out}.md/.json",
              file=sys.stderr)
        return 1
    report["means"] = {
        "autoimb_test_cost": float(np.mean([r["autoimb"]["test_cost"] for r in splits])),
        "baseline_test_cost": float(np.mean([r["baseline"]["test_cost"]
                                             for r in splits])),
        "autoimb_wall_seconds": float(np.mean([r["autoimb"]["wall_seconds"]
                                               for r in splits])),
        "baseline_wall_seconds": float(np.mean([r["baseline"]["wall_seconds"]
                                                for r in splits])),
        "autoimb_trials": float(np.mean([r["autoimb"]["trials"]["total"]
                                         for r in splits])),
    }
    m = report["means"]
    report["autoimb_wins"] = m["autoimb_test_cost"] < m["baseline_test_cost"]
    print(f"\nmean test cost: autoimb {m['autoimb_test_cost']:,.0f}, baseline "
          f"{m['baseline_test_cost']:,.0f}; article reference (test-picked threshold, "
          f"own split) {ARTICLE_REFERENCE:,}")
    print("autoimb lower than baseline" if report["autoimb_wins"]
          else "autoimb NOT lower than baseline")
    markdown = to_markdown(report)
    if report["failures"]:
        markdown += "\n\n" + failures_markdown(report)
    (RESULTS_DIR / f"{args.out}.md").write_text(markdown + "\n")
    for r in splits:
        r.pop("top_trials_markdown")
    write_json(RESULTS_DIR / f"{args.out}.json", report)
    print(f"wrote {RESULTS_DIR / (args.out + '.md')} and .json")
    return 1 if report["failures"] else 0


def failures_markdown(report) -> str:
    s = report["settings"]
    lines = ["## autoimb failures", "",
             f"Settings: preset `{s['preset']}`, budget {s['budget']} s, splits "
             f"{s['splits']}. Measured: {environment_line(report['environment'])}.", ""]
    for f in report["failures"]:
        lines += [f"### Split {f['seed']}: `{f['error']}` after {f['wall_seconds']:.1f} s "
                  f"(baseline on this split: {fmt(f['baseline']['test_cost'])})", "",
                  "```", f["traceback"].rstrip(), "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
