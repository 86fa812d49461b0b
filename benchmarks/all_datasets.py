"""A quick autoimb fit on every shared benchmark data set: does it run, how long.

For every ``*.csv.gz`` in the shared data folder (``<repo>/../shared/datasets``,
read in place; label column ``target``, 1 = minority) it runs::

    autoimb.fit(X, y, search_space="fast", n_trials=4, cv=3, storage="memory",
                random_state=0, show_progress_bar=False)

with the default costs, and records rows, columns, positives, wall seconds,
completed/pruned/failed trials (and why trials failed), the best strategy, its
cross-validated metrics, the warnings raised, and any exception with its
traceback. A failing data set does not stop the run; the exit status is 1 if any
data set failed.

Run from the repository root::

    python benchmarks/all_datasets.py
    python benchmarks/all_datasets.py --only ecoli_imu,car_vgood

Writes benchmarks/results/all_datasets.{md,json} (rewritten after each data set,
so a long run leaves partial results). Native thread pools are capped at one
thread (see _common.py).
"""

from __future__ import annotations

import _common  # noqa: F401  (first: caps the thread pools before numpy loads)

import argparse
import sys
import time
import traceback
import warnings
from pathlib import Path

import pandas as pd

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

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets"
OPTIONS = {"search_space": "fast", "n_trials": 4, "cv": 3, "storage": "memory", "random_state": 0,
               "show_progress_bar": False}
SLOW_SECONDS = 300


def autoimb_frame(tb) -> str | None:
    """``file:line in function`` of the innermost traceback frame inside autoimb."""
    frames = [f for f in traceback.extract_tb(tb)
              if "/autoimb/" in f.filename.replace("\\", "/")]
    if not frames:
        return None
    f = frames[-1]
    path = f.filename.replace("\\", "/")
    return f"{path[path.rindex('/autoimb/') + 1:]}:{f.lineno} in {f.name}"


def run_one(path: Path) -> dict:
    name = path.name.removesuffix(".csv.gz")
    record = {"dataset": name, "file": str(path)}
    start = time.perf_counter()
    try:
        frame = pd.read_csv(path, low_memory=False)
        y = frame["target"]
        X = frame.drop(columns="target")
        record.update(rows=len(frame), columns=X.shape[1],
                      positives=int((y == 1).sum()),
                      categorical_columns=_n_non_numeric(X),
                      missing_cells=int(X.isna().sum().sum()))
        record["read_seconds"] = time.perf_counter() - start
    except Exception as exc:
        record.update(status="error", stage="read", error=f"{type(exc).__name__}: {exc}",
                      traceback=traceback.format_exc(), where=None)
        return record
    seen = []
    fit_start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = autoimb.fit(X, y, **OPTIONS)
        seen = caught
    except Exception as exc:
        record.update(status="error", stage="fit",
                      error=f"{type(exc).__name__}: {exc}",
                      traceback=traceback.format_exc(),
                      where=autoimb_frame(exc.__traceback__),
                      fit_seconds=time.perf_counter() - fit_start)
        if exc.__cause__ is not None:
            record["cause"] = f"{type(exc.__cause__).__name__}: {exc.__cause__}"
        return record
    finally:
        record["warnings"] = _warning_summary(seen)
    record["fit_seconds"] = time.perf_counter() - fit_start
    table = trial_table(model)
    failed = table[table["state"] == "FAIL"]
    record.update(
        status="ok",
        trials=trial_counts(model),
        trial_seconds=[None if pd.isna(s) else round(float(s), 2)
                       for s in table["seconds"]],
        failed_trial_reasons=sorted(set(failed["reason"].dropna().astype(str))),
        pruned_trial_reasons=sorted(set(
            table.loc[table["state"] == "PRUNED", "reason"].dropna().astype(str))),
        best_trial_number=int(model.best_trial_number_),
        best_strategy=model.strategy_,
        best_score=model.best_score_,
        threshold=model.threshold_,
        fp_cost=model.objective_.fp_cost, fn_cost=model.objective_.fn_cost,
        cv_metrics=model.cv_metrics_,
        trials_table=table.drop(columns=[c for c in table.columns
                                         if c.startswith("params.")])
        .to_dict(orient="records"),
    )
    return record


