"""Scale on synthetic data: 125k to 2M rows x 40 columns, 600 s searches (issue 41).

The data (:func:`make_data`, deterministic from ``--seed``): 30 float64
normal columns, the first 12 in four correlated groups (correlation 0.5 within a
group), the other 18 independent; 10 pandas categoricals of 20 levels with
uneven frequencies; 5 % of one informative numeric column missing (at random);
about 0.6 % positives drawn from a logistic model with interactions (two
products of numeric columns, a square, a level effect of two categoricals, a
categorical-by-categorical effect and a categorical-by-numeric slope). The model
and its intercept are the same at every size: each size is a sample of the same
population. ``--sizes`` counts all rows; a stratified 25 % of them is the test
part (:func:`_common.protocol_split`: fp_cost 1, fn_cost the training part's
imbalance ratio).

For each size, in a fresh process (and the LightGBM recipe in another):

- **the search**: ``autoimb.fit(X, y, timeout=--budget, fp_cost=1,
  fn_cost=ratio, random_state=--seed)``, otherwise defaults (the study in a
  journal file in a temporary folder, as the default ``autoimb.journal`` but
  out of the repository); its trials by state (complete on all rows, pruned,
  failed, waiting, other; trials on a subsample counted apart, see
  :func:`_on_subsample`), the completed ones proposed by the search against
  queued ones (portfolio entries carry the user attribute ``recipe``; any
  enqueued trial, e.g. a retry, Optuna's system attribute ``fixed_params``);
  the median fit time (``fit_time``: fitting and scoring its folds) and wall
  time of a completed trial by model family; the fit's wall time against the
  budget; the held-out normalized cost (cost / min(n_pos * fn_cost,
  n_neg * fp_cost) on the test part);
- **memory**: the proportional set size (PSS: ``Pss:`` of
  ``/proc/PID/smaps_rollup``, so that pages shared between processes count
  once) and the resident memory (``VmRSS``), each summed over the process tree
  (the fitting process and its worker processes), sampled every 0.2 s during
  the fit. The **resting** point is measured just before ``fit``, with the data
  loaded and the libraries a fit uses imported (:data:`WARM_IMPORTS`); the
  data's size is the training frame's ``memory_usage(deep=True).sum()``. The
  issue's bar: peak PSS <= resting PSS + 4 x data + 300 MB;
- **the LightGBM recipe** (``peers_systems.fit_lgbm_isotonic_bayes``, called
  in-process, both cores, the same function ``peers.py`` runs:
  LightGBM 300 trees at 0.05 in an isotonic ``CalibratedClassifierCV`` with
  5 folds, Bayes threshold fp / (fp + fn)) fitted once on the same training
  rows and scored on the same test part, with its time and peak PSS.

``--slope`` measures the time of fixed configurations instead of a search: the
portfolio's LightGBM entry ("LightGBM, 300 trees at learning rate 0.05") and
its HGB entry ("no handling, tuned threshold", HistGradientBoosting 100
iterations), each built as a trial builds it
(``Strategy.make_pipeline(kinds, seed, n_jobs=1)`` on the data as
``check_training_data`` converts it, one thread as in a search) and fitted once
on all training rows (then predicting the test part), each size in a fresh
process. The report fits the slope of log seconds against log rows between 250k
and 2M rows (the issue's bar: at most 1.1).

Run from the repository root, nothing else on the machine (see the
README's scripts table for times)::

    python benchmarks/scale_synthetic.py                         # 5 sizes, 600 s each
    python benchmarks/scale_synthetic.py --sizes 1000000 --budget 600 --out scale_1m
    python benchmarks/scale_synthetic.py --slope                 # fixed configurations
    python benchmarks/scale_synthetic.py --sizes 20000,40000 --budget 30 \\
        --results-dir /tmp/scale                                 # a check of the harness

Writes ``<results-dir>/<out>.{md,json}`` (``benchmarks/results/scale_synthetic``
by default, ``scale_synthetic_slope`` with ``--slope``) after every size: a run
cut short and started again with the same command runs only the sizes not yet
written (a size whose process failed is tried again).
"""

