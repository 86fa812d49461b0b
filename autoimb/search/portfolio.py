"""The portfolio: strong starting strategies, queued before the search proper.

A search with a budget of a minute may run only a handful of trials; they should
not be random draws. The portfolio queues known-good strategies first, from the
cheapest to the most expensive, so that the search starts from them and can
never miss them. It holds the seed article's four recipes and the strongest of
the fixed recipes that autoimb is benchmarked against (LightGBM at a low
learning rate; a balanced random forest, which Elor and Averbuch-Elor, 2022,
found strong among imbalance strategies; a balanced logistic regression as the
cheap linear baseline). It was chosen from those sources, not from results on
the shared benchmark data sets.

Where the search space cannot express a setting (a family it lacks, a weighting
it does not offer), the entry is left out; where a value lies outside the
space's range, it is moved to the nearest bound. On large data (a holdout
validation), only the entries cheap enough to leave time for the search are
queued.

One entry is also the **prior default**, :data:`PRIOR_RECIPE`: the balanced
random forest. When the final model is chosen among candidates whose
cross-validated values lie within noise of each other, it is preferred to
anything the search found (see :mod:`autoimb.search.selection`): on a few dozen
positives, cross-validation cannot tell a better strategy from a luckier one,
and a strategy known in advance to do well on imbalanced data beats the pick of
many noisy values. A balanced random forest bags trees grown on balanced
bootstrap samples (Chen, Liaw and Breiman, 2004): it needs neither a sampling
ratio nor a tuned depth, and its averaged scores vary little between fits.
"""

from __future__ import annotations

import math

from autoimb.pipeline.preprocessing import ColumnKinds
from autoimb.search.spaces import Param, SearchSpace

__all__ = ["PORTFOLIO", "PRIOR_RECIPE", "enqueue_portfolio", "portfolio_params",
           "prior_trials"]

# (name, strategy, cheap enough for large data), the article's baseline first,
# then roughly cheapest first (a logistic regression is cheap on few columns but
# slow on many one-hot columns of a large table). "sqrt" for max_features means
# the share of columns sqrt(p) / p.
PORTFOLIO = [
    ("no handling, tuned threshold",
     {"model": "hist_gradient_boosting", "class_weight": "none", "learning_rate": 0.1,
      "max_iter": 100, "max_leaf_nodes": 31, "min_samples_leaf": 20,
      "l2_regularization": 0.0, "max_features": 1.0}, True),
    ("LightGBM, 300 trees at learning rate 0.05",
     {"model": "lightgbm", "class_weight": "none", "n_estimators": 300,
      "learning_rate": 0.05, "num_leaves": 31, "min_child_samples": 20,
      "subsample": 1.0, "colsample_bytree": 1.0, "reg_lambda": 0.0}, True),
    ("balanced random forest",
     {"model": "balanced_random_forest", "class_weight": "none", "n_estimators": 250,
      "max_depth": 40, "min_samples_leaf": 1, "max_features": "sqrt"}, True),
    ("logistic regression, balanced",
     {"model": "logistic_regression", "class_weight": "balanced", "C": 1.0}, False),
    ("class_weight balanced",
     {"model": "hist_gradient_boosting", "class_weight": "balanced",
      "learning_rate": 0.1, "max_iter": 100, "max_leaf_nodes": 31,
      "min_samples_leaf": 20, "l2_regularization": 0.0, "max_features": 1.0}, False),
    ("SMOTE at ratio 0.5",
     {"model": "hist_gradient_boosting", "class_weight": "none", "learning_rate": 0.1,
      "max_iter": 100, "max_leaf_nodes": 31, "min_samples_leaf": 20,
      "l2_regularization": 0.0, "max_features": 1.0, "resampler": "smote",
      "sampling_ratio": 0.5, "k_neighbors": 5}, False),
    ("random forest, balanced_subsample",
     {"model": "random_forest", "class_weight": "balanced_subsample",
      "n_estimators": 100, "max_depth": 40, "min_samples_leaf": 1,
      "max_features": "sqrt"}, False),
]
PRIOR_RECIPE = "balanced random forest"
_STRATEGY_KEYS = ("model", "class_weight", "resampler", "sampling_ratio", "k_neighbors")


def _fit_into(param: Param, value):
    """``value`` moved into the range of ``param``; None if it cannot be."""
    if param.type == "categorical":
        return value if value in param.choices else None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    value = min(max(value, param.low), param.high)
    return round(value) if param.type == "int" else float(value)


def portfolio_params(space: SearchSpace, entry: dict,
                     kinds: ColumnKinds) -> dict | None:
    """Optuna parameters of one portfolio entry, or None if the space excludes it.

    Examples
    --------
    >>> from autoimb import load_search_space
    >>> from autoimb.pipeline.preprocessing import ColumnKinds
    >>> kinds = ColumnKinds(categorical=(), numeric=("a", "b", "c", "d"))
    >>> params = portfolio_params(load_search_space("default"), PORTFOLIO[2][1], kinds)
    >>> params["balanced_random_forest.max_features"]
    0.5
    """
    model = entry["model"]
    spec = space.models.get(model)
    if spec is None or entry["class_weight"] not in spec.get("class_weight", ("none",)):
        return None
    params = {"model": model, f"{model}.class_weight": entry["class_weight"]}
    n_columns = max(len(kinds.columns), 1)
    for key, value in entry.items():
        if key in _STRATEGY_KEYS or not isinstance(spec.get(key), Param):
            continue
        if value == "sqrt":
            value = math.sqrt(n_columns) / n_columns
        fitted = _fit_into(spec[key], value)
        if fitted is not None:
            params[f"{model}.{key}"] = fitted
    resamplers = space.usable_resamplers(kinds.has_categorical, kinds.has_numeric)
    resampler = entry.get("resampler", "none")
    if resampler not in resamplers:
        return None
    if resamplers != ["none"] and model not in ("balanced_random_forest",
                                                 "easy_ensemble"):
        params["resampler"] = resampler
    for key in ("sampling_ratio", "k_neighbors"):
        if key in entry and isinstance(getattr(space, key), Param):
            params[key] = _fit_into(getattr(space, key), entry[key])
    return params


def enqueue_portfolio(study, space: SearchSpace, kinds: ColumnKinds, *,
                      large: bool = False) -> list[str]:
    """Queue the portfolio's entries as the first trials of a new study.

    With ``large``, only the entries cheap enough for large data. Returns the
    names queued.
    """
    queued = []
    for name, entry, cheap in PORTFOLIO:
        if large and not cheap:
            continue
        params = portfolio_params(space, entry, kinds)
        if params is not None:
            study.enqueue_trial(params, user_attrs={"recipe": name},
                                skip_if_exists=True)
            queued.append(name)
    return queued


def prior_trials(study) -> set[int]:
    """Numbers of the study's trials that run :data:`PRIOR_RECIPE` (queued,
    running or finished): their scores are kept for the final choice."""
    return {t.number for t in study.get_trials(deepcopy=False)
            if t.user_attrs.get("recipe") == PRIOR_RECIPE}
