"""The Optuna study: objective, article recipes first, stopping and progress."""

from __future__ import annotations

import functools
import logging
import math
import threading
import warnings
from dataclasses import dataclass, field

import numpy as np
import optuna
from optuna.trial import FixedTrial, TrialState
from tqdm.auto import tqdm

from ._evaluation import cross_fit_postprocessing, out_of_fold_scores
from ._objective import Objective
from ._preprocessing import ColumnKinds
from ._shutdown import stop_cleanly
from ._spaces import Param, SearchSpace
from ._storage import fail_dead_workers_trials, worker_id
from .exceptions import NoCompletedTrialError

logger = logging.getLogger(__name__)

__all__ = ["SearchContext", "recipe_params", "run_search", "strategy_of"]

_METRIC_ATTRS = ("cost", "normalized_cost", "average_precision", "roc_auc", "f1",
                 "precision", "recall", "balanced_accuracy", "brier", "threshold")

# The seed article's recipes, tried first so that the search can never miss them.
RECIPES = [
    ("no handling, tuned threshold",
     {"model": "hist_gradient_boosting", "class_weight": "none"}),
    ("class_weight balanced",
     {"model": "hist_gradient_boosting", "class_weight": "balanced"}),
    ("SMOTE at ratio 0.5",
     {"model": "hist_gradient_boosting", "class_weight": "none", "resampler": "smote",
      "sampling_ratio": 0.5, "k_neighbors": 5}),
    ("random forest, balanced_subsample",
     {"model": "random_forest", "class_weight": "balanced_subsample"}),
]

# scikit-learn's and LightGBM's defaults, used by the recipes where the space allows.
_DEFAULTS = {
    "hist_gradient_boosting": {"learning_rate": 0.1, "max_iter": 100,
                               "max_leaf_nodes": 31, "min_samples_leaf": 20,
                               "l2_regularization": 0.0, "max_features": 1.0},
    "random_forest": {"n_estimators": 100, "min_samples_leaf": 1,
                      "max_features": "sqrt", "max_depth": None},
}


@dataclass
class SearchContext:
    """What every trial of one search shares."""

    X: object
    y: np.ndarray
    kinds: ColumnKinds
    folds: list
    objective: Objective
    space: SearchSpace
    model_seed: int
    oof_cache: dict = field(default_factory=dict)
    explainer: object = None

    @functools.cached_property
    def fold_ids(self) -> np.ndarray:
        ids = np.empty(len(self.y), dtype=int)
        for k, (_, test) in enumerate(self.folds):
            ids[test] = k
        return ids


def strategy_of(space: SearchSpace, params: dict, kinds: ColumnKinds):
    """The strategy a finished trial's parameters stand for."""
    return space.suggest(FixedTrial(params), has_categorical=kinds.has_categorical,
                         has_numeric=kinds.has_numeric)


def recipe_params(space: SearchSpace, recipe: dict, kinds: ColumnKinds) -> dict | None:
    """Optuna parameters of one article recipe, or None if the space excludes it."""
    model = recipe["model"]
    spec = space.models.get(model)
    if spec is None or recipe["class_weight"] not in spec.get("class_weight", ("none",)):
        return None
    params = {"model": model, f"{model}.class_weight": recipe["class_weight"]}
    for key, default in _DEFAULTS.get(model, {}).items():
        value = spec.get(key)
        if isinstance(value, Param):
            fitted = _fit_into(value, default)
            if fitted is not None:
                params[f"{model}.{key}"] = fitted
    resamplers = space.usable_resamplers(kinds.has_categorical, kinds.has_numeric)
    resampler = recipe.get("resampler", "none")
    if resampler not in resamplers:
        return None
    if resamplers != ["none"]:
        params["resampler"] = resampler
    for key in ("sampling_ratio", "k_neighbors"):
        if key in recipe and isinstance(getattr(space, key), Param):
            params[key] = _fit_into(getattr(space, key), recipe[key])
    if list(space.calibrations) != ["none"]:
        params["calibration"] = "none"
    return params


def _fit_into(param: Param, value):
    if param.type == "categorical":
        return value if value in param.choices else None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    value = min(max(value, param.low), param.high)
    return int(round(value)) if param.type == "int" else float(value)


class _Stopper:
    """Stops the study once enough trials finished, or when they keep failing."""

    def __init__(self, n_trials, max_failures):
        self.n_trials = n_trials
        self.max_failures = max_failures
        self.failures = 0
        self._lock = threading.Lock()

    def __call__(self, study, trial):
        with self._lock:
            if trial.state == TrialState.FAIL:
                self.failures += 1
                logger.warning("Trial %d failed: %s", trial.number,
                               trial.user_attrs.get("error", "unknown error"))
            done = _count(study, (TrialState.COMPLETE, TrialState.PRUNED))
            if (self.n_trials is not None and done >= self.n_trials) or \
                    self.failures >= self.max_failures:
                study.stop()


class _Progress:
    """A tqdm bar over finished trials, showing the best value so far."""

    def __init__(self, total, initial, enabled, metric):
        self.bar = tqdm(total=total, initial=initial, desc="autoimb search",
                        unit="trial", disable=not enabled, dynamic_ncols=True)
        self.metric = metric

    def __call__(self, study, trial):
        if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
            self.bar.update(1)
        try:
            best = study.best_trial
            self.bar.set_postfix_str(f"best {self.metric} {best.value:.5g} (#{best.number})")
        except ValueError:
            pass

    def close(self):
        self.bar.close()


def _count(study, states):
    return len(study.get_trials(deepcopy=False, states=states))


