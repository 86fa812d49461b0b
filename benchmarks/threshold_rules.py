"""Which rule picks a decision threshold that holds on new rows?

For every shared data set and split seed: a stratified 75/25 split, fp_cost 1 and
fn_cost = the training part's imbalance ratio; one fixed model (LightGBM, 200
trees, learning rate 0.05, through autoimb's preprocessing) gives 5-fold
out-of-fold scores on the training part; each rule picks a threshold from those
scores; the model refitted on the whole training part scores the test part, and
the rule's threshold gives the held-out normalized cost (test cost / the cheaper
trivial rule's test cost).

Rules:
- ``first_min``: the first (highest) cut of least cost: autoimb before this change;
- ``middle``: the middle cut of least cost (:func:`best_cost_threshold`);
- ``middle_gap``: ``middle`` with the cut placed between its two neighbouring
  scores at fp / (fp + fn) of the gap, not midway (the library's rule);
- ``bootstrap``: the median of the best cuts of 64 bootstrap resamples
  (``stable_threshold`` below: the library's rule for a while, then dropped);
- ``smoothed``: least expected cost under kernel-smoothed class score densities
  (``smoothed_threshold`` below: tried as the library's rule, and dropped);
- ``bootstrap_gap``: ``bootstrap`` with each cut placed between its two
  neighbouring scores at fp / (fp + fn) of the gap, not midway;
- ``isotonic_bayes``: isotonic calibration on the out-of-fold scores, then the Bayes
  threshold fp / (fp + fn) (for reference).

A plateau is "wide" when the least out-of-fold cost is at most 2 false negatives'
worth (nearly separable data: many cuts tie or nearly tie).

Run from the repository root::

    python benchmarks/threshold_rules.py                 # seeds 0-3, all data sets
    python benchmarks/threshold_rules.py --seeds 0 --only car_vgood,yeast_me2

Writes benchmarks/results/threshold_rules.{md,json}.
"""

from __future__ import annotations

import _common  # noqa: F401  (first: caps the thread pools before numpy loads)

import argparse
import time
from pathlib import Path

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.special import ndtr
from sklearn.datasets import make_classification
from sklearn.model_selection import StratifiedKFold, train_test_split

from _common import RESULTS_DIR, environment, environment_line, markdown_table, write_json
from autoimb.pipeline.calibration import make_calibrator
from autoimb.pipeline.strategy import Strategy
from autoimb.pipeline.threshold import (
    _groups,
    _middle_of_minimum,
    bayes_threshold,
    best_cost_threshold,
    cost_curve,
    cost_loss,
)
from autoimb._validation import check_frame, column_kinds

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets"
RULES = ("first_min", "middle", "middle_gap", "bootstrap", "smoothed", "bootstrap_gap",
         "isotonic_bayes")
MODELS = {
    "lightgbm": Strategy("lightgbm", {"n_estimators": 200, "learning_rate": 0.05}),
    "hgb": Strategy("hist_gradient_boosting", {}),
}
MODEL = MODELS["lightgbm"]


def datasets(only=None):
    names = sorted(p.name.removesuffix(".csv.gz") for p in DATA_DIR.glob("*.csv.gz"))
    names.append("article")
    return [n for n in names if not only or n in only]


def load(name):
    if name == "article":
        X, y = make_classification(n_samples=20000, n_features=25, n_informative=10,
                                   weights=[0.97, 0.03], flip_y=0.02, random_state=42)
        return pd.DataFrame(X).add_prefix("x"), pd.Series(y)
    frame = pd.read_csv(DATA_DIR / f"{name}.csv.gz", low_memory=False)
    return frame.drop(columns="target"), frame["target"]


def _bandwidth(z) -> float:
    """Silverman's rule of thumb for a Gaussian kernel on ``z``."""
    if len(z) < 2:
        return 1.0
    spread = np.std(z)
    q75, q25 = np.percentile(z, [75, 25])
    if q75 > q25:
        spread = min(spread, (q75 - q25) / 1.34)
    return float(max(0.9 * spread * len(z) ** -0.2, 1e-3))


