"""Scale: the two largest shared data sets with a long budget.

For covertype_4v2 (286k rows) and kddcup_http (284k rows): a stratified 75/25
split (seed 0), fp_cost 1 and fn_cost = the training part's imbalance ratio, and
``autoimb.fit`` with ``timeout=--budget`` (600 s) and otherwise defaults. It
records:

- trials run (complete, pruned) and the fit's wall time against its budget;
- peak memory: the process's resident memory sampled every 0.1 s during the fit,
  minus its resident memory before, against the training frame's in-memory
  size (``DataFrame.memory_usage(deep=True)``). Each data set runs in a fresh
  process. Before the measured fit, a warm-up fit on 2,000 rows of the same
  data (15 s) loads the modules a fit imports and its plots draw; the peak is
  given from before the warm-up (all of the fit's memory) and from after it
  (what the data's size adds, without the fixed cost of the code);
- search overhead per completed trial: the trial's wall time (Optuna's start and
  completion times) minus the time spent fitting and scoring the models of its
  folds (the ``fit_time`` it records); it covers post-processing, Optuna, the
  storage and the notes, and is reported as a share of the model time;
- the held-out normalized cost of the returned model;
- a floor to compare the peak with: in another fresh process, after a warm-up
  fit of autoimb on 2,000 rows (which loads the same modules), the peak memory of plain scikit-learn on the same rows and the same
  validation autoimb chose (its folds or holdout), with no search around it:
  ``HistGradientBoostingClassifier(class_weight="balanced")`` fitted on each
  training part and scoring its held-out part, one model alive at a time. It is
  the cost of one model of the search, not of a search.

Run from the repository root (one fit at a time, nothing else on the machine)::

    python benchmarks/scale.py                      # both data sets, 600 s each
    python benchmarks/scale.py --only kddcup_http --budget 120
    python benchmarks/scale.py --floor-only        # the floor's rows only
    python benchmarks/scale.py --shares 0.25,1 --budget 120 --out scale_shares

``--shares`` repeats every measurement on stratified shares of the training rows
(the test rows unchanged): how the peak grows with the data's size, apart from
the fixed cost that any fit pays. The Markdown then adds the growth per MB of
data between the smallest and the largest share.

Writes benchmarks/results/scale.{md,json} (``--out`` names them), after every
row: a run cut short and started again with the same command runs only the rows
not yet written.
"""

from __future__ import annotations

import os

# autoimb's defaults, not the one-thread cap of the other benchmarks (_common).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, str(os.cpu_count()))

import argparse
import json
import tempfile
import threading
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

import autoimb
from _common import (ROW_MARK, RESULTS_DIR, environment, environment_line,
                     markdown_table, proc_field_kb, process_tree,
                     row_from_fresh_process, write_json)
from threshold_rules import load

DATASETS = ("covertype_4v2", "kddcup_http")
WARM_UP_ROWS, WARM_UP_SECONDS = 2_000, 15.0


def _rss_mb() -> float:
    """Resident memory of this process and its descendants (autoimb's worker
    processes, when the search runs one trial per core), summed: pages they
    share count once per process, so this is an upper bound."""
    return _rss_tree_and_own_mb()[0]


def _rss_tree_and_own_mb() -> tuple[float, float]:
    """``(MB of the process tree, MB of this process alone)``, each read once."""
    own = _own_rss_mb(os.getpid())
    return own + sum(_own_rss_mb(pid) for pid in process_tree(os.getpid())[1:]), own


def _own_rss_mb(pid: int) -> float:
    return proc_field_kb(f"/proc/{pid}/status", "VmRSS:") / 1024


class PeakMemory:
    """The highest resident memory seen while the block runs, sampled every
    0.1 s, with the samples kept: ``(seconds since the start, MB of the process
    tree, MB of this process alone)``."""

    def __enter__(self):
        self.before = _rss_mb()
        self.peak = self.before
        self.samples = []
        self._start = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.1):
            tree, own = _rss_tree_and_own_mb()
            self.samples.append((time.perf_counter() - self._start, tree, own))
            self.peak = max(self.peak, tree)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())

    def peaks_by_step(self, steps: dict) -> dict:
        """The peak above ``before`` within each step of a fit, given as
        ``model.fit_times_`` (seconds of each step, in order, and ``total``):
        ``{step: [process tree MB, this process MB]}``, for steps long enough
        to hold a sample."""
        peaks, start = {}, 0.0
        for step, seconds in steps.items():
            if step == "total":
                continue
            inside = [(tree, own) for t, tree, own in self.samples
                      if start <= t < start + seconds]
            if inside:
                peaks[step] = [max(tree for tree, _ in inside) - self.before,
                               max(own for _, own in inside) - self.before]
            start += seconds
        return peaks