def make_objective(ctx: SearchContext):
    """The function Optuna calls for each trial."""
    objective = ctx.objective
    explainer = ctx.explainer

    def run_trial(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker_id())
        strategy = None
        pipelines, fold_scores = [], []

        def make_pipeline():
            pipelines.append(strategy.make_pipeline(ctx.kinds, ctx.model_seed))
            return pipelines[-1]

        def report(k, test, scores):
            fold_scores.append(objective.oracle_fold_score(ctx.y[test], scores[test]))
            trial.set_user_attr("fold_scores", fold_scores)
            trial.report(float(np.mean(fold_scores)), step=k)
            if trial.should_prune():
                reason = (
                    f"after fold {k + 1} of {len(ctx.folds)}, its running "
                    f"{'normalized oracle cost' if objective.kind == 'cost' else 'AP'} "
                    f"{np.mean(fold_scores):.4g} was worse than the median of earlier "
                    "trials at the same fold")
                trial.set_user_attr("pruned_reason", reason)
                if explainer is not None:
                    explainer.stopped(trial, strategy, "PRUNED", reason)
                raise optuna.TrialPruned()

        try:
            strategy = ctx.space.suggest(trial, has_categorical=ctx.kinds.has_categorical,
                                         has_numeric=ctx.kinds.has_numeric)
            trial.set_user_attr("strategy", strategy.describe())
            scores, fold_ids, seconds = out_of_fold_scores(
                make_pipeline, ctx.X, ctx.y, ctx.folds, on_fold=report)
            post = cross_fit_postprocessing(scores, ctx.y, fold_ids,
                                            calibration=strategy.calibration,
                                            objective=objective)
        except optuna.TrialPruned:
            raise
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (see _shutdown)
            reason = str(exc) or "interrupted (Ctrl-C)"
            trial.set_user_attr("error", f"{reason}; queued again")
            trial.study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
            raise
        except Exception as exc:
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
            if explainer is not None:
                explainer.stopped(trial, strategy, "FAIL", f"{type(exc).__name__}: {exc}")
            raise
        for key in _METRIC_ATTRS:
            trial.set_user_attr(key, _json_float(post.metrics[key]))
        trial.set_user_attr("threshold_rule", post.rule)
        trial.set_user_attr("fit_time", round(seconds, 3))
        trial.set_user_attr("confusion", {k: post.metrics[k] for k in
                                          ("tn", "fp", "fn", "tp")})
        summaries = [p.named_steps["resample"].summary_ for p in pipelines
                     if "resample" in p.named_steps]
        if summaries:
            trial.set_user_attr("resampling", _resampling_text(summaries))
        ctx.oof_cache[trial.number] = scores
        if explainer is not None:
            explainer.completed(trial, strategy, scores, post, ctx.y)
        return post.value

    return run_trial


def _json_float(value):
    value = float(value)
    return value if math.isfinite(value) else None


def _resampling_text(summaries):
    (neg0, pos0), (neg1, pos1) = summaries[0]["before"], summaries[0]["after"]
    text = (f"fold 1: {neg0} negatives / {pos0} positives -> "
            f"{neg1} / {pos1}")
    adapted = sorted({s["adapted"] for s in summaries if s["adapted"]})
    if adapted:
        text += "; adapted: " + "; ".join(adapted)
    return text


def enqueue_recipes(study, space, kinds):
    """Queue the article's recipes as the first trials of a new study."""
    for name, recipe in RECIPES:
        params = recipe_params(space, recipe, kinds)
        if params is not None:
            study.enqueue_trial(params, user_attrs={"recipe": name}, skip_if_exists=True)


def run_search(study, ctx: SearchContext, *, n_trials, timeout, n_jobs,
               show_progress_bar, callbacks=()):
    """Run trials until ``n_trials`` have finished in the study, or ``timeout``."""
    dead = fail_dead_workers_trials(study)
    if dead:
        logger.warning("Trials %s of study %r were left running by a process that is "
                       "gone; marked them failed.", dead, study.study_name)
    finished = _count(study, (TrialState.COMPLETE, TrialState.PRUNED))
    remaining = None if n_trials is None else n_trials - finished
    if remaining is not None and remaining <= 0:
        logger.info("Study %r already has %d finished trials; nothing to run.",
                    study.study_name, finished)
        return study
    stopper = _Stopper(n_trials, max_failures=max(10, 2 * (n_trials or 10)))
    progress = _Progress(n_trials, finished, show_progress_bar, ctx.objective.metric_name)
    verbosity = optuna.logging.get_verbosity()
    # Failed trials are logged by _Stopper in one line, with the reason recorded.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        with warnings.catch_warnings(), stop_cleanly(study):
            warnings.simplefilter("ignore")
            study.optimize(make_objective(ctx), n_trials=None, timeout=timeout,
                           n_jobs=n_jobs, catch=(Exception,),
                           callbacks=[stopper, progress, *callbacks])
    finally:
        optuna.logging.set_verbosity(verbosity)
        progress.close()
    return study


def best_trial_or_raise(study):
    """The best completed trial, or a NoCompletedTrialError with the first cause."""
    completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if completed:
        return study.best_trial
    failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    first = next((t.user_attrs.get("error") for t in failed if t.user_attrs.get("error")),
                 None)
    n_pruned = _count(study, (TrialState.PRUNED,))
    error = NoCompletedTrialError(
        f"No trial of study {study.study_name!r} completed ({len(failed)} failed, "
        f"{n_pruned} pruned). First failure: {first or 'unknown'}. Fix the cause, "
        "or widen the search space or the timeout.")
    if first:
        error.__cause__ = RuntimeError(first)
    raise error
