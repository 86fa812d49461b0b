"""How well a search predicts a trial's memory from the trials before it.

A search records what each completed trial took per training row (the rise of
its resident memory, sampled every 0.05 s while the folds run;
``autoimb.search.memory.TrialMemory``) and predicts an over-sampling trial's memory
from it. For a few trials on covertype_4v2's training part (the benchmark's
stratified 75/25 split, seed 0; one holdout split, as a search of that size
uses), each in turn in one process, this prints the sampled rise against the
kernel's exact peak (``VmHWM`` in ``/proc/self/status``, reset before each
trial by writing 5 to ``/proc/self/clear_refs``), and the prediction that the
trial of the same model just before it gives. Linux only; nothing else on the
machine.

    python benchmarks/memory_per_row.py

Writes benchmarks/results/memory_per_row.{md,json}.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, str(os.cpu_count()))

import gc
from pathlib import Path

import optuna
from sklearn.model_selection import train_test_split

from _common import RESULTS_DIR, environment, environment_line, markdown_table, write_json
from autoimb import load_search_space
from autoimb.search.budget import Budget
from autoimb.search.folds import Validation, make_folds
from autoimb.search.memory import release_free_memory
from autoimb.pipeline.objective import Objective
from autoimb.pipeline.preprocessing import ColumnKinds
from autoimb.search.trials import SearchContext, make_objective, trial_size
from threshold_rules import load

#: (model, resampler, ratio), in the order run; a trial predicts the next one
#: of its model.
TRIALS = [("lightgbm", "smote", 0.6), ("lightgbm", "smote", 0.9),
          ("hist_gradient_boosting", "none", None),
          ("hist_gradient_boosting", "borderline_smote", 0.8),
          ("lightgbm", "random_over", 0.9)]


def _status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


def main():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X, y = load("covertype_4v2")
    X, _, y, _ = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    y = y.to_numpy()
    folds = make_folds(Validation("holdout", 1, 0.2), y, seed=0)
    rows_out, previous = [], {}
    for model, method, ratio in TRIALS:
        resampling = {"methods": [method]} | ({"ratio": ratio} if ratio else {})
        space = {"models": {model: {}}, "resampling": resampling,
                 "calibration": {"methods": ["none"]}}
        context = SearchContext(
            X=X, y=y, kinds=ColumnKinds((), tuple(X.columns)), folds=folds,
            objective=Objective("cost", 1.0, float((y == 0).sum() / y.sum())),
            space=load_search_space(space), model_seed=0, budget=Budget(None))
        gc.collect()
        release_free_memory()
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
        before = _status_mb("VmRSS")
        study = optuna.create_study()
        study.optimize(make_objective(context), n_trials=1)
        exact = _status_mb("VmHWM") - before
        strategy = context.space.suggest(optuna.trial.FixedTrial(study.trials[0].params),
                                         has_categorical=False, has_numeric=True)
        _, rows = trial_size(strategy, context)
        sampled = context.memory.predict(model, rows)
        predicted = previous[model].predict(model, rows) if model in previous else None
        previous[model] = context.memory
        rows_out.append({"model": model, "resampler": method, "ratio": ratio,
                         "state": study.trials[0].state.name, "rows": rows,
                         "sampled_mb": sampled, "vmhwm_mb": exact,
                         "predicted_mb": predicted})
        print(rows_out[-1], flush=True)
    env = environment()
    write_json(RESULTS_DIR / "memory_per_row.json", {"environment": env, "rows": rows_out})
    table = [[f"{r['model']}, {r['resampler']}" + (f" to {r['ratio']}" if r["ratio"] else ""),
              f"{r['rows']:,.0f}", f"{r['sampled_mb']:.1f}", f"{r['vmhwm_mb']:.1f}",
              "" if r["predicted_mb"] is None else f"{r['predicted_mb']:.1f}"]
             for r in rows_out]
    (RESULTS_DIR / "memory_per_row.md").write_text("\n".join([
        "# A trial's memory: sampled, exact, and predicted from the trial before", "",
        f"Run: {environment_line(env)}.", "",
        markdown_table(["trial (covertype_4v2, one holdout split)",
                        "training rows after resampling", "sampled rise MB",
                        "VmHWM rise MB", "predicted from the model's trial before MB"],
                       table, "lrrrr"), ""]))


if __name__ == "__main__":
    main()