def _split(name, seed, share=1.0):
    """The benchmark's stratified 75/25 split, the training part cut to a
    stratified ``share`` of its rows, and the training frame's MB."""
    X, y = load(name)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y,
                                              random_state=seed)
    if share < 1.0:
        X_tr, _, y_tr, _ = train_test_split(X_tr, y_tr, train_size=share,
                                            stratify=y_tr, random_state=seed)
    return X_tr, X_te, y_tr, y_te, X_tr.memory_usage(deep=True).sum() / 2**20


def run_one(name, budget, share=1.0, seed=0):
    X_tr, X_te, y_tr, y_te, data_mb = _split(name, seed, share)
    fp, fn = 1.0, float((y_tr == 0).sum() / (y_tr == 1).sum())
    storage = os.path.join(tempfile.mkdtemp(prefix="autoimb-scale-"), "autoimb.journal")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", autoimb.AutoImbWarning)
        cold = _rss_mb()
        few, _, few_y, _ = train_test_split(X_tr, y_tr, train_size=WARM_UP_ROWS,
                                            stratify=y_tr, random_state=seed)
        with PeakMemory() as warm_up:
            autoimb.fit(few, few_y, fp_cost=fp, fn_cost=fn, timeout=WARM_UP_SECONDS,
                        random_state=seed, show_progress_bar=False,
                        storage=storage.replace("autoimb.journal", "warm_up.journal"))
        start = time.perf_counter()
        with PeakMemory() as memory:
            model = autoimb.fit(X_tr, y_tr, fp_cost=fp, fn_cost=fn, timeout=budget,
                                random_state=seed, storage=storage,
                                show_progress_bar=False)
        seconds = time.perf_counter() - start
    held = autoimb.evaluate(model, X_te, y_te)
    overhead = []
    for trial in model.study_.get_trials(deepcopy=False):
        fit = trial.user_attrs.get("fit_time")
        if trial.state.name != "COMPLETE" or not fit:
            continue
        wall = (trial.datetime_complete - trial.datetime_start).total_seconds()
        overhead.append((wall - fit, fit))
    extra = np.array([o for o, _ in overhead])
    fits = np.array([f for _, f in overhead])
    states = model.results_.state.value_counts().to_dict()
    return {
        "dataset": name, "share": share, "budget": budget, "rows": len(X_tr),
        "columns": X_tr.shape[1],
        "validation": model.validation_.describe(), "seconds": seconds,
        "complete": int(states.get("COMPLETE", 0)),
        "pruned": int(states.get("PRUNED", 0)), "failed": int(states.get("FAIL", 0)),
        "data_mb": data_mb, "rss_cold_mb": cold, "rss_before_mb": memory.before,
        "warm_up_peak_increase_mb": warm_up.peak - cold,
        "peak_increase_mb": memory.peak - cold,
        "memory_ratio": (memory.peak - cold) / data_mb,
        "net_peak_increase_mb": memory.peak - memory.before,
        "net_memory_ratio": (memory.peak - memory.before) / data_mb,
        "overhead_median_s": float(np.median(extra)) if len(extra) else None,
        "overhead_share_median": float(np.median(extra / fits)) if len(extra) else None,
        "overhead_share_total": float(extra.sum() / fits.sum()) if len(extra) else None,
        "heldout_normalized_cost": held["normalized_cost"],
        "strategy": model.strategy_,
        "peaks_by_step_mb": memory.peaks_by_step(getattr(model, "fit_times_", {})),
    }


