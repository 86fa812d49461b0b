"""How should the final model be chosen among a search's candidates?

One search per data set and split seed (stratified 75/25, fp_cost 1, fn_cost =
the training part's imbalance ratio, ``autoimb.fit`` with ``timeout=--budget``).
Then every candidate of its pool (the trivial rule, the distinct strategies, the
blends) is refitted on the training part and scored on the test part, so that any
rule for choosing among them can be judged on held-out cost without searching
again. For each rule: the held-out normalized cost of its choice, the
bias-corrected estimate it reports (BBC-CV of that rule), and the raw
cross-validated value of its choice.

Rules are an order of the candidates (simplest first), a pool and a
tolerance: the first candidate within ``tolerance`` standard errors of the best
raw value is chosen (``tolerance=0``: the best raw value; ``auto``:
sqrt(2 ln k) for a pool of k candidates, the expected best of k independent
standard normal draws, i.e. how far the best of k equal candidates looks ahead
by chance; ``bbc``: the choice of 1.5 or of ``auto`` whose bias-corrected
estimate is better: judged on fresh splits on 2026-12-04 and not adopted,
results/2026-12-selection_rules.md). Blends: of up to 3 of the best strategies (``blends_first``,
autoimb's order until ``9bac84a``, ``ensemble_size=3``) or up to 5
(``blends5_first``, the order of ``ensemble_size=5``, the default since).
``library`` is the order of the pool autoimb made, whatever its version;
``brf_first`` puts the portfolio's balanced random forest (the prior default)
right after the trivial rule, then ``library``'s order (autoimb's order since
``f2c4026``).

The search runs as ``autoimb.fit`` runs by default: a journal file (here in a
temporary folder), so with ``timeout`` of 30 s or more one trial per core in
worker processes; ``--storage memory`` runs one trial at a time.

Run from the repository root::

    python benchmarks/selection_rules.py --small --seeds 0,1,2,3 --budget 60
    python benchmarks/selection_rules.py --small --no-bag \
        --rules library/1.5,brf_first/1,brf_first/1.5,brf_first/2 \
        --out selection_rules_prior

Writes benchmarks/results/selection_rules.{md,json} (after every fit). With
``--save-pools DIR`` each fit's pool (every candidate's out-of-fold decisions on
the scored rows, its held-out cost, its kind) goes to DIR/<set>_<seed>.npz,
and ``--from-pools DIR --rules ...`` judges rules of the ``library`` and
``brf_first`` orders on them without searching again (the same choices as the
live run's, on the same bootstrap draws)::

    python benchmarks/selection_rules.py --from-pools benchmarks/results/pools/fresh_small \
        --rules library/1.5,library/auto,library/bbc
"""

from __future__ import annotations

import _common  # noqa: F401  (first: caps the thread pools before numpy loads)

import argparse
import math
import tempfile
import time
from pathlib import Path
import warnings

import numpy as np
import pandas as pd

import autoimb
from _common import (RESULTS_DIR, environment, environment_line, markdown_table,
                     protocol_split, write_json)
from autoimb.search.ensemble import Candidate, blends
from autoimb.pipeline.evaluation import out_of_fold_scores
from autoimb.search.portfolio import PRIOR_RECIPE
from autoimb.search.trials import strategy_of
from autoimb.search.selection import bias_corrected_estimate
from threshold_rules import datasets, load

SMALL = ("yeast_me2", "wine_white_le4", "oil_spill", "abalone_19", "ecoli_imu",
         "us_crime")
TOLERANCES = (0.0, 0.5, 1.0)
ORDERS = ("simple_first", "blends_first", "portfolio_first", "library", "brf_first")
# (order, tolerance) pairs judged by default: autoimb's rule before 9bac84a
# (blends_first/1) against wider tolerances and larger blends
# (blends5_first/1.5 is autoimb's rule since). --rules all gives ORDERS x
# TOLERANCES as in the run of 2026-12-01 (results/selection_rules.md).
DEFAULT_RULES = ("simple_first/0", "blends_first/1", "blends_first/1.5",
                 "blends_first/2", "blends_first/auto", "blends5_first/1",
                 "blends5_first/1.5", "blends5_first/2", "blends5_first/auto")