def _binned(z, edges):
    counts, _ = np.histogram(z, bins=edges)
    centers = (edges[:-1] + edges[1:]) / 2
    keep = counts > 0
    return centers[keep], counts[keep].astype(float)


def smoothed_threshold(y_true, scores, loss: Callable, *, grid_size: int = 256,
                       n_bins: int = 1024) -> float:
    """The threshold of least expected loss under smoothed score densities.

    Each class's scores, on the logit scale, are smoothed by a Gaussian kernel
    (Silverman's bandwidth, so the class with fewer rows is smoothed more); the
    expected true and false positives of a threshold ``t`` are then
    ``sum over rows of P(score >= t)``, and the loss of those expected counts is
    minimised over a grid. Where the exact cost curve has a plateau or a gap
    between the classes, the expected cost still has a slope: with costly false
    negatives the threshold moves away from the lowest positive, towards the
    negatives, as far as their density allows. This is the plug-in Bayes rule on
    the score with kernel density estimates of both classes.

    Parameters
    ----------
    y_true : array of shape (n,)
        1 for the positive class, 0 otherwise.
    scores : array of shape (n,)
        Probabilities of the positive class.
    loss : callable
        ``loss(tp, fp, n_pos)`` of arrays of expected counts, lower is better:
        :func:`cost_loss` or :func:`f1_loss`.
    grid_size : int, default=256
        Candidate thresholds.
    n_bins : int, default=1024
        Scores are binned this finely before smoothing (time does not grow
        with the rows).

    Returns
    -------
    float
        ``inf`` when there is no positive.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.r_[np.zeros(400, dtype=int), np.ones(20, dtype=int)]
    >>> rng = np.random.default_rng(0)
    >>> s = np.r_[rng.uniform(0.0, 0.2, 400), rng.uniform(0.6, 1.0, 20)]
    >>> t = smoothed_threshold(y, s, cost_loss(1.0, 20.0))  # doctest: +SKIP
    >>> bool(0.2 < t < 0.4)  # inside the gap, towards the cheap errors
    True
    """
    y_true = np.asarray(y_true)
    p = np.clip(np.asarray(scores, dtype=float), 1e-6, 1 - 1e-6)
    z = np.log(p / (1 - p))
    z_pos, z_neg = z[y_true == 1], z[y_true != 1]
    if len(z_pos) == 0:
        return float("inf")
    h_pos, h_neg = _bandwidth(z_pos), _bandwidth(z_neg)
    low, high = z.min(), z.max()
    edges = np.linspace(low, high + 1e-9, n_bins + 1)
    margin = 3 * max(h_pos, h_neg)
    grid = np.linspace(low - margin, high + margin, grid_size)
    centers, counts = _binned(z_pos, edges)
    tp = (counts * ndtr((centers[None, :] - grid[:, None]) / h_pos)).sum(axis=1)
    if len(z_neg):
        centers, counts = _binned(z_neg, edges)
        fp = (counts * ndtr((centers[None, :] - grid[:, None]) / h_neg)).sum(axis=1)
    else:
        fp = np.zeros(grid_size)
    # The grid, plus "nothing positive" above every score.
    losses = np.r_[loss(np.zeros(1), np.zeros(1), float(len(z_pos))),
                   loss(tp, fp, float(len(z_pos)))]
    best = int(_middle_of_minimum(losses)[0])
    if best == 0:
        return float("inf")
    t = grid[best - 1]
    return float(1.0 / (1.0 + np.exp(-t)))


