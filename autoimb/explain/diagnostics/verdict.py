"""The verdict: which finding limits the model most, in plain sentences.

Label noise first, then overlapping classes (weak separation, or many
positives contradicted without the trace of random label errors), then too
few rows, then imbalance handling that pays; otherwise imbalance is not the
problem. Each finding is stated in one sentence with the numbers behind it.
"""

from __future__ import annotations

import math

from autoimb.explain.diagnostics.gain import StrategyGain
from autoimb.explain.diagnostics.learning import LearningCurve
from autoimb.explain.diagnostics.noise import NOISE_SHARE, LabelNoise
from autoimb.explain.diagnostics.separation import WEAK_AUC, Separability

_VERDICTS = {
    "label_noise": "Label noise (or classes that overlap) limits this model more "
                   "than the imbalance does.",
    "overlap": "The classes overlap: the features, more than the imbalance, limit "
               "this model.",
    "more_data": "More rows would help this model more than another way of "
                 "handling the imbalance.",
    "imbalance": "Imbalance is a real problem here, and handling it pays.",
    "not_imbalance": "Imbalance is not a problem here: the classes separate well "
                     "and a tuned threshold does as well as weighting or "
                     "resampling.",
    "unknown": "Too little is known about this model to diagnose it.",
}


def _verdict(gain, sep, noise, curve) -> str:
    if sep is None:
        return "unknown"
    if noise is not None and noise.likely:
        return "label_noise"
    if sep.roc_auc_interval[1] < WEAK_AUC or (
            noise is not None and noise.share_of_positives >= NOISE_SHARE):
        return "overlap"
    if curve is not None and curve.still_learning:
        return "more_data"
    if gain is not None and gain.pays:
        return "imbalance"
    return "not_imbalance"


def _num(value, digits=4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if 10 ** digits <= abs(value) < 1e12:  # 21,140, not 2.114e+04
        return f"{value:,.0f}"
    return f"{value:,.{digits}g}"


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _scaled(gain, normalized, value) -> str:
    """``value`` (a standard error) on the scale of ``normalized``."""
    if value is None or not gain or normalized is None:
        return "n/a"
    return f"{value * normalized / gain:.3f}"


def _gain_sentence(gain: StrategyGain | None) -> str | None:
    if gain is None or gain.best_trial is None:
        return None
    unit = "cost" if gain.metric == "cost" else "average precision"
    if gain.plain_trial is None:
        return ("No trial without class weights or resampling completed, so what "
                "imbalance handling gains is unknown (the search space may "
                "exclude it).")
    if gain.plain_trial == gain.best_trial:
        return (f"The best single trial by cross-validated {unit} "
                f"(#{gain.best_trial}, {unit} {_num(gain.best_value)}, raw) uses no "
                "class weights and no resampling: imbalance handling gains nothing "
                "over a tuned threshold.")
    what = "saves" if gain.metric == "cost" else "adds"
    noise = ("noise level unknown" if gain.standard_error is None else
             "beyond noise" if gain.beyond_noise else "within noise")
    scale = ("of the best trivial rule's cost" if gain.metric == "cost"
             else "points of AP")
    # Each value sits beside its own trial, in the order the sentence names them.
    return (f"The best single trial by cross-validated {unit} (#{gain.best_trial}, "
            f"{gain.best_strategy}: {_num(gain.best_value)}) {what} "
            f"{_num(gain.gain)} ± {_num(gain.standard_error)} {unit} over the best "
            f"trial without weights or resampling (#{gain.plain_trial}, "
            f"{gain.plain_strategy}: {_num(gain.plain_value)}; both raw "
            f"cross-validated values): {_num(gain.normalized_gain, 3)} {scale}, "
            f"{noise}.")


def _separation_sentence(sep: Separability | None) -> str | None:
    if sep is None:
        return None
    lo, hi = sep.roc_auc_interval
    quality = ("almost perfectly" if sep.roc_auc >= 0.99 else "well"
               if sep.roc_auc >= 0.9 else "moderately" if sep.roc_auc >= WEAK_AUC
               else "poorly")
    return (f"The out-of-fold probabilities separate the classes {quality}: ROC AUC "
            f"{sep.roc_auc:.3f} (95% interval {lo:.3f}-{hi:.3f}), average precision "
            f"{sep.average_precision:.3f} ({sep.average_precision_interval[0]:.3f}-"
            f"{sep.average_precision_interval[1]:.3f}) against {sep.prevalence:.3f} "
            "for a random ranking.")


def _noise_sentence(noise: LabelNoise | None) -> str | None:
    if noise is None:
        return None
    text = (f"{noise.n_suspect_positives} of {noise.n_positive} positives "
            f"({_pct(noise.share_of_positives)}) "
            f"{_verb(noise.n_suspect_positives, 'scores', 'score')} no higher than "
            f"an average negative ({noise.positive_threshold:.3g}), and "
            f"{noise.positives_in_low_half} ({_pct(noise.low_half_share)}) "
            f"{_verb(noise.positives_in_low_half, 'sits', 'sit')} among the half "
            "of rows the model is surest are negative")
    if noise.likely:
        text += ("; random label errors leave that trace, so many positives are "
                 "probably mislabelled (or the features cannot tell them apart)")
    elif noise.share_of_positives >= NOISE_SHARE:
        text += ("; few sit among the surest negatives, which points at classes "
                 "that overlap rather than at wrong labels")
    else:
        text += "; no sign of many wrong labels"
    if noise.positive_examples:
        text += f". Check by hand, e.g. {noise.examples_text(5)}"
    return text + "."


def _verb(count: int, one: str, many: str) -> str:
    """The verb agreeing with ``count`` things: ``one`` for exactly 1."""
    return one if count == 1 else many


def _curve_sentence(curve: LearningCurve | None) -> str | None:
    if curve is None or not curve.points:
        return None
    cost = curve.points[0].normalized_cost is not None
    steps = ", ".join(
        f"{p.fraction:.0%}: {_num(p.normalized_cost if cost else p.value, 3)}"
        for p in curve.points)
    what = "normalized cost" if cost else "average precision"
    text = (f"Learning curve of the returned model's strategy ({what} by share of "
            f"rows): {steps}")
    if curve.normalized_gain is not None:
        se = _scaled(curve.last_doubling_gain, curve.normalized_gain,
                     curve.standard_error)
        text += (f"; from 50% to 100% of the rows it improves by "
                 f"{curve.normalized_gain:.3f} ± {se}, ")
        text += ("so more rows would likely help further" if curve.still_learning
                 else "little to expect from more rows of the same kind")
    return text + "."