from __future__ import annotations

import os

# autoimb's defaults (and both cores for the recipe, as in peers.py), not the
# one-thread cap of the other benchmarks (_common).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, str(os.cpu_count()))

import argparse
import gc
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from _common import (RESULTS_DIR, ROW_MARK, environment, environment_line,
                     markdown_table, proc_field_kb, process_tree, protocol_split,
                     write_json)

SIZES = (125_000, 250_000, 500_000, 1_000_000, 2_000_000)
N_NUMERIC, N_CATEGORICAL, N_LEVELS = 30, 10, 20
POSITIVE_RATE = 0.006
MISSING_COLUMN, MISSING_SHARE = "x3", 0.05
SAMPLE_SECONDS = 0.2
#: Slope between these sizes (all rows, as --sizes counts them).
SLOPE_RANGE = (250_000, 2_000_000)
SLOPE_BAR, MEMORY_DATA_FACTOR, MEMORY_FIXED_MB = 1.1, 4.0, 300.0
#: What a fit imports, loaded before the resting point is measured.
WARM_IMPORTS = ("autoimb._classifier", "autoimb.explain.diagnostics", "lightgbm",
                "sklearn.ensemble", "imblearn.ensemble", "optuna")
#: The portfolio entries --slope fits (names in autoimb.search.portfolio).
SLOPE_ENTRIES = {"lightgbm": "LightGBM, 300 trees at learning rate 0.05",
                 "hgb": "no handling, tuned threshold"}
#: User (or system) attributes that would mark a trial run on a subsample of
#: the rows (none exists today; multi-fidelity may add one): a share below 1,
#: a row count below the largest the study records, or True.
SUBSAMPLE_ATTRS = ("fidelity", "subsample", "subsample_share", "sample_share",
                   "sample_rows", "subsample_rows", "rows_used", "n_rows",
                   "train_rows", "on_subsample")


# -- the data -------------------------------------------------------------------------