def _warning_summary(caught) -> list[dict]:
    counts: dict[tuple, int] = {}
    for w in caught:
        key = (w.category.__name__, str(w.message)[:300],
               f"{Path(w.filename).name}:{w.lineno}")
        counts[key] = counts.get(key, 0) + 1
    return [{"category": c, "message": m, "where": where, "count": n}
            for (c, m, where), n in counts.items()]


def _n_non_numeric(X: pd.DataFrame) -> int:
    """Columns that are neither numeric nor boolean (text: object or pandas str)."""
    return int(sum(not (pd.api.types.is_numeric_dtype(d) or pd.api.types.is_bool_dtype(d))
                   for d in X.dtypes))


def _n_rows(path: Path) -> int:
    return len(pd.read_csv(path, usecols=["target"]))


def to_markdown(report) -> str:
    records = report["datasets"]
    ok = [r for r in records if r["status"] == "ok"]
    bad = [r for r in records if r["status"] != "ok"]
    total = sum(r.get("read_seconds", 0) + r.get("fit_seconds", 0) for r in records)
    lines = [
        "# autoimb on every shared data set",
        "",
        f"Measured: {environment_line(report['environment'])}.",
        "",
        "Each: `autoimb.fit(X, y, " + ", ".join(f"{k}={v!r}"
                                                for k, v in report["options"].items())
        + ")` with the default costs (fp_cost = 1, fn_cost = negatives per positive), "
        "fitted on all rows. Metrics are cross-validated (3 folds) at the chosen "
        "threshold; normalized cost = cost / cost of the best trivial classifier "
        "(below 1 the model beats predicting one class).",
        "",
        f"{len(ok)} of {len(records)} data sets fitted, {len(bad)} failed; "
        f"total {total / 60:.1f} min.",
        "",
    ]
    rows = []
    for r in records:
        t = r.get("trials") or {}
        m = r.get("cv_metrics") or {}
        trials = (f"{t['complete']}/{t['pruned']}/{t['failed']}" if t else "-")
        slow = " ⚠" if r.get("fit_seconds", 0) > SLOW_SECONDS else ""
        outcome = (r["best_strategy"] if r["status"] == "ok"
                   else f"**FAILED** ({r.get('stage')}): {r['error'][:160]}"
                   + (f" at `{r['where']}`" if r.get("where") else ""))
        rows.append([r["dataset"], fmt(r.get("rows")), fmt(r.get("columns")),
                     fmt(r.get("positives")),
                     fmt(r.get("fit_seconds"), ".1f") + slow, trials,
                     fmt(m.get("normalized_cost"), ".3f"),
                     fmt(m.get("average_precision"), ".3f"),
                     fmt(m.get("recall"), ".3f"), fmt(m.get("precision"), ".3f"),
                     outcome])
    lines.append(markdown_table(
        ["data set", "rows", "cols", "pos", "fit s", "trials c/p/f", "norm. cost",
         "AP", "recall", "precision", "best strategy / error"], rows, "lrrrrrrrrrl"))
    slow = [r["dataset"] for r in records if r.get("fit_seconds", 0) > SLOW_SECONDS]
    lines += ["", (f"⚠ more than {SLOW_SECONDS} s for one fit: {', '.join(slow)}."
                   if slow else f"No fit took more than {SLOW_SECONDS} s."), ""]
    trial_notes = [r for r in ok if r["failed_trial_reasons"]]
    if trial_notes:
        lines += ["## Failed trials (caught by the search)", ""]
        for r in trial_notes:
            for reason in r["failed_trial_reasons"]:
                lines.append(f"- **{r['dataset']}**: {reason}")
        lines.append("")
    if bad:
        lines += ["## Failures", ""]
        for r in bad:
            lines += [f"### {r['dataset']}: `{r['error'][:300]}`", ""]
            if r.get("where"):
                lines += [f"Innermost autoimb frame: `{r['where']}`", ""]
            if r.get("cause"):
                lines += [f"Cause: `{r['cause'][:500]}`", ""]
            lines += ["```", r["traceback"].rstrip(), "```", ""]
    warned = [r for r in records if r.get("warnings")]
    if warned:
        lines += ["## Warnings raised during fit", ""]
        for r in warned:
            for w in r["warnings"]:
                lines.append(f"- **{r['dataset']}** ({w['count']}×, {w['where']}) "
                             f"{w['category']}: {w['message'][:200]}")
        lines.append("")
    lines += ["## Time per trial (s)", ""]
    lines.append(markdown_table(
        ["data set", "trial seconds (in order; '-' = never ran)", "refit + overhead s"],
        [[r["dataset"], ", ".join(fmt(s, ".1f") for s in r["trial_seconds"]),
          fmt(r["fit_seconds"] - sum(s for s in r["trial_seconds"] if s), ".1f")]
         for r in ok], "llr"))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--only", default="", help="comma-separated data set names")
    parser.add_argument("--skip", default="", help="comma-separated data set names")
    parser.add_argument("--out", default="all_datasets",
                        help="stem of the results files in benchmarks/results/")
    parser.add_argument("--preset", default=OPTIONS["search_space"],
                        help='search_space (default "fast")')
    parser.add_argument("--n-trials", type=int, default=OPTIONS["n_trials"],
                        help="n_trials (default 4)")
    parser.add_argument("--max-rows", type=int, default=None,
                        help="skip data sets with more rows than this")
    args = parser.parse_args(argv)
    OPTIONS.update(search_space=args.preset, n_trials=args.n_trials)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    # smallest files first: quick feedback, the two big ones last
    paths = sorted(args.data_dir.glob("*.csv.gz"), key=lambda p: p.stat().st_size)
    paths = [p for p in paths if (not only or p.name.removesuffix(".csv.gz") in only)
             and p.name.removesuffix(".csv.gz") not in skip]
    if args.max_rows is not None:
        paths = [p for p in paths if _n_rows(p) <= args.max_rows]
    if not paths:
        print(f"no data sets found in {args.data_dir}", file=sys.stderr)
        return 2
    report = {"options": dict(OPTIONS), "data_dir": str(args.data_dir),
              "environment": environment(), "datasets": []}
    print(environment_line(report["environment"]), flush=True)
    for path in paths:
        print(f"{path.name.removesuffix('.csv.gz'):<22}", end=" ", flush=True)
        record = run_one(path)
        report["datasets"].append(record)
        if record["status"] == "ok":
            t, m = record["trials"], record["cv_metrics"]
            print(f"{record['rows']:>7} rows {record['fit_seconds']:7.1f} s  trials "
                  f"{t['complete']}/{t['pruned']}/{t['failed']}  norm.cost "
                  f"{m['normalized_cost']:.3f}  AP {m['average_precision']:.3f}  "
                  f"{record['best_strategy']}", flush=True)
        else:
            print(f"FAILED ({record['stage']}) {record['error'][:200]}"
                  f"{'  at ' + record['where'] if record.get('where') else ''}",
                  flush=True)
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        write_json(RESULTS_DIR / f"{args.out}.json", report)
        (RESULTS_DIR / f"{args.out}.md").write_text(to_markdown(report))
    failed = [r["dataset"] for r in report["datasets"] if r["status"] != "ok"]
    print(f"\n{len(paths) - len(failed)} of {len(paths)} fitted"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    print(f"wrote {RESULTS_DIR / args.out}.md and .json")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
