"""Would a blend of two portfolio recipes make a better prior default than the
balanced random forest alone?

The prior default (``autoimb.search.portfolio.PRIOR_RECIPE``) is the candidate the
final choice prefers when cross-validation cannot tell it from the best. On the
small sets the balanced random forest and the LightGBM recipe (300 trees at
learning rate 0.05) take turns at being the better of the two, so the average
of their scores, fixed before seeing the data, might beat both.

For each data set and split seed (stratified 75/25, fp_cost 1, fn_cost the
training part's imbalance ratio): a search of the portfolio only
(``n_trials=7``, ``timeout=120`` so that small data gets the folds' repeats a
60 s search on two cores gets, ``n_jobs=1``); the two recipes' cached
out-of-fold scores; the blend's cross-fitted post-processing (calibrator, rule
and threshold, as for any blend, its members fixed in advance); then both
recipes refitted on the training part and each of the three scored on the test
part. Held-out normalized cost, and the cross-validated one.

Run from the repository root::

    python benchmarks/prior_blend.py --small --seeds 0,1,2,3,4,5,6,7,8,9,10,11

Writes benchmarks/results/prior_blend.{md,json} after every fit.
"""

from __future__ import annotations

import _common  # noqa: F401  (first: caps the thread pools before numpy loads)

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import autoimb
from _common import (RESULTS_DIR, environment, environment_line, markdown_table,
                     protocol_split, write_json)
from autoimb.pipeline.evaluation import cross_fit_postprocessing
from autoimb.search.trials import strategy_of
from selection_rules import SMALL
from threshold_rules import datasets, load

BLENDED = ("balanced random forest", "LightGBM, 300 trees at learning rate 0.05")
SYSTEMS = ("brf", "lgbm", "blend")


def run_one(name, seed):
    """The three candidates' held-out and cross-validated normalized costs."""
    X, y = load(name)
    X_tr, X_te, y_tr, y_te, fp, fn = protocol_split(X, y, seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", autoimb.AutoImbWarning)
        model = autoimb.fit(X_tr, y_tr, fp_cost=fp, fn_cost=fn, n_trials=7,
                            timeout=120, random_state=seed, show_progress_bar=False,
                            storage="memory", n_jobs=1)
    context = model._context
    number = {t.user_attrs.get("recipe"): t.number for t in model.study_.trials
              if t.state.name == "COMPLETE"}
    members = [number.get(recipe) for recipe in BLENDED]
    if any(m is None or m not in context.oof_cache for m in members):
        return None
    y_scored = context.y[context.scored]
    (s_brf, post_brf), (s_lgbm, post_lgbm) = (context.oof_cache[m] for m in members)
    average = (np.asarray(s_brf, float) + np.asarray(s_lgbm, float)) / 2
    post_blend = cross_fit_postprocessing(average, y_scored, context.groups,
                                          objective=context.objective,
                                          calibrations=context.space.calibrations)
    X_fit, X_test = (model._check_X(X_tr),
                     model._check_X(X_te))
    y01 = (np.asarray(y_tr) == model.pos_label_).astype(int)
    test = (np.asarray(y_te) == model.pos_label_).astype(int)
    held = []
    for m in members:
        strategy = strategy_of(context.space, model.study_.trials[m].params,
                               context.kinds)
        pipeline = strategy.make_pipeline(context.kinds, context.model_seed)
        held.append(pipeline.fit(X_fit, y01).predict_proba(X_test)[:, 1])
    trivial_test = min(test.sum() * fn, (1 - test).sum() * fp)
    trivial_train = min(y_scored.sum() * fn, (1 - y_scored).sum() * fp)

    def heldout(post, scores):
        pred = post.final.predict(scores)
        return float((np.sum(pred & (test == 0)) * fp
                      + np.sum(~pred & (test == 1)) * fn) / trivial_test)

    row = {"dataset": name, "seed": seed, "seconds": time.perf_counter() - start,
           "validation": model.validation_.describe(),
           "brf": heldout(post_brf, held[0]), "lgbm": heldout(post_lgbm, held[1]),
           "blend": heldout(post_blend, (held[0] + held[1]) / 2)}
    for key, post in zip(SYSTEMS, (post_brf, post_lgbm, post_blend), strict=True):
        row[f"cv {key}"] = float(post.value / trivial_train)
    return row


def report(rows, env) -> str:
    table = pd.DataFrame(rows)
    diff = table["blend"] - table["brf"]
    per_set = table.groupby("dataset")[list(SYSTEMS)].mean()
    lines = [
        "# A blend of two recipes as the prior default", "",
        f"Run: {environment_line(env)}.", "",
        f"{len(table)} fits ({table.dataset.nunique()} data sets, seeds "
        f"{sorted(table.seed.unique().tolist())}). Held-out normalized cost "
        "(lower is better) of the balanced random forest recipe, the LightGBM "
        "recipe and their blend (average of scores, cross-fitted post-processing).",
        "", "## Mean over fits", "",
        markdown_table(["", *SYSTEMS], [
            ["held-out", *(f"{table[k].mean():.4f}" for k in SYSTEMS)],
            ["cross-validated", *(f"{table['cv ' + k].mean():.4f}" for k in SYSTEMS)]],
            align="l" + "r" * len(SYSTEMS)),
        "", f"Blend − forest, paired: {diff.mean():+.4f} ± "
        f"{diff.std(ddof=1) / np.sqrt(len(diff)):.4f} (lower on {(diff < 0).sum()}, "
        f"higher on {(diff > 0).sum()}).", "",
        "## Held-out per data set (mean over seeds)", "",
        markdown_table(["data set", *SYSTEMS], [
            [name, *(f"{per_set.loc[name, k]:.4f}" for k in SYSTEMS)]
            for name in per_set.index], align="l" + "r" * len(SYSTEMS)), ""]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true",
                        help="the six small sets of issue 9")
    parser.add_argument("--only", help="comma-separated data sets")
    parser.add_argument("--seeds", default="0,1,2,3")
    parser.add_argument("--out", default="prior_blend")
    parser.add_argument("--from-json", help="only write the report of these rows")
    args = parser.parse_args()
    env = environment()
    out = RESULTS_DIR / args.out

    def save(rows):
        write_json(out.with_suffix(".json"), {"environment": env, "rows": rows})
        out.with_suffix(".md").write_text(report(rows, env))

    if args.from_json:
        rows = json.loads(Path(args.from_json).read_text())
        rows = rows["rows"] if isinstance(rows, dict) else rows
    else:
        names = (SMALL if args.small else args.only.split(",") if args.only
                 else datasets())
        rows = []
        for name in names:
            for seed in (int(s) for s in args.seeds.split(",")):
                row = run_one(name, seed)
                if row is None:
                    print(f"{name} {seed}: a recipe did not complete; skipped")
                    continue
                rows.append(row)
                print(row, flush=True)
                save(rows)  # after every fit: an interrupted run keeps its rows
    save(rows)
    print(report(rows, env))


if __name__ == "__main__":
    main()