def ordered(pool, order, portfolio=frozenset(), prior=None, n_library=None):
    """The pool's indices in a preference order (the first within tolerance of
    the best is chosen):

    - ``simple_first``: trivial, singles (cheapest first), blends;
    - ``blends_first``: trivial, blends (largest first), singles (autoimb's
      order); ``blends5_first`` the same with blends of 4 and 5;
    - ``portfolio_first``: trivial, blends of portfolio entries, portfolio
      entries, other blends, other singles;
    - ``library``: the order of the pool autoimb's search made (its first
      ``n_library`` candidates: trivial, blends largest first, singles
      cheapest first);
    - ``brf_first``: trivial, the balanced random forest recipe (trial
      ``prior``: a strong default for small imbalanced data, chosen a priori),
      then ``library``'s order.

    Blends have at most 3 members except in ``blends5_first``.
    """
    def of(test):
        return [i for i, c in enumerate(pool) if test(c)]

    def in_portfolio(c):
        return set(c.trial_numbers) <= portfolio

    trivial = of(lambda c: c.is_trivial)
    largest = 5 if order == "blends5_first" else 3
    blends = sorted(of(lambda c: c.is_blend and len(c.trial_numbers) <= largest),
                    key=lambda i: -len(pool[i].trial_numbers))
    singles = of(lambda c: not c.is_trivial and not c.is_blend)
    if order in ("blends_first", "blends5_first"):
        return trivial + blends + singles
    library = list(range(n_library or len(pool)))
    if order == "library":
        return library
    if order == "brf_first":
        return prior_first(trivial, of(lambda c: c.trial_numbers == (prior,)), library)
    if order == "simple_first":
        return trivial + singles + blends
    first = [i for i in blends if in_portfolio(pool[i])] + [
        i for i in singles if in_portfolio(pool[i])]
    return trivial + first + [i for i in blends + singles if i not in first]


def prior_first(trivial, prior, library):
    """``brf_first``'s order: the trivial rule, the prior, then ``library``'s."""
    return trivial + prior + [i for i in library if i not in trivial + prior]


def heldout_costs(model, pool, X_tr, y_tr, X_te, y_te, fp, fn, *, bag=False):
    """Held-out normalized cost of every candidate, refitted on the training part
    (or, with ``bag``, the average of its fold models: no refit)."""
    kinds, seed = model.kinds_, model._context.model_seed
    X_tr = model._check_X(X_tr)
    X_te = model._check_X(X_te)
    y01 = (np.asarray(y_tr) == model.pos_label_).astype(int)
    test = (np.asarray(y_te) == model.pos_label_).astype(int)
    trivial = min(test.sum() * fn, (1 - test).sum() * fp)
    scores, costs = {}, []
    for candidate in pool:
        if candidate.is_trivial:
            s = np.full(len(test), y01.mean())
        else:
            parts = []
            for number, strategy in zip(candidate.trial_numbers, candidate.strategies,
                                        strict=True):
                if number not in scores and bag:
                    scores[number] = np.mean([
                        strategy.make_pipeline(kinds, seed)
                        .fit(X_tr.iloc[train], y01[train]).predict_proba(X_te)[:, 1]
                        for train, _ in model._context.folds], axis=0)
                elif number not in scores:
                    pipeline = strategy.make_pipeline(kinds, seed).fit(X_tr, y01)
                    scores[number] = pipeline.predict_proba(X_te)[:, 1]
                parts.append(scores[number])
            s = np.mean(parts, axis=0)
        pred = candidate.post.final.predict(s)
        cost = np.sum(pred & (test == 0)) * fp + np.sum(~pred & (test == 1)) * fn
        costs.append(cost / trivial)
    return np.array(costs)


def tolerance_of(text, k):
    """A rule's tolerance: a number, or ``auto`` = sqrt(2 ln k)."""
    return math.sqrt(2 * math.log(max(k, 2))) if text == "auto" else float(text)