def make_data(n_rows: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """``n_rows`` rows of the synthetic population of ``seed``: 30 float64
    columns ``x0..x29`` and 10 categoricals ``c0..c9``, and the 0/1 label.

    The population (coefficients, level effects, intercept) depends on ``seed``
    only; the rows on ``seed`` and ``n_rows``.

    Examples
    --------
    >>> X, y = make_data(2_000, seed=0)
    >>> X.shape, str(X["c0"].dtype), bool(0.02 < X["x3"].isna().mean() < 0.08)
    ((2000, 40), 'category', True)
    """
    model = _population(seed)
    rng = np.random.default_rng([seed, n_rows])
    X, logit = _rows(rng, n_rows, model)
    y = (rng.random(n_rows) < _sigmoid(logit + model["intercept"])).astype(np.int64)
    X.loc[rng.random(n_rows) < MISSING_SHARE, MISSING_COLUMN] = np.nan
    return X, y


def _population(seed: int) -> dict:
    """Coefficients of the logistic model, and its intercept set so that the
    population's positive rate is :data:`POSITIVE_RATE`."""
    rng = np.random.default_rng([seed, 0])
    model = {
        "level_p": [_level_probabilities(rng) for _ in range(N_CATEGORICAL)],
        "effect_c0": rng.normal(0, 0.8, N_LEVELS),
        "effect_c1": rng.normal(0, 0.6, N_LEVELS),
        "slope_c2_x8": rng.normal(0, 0.5, N_LEVELS),
        "effect_c3_c4": rng.normal(0, 0.5, (N_LEVELS, N_LEVELS)),
    }
    _, logit = _rows(np.random.default_rng([seed, 1]), 200_000, model)
    low, high = -20.0, 5.0
    for _ in range(60):  # bisection on the mean probability
        middle = (low + high) / 2
        if _sigmoid(logit + middle).mean() < POSITIVE_RATE:
            low = middle
        else:
            high = middle
    model["intercept"] = (low + high) / 2
    return model


def _level_probabilities(rng) -> np.ndarray:
    """Uneven level frequencies (Zipf-like, exponent 0.8), in a random order."""
    weights = 1.0 / np.arange(1, N_LEVELS + 1) ** 0.8
    return rng.permutation(weights / weights.sum())


def _rows(rng, n_rows: int, model: dict) -> tuple[pd.DataFrame, np.ndarray]:
    """The feature frame and the logit (without intercept) of ``n_rows`` rows."""
    factors = rng.standard_normal((n_rows, 4))
    columns = {}
    for j in range(N_NUMERIC):
        noise = rng.standard_normal(n_rows)
        columns[f"x{j}"] = (np.sqrt(0.5) * factors[:, j % 4] + np.sqrt(0.5) * noise
                            if j < 12 else noise)
    del factors
    codes = [rng.choice(N_LEVELS, size=n_rows, p=p).astype(np.int8)
             for p in model["level_p"]]
    x = columns
    logit = (0.8 * x["x0"] - 0.6 * x["x1"] + 0.5 * x["x2"] + 0.4 * x["x3"]
             + 0.3 * x["x12"] - 0.3 * x["x13"]
             + 0.7 * x["x0"] * x["x4"] - 0.5 * x["x5"] * x["x6"]
             + 0.4 * (x["x7"] ** 2 - 1)
             + model["effect_c0"][codes[0]] + model["effect_c1"][codes[1]]
             + model["slope_c2_x8"][codes[2]] * x["x8"]
             + model["effect_c3_c4"][codes[3], codes[4]])
    for k, code in enumerate(codes):
        categories = [f"c{k}_{level:02d}" for level in range(N_LEVELS)]
        columns[f"c{k}"] = pd.Categorical.from_codes(code, categories=categories)
    return pd.DataFrame(columns), logit


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def split(size: int, seed: int):
    """The training and test parts of ``size`` rows, the costs, and the
    training frame's in-memory MB."""
    X, y = make_data(size, seed)
    X_tr, X_te, y_tr, y_te, fp, fn = protocol_split(X, y, seed)
    del X, y
    gc.collect()
    return X_tr, X_te, y_tr, y_te, fp, fn, X_tr.memory_usage(deep=True).sum() / 2**20


# -- memory of the process tree -----------------------------------------------------

def tree_memory_mb(pid: int | None = None) -> dict:
    """PSS and RSS (MB) of ``pid``'s process tree, summed, and how many
    processes it holds."""
    tree = process_tree(pid or os.getpid())
    pss = sum(proc_field_kb(f"/proc/{p}/smaps_rollup", "Pss:") for p in tree)
    rss = sum(proc_field_kb(f"/proc/{p}/status", "VmRSS:") for p in tree)
    return {"pss": pss / 1024, "rss": rss / 1024, "processes": len(tree)}


class TreePeak:
    """Peak PSS and RSS of this process's tree while the block runs, sampled
    every :data:`SAMPLE_SECONDS` (each sum read in one pass over the tree)."""

    def __enter__(self):
        self.before = tree_memory_mb()
        self.peak_pss, self.peak_rss = self.before["pss"], self.before["rss"]
        self.max_processes, self.samples = 1, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(SAMPLE_SECONDS):
            self._take(tree_memory_mb())

    def _take(self, now):
        self.peak_pss = max(self.peak_pss, now["pss"])
        self.peak_rss = max(self.peak_rss, now["rss"])
        self.max_processes = max(self.max_processes, now["processes"])
        self.samples += 1

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._take(tree_memory_mb())


def resting_point() -> dict:
    """Import what a fit uses, collect garbage, and measure the tree."""
    import importlib

    for name in WARM_IMPORTS:
        importlib.import_module(name)
    gc.collect()
    return tree_memory_mb()


# -- the rows (each in a fresh process) ---------------------------------------------

def run_search(size: int, budget: float, seed: int) -> dict:
    X_tr, X_te, y_tr, y_te, fp, fn, data_mb = split(size, seed)
    rest = resting_point()
    import autoimb
    from peers_systems import normalized_cost

    folder = tempfile.mkdtemp(prefix="autoimb-scale-synthetic-")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", autoimb.AutoImbWarning)
            start = time.perf_counter()
            with TreePeak() as peak:
                model = autoimb.fit(X_tr, y_tr, timeout=budget, fp_cost=fp, fn_cost=fn,
                                    random_state=seed, show_progress_bar=False,
                                    storage=os.path.join(folder, "autoimb.journal"))
            seconds = time.perf_counter() - start
        trials = trial_summary(model.study_, len(y_tr))
        pred = (np.asarray(model.predict(X_te)) == 1).astype(int)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    bar = rest["pss"] + MEMORY_DATA_FACTOR * data_mb + MEMORY_FIXED_MB
    return {
        "size": size, "budget": budget, "seed": seed, "rows": len(y_tr),
        "positives": int(y_tr.sum()), "test_rows": len(y_te),
        "test_positives": int(y_te.sum()), "columns": X_tr.shape[1],
        "fp_cost": fp, "fn_cost": fn, "data_mb": data_mb,
        "validation": model.validation_.describe(), "n_jobs": model.n_jobs_,
        "seconds": seconds, "seconds_over_budget": seconds / budget,
        "fit_steps": {k: round(v, 1) for k, v in getattr(model, "fit_times_", {}).items()},
        **trials,
        "resting_pss_mb": rest["pss"], "resting_rss_mb": rest["rss"],
        "before_fit_pss_mb": peak.before["pss"],
        "peak_pss_mb": peak.peak_pss, "peak_rss_mb": peak.peak_rss,
        "peak_processes": peak.max_processes, "memory_samples": peak.samples,
        "pss_above_resting_mb": peak.peak_pss - rest["pss"],
        "rss_above_resting_mb": peak.peak_rss - rest["rss"],
        "pss_above_resting_per_data": (peak.peak_pss - rest["pss"]) / data_mb,
        "memory_bar_mb": bar, "memory_bar_met": bool(peak.peak_pss <= bar),
        "heldout_normalized_cost": normalized_cost(y_te, pred, fp, fn),
        "strategy": model.strategy_,
    }


def run_recipe(size: int, seed: int) -> dict:
    """The LightGBM recipe of peers.py, fitted once on the same training rows."""
    from peers_systems import Context, fit_lgbm_isotonic_bayes, normalized_cost

    X_tr, X_te, y_tr, y_te, fp, fn, _ = split(size, seed)
    rest = resting_point()
    folder = Path(tempfile.mkdtemp(prefix="scale-synthetic-recipe-"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            with TreePeak() as peak:
                fitted = fit_lgbm_isotonic_bayes(
                    X_tr, y_tr, Context(seed=seed, budget=None, fp_cost=fp,
                                        fn_cost=fn, workdir=folder))
            seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    pred = np.asarray(fitted.predict(X_te)).astype(int)
    return {"recipe_seconds": seconds,
            "recipe_heldout_normalized_cost": normalized_cost(y_te, pred, fp, fn),
            "recipe_pss_above_resting_mb": peak.peak_pss - rest["pss"],
            "recipe_config": fitted.config}


def run_slope(size: int, seed: int, repeats: int) -> dict:
    """Seconds to fit (and to predict the test part with) each fixed portfolio
    entry of :data:`SLOPE_ENTRIES`, built as a trial builds it, on all rows."""
    from threadpoolctl import threadpool_limits

    from autoimb import load_search_space
    from autoimb._validation import check_training_data
    from autoimb.search.portfolio import PORTFOLIO, portfolio_params
    from autoimb.search.trials import strategy_of

    X_tr, X_te, y_tr, y_te, _, _, data_mb = split(size, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = check_training_data(X_tr, y_tr)
        X_te = check_training_data(X_te, y_te).X  # as the fitted model converts it
    del X_tr
    space = load_search_space("default")
    entries = {name: entry for name, entry, _ in PORTFOLIO}
    row = {"size": size, "seed": seed, "rows": len(y_tr), "data_mb": data_mb,
           "checked_data_mb": data.X.memory_usage(deep=True).sum() / 2**20}
    for key, name in SLOPE_ENTRIES.items():
        params = portfolio_params(space, entries[name], data.kinds)
        strategy = strategy_of(space, params, data.kinds)
        fits, predicts = [], []
        for _ in range(repeats):
            pipeline = strategy.make_pipeline(data.kinds, seed, n_jobs=1)
            with warnings.catch_warnings(), threadpool_limits(limits=1):
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                pipeline.fit(data.X, data.y)
                fits.append(time.perf_counter() - start)
                start = time.perf_counter()
                pipeline.predict_proba(X_te)
                predicts.append(time.perf_counter() - start)
            del pipeline
            gc.collect()
        row[f"{key}_strategy"] = strategy.describe()
        row[f"{key}_fit_s"] = float(np.median(fits))
        row[f"{key}_fit_all_s"] = fits
        row[f"{key}_predict_s"] = float(np.median(predicts))
    return row


# -- trials ---------------------------------------------------------------------------

def _on_subsample(trial, largest: dict) -> bool:
    """True when one of :data:`SUBSAMPLE_ATTRS` says the trial ran on part of
    the rows: True, a share below 1, or a count below ``largest[key]`` (the
    largest the study records for it: the trials on all rows)."""
    attrs = {**trial.system_attrs, **trial.user_attrs}
    for key in SUBSAMPLE_ATTRS:
        value = attrs.get(key)
        if value is None:
            continue
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            return value < 1 if value <= 1 else value < largest.get(key, value)
    return False


def trial_summary(study, n_rows: int) -> dict:
    """Trials by state, on all rows or on a subsample; the completed ones
    proposed by the search against queued ones; per model family, completed
    trials on all rows and their median fit and wall seconds."""
    trials = study.get_trials(deepcopy=False)
    largest = {}
    for trial in trials:
        attrs = {**trial.system_attrs, **trial.user_attrs}
        for key in SUBSAMPLE_ATTRS:
            value = attrs.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                largest[key] = max(largest.get(key, value), value)
    counts = {"complete": 0, "pruned": 0, "failed": 0, "waiting": 0, "other": 0}
    sub = dict(counts)
    proposed = queued_portfolio = queued_other = 0
    families: dict[str, dict] = {}
    errors: dict[str, int] = {}
    for trial in trials:
        state = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed",
                 "WAITING": "waiting"}.get(trial.state.name, "other")
        on_sub = _on_subsample(trial, largest)
        (sub if on_sub else counts)[state] += 1
        if state == "failed":
            error = str(trial.user_attrs.get(
                "error", "no error recorded (a process stopped while it ran)"))[:200]
            errors[error] = errors.get(error, 0) + 1
        if state != "complete" or on_sub:
            continue
        if trial.user_attrs.get("recipe"):
            queued_portfolio += 1
        elif "fixed_params" in trial.system_attrs or "retry_of" in trial.user_attrs:
            queued_other += 1
        else:
            proposed += 1
        family = families.setdefault(str(trial.params.get("model", "?")),
                                     {"fit": [], "wall": []})
        if trial.user_attrs.get("fit_time") is not None:
            family["fit"].append(float(trial.user_attrs["fit_time"]))
        if trial.datetime_start and trial.datetime_complete:
            family["wall"].append((trial.datetime_complete
                                   - trial.datetime_start).total_seconds())
    # autoimb's own words for how each trial ended (skipped trials never ran)
    from autoimb.storage.outcomes import count_outcomes, outcome_of

    return {
        "trials": counts, "trials_on_subsample": sub,
        "outcomes": count_outcomes(outcome_of(t) for t in trials),
        "completed_proposed": proposed, "completed_queued_portfolio": queued_portfolio,
        "completed_queued_other": queued_other, "failed_errors": errors,
        "families": {name: {"completed": max(len(f["fit"]), len(f["wall"])),
                            "median_fit_s": float(np.median(f["fit"])) if f["fit"]
                            else None,
                            "median_wall_s": float(np.median(f["wall"])) if f["wall"]
                            else None}
                     for name, f in sorted(families.items())},
    }


# -- the report -----------------------------------------------------------------------

def _outcomes(counts: dict | None) -> str:
    """How the trials ended in autoimb's words (``autoimb.outcome``; skipped
    trials never ran), or a dash for rows written before it was recorded."""
    if not counts:
        return "-"
    return ", ".join(f"{n} {name}" for name, n in counts.items() if n)


def slope(rows: list, key: str) -> tuple[float | None, list]:
    """Least-squares slope of log seconds against log training rows over the
    sizes in :data:`SLOPE_RANGE` (all sizes when fewer than two lie in it), and
    the sizes it used."""
    measured = [r for r in rows if r.get(f"{key}_fit_s")]
    inside = [r for r in measured if SLOPE_RANGE[0] <= r["size"] <= SLOPE_RANGE[1]]
    used = inside if len(inside) >= 2 else measured
    if len(used) < 2:
        return None, [r["size"] for r in used]
    fitted = np.polyfit(np.log([r["rows"] for r in used]),
                        np.log([r[f"{key}_fit_s"] for r in used]), 1)
    return float(fitted[0]), [r["size"] for r in used]


def _mb(value) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _cost(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def search_report(rows: list, env: dict) -> str:
    done = sorted((r for r in rows if "error" not in r), key=lambda r: r["size"])
    lines = ["# Scale on synthetic data: searches", "",
             f"Run: {environment_line(env)}.", "",
             "Data: `benchmarks/scale_synthetic.py`'s generator (40 columns: 30 "
             "float64, 10 categoricals of 20 levels, 5 % missing in one column, "
             "about 0.6 % positives); *size* counts all rows, 25 % of them "
             "(stratified) the test part. Memory: PSS and RSS summed over the "
             "fitting process and its worker processes, sampled every "
             f"{SAMPLE_SECONDS} s; *resting*: before `fit`, data loaded and "
             "libraries imported.", ""]
    if done:
        lines += [markdown_table(
            ["size", "training rows (positives)", "data MB", "validation",
             "budget s", "fit s (/ budget)", "complete / pruned / failed / other",
             "outcomes", "on a subsample", "completed: proposed / portfolio / other queued",
             "resting PSS MB", "peak PSS MB", "peak RSS MB", "PSS above resting / data",
             "bar MB", "bar met?", "held-out", "LightGBM recipe (s)"],
            [[f"{r['size']:,}", f"{r['rows']:,} ({r['positives']:,})",
              f"{r['data_mb']:.1f}", r["validation"], f"{r['budget']:.0f}",
              f"{r['seconds']:.0f} ({r['seconds_over_budget']:.2f})",
              "{complete} / {pruned} / {failed} / {other}".format(
                  **{**r["trials"], "other": r["trials"]["other"]
                     + r["trials"]["waiting"]}),
              _outcomes(r.get("outcomes")),
              sum(r["trials_on_subsample"].values()),
              f"{r['completed_proposed']} / {r['completed_queued_portfolio']} / "
              f"{r['completed_queued_other']}",
              _mb(r["resting_pss_mb"]), _mb(r["peak_pss_mb"]), _mb(r["peak_rss_mb"]),
              f"{r['pss_above_resting_per_data']:.1f}", _mb(r["memory_bar_mb"]),
              "yes" if r["memory_bar_met"] else "**no**",
              _cost(r["heldout_normalized_cost"]),
              f"{_cost(r.get('recipe_heldout_normalized_cost'))} "
              f"({_mb(r.get('recipe_seconds'))})"]
             for r in done], "rrrlrrrlrrrrrrrlrr"), "",
            f"*bar*: the issue's memory bar, resting PSS + {MEMORY_DATA_FACTOR:g} x "
            f"data + {MEMORY_FIXED_MB:g} MB, against the peak PSS. *other* counts "
            "queued trials that never ran (waiting) and trials left running. "
            "*held-out*: normalized cost on the test part (cost / min(n_pos x "
            "fn_cost, n_neg x fp_cost)).", "",
            "## Time per completed trial on all rows, by model family", "",
            "Median `fit_time` (fitting and scoring the folds) / median wall "
            "seconds (completed trials):", ""]
        names = sorted({f for r in done for f in r["families"]})
        lines += [markdown_table(
            ["size", *names],
            [[f"{r['size']:,}", *(
                "{} / {} ({})".format(_seconds(r["families"][f]["median_fit_s"]),
                                      _seconds(r["families"][f]["median_wall_s"]),
                                      r["families"][f]["completed"])
                if f in r["families"] else "-" for f in names)] for r in done],
            "r" + "r" * len(names)), "",
            "Chosen: " + "; ".join(f"{r['size']:,}: {r['strategy']}" for r in done),
            "", "Steps of `fit` (seconds): " + "; ".join(
                f"{r['size']:,}: " + ", ".join(f"{k} {v}" for k, v in
                                             r["fit_steps"].items()) for r in done)]
    errors = [f"{r['size']:,}: {n} x {text}" for r in done
              for text, n in r.get("failed_errors", {}).items()]
    if errors:
        lines += ["", "Failed trials: " + "; ".join(errors)]
    failed = [r for r in rows if "error" in r]
    if failed:
        lines += ["", "Failed: " + "; ".join(f"{r['size']:,} ({r['part']}): "
                                            f"{r['error']}" for r in failed)]
    return "\n".join(lines) + "\n"


def _seconds(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def slope_report(rows: list, env: dict) -> str:
    done = sorted((r for r in rows if "error" not in r), key=lambda r: r["size"])
    lines = ["# Scale on synthetic data: time of fixed configurations", "",
             f"Run: {environment_line(env)}.", "",
             "Each portfolio entry built as a trial builds it "
             "(`Strategy.make_pipeline(kinds, seed, n_jobs=1)`, one thread), fitted "
             "once on all training rows, then predicting the test part; each size "
             "in a fresh process.", ""]
    keys = list(SLOPE_ENTRIES)
    if done:
        lines += [markdown_table(
            ["size", "training rows", "data MB",
             *(f"{k}: fit s (predict s)" for k in keys)],
            [[f"{r['size']:,}", f"{r['rows']:,}", f"{r['data_mb']:.1f}",
              *(f"{r[f'{k}_fit_s']:.1f} ({r[f'{k}_predict_s']:.1f})" for k in keys)]
             for r in done], "rrr" + "r" * len(keys)), ""]
        for key in keys:
            value, used = slope(done, key)
            where = ", ".join(f"{s:,}" for s in used)
            note = ("" if used and min(used) >= SLOPE_RANGE[0] and len(used) >= 2
                    else f" (not the issue's range {SLOPE_RANGE[0]:,}-"
                         f"{SLOPE_RANGE[1]:,}: a check of the harness only)")
            lines.append(
                f"- {key} ({done[0][f'{key}_strategy']}): slope of log seconds "
                f"against log rows over sizes {where}{note}: "
                + ("-" if value is None else
                   f"**{value:.2f}** (bar {SLOPE_BAR}: "
                   f"{'met' if value <= SLOPE_BAR else 'not met'})"))
    failed = [r for r in rows if "error" in r]
    if failed:
        lines += ["", "Failed: " + "; ".join(f"{r['size']:,}: {r['error']}"
                                            for r in failed)]
    return "\n".join(lines) + "\n"


# -- the parent -----------------------------------------------------------------------

def _child(*args) -> dict:
    """Run this script with ``--one ...`` in a fresh process; its row, or
    ``{"error": ...}`` with the end of its error output."""
    child = subprocess.run([sys.executable, __file__, "--one", *map(str, args)],
                           capture_output=True, text=True)
    for line in child.stdout.splitlines():
        if line.startswith(ROW_MARK):
            return json.loads(line[len(ROW_MARK):])
    tail = (child.stderr.strip().splitlines() or [f"exit status {child.returncode}"])
    return {"error": f"exit status {child.returncode}: {tail[-1][:300]}"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="all rows of each data set, comma-separated "
                             "(default %(default)s)")
    parser.add_argument("--budget", type=float, default=600.0,
                        help="fit's timeout, seconds (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--slope", action="store_true",
                        help="time the portfolio's LightGBM and HGB entries, no search")
    parser.add_argument("--repeats", type=int, default=1,
                        help="--slope: fits per entry and size, the median kept")
    parser.add_argument("--no-recipe", action="store_true",
                        help="skip the LightGBM recipe")
    parser.add_argument("--out", default=None,
                        help="results' name (default scale_synthetic, or "
                             "scale_synthetic_slope with --slope)")
    parser.add_argument("--results-dir", default=str(RESULTS_DIR))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child: its part
    args = parser.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    if args.one:
        row = {"search": lambda: run_search(sizes[0], args.budget, args.seed),
               "recipe": lambda: run_recipe(sizes[0], args.seed),
               "slope": lambda: run_slope(sizes[0], args.seed, args.repeats)}[args.one]()
        print(ROW_MARK + json.dumps(row, default=str), flush=True)
        return
    out = Path(args.results_dir) / (args.out or ("scale_synthetic_slope" if args.slope
                                                 else "scale_synthetic"))
    env = environment()
    rows = _rows_done(out.with_suffix(".json"), args)
    for size in sizes:
        if any(r["size"] == size for r in rows):
            continue
        common = ("--sizes", size, "--seed", args.seed)
        print(f"{time.strftime('%H:%M:%S')} size {size:,}: "
              f"{'fixed configurations' if args.slope else 'search'}", flush=True)
        if args.slope:
            row = _child("slope", *common, "--repeats", args.repeats)
        else:
            row = _child("search", *common, "--budget", args.budget)
            if "error" not in row and not args.no_recipe:
                print(f"{time.strftime('%H:%M:%S')} size {size:,}: LightGBM recipe",
                      flush=True)
                recipe = _child("recipe", *common)
                row.update(recipe if "error" not in recipe else
                           {"recipe_error": recipe["error"]})
        if "error" in row:
            row.update(size=size, part="slope" if args.slope else "search",
                       budget=args.budget, seed=args.seed)
        rows = [r for r in rows if r["size"] != size] + [row]
        _print_row(row, args.slope)
        write_json(out.with_suffix(".json"), {"environment": env, "rows": rows})
        report = slope_report if args.slope else search_report
        out.with_suffix(".md").write_text(report(rows, env))
    print(f"written: {out.with_suffix('.md')}", flush=True)


def _print_row(row: dict, slope_mode: bool) -> None:
    if "error" in row:
        print(f"  failed: {row['error']}", flush=True)
        return
    if slope_mode:
        print("  " + ", ".join(f"{k} fit {row[f'{k}_fit_s']:.1f} s"
                               for k in SLOPE_ENTRIES), flush=True)
        return
    t = row["trials"]
    print(f"  {row['rows']:,} training rows, {row['data_mb']:.1f} MB; fit "
          f"{row['seconds']:.0f} s of {row['budget']:.0f}; complete {t['complete']}, "
          f"pruned {t['pruned']}, failed {t['failed']} (proposed "
          f"{row['completed_proposed']}); held-out "
          f"{row['heldout_normalized_cost']:.4f}, recipe "
          f"{_cost(row.get('recipe_heldout_normalized_cost'))}", flush=True)
    print(f"  memory bar: peak PSS {row['peak_pss_mb']:,.0f} MB <= resting "
          f"{row['resting_pss_mb']:,.0f} + {MEMORY_DATA_FACTOR:g} x "
          f"{row['data_mb']:.1f} + {MEMORY_FIXED_MB:g} = {row['memory_bar_mb']:,.0f} "
          f"MB: {'met' if row['memory_bar_met'] else 'NOT met'} (peak RSS "
          f"{row['peak_rss_mb']:,.0f} MB)", flush=True)


def _rows_done(path: Path, args) -> list:
    """The rows an earlier run of the same command wrote (same seed and, for
    searches, budget; failed sizes left out, to run again)."""
    if not path.exists():
        return []
    rows = [r for r in json.loads(path.read_text())["rows"]
            if "error" not in r and r.get("seed") == args.seed
            and (args.slope or r.get("budget") == args.budget)]
    if rows:
        print(f"{len(rows)} size(s) already in {path}; running the others", flush=True)
    return rows


if __name__ == "__main__":
    main()
