"""What imbalance handling gains over none at all.

The best trial whose strategy neither weights the classes nor resamples,
against the best trial overall. Both values are cross-validated costs (or
average precisions) of the trials, raw (not bias-corrected), with the standard
error of their difference: a paired bootstrap of the two trials' out-of-fold
decisions (or scores) right after ``fit``, otherwise from each trial's
confusion counts alone (cost objective only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from autoimb.explain.diagnostics._stats import (
    MIN_GAIN,
    _normalized,
    _paired_se,
    _trivial,
)
from autoimb.explain.diagnostics.families import FAMILIES, trial_families


@dataclass(frozen=True)
class StrategyGain:
    """What the best imbalance handling gains over none at all.

    Values are the trials' own cross-validated values (``results_["value"]``),
    raw: the best of many trials is optimistic, the best overall more so than
    the best of the few trials without handling. ``chosen_estimate`` is the
    bias-corrected estimate of the returned model (``best_score_``).

    Attributes
    ----------
    metric : str
        ``"cost"`` (total over the scored rows, lower is better) or
        ``"average_precision"`` (higher is better).
    best_trial, best_strategy, best_value, best_family
        The best completed trial.
    plain_trial, plain_strategy, plain_value
        The best completed trial with no class weights and no resampling;
        None when no such trial completed.
    gain : float or None
        How much better the best is than the best plain trial (cost saved, or
        average precision gained); 0 when the best trial is a plain one.
    relative_gain : float or None
        ``gain`` over the plain trial's cost (or over its AP).
    normalized_gain : float or None
        ``gain`` over the cost of the best trivial rule (for AP, ``gain``).
    standard_error : float or None
        Standard error of ``gain``.
    standard_error_method : str
        How it was computed: a paired bootstrap of the rows (right after fit),
        or from each trial's confusion counts alone (conservative: it ignores
        that both trials err on many of the same rows).
    chosen_estimate, chosen_raw : float
        ``best_score_`` (bias-corrected) and ``best_score_raw_`` of the returned
        model.
    by_family : dict
        The best trial number and value of each strategy family that completed.
    """

    metric: str
    best_trial: int | None
    best_strategy: str | None
    best_value: float | None
    best_family: str | None
    plain_trial: int | None
    plain_strategy: str | None
    plain_value: float | None
    gain: float | None
    relative_gain: float | None
    normalized_gain: float | None
    standard_error: float | None
    standard_error_method: str
    chosen_estimate: float
    chosen_raw: float
    by_family: dict = field(default_factory=dict)

    @property
    def beyond_noise(self) -> bool:
        """Whether the gain exceeds two standard errors."""
        return (self.gain is not None and self.standard_error is not None
                and self.gain > 2 * self.standard_error)

    @property
    def pays(self) -> bool:
        """Whether the gain is beyond noise and at least :data:`MIN_GAIN`."""
        return (self.beyond_noise and self.normalized_gain is not None
                and self.normalized_gain >= MIN_GAIN)


def _confusion_se(row, n_pos, n_neg, objective) -> float | None:
    """Standard error of one trial's total cost from its confusion counts."""
    try:
        recall, cost = float(row["recall"]), float(row["cost"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (math.isfinite(recall) and math.isfinite(cost)):
        return None
    fn = n_pos * (1.0 - recall)
    fp = max(cost - fn * objective.fn_cost, 0.0) / objective.fp_cost
    n = n_pos + n_neg
    mean = cost / n
    second = (fp * objective.fp_cost ** 2 + fn * objective.fn_cost ** 2) / n
    return math.sqrt(max(second - mean ** 2, 0.0) * n)


def strategy_gain(model) -> StrategyGain:
    """Best trial overall against the best trial without weights or resampling.

    Uses ``results_``; the standard error of the difference is a paired
    bootstrap of the two trials' out-of-fold decisions (or scores) while the
    model still holds its search context (right after ``fit``), otherwise it is
    computed from each trial's confusion counts alone (cost objective only).
    """
    objective = model.objective_
    results = model.results_
    done = results[(results["state"] == "COMPLETE") & results["value"].notna()]
    done = done.assign(family=trial_families(done)) if len(done) else done
    lower = objective.kind == "cost"
    common = {"metric": objective.kind, "chosen_estimate": float(model.best_score_),
              "chosen_raw": float(model.best_score_raw_)}
    if done.empty:
        return StrategyGain(best_trial=None, best_strategy=None, best_value=None,
                            best_family=None, plain_trial=None, plain_strategy=None,
                            plain_value=None, gain=None, relative_gain=None,
                            normalized_gain=None, standard_error=None,
                            standard_error_method="", **common)
    ranked = done.sort_values("value", ascending=lower, kind="mergesort")
    best = ranked.iloc[0]
    by_family = {}
    for family in FAMILIES:
        rows = ranked[ranked["family"] == family]
        if len(rows):
            by_family[family] = {"trial": int(rows.iloc[0]["number"]),
                                 "value": float(rows.iloc[0]["value"]),
                                 "strategy": rows.iloc[0]["strategy"]}
    plain = ranked[ranked["family"] == "no_handling"]
    if plain.empty:
        return StrategyGain(
            best_trial=int(best["number"]), best_strategy=best["strategy"],
            best_value=float(best["value"]), best_family=best["family"],
            plain_trial=None, plain_strategy=None, plain_value=None, gain=None,
            relative_gain=None, normalized_gain=None, standard_error=None,
            standard_error_method="", by_family=by_family, **common)
    plain = plain.iloc[0]
    best_value, plain_value = float(best["value"]), float(plain["value"])
    gain = plain_value - best_value if lower else best_value - plain_value
    base = abs(plain_value)
    se, method = _gain_se(model, int(plain["number"]), int(best["number"]), plain,
                          best)
    trivial = _trivial(np.asarray(model.oof_target_), objective)
    return StrategyGain(
        best_trial=int(best["number"]), best_strategy=best["strategy"],
        best_value=best_value, best_family=best["family"],
        plain_trial=int(plain["number"]), plain_strategy=plain["strategy"],
        plain_value=plain_value, gain=float(gain),
        relative_gain=float(gain / base) if base > 0 else None,
        normalized_gain=_normalized(gain, trivial, objective),
        standard_error=se, standard_error_method=method, by_family=by_family,
        **common)


def _gain_se(model, plain_trial, best_trial, plain_row, best_row):
    if plain_trial == best_trial:
        return 0.0, "the best trial is itself without weights or resampling"
    context = getattr(model, "_context", None)
    cache = getattr(context, "oof_cache", {}) if context is not None else {}
    objective = model.objective_
    if plain_trial in cache and best_trial in cache:
        y = context.y[context.scored]
        if objective.kind == "cost":
            a, b = cache[plain_trial][1].pred, cache[best_trial][1].pred
        else:
            a = np.asarray(cache[plain_trial][0], dtype=float)
            b = np.asarray(cache[best_trial][0], dtype=float)
        return (_paired_se(y, a, b, objective),
                "paired bootstrap of the rows (200 stratified resamples)")
    if objective.kind == "cost":
        y = np.asarray(model.oof_target_)
        n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
        ses = [_confusion_se(r, n_pos, n_neg, objective)
               for r in (plain_row, best_row)]
        if None not in ses:
            return (math.hypot(*ses),
                    "from each trial's confusion counts, unpaired (conservative: "
                    "the out-of-fold predictions are kept only right after fit)")
    return None, "unavailable: the out-of-fold predictions are kept only right " \
                 "after fit"