def choose(candidates, y, objective, text, random_state):
    """The Selection of a rule's tolerance ``text``; ``bbc`` makes the choice
    with 1.5 and with ``auto`` and keeps the one whose bias-corrected estimate
    is better (its own estimate is then the better of two: slightly
    optimistic)."""
    if text == "bbc":
        options = [choose(candidates, y, objective, t, random_state)
                   for t in ("1.5", "auto")]
        sign = 1.0 if objective.kind == "cost" else -1.0
        return min(options, key=lambda s: sign * s.estimate)
    return bias_corrected_estimate(candidates, y, objective,
                                   tolerance=tolerance_of(text, len(candidates)),
                                   random_state=random_state)


def run_one(name, seed, budget, rules, *, storage="journal", bag=True, pools=None):
    """One search, every candidate scored on the test part, every rule's choice."""
    with tempfile.TemporaryDirectory() as folder:  # the study is read till the end
        location = ("memory" if storage == "memory"
                    else str(Path(folder) / "search.journal"))
        return _run_one(name, seed, budget, rules, location, bag, pools)


def save_pool(path, pool, y_scored, held, objective, prior, n_library, model_seed):
    """What any rule needs to choose again without searching: every candidate's
    out-of-fold decisions on the scored rows, its held-out cost, its kind, and
    the seed of the live run's bootstrap draws."""
    np.savez_compressed(
        path, pred=np.column_stack([c.post.pred for c in pool]).astype(bool),
        y=np.asarray(y_scored, dtype=np.int8), heldout=held,
        trivial=[c.is_trivial for c in pool], blend=[c.is_blend for c in pool],
        prior=[c.trial_numbers == (prior,) for c in pool], n_library=n_library,
        fp_cost=objective.fp_cost, fn_cost=objective.fn_cost, model_seed=model_seed)


def rules_on_pools(folder, rules):
    """Every rule's choice on the pools ``--save-pools`` wrote, without searching:
    rows of held-out (normalized) cost per rule, plus ``prior`` (the prior
    default alone, whatever its value) and ``oracle``. Orders ``library`` and
    ``brf_first`` only (the others need the study's trials)."""
    from types import SimpleNamespace

    from autoimb.pipeline.objective import Objective

    rows = []
    for path in sorted(Path(folder).glob("*_*.npz")):
        data = np.load(path)
        name, seed = path.stem.rsplit("_", 1)
        pred, y, held = data["pred"], data["y"], data["heldout"]
        objective = Objective("cost", float(data["fp_cost"]), float(data["fn_cost"]))
        pool = [SimpleNamespace(post=SimpleNamespace(pred=pred[:, j]))
                for j in range(pred.shape[1])]
        trivial = list(np.flatnonzero(data["trivial"]))
        prior = list(np.flatnonzero(data["prior"]))
        library = list(range(int(data["n_library"])))
        random_state = int(data["model_seed"])  # the live run's bootstrap draws
        row = {"dataset": name, "seed": int(seed), "positives": int(y.sum()),
               "pool": len(pool), "oracle": float(held.min()),
               "prior": float(held[prior[0]]) if prior else np.nan}
        for key in rules:
            order, text = key.split("/")
            indices = (library if order == "library"
                       else prior_first(trivial, prior, library))
            selection = choose([pool[i] for i in indices], y, objective, text,
                               random_state)
            row[f"{key} heldout"] = float(held[indices[selection.index]])
        rows.append(row)
    return pd.DataFrame(rows)