def run_floor(name, budget, share=1.0, seed=0):
    """Peak memory of plain scikit-learn gradient boosting on autoimb's
    validation of the same rows: the floor a search of that model stands on."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from autoimb.search.folds import choose_validation, make_folds

    X_tr, _, y_tr, _, data_mb = _split(name, seed, share)
    y01 = y_tr.to_numpy().astype(int)
    validation = choose_validation(len(X_tr), X_tr.shape[1],
                                   int(min(y01.sum(), len(y01) - y01.sum())), budget)
    folds = make_folds(validation, y01, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cold = _rss_mb()
        few = slice(0, WARM_UP_ROWS)
        with PeakMemory() as warm_up:  # loads what the search's warm-up loads
            autoimb.fit(X_tr.iloc[few], y_tr.iloc[few], timeout=WARM_UP_SECONDS,
                        random_state=seed, show_progress_bar=False, storage="memory")
        start = time.perf_counter()
        with PeakMemory() as memory:
            for train, test in folds:
                model = HistGradientBoostingClassifier(class_weight="balanced",
                                                       random_state=seed)
                model.fit(X_tr.iloc[train], y01[train])
                model.predict_proba(X_tr.iloc[test])
                del model
        seconds = time.perf_counter() - start
    return {"dataset": name, "share": share, "floor_validation": validation.describe(),
            "floor_seconds": seconds, "data_mb": data_mb,
            "floor_warm_up_peak_increase_mb": warm_up.peak - cold,
            "floor_net_peak_increase_mb": memory.peak - memory.before,
            "floor_net_memory_ratio": (memory.peak - memory.before) / data_mb}


def report(rows, env):
    lines = ["# Scale: the two largest data sets", "", f"Run: {environment_line(env)}."]
    searched = [r for r in rows if "rows" in r]
    if searched:
        lines += _search_lines(searched)
    floors = [r for r in rows if "floor_net_peak_increase_mb" in r]
    if floors:
        lines += _floor_lines(floors)
    if len({r.get("share", 1.0) for r in rows}) > 1:
        lines += _growth_lines(rows)
    if any(r.get("peaks_by_step_mb") for r in rows):
        lines += _step_lines(rows)
    return "\n".join(lines) + "\n"


def _step_lines(rows):
    """Where in the fit the peak is reached: the peak above the memory before
    the fit (after the warm-up) within each step of ``fit_times_``, for the
    process tree and for the fitting process alone."""
    with_steps = [r for r in rows if r.get("peaks_by_step_mb")]
    steps = list(dict.fromkeys(step for r in with_steps for step in r["peaks_by_step_mb"]))
    table = markdown_table(
        ["data set", "share", *steps],
        [[r["dataset"], f"{r['share']:g}",
          *(("{:.0f} / {:.0f}".format(*r["peaks_by_step_mb"][step])
             if step in r["peaks_by_step_mb"] else "-") for step in steps)]
         for r in with_steps],
        "lr" + "r" * len(steps))
    return ["", "## Where the peak is reached", "",
            "The peak above the memory before the fit (after the warm-up), MB, "
            "within each step of `model.fit_times_`: all processes / the fitting "
            "process alone (its worker processes run during the search and stop "
            "before the choice):", "", table]


def _growth_lines(rows):
    """How much the peak (after a warm-up) grows per MB of data, between the
    smallest and the largest share: the part of the memory that scales with the
    data, apart from the fixed cost a fit pays at any size."""
    table_rows = []
    for name in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == name]
        small = min(mine, key=lambda r: r["share"])
        large = max(mine, key=lambda r: r["share"])
        if small["share"] == large["share"]:  # one share so far: nothing to compare
            continue
        added = large["data_mb"] - small["data_mb"]
        cells = [name, f"{small['share']:g} to {large['share']:g}"]
        for key in ("floor_net_peak_increase_mb", "net_peak_increase_mb"):
            grown = large[key] - small[key] if key in small and key in large else None
            cells += (["-", "-"] if grown is None else
                      [f"{grown:+.1f} MB for {added:+.1f} MB", f"{grown / added:.2f}"])
        table_rows.append(cells)
    table = markdown_table(
        ["data set", "shares of the rows", "floor: peak growth", "per MB of data",
         "autoimb: peak growth", "per MB of data"], table_rows, "llrrrr")
    return ["", "## Growth with the data's size", "",
            "The peak after a warm-up at the largest share minus the same at the "
            "smallest, against the data's growth between them (the fixed cost of a "
            "fit cancels out):", "", table]


def _search_lines(rows):
    table = markdown_table(
        ["data set", "share", "rows", "validation", "budget s", "wall s",
         "trials (complete/pruned)", "data MB", "peak increase MB", "peak / data",
         "after a warm-up: MB", "/ data", "overhead / fit time (median, total)",
         "held-out norm. cost"],
        [[r["dataset"], f"{r.get('share', 1.0):g}", f"{r['rows']:,}", r["validation"],
          f"{r['budget']:.0f}",
          f"{r['seconds']:.1f}",
          f"{r['complete'] + r['pruned']} ({r['complete']}/{r['pruned']})",
          f"{r['data_mb']:.1f}", f"{r['peak_increase_mb']:.1f}",
          f"{r['memory_ratio']:.2f}", f"{r['net_peak_increase_mb']:.1f}",
          f"{r['net_memory_ratio']:.2f}",
          f"{r['overhead_share_median']:.1%}, {r['overhead_share_total']:.1%}",
          f"{r['heldout_normalized_cost']:.4f}"] for r in rows],
        "lrrlrrrrrrrrrr")
    warm_ups = ", ".join(f"{r['dataset']} ({r.get('share', 1.0):g}) "
                         f"{r['warm_up_peak_increase_mb']:.0f} MB" for r in rows)
    return ["", table, "",
            "*peak increase*: from before a 2,000-row warm-up fit (all the memory "
            "the fit takes); *after a warm-up*: from after it, without the fixed cost "
            f"of the modules and plots a fit loads (the warm-up's own peak increase: "
            f"{warm_ups}).", "",
            "Chosen: " + "; ".join(f"{r['dataset']} ({r.get('share', 1.0):g}): "
                                   f"{r['strategy']}" for r in rows)]


def _floor_lines(rows):
    def versus(r, text):
        return text(r) if "net_peak_increase_mb" in r else "-"

    table = markdown_table(
        ["data set", "share", "validation", "data MB", "floor after a warm-up: MB",
         "/ data",
         "autoimb after a warm-up: MB", "autoimb / floor"],
        [[r["dataset"], f"{r.get('share', 1.0):g}", r["floor_validation"],
          f"{r['data_mb']:.1f}",
          f"{r['floor_net_peak_increase_mb']:.1f}", f"{r['floor_net_memory_ratio']:.2f}",
          versus(r, lambda r: f"{r['net_peak_increase_mb']:.1f}"),
          versus(r, lambda r: "{:.2f}".format(
              r["net_peak_increase_mb"] / r["floor_net_peak_increase_mb"]))]
         for r in rows],
        "lrlrrrrr")
    return ["", "## The floor: one model, no search", "",
            'Plain scikit-learn `HistGradientBoostingClassifier(class_weight='
            '"balanced")` on the same training rows and the same validation, one '
            "model at a time, in a fresh process after a 2,000-row warm-up fit "
            "(`--floor-only` measures it alone):", "", table]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=600.0)
    parser.add_argument("--only", default="")
    parser.add_argument("--out", default="scale")
    parser.add_argument("--shares", default="1",
                        help="shares of the training rows, e.g. 0.25,1 (default 1)")
    parser.add_argument("--floor-only", action="store_true",
                        help="measure only the floor (plain scikit-learn), no search")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the child process's set
    parser.add_argument("--floor", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    shares = [float(share) for share in args.shares.split(",")]
    if args.one:  # a child process: the search's row, or the floor's
        run = run_floor if args.floor else run_one
        print(ROW_MARK + json.dumps(run(args.one, args.budget, shares[0])), flush=True)
        return
    names = [n for n in DATASETS if not args.only or n in args.only.split(",")]
    env = environment()
    rows = _rows_done(RESULTS_DIR / f"{args.out}.json", args)
    for name in names:
        for share in shares:  # each in a fresh process, so that memory starts clean
            if any(r["dataset"] == name and r["share"] == share for r in rows):
                continue
            common = ("--budget", args.budget, "--shares", share)
            row = {} if args.floor_only else row_from_fresh_process(
                __file__, name, *common)
            rows.append({**row_from_fresh_process(__file__, name, "--floor", *common),
                         **row})
            print(pd.Series(rows[-1]).to_string(), flush=True)
            write_json(RESULTS_DIR / f"{args.out}.json",
                       {"environment": env, "rows": rows})
            (RESULTS_DIR / f"{args.out}.md").write_text(report(rows, env))


def _rows_done(path, args) -> list:
    """The rows an earlier run of the same command wrote to ``path`` (same
    budget, same kind of run), so that a run cut short goes on where it stopped."""
    if not path.exists():
        return []
    rows = json.loads(path.read_text())["rows"]
    kept = [r for r in rows if r.get("budget", args.budget) == args.budget
            and ("seconds" in r) != args.floor_only]
    if kept:
        print(f"{len(kept)} row(s) already in {path}; running the others", flush=True)
    return kept


if __name__ == "__main__":
    main()