def stable_threshold(y_true, scores, loss: Callable, *, position: float = 0.5,
                     n_boot: int = 64, random_state: int = 0) -> float:
    """The median of the best thresholds of bootstrap resamples of the rows.

    Each resample weighs every row by a Poisson(1) count (the bootstrap), finds
    the cut of least ``loss`` on those weights (the middle one where several tie),
    and the median of their thresholds is returned. Where the minimum of the loss
    is sharp, every resample finds it; where a plateau or several dips of
    near-equal loss exist, the median lands in their middle rather than on the
    edge that the exact minimum of one sample happens to pick.

    Parameters
    ----------
    y_true : array of shape (n,)
        1 for the positive class, 0 otherwise.
    scores : array of shape (n,)
    loss : callable
        ``loss(tp, fp, n_pos)`` of arrays of weighted counts, lower is better:
        :func:`cost_loss` or :func:`f1_loss`.
    position : float, default=0.5
        Where a cut lies between the two distinct scores around it (see
        :func:`cost_curve`). For costs, ``fp_cost / (fp_cost + fn_cost)``: if
        the probability of the positive class rose linearly across the gap, the
        Bayes threshold would sit there. Where the classes separate with a
        wide gap, that keeps the threshold near the cheap errors' side.
    n_boot : int, default=64
        Number of bootstrap resamples.
    random_state : int, default=0
        Seed of the resampling; the same rows always give the same threshold.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = (rng.random(500) < 0.1).astype(int)
    >>> s = rng.random(500) + y
    >>> t = stable_threshold(y, s, cost_loss(1, 9))  # doctest: +SKIP
    >>> bool(0.5 < t < 1.2)  # doctest: +SKIP
    True
    """
    y_true = np.asarray(y_true)
    thresholds, order, starts = _groups(y_true, scores, position)
    positive = (y_true[order] == 1).astype(float)
    rng = np.random.default_rng(random_state)
    chosen = []
    chunk = max(1, min(n_boot, 4_000_000 // max(len(order), 1)))
    for done in range(0, n_boot, chunk):
        size = min(chunk, n_boot - done)
        weights = rng.poisson(1.0, size=(size, len(order))).astype(float)
        tp_group = np.add.reduceat(weights * positive, starts, axis=1)
        fp_group = np.add.reduceat(weights * (1.0 - positive), starts, axis=1)
        zeros = np.zeros((size, 1))
        tp = np.hstack([zeros, np.cumsum(tp_group, axis=1)])
        fp = np.hstack([zeros, np.cumsum(fp_group, axis=1)])
        # Rows drawn zero times tie the cuts around them: the middle of the tie
        # spreads the cut over the gap the resample leaves.
        best = _middle_of_minimum(loss(tp, fp, tp[:, -1:]))
        chosen.append(thresholds[best])
    chosen = np.concatenate(chosen)
    finite = chosen[np.isfinite(chosen)]
    if len(finite) <= len(chosen) // 2:
        return float("inf")  # most resamples predict nothing positive
    # The median of all, with "nothing positive" counted as above every score.
    return float(np.median(chosen))


def first_min(y, s, fp, fn):
    thresholds, tp, fpc = cost_curve(y, s)
    cost = fpc * fp + (tp[-1] - tp) * fn
    return float(thresholds[int(np.argmin(cost))]), float(cost.min())


def cost_of(y, pred, fp, fn):
    return float(np.sum(pred & (y == 0)) * fp + np.sum(~pred & (y == 1)) * fn)


def run_one(name, seed):
    X, y = load(name)
    X = check_frame(X)
    y = y.to_numpy().astype(int)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y,
                                              random_state=seed)
    fp, fn = 1.0, float((y_tr == 0).sum() / (y_tr == 1).sum())
    kinds = column_kinds(X_tr)
    oof = np.empty(len(y_tr))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(
            X_tr, y_tr):
        model = MODEL.make_pipeline(kinds, random_state=seed).fit(
            X_tr.iloc[train], y_tr[train])
        oof[test] = model.predict_proba(X_tr.iloc[test])[:, 1]
    model = MODEL.make_pipeline(kinds, random_state=seed).fit(X_tr, y_tr)
    s_te = model.predict_proba(X_te)[:, 1]
    loss = cost_loss(fp, fn)
    t_first, oof_min = first_min(y_tr, oof, fp, fn)
    iso = make_calibrator("isotonic").fit(oof, y_tr)
    thresholds = {
        "first_min": t_first,
        "middle": best_cost_threshold(y_tr, oof, fp, fn)[0],
        "middle_gap": best_cost_threshold(y_tr, oof, fp, fn,
                                          position=bayes_threshold(fp, fn))[0],
        "bootstrap": stable_threshold(y_tr, oof, loss),
        "smoothed": smoothed_threshold(y_tr, oof, loss),
        "bootstrap_gap": stable_threshold(y_tr, oof, loss,
                                          position=bayes_threshold(fp, fn)),
    }
    trivial = min((y_te == 1).sum() * fn, (y_te == 0).sum() * fp)
    row = {"dataset": name, "seed": seed, "rows": len(y), "test_positives":
           int(y_te.sum()), "fn_cost": fn,
           "oof_min_cost_in_fn": oof_min / fn, "wide": oof_min <= 2 * fn}
    for rule, t in thresholds.items():
        row[rule] = cost_of(y_te, s_te >= t, fp, fn) / trivial
        row[f"t_{rule}"] = t
    row["isotonic_bayes"] = cost_of(
        y_te, iso.transform(s_te) >= bayes_threshold(fp, fn), fp, fn) / trivial
    return row


def report(rows, env):
    table = pd.DataFrame(rows)
    means = table.groupby("dataset")[list(RULES)].mean()
    wide = table.groupby("dataset")["wide"].mean()
    lines = [
        "# Decision-threshold rules: held-out normalized cost",
        "",
        f"Run: {environment_line(env)}.",
        f"Seeds {sorted(table.seed.unique().tolist())}; fixed model {MODEL.describe()}; "
        "5-fold out-of-fold scores on the 75% training part; threshold applied to the "
        "refitted model's scores on the 25% test part. Lower is better; 1 = the "
        "cheaper trivial rule. `wide` = share of seeds whose least out-of-fold cost "
        "was at most two false negatives.",
        "",
        "## Mean over data sets and seeds",
        "",
    ]
    overall = [["all data sets", len(table)] + [f"{table[r].mean():.4f}" for r in RULES]]
    narrow = table[~table.wide]
    widest = table[table.wide]
    overall.append(["wide plateau", len(widest)]
                   + [f"{widest[r].mean():.4f}" if len(widest) else "-" for r in RULES])
    overall.append(["other", len(narrow)]
                   + [f"{narrow[r].mean():.4f}" if len(narrow) else "-" for r in RULES])
    lines.append(markdown_table(["rows", "fits", *RULES], overall, "lr" + "r" * len(RULES)))
    tuned = [r for r in RULES if r != "isotonic_bayes"]
    wins = {r: int((table[tuned].min(axis=1) >= table[r] - 1e-12).sum())
            for r in tuned}
    lines += ["", "Fits where each tuned rule is (one of) the best of the tuned "
              "rules: " + ", ".join(f"{r} {w}" for r, w in wins.items()) + ".", "",
              "## Per data set (mean over seeds)", ""]
    per = [[name, f"{wide[name]:.2f}"] + [f"{means.loc[name, r]:.4f}" for r in RULES]
           for name in means.index]
    lines.append(markdown_table(["data set", "wide", *RULES], per,
                                "lr" + "r" * len(RULES)))
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3")
    parser.add_argument("--only", default="")
    parser.add_argument("--out", default="threshold_rules")
    parser.add_argument("--model", default="lightgbm", choices=sorted(MODELS))
    args = parser.parse_args()
    global MODEL
    MODEL = MODELS[args.model]
    seeds = [int(s) for s in args.seeds.split(",")]
    only = set(filter(None, args.only.split(",")))
    env = environment()
    rows = []
    for name in datasets(only):
        for seed in seeds:
            start = time.perf_counter()
            rows.append(run_one(name, seed))
            print(f"{name} seed {seed}: "
                  + ", ".join(f"{r} {rows[-1][r]:.3f}" for r in RULES)
                  + f" ({time.perf_counter() - start:.1f} s)", flush=True)
            write_json(RESULTS_DIR / f"{args.out}.json", {"environment": env,
                                                          "rows": rows})
            (RESULTS_DIR / f"{args.out}.md").write_text(report(rows, env))


if __name__ == "__main__":
    main()