def _run_one(name, seed, budget, rules, storage, bag, pools):
    X, y = load(name)
    X_tr, X_te, y_tr, y_te, fp, fn = protocol_split(X, y, seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", autoimb.AutoImbWarning)
        model = autoimb.fit(X_tr, y_tr, fp_cost=fp, fn_cost=fn, timeout=budget,
                            random_state=seed, show_progress_bar=False,
                            storage=storage)
    seconds = time.perf_counter() - start
    context = model._context
    portfolio = frozenset(t.number for t in model.study_.trials
                          if "recipe" in t.user_attrs)
    singles = [c for c in model._pool if not c.is_trivial and not c.is_blend]
    prior = next((t.number for t in model.study_.trials
                  if t.user_attrs.get("recipe") == PRIOR_RECIPE
                  and t.state.name == "COMPLETE"), None)
    prior_added = prior is not None and all(c.trial_numbers != (prior,) for c in singles)
    # The recipe is missing from the pool when a tuned trial of the same strategy
    # (same description) hid it (autoimb before f2c4026): score
    # its folds again (same folds and seed, so the same scores).
    if prior_added:
        strategy = strategy_of(context.space, model.study_.trials[prior].params,
                               context.kinds)
        scores, _, _ = out_of_fold_scores(
            lambda: strategy.make_pipeline(context.kinds, context.model_seed),
            context.X, context.y, context.folds)
        singles.append(Candidate((prior,), (strategy,),
                                 np.asarray(scores[context.scored], dtype=float),
                                 context.postprocess(scores)))
    # Blends of portfolio entries only, for the portfolio_first order.
    y_scored = context.y[context.scored]
    extra = blends([c for c in singles if set(c.trial_numbers) <= portfolio],
                   y_scored, context.groups, model.objective_,
                   model.ensemble_size, context.space.calibrations)
    # Blends of 4 and 5 of the best strategies, for the blends5_first order.
    extra += [c for c in blends(singles, y_scored, context.groups, model.objective_, 5,
                                context.space.calibrations)
              if len(c.trial_numbers) > 3]
    pool = list(model._pool) + ([singles[-1]] if prior_added else [])
    for c in extra:
        if not any(sorted(c.trial_numbers) == sorted(d.trial_numbers) for d in pool):
            pool.append(c)
    held = heldout_costs(model, pool, X_tr, y_tr, X_te, y_te, fp, fn)
    bagged = (heldout_costs(model, pool, X_tr, y_tr, X_te, y_te, fp, fn, bag=True)
              if bag else np.full(len(pool), np.nan))
    trivial_train = min(y_scored.sum() * fn, (1 - y_scored).sum() * fp)
    if pools is not None:
        save_pool(Path(pools) / f"{name}_{seed}.npz", pool, y_scored, held,
                  model.objective_, prior, len(model._pool), context.model_seed)
    row = {"dataset": name, "seed": seed, "seconds": seconds,
           "trials": int((model.results_.state == "COMPLETE").sum()),
           "n_jobs": int(model.n_jobs_), "pool": len(pool), "oracle": float(held.min()),
           "default_choice": model.strategy_, "prior_added": prior_added,
           "prior_in_pool": prior is not None}
    row["candidates"] = [
        {"trials": list(c.trial_numbers), "kind": "trivial" if c.is_trivial else
         "blend" if c.is_blend else "single", "portfolio":
         set(c.trial_numbers) <= portfolio, "raw": c.post.value / trivial_train,
         "heldout": float(h), "bagged": float(b), "describe": c.describe()[:120]}
        for c, h, b in zip(pool, held, bagged, strict=True)]
    for key in rules:
        order, text = key.split("/")
        indices = ordered(pool, order, portfolio, prior, len(model._pool))
        candidates = [pool[i] for i in indices]
        selection = choose(candidates, y_scored, model.objective_, text,
                           context.model_seed)
        chosen = indices[selection.index]
        row[f"{key} heldout"] = float(held[chosen])
        row[f"{key} bagged"] = float(bagged[chosen])
        row[f"{key} reported"] = selection.estimate / trivial_train
        row[f"{key} raw"] = selection.raw / trivial_train
        row[f"{key} kind"] = ("trivial" if pool[chosen].is_trivial else "blend"
                              if pool[chosen].is_blend else "single")
    return row


def report(rows, env, rules):
    table = pd.DataFrame(rows)
    lines = ["# Choosing the final model: held-out cost of selection rules", "",
             f"Run: {environment_line(env)}.", "",
             f"{len(table)} fits ({table.dataset.nunique()} data sets, seeds "
             f"{sorted(table.seed.unique().tolist())}); pool = the candidates "
             "autoimb's search left (trivial rule, distinct strategies, blends), each "
             "refitted and scored on the test part. `oracle` = the best held-out "
             "candidate of the pool (unreachable). Normalized costs, lower is better. "
             f"Trials completed per fit {table.trials.mean():.1f}, "
             f"{table.n_jobs.mean() if 'n_jobs' in table else 1:.1f} at once; "
             f"pool {table['pool'].mean():.1f} candidates.",
             "", "## Mean over fits", ""]
    body = []
    for rule in rules:
        gap = table[f"{rule} heldout"] - table[f"{rule} reported"]
        kinds = table[f"{rule} kind"].value_counts().to_dict()
        body.append([rule, f"{table[f'{rule} heldout'].mean():.4f}",
                     f"{table[f'{rule} reported'].mean():.4f}",
                     f"{table[f'{rule} raw'].mean():.4f}", f"{gap.mean():+.4f}",
                     f"{gap.median():+.4f}",
                     ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))])
    body.append(["oracle", f"{table.oracle.mean():.4f}", "", "", "", "", "", ""])
    for row, rule in zip(body, rules, strict=False):
        row.insert(2, f"{table[f'{rule} bagged'].mean():.4f}")
    lines.append(markdown_table(
        ["rule (order/tolerance)", "held-out", "held-out, fold models averaged",
         "reported (BBC)", "raw", "mean gap", "median gap", "chosen kinds"], body,
        "lrrrrrrl"))
    lines += ["", "## Held-out per data set (mean over seeds)", ""]
    per = table.groupby("dataset")[[f"{r} heldout" for r in rules] + ["oracle"]].mean()
    lines.append(markdown_table(["data set", *rules, "oracle"],
                                [[n, *(f"{v:.4f}" for v in per.loc[n])]
                                 for n in per.index], "l" + "r" * (len(rules) + 1)))
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3")
    parser.add_argument("--only", default="")
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--out", default="selection_rules")
    parser.add_argument("--rules", default=",".join(DEFAULT_RULES),
                        help="order/tolerance pairs, comma-separated, or 'all'")
    parser.add_argument("--storage", choices=("journal", "memory"), default="journal")
    parser.add_argument("--no-bag", action="store_true",
                        help="skip the held-out cost of the fold models averaged")
    parser.add_argument("--save-pools", default=None, metavar="DIR",
                        help="also write each fit's pool (out-of-fold decisions, "
                        "held-out costs) to DIR/<data set>_<seed>.npz, to judge "
                        "further rules without searching again")
    parser.add_argument("--from-pools", default=None, metavar="DIR",
                        help="judge --rules on the pools in DIR (no search) and "
                        "print the held-out costs per data set")
    args = parser.parse_args()
    if args.from_pools:
        table = rules_on_pools(args.from_pools, args.rules.split(","))
        print(table.groupby("dataset").mean(numeric_only=True).round(4)
              .drop(columns="seed").to_string())
        print(table.mean(numeric_only=True).round(4).drop("seed").to_string())
        return
    rules = ([f"{o}/{t:g}" for o in ORDERS for t in TOLERANCES] if args.rules == "all"
             else args.rules.split(","))
    only = set(filter(None, args.only.split(","))) or (set(SMALL) if args.small else None)
    env = environment()
    if args.save_pools:
        Path(args.save_pools).mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{args.out}.json"
    rows = []
    for name in datasets(only):
        for seed in (int(s) for s in args.seeds.split(",")):
            rows.append(run_one(name, seed, args.budget, rules, storage=args.storage,
                                bag=not args.no_bag, pools=args.save_pools))
            r = rows[-1]
            print(f"{name} seed {seed}: {r['trials']} trials, pool {r['pool']}, "
                  + ", ".join(f"{k} {r[k + ' heldout']:.3f}" for k in rules)
                  + f", oracle {r['oracle']:.3f} ({r['seconds']:.0f} s)", flush=True)
            write_json(path, {"environment": env, "rules": rules, "rows": rows})
            (RESULTS_DIR / f"{args.out}.md").write_text(report(rows, env, rules))


if __name__ == "__main__":
    main()
