"""Is imbalance the real problem? Diagnostics of a fitted model and its search.

A poor model on imbalanced data is often blamed on the imbalance when the
classes overlap, some labels are wrong, or there are too few rows. The search
already holds most of what tells these apart; :func:`diagnose` reads it and
adds a few cheap fits:

1. **What imbalance handling gains.** The best trial whose strategy neither
   weights the classes nor resamples, against the best trial overall. Both
   values are cross-validated costs (or average precisions) of the trials, raw
   (not bias-corrected), with the standard error of their difference.
2. **How well the classes separate at all.** ROC AUC and average precision of
   the returned model's out-of-fold probabilities, with stratified bootstrap
   intervals.
3. **Label noise.** Rows whose out-of-fold probability confidently
   contradicts their label, by the per-class thresholds of confident learning
   (Northcutt, Jiang and Chuang, 2021): a positive is suspect when the model,
   which never saw it, gives it no more than the *average* probability of a
   negative; a negative when it gets at least the average probability of a
   positive. The thresholds adapt to the base rate and need no tuning
   constant. Label noise and overlapping classes cannot be told apart from
   the data alone, but they leave different traces: random label errors put
   positives among the rows the model is surest are negative, overlap rarely
   does; both counts are given.
4. **Whether more rows would help.** A learning curve: the best strategy
   refitted on 25%, 50% and 75% of each fold's training rows, scored on the
   same held-out rows and post-processed the same cross-fitted way as the
   search, against 100% (the search's own trial).

Then a verdict in plain sentences, with the numbers behind it.

References
----------
.. [1] C. Northcutt, L. Jiang and I. Chuang, "Confident learning: estimating
   uncertainty in dataset labels", Journal of Artificial Intelligence
   Research 70, 1373-1411 (2021).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from autoimb._metrics import (
    stratified_bootstrap_counts,
    weighted_average_precision,
    weighted_roc_auc,
)
from autoimb._models import MODELS
from autoimb.exceptions import AutoImbError

__all__ = [
    "FAMILIES",
    "Diagnosis",
    "LabelNoise",
    "LearningCurve",
    "LearningPoint",
    "Separability",
    "StrategyGain",
    "diagnose",
    "strategy_family",
]

#: Strategy families, in the order reports show them.
FAMILIES = {
    "no_handling": "no handling",
    "weights": "class weights",
    "oversampling": "oversampling",
    "undersampling": "undersampling",
    "combined": "combined (weights and resampling, or SMOTE + cleaning)",
    "ensembles": "balanced ensembles",
}
_OVERSAMPLERS = {"random_over", "smote", "borderline_smote", "adasyn", "smotenc"}
_UNDERSAMPLERS = {"random_under", "tomek_links"}

#: A tenth of the positives contradicted by the model: recall above 90% is then
#: out of reach at any useful precision, whatever the imbalance handling.
NOISE_SHARE = 0.10
#: Positives among the half of rows the model is surest are negative. Random
#: label errors land there as often as anywhere; overlapping classes seldom do.
LOW_HALF_SHARE = 0.05
#: ROC AUC below which the features are said to separate the classes poorly.
WEAK_AUC = 0.80
#: A gain worth a sentence of its own: 2% of the best trivial rule's cost (or 2
#: points of average precision), and beyond two standard errors. Relative gains
#: mislead near a cost of 0: halving a normalized cost of 0.01 changes nothing.
MIN_GAIN = 0.02
#: Fractions of each fold's training rows the learning curve refits on.
FRACTIONS = (0.25, 0.5, 0.75)

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


def strategy_family(model: str, weighting: str = "none",
                    resampler: str = "none") -> str:
    """The family of an imbalance strategy, a key of :data:`FAMILIES`.

    Parameters
    ----------
    model : str
        A model family of the search space (e.g. ``"lightgbm"``).
    weighting : str, default="none"
        Its class weighting (``"none"``, ``"balanced"``, ``"custom"``...).
    resampler : str, default="none"
        Its resampler (``"none"``, ``"smote"``, ``"random_under"``...).

    Returns
    -------
    str
        ``"ensembles"`` for the models that balance each member themselves,
        ``"no_handling"``, ``"weights"``, ``"oversampling"``, ``"undersampling"``
        or ``"combined"``.

    Examples
    --------
    >>> strategy_family("lightgbm")
    'no_handling'
    >>> strategy_family("hist_gradient_boosting", "balanced", "smote")
    'combined'
    >>> strategy_family("balanced_random_forest")
    'ensembles'
    """
    weighting = _plain_choice(weighting)
    resampler = _plain_choice(resampler)
    info = MODELS.get(model)
    if info is not None and info.resamples_itself:
        return "ensembles"
    if resampler == "none":
        return "no_handling" if weighting == "none" else "weights"
    if weighting != "none" or resampler not in _OVERSAMPLERS | _UNDERSAMPLERS:
        return "combined"
    return "oversampling" if resampler in _OVERSAMPLERS else "undersampling"


def _plain_choice(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "none"
    return str(value)


def trial_families(results: pd.DataFrame) -> pd.Series:
    """The strategy family of each row of a ``results_`` table."""
    def family(row):
        model = row.get("params.model")
        if not isinstance(model, str):
            return None
        return strategy_family(model, row.get(f"params.{model}.class_weight"),
                               row.get("params.resampler"))
    return results.apply(family, axis=1)


# -- the parts of a diagnosis -------------------------------------------------


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


@dataclass(frozen=True)
class Separability:
    """How well the returned model's out-of-fold probabilities separate the
    classes, with 95% stratified bootstrap intervals.

    Attributes
    ----------
    roc_auc, roc_auc_interval
        ROC AUC (0.5: no signal, 1: perfect) and its interval.
    average_precision, average_precision_interval
        Average precision and its interval; a random ranking scores the
        prevalence.
    prevalence : float
        Share of positives among the rows.
    n_rows, n_positive : int
    n_boot : int
        Bootstrap resamples behind the intervals.
    """

    roc_auc: float
    roc_auc_interval: tuple[float, float]
    average_precision: float
    average_precision_interval: tuple[float, float]
    prevalence: float
    n_rows: int
    n_positive: int
    n_boot: int


@dataclass(frozen=True)
class LabelNoise:
    """Rows whose out-of-fold probability confidently contradicts their label.

    Attributes
    ----------
    method : str
        The rule, in words.
    positive_threshold, negative_threshold : float
        A positive is suspect at or below ``positive_threshold`` (the mean
        probability of the negatives); a negative at or above
        ``negative_threshold`` (the mean probability of the positives).
    n_positive, n_suspect_positives : int
    share_of_positives : float
        ``n_suspect_positives / n_positive``: an estimate of the share of
        positives that are mislabelled (or indistinguishable from negatives).
    positive_examples : tuple of int
        Up to ten suspect positives, most confidently contradicted first.
    n_negative, n_suspect_negatives : int
    share_of_negatives : float
    negative_examples : tuple of int
    positives_in_low_half : int
        Positives among the half of rows with the lowest probability, where
        clean labels and informative features leave few.
    low_half_share : float
        ``positives_in_low_half / n_positive``.
    row_numbers : str
        What the example numbers count: ``"training rows"`` (0-based positions
        in the data given to ``fit``) or ``"scored rows"`` (positions among
        the held-out rows of a holdout, on a loaded model).
    """

    method: str
    positive_threshold: float
    negative_threshold: float
    n_positive: int
    n_suspect_positives: int
    share_of_positives: float
    positive_examples: tuple[int, ...]
    n_negative: int
    n_suspect_negatives: int
    share_of_negatives: float
    negative_examples: tuple[int, ...]
    positives_in_low_half: int
    low_half_share: float
    row_numbers: str

    @property
    def likely(self) -> bool:
        """Whether the counts point at label noise rather than overlap."""
        return (self.share_of_positives >= NOISE_SHARE
                and self.low_half_share >= LOW_HALF_SHARE)


@dataclass(frozen=True)
class LearningPoint:
    """The best strategy fitted on a fraction of each fold's training rows.

    ``value`` is the cross-fitted cost (total over the scored rows) or average
    precision; ``normalized_cost`` divides a cost by the best trivial rule's.
    """

    fraction: float
    n_train: int
    value: float
    normalized_cost: float | None
    seconds: float


@dataclass(frozen=True)
class LearningCurve:
    """Values of the best strategy against the share of training rows.

    Attributes
    ----------
    strategy : str
    points : tuple of LearningPoint
        From the smallest fraction to 1.0 (the search's own trial).
    last_doubling_gain : float or None
        How much better 100% is than 50% (cost saved, or AP gained).
    relative_gain : float or None
        That gain over the value at 50%.
    normalized_gain : float or None
        That gain over the cost of the best trivial rule (for AP, the gain).
    standard_error : float or None
        Its standard error, by a paired bootstrap of the rows.
    note : str
        Points left out (time limit, a fit that failed), if any.
    """

    strategy: str
    points: tuple[LearningPoint, ...]
    last_doubling_gain: float | None
    relative_gain: float | None
    normalized_gain: float | None
    standard_error: float | None
    note: str = ""

    @property
    def still_learning(self) -> bool:
        """Whether doubling the rows helped by more than two standard errors
        and :data:`MIN_GAIN`."""
        return (self.last_doubling_gain is not None
                and self.standard_error is not None
                and self.normalized_gain is not None
                and self.last_doubling_gain > 2 * self.standard_error
                and self.normalized_gain >= MIN_GAIN)


@dataclass(frozen=True)
class Diagnosis:
    """Whether imbalance is the real problem of a fitted model, as data.

    Attributes
    ----------
    verdict : str
        The main finding: ``"label_noise"``, ``"overlap"``, ``"more_data"``,
        ``"imbalance"``, ``"not_imbalance"`` or ``"unknown"``.
    sentences : tuple of str
        The verdict, then one sentence per finding, with its numbers.
    objective : str
        ``"cost"`` or ``"average_precision"``.
    gain : StrategyGain or None
    separability : Separability or None
    label_noise : LabelNoise or None
    learning_curve : LearningCurve or None
    missing : tuple of str
        What could not be computed, and why.

    See Also
    --------
    autoimb.AutoImbClassifier.diagnose
    """

    verdict: str
    sentences: tuple[str, ...]
    objective: str
    gain: StrategyGain | None
    separability: Separability | None
    label_noise: LabelNoise | None
    learning_curve: LearningCurve | None
    missing: tuple[str, ...] = ()

    @property
    def headline(self) -> str:
        """The verdict as one sentence."""
        return _VERDICTS[self.verdict]

    def to_dict(self) -> dict[str, Any]:
        """The diagnosis as JSON-ready data (non-finite numbers become None).

        Examples
        --------
        >>> d = Diagnosis("unknown", ("Too little is known.",), "cost", None, None,
        ...               None, None)
        >>> d.to_dict()["verdict"]
        'unknown'
        """
        data = _json_ready(asdict(self))
        data["headline"] = self.headline
        return data

    def __str__(self) -> str:
        return format_diagnosis(self)


def _json_ready(value):
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


# -- the computations ---------------------------------------------------------


def _bootstrap(statistic, y, n_boot, random_state, chunk=50):
    """``statistic(weights)`` over stratified bootstrap resamples, in chunks."""
    rng = np.random.default_rng(random_state)
    values = []
    for done in range(0, n_boot, chunk):
        size = min(chunk, n_boot - done)
        values.append(statistic(stratified_bootstrap_counts(y, size, rng)))
    return np.concatenate(values)


def separability(y, proba, *, n_boot: int = 200,
                 random_state: int = 0) -> Separability:
    """ROC AUC and average precision of out-of-fold probabilities, with 95%
    stratified bootstrap intervals.

    Parameters
    ----------
    y : array of 0 and 1
    proba : array of float
        Out-of-fold probabilities of the positive class.
    n_boot : int, default=200
    random_state : int, default=0

    Returns
    -------
    Separability

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = (rng.random(2000) < 0.05).astype(int)
    >>> s = separability(y, rng.random(2000) + 2 * y)
    >>> s.roc_auc, s.roc_auc_interval
    (1.0, (1.0, 1.0))
    """
    y = np.asarray(y).astype(int)
    proba = np.asarray(proba, dtype=float)
    ones = np.ones((1, len(y)))
    auc = float(weighted_roc_auc(ones, y, proba)[0])
    ap = float(weighted_average_precision(ones, y, proba)[0])

    def both(weights):
        return np.column_stack([weighted_roc_auc(weights, y, proba),
                                weighted_average_precision(weights, y, proba)])

    boot = _bootstrap(both, y, n_boot, random_state)
    low, high = np.nanquantile(boot, [0.025, 0.975], axis=0)
    return Separability(
        roc_auc=auc, roc_auc_interval=(float(low[0]), float(high[0])),
        average_precision=ap,
        average_precision_interval=(float(low[1]), float(high[1])),
        prevalence=float(np.mean(y)), n_rows=len(y), n_positive=int(np.sum(y)),
        n_boot=n_boot)


def label_noise(y, proba, *, row_ids=None, row_numbers: str = "training rows",
                n_examples: int = 10) -> LabelNoise:
    """Rows whose out-of-fold probability confidently contradicts their label.

    Confident learning's per-class thresholds (Northcutt et al., 2021): a
    positive is suspect when its probability is at most the mean probability
    of the negatives, a negative when its probability is at least the mean
    probability of the positives.

    Parameters
    ----------
    y : array of 0 and 1
    proba : array of float
        Out-of-fold probabilities of the positive class: each from a model that
        never saw its row, else every label looks right.
    row_ids : array of int, default=None
        The row number of each entry, for the examples; default their positions.
    row_numbers : str, default="training rows"
        What ``row_ids`` count, in words.
    n_examples : int, default=10

    Returns
    -------
    LabelNoise

    Examples
    --------
    Two positives that look exactly like negatives:

    >>> import numpy as np
    >>> y = np.array([0] * 8 + [1] * 4)
    >>> p = np.array([.01, .02, .03, .02, .01, .05, .02, .04, .9, .8, .02, .01])
    >>> noise = label_noise(y, p)
    >>> noise.n_suspect_positives, noise.positive_examples
    (2, (11, 10))
    """
    y = np.asarray(y).astype(int)
    proba = np.asarray(proba, dtype=float)
    ids = np.arange(len(y)) if row_ids is None else np.asarray(row_ids)
    pos, neg = y == 1, y == 0
    if not pos.any() or not neg.any():
        raise AutoImbError(
            "label_noise needs rows of both classes; got "
            f"{int(pos.sum())} positive and {int(neg.sum())} negative rows.")
    low_cut = float(proba[neg].mean())
    high_cut = float(proba[pos].mean())
    suspect_pos = np.flatnonzero(pos & (proba <= low_cut))
    suspect_neg = np.flatnonzero(neg & (proba >= high_cut))
    suspect_pos = suspect_pos[np.argsort(proba[suspect_pos], kind="mergesort")]
    suspect_neg = suspect_neg[np.argsort(-proba[suspect_neg], kind="mergesort")]
    order = np.argsort(proba, kind="mergesort")
    low_half = order[: len(y) // 2]
    in_low_half = int(np.sum(y[low_half]))
    return LabelNoise(
        method="confident learning: a positive is suspect when its out-of-fold "
               "probability is at most the mean probability of the negatives, a "
               "negative when at least the mean probability of the positives",
        positive_threshold=low_cut, negative_threshold=high_cut,
        n_positive=int(pos.sum()), n_suspect_positives=len(suspect_pos),
        share_of_positives=len(suspect_pos) / int(pos.sum()),
        positive_examples=tuple(int(i) for i in ids[suspect_pos[:n_examples]]),
        n_negative=int(neg.sum()), n_suspect_negatives=len(suspect_neg),
        share_of_negatives=len(suspect_neg) / int(neg.sum()),
        negative_examples=tuple(int(i) for i in ids[suspect_neg[:n_examples]]),
        positives_in_low_half=in_low_half,
        low_half_share=in_low_half / int(pos.sum()),
        row_numbers=row_numbers)


def _losses(y, pred, objective):
    """Cost of each row's decision."""
    return np.where(pred & (y == 0), objective.fp_cost,
                    np.where(~pred & (y == 1), objective.fn_cost, 0.0))


def _paired_se(y, a, b, objective, *, n_boot=200, random_state=0) -> float:
    """Standard error of value(b) - value(a) (cost saved by b, or AP gained),
    by a stratified bootstrap of the rows: decisions for cost, scores for AP."""
    y = np.asarray(y).astype(int)
    if objective.kind == "cost":
        diff = _losses(y, np.asarray(a, bool), objective) - \
            _losses(y, np.asarray(b, bool), objective)

        def statistic(weights):
            # Totals over as many rows as there are: weights sum to len(y).
            return weights @ diff
    else:
        a, b = np.asarray(a, float), np.asarray(b, float)

        def statistic(weights):
            return (weighted_average_precision(weights, y, b)
                    - weighted_average_precision(weights, y, a))
    return float(np.nanstd(_bootstrap(statistic, y, n_boot, random_state)))


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


# -- the learning curve ---------------------------------------------------------


def _nested_subsamples(train, y, fractions, rng):
    """Stratified, nested subsets of ``train``: one fixed shuffle per class,
    each fraction keeping its first rows."""
    shuffled = [rng.permutation(train[y[train] == label]) for label in (0, 1)]
    subsets = []
    for fraction in fractions:
        keep = [rows[: max(2, math.ceil(fraction * len(rows)))] for rows in shuffled]
        subsets.append(np.sort(np.concatenate(keep)))
    return subsets


def _rows(X, index):
    return X.iloc[index] if hasattr(X, "iloc") else X[index]


def learning_curve(strategy, X, y, folds, *, postprocess, kinds, objective,
                   full_scores=None, fractions=FRACTIONS, time_limit=60.0,
                   random_state=0, trivial=None,
                   seconds_per_row=None) -> LearningCurve:
    """Fit ``strategy`` on fractions of each fold's training rows.

    Every fraction is scored on the same held-out rows and post-processed the
    same cross-fitted way (``postprocess(scores)``) as the search. Fractions are
    fitted from the smallest up; one whose fits would overrun ``time_limit``
    (extrapolated from the fits so far, in proportion to the rows) is left out.
    Each model uses one thread, as in the search.

    Parameters
    ----------
    strategy : Strategy
    X : DataFrame
    y : array of 0 and 1
    folds : list of (train, test) index arrays
    postprocess : callable
        ``postprocess(scores) -> PostProcessing`` for scores of all rows (NaN
        for rows no fold holds out).
    kinds : ColumnKinds
    objective : Objective
    full_scores : array, default=None
        Out-of-fold scores of the strategy on all training rows (the search's
        trial); fitted again when None.
    fractions : tuple of float, default=(0.25, 0.5, 0.75)
    time_limit : float or None, default=60.0
        Seconds for all the fits; None for no limit.
    random_state : int, default=0
    trivial : float, default=None
        Cost of the best trivial rule on the scored rows, for normalized costs.
    seconds_per_row : float, default=None
        Expected fitting seconds per training row (e.g. from the search's
        trial), to hold the time limit from the first fraction on.

    Returns
    -------
    LearningCurve
    """
    started = time.perf_counter()
    rng = np.random.default_rng(random_state)
    y = np.asarray(y).astype(int)
    scored = np.zeros(len(y), dtype=bool)
    for _, test in folds:
        scored[test] = True
    subsets = [_nested_subsamples(np.asarray(train), y, fractions, rng)
               for train, _ in folds]
    fitted, notes = [], []  # (point, post-processing, scores of the scored rows)
    wanted = [*fractions, 1.0] if full_scores is None else list(fractions)
    for i, fraction in enumerate(wanted):
        n_rows = sum(len(s[i]) if fraction < 1 else len(train)
                     for s, (train, _) in zip(subsets, folds, strict=True))
        if time_limit is not None and seconds_per_row is not None:
            expected = seconds_per_row * n_rows
            if time.perf_counter() - started + expected > time_limit:
                notes.append(f"{fraction:.0%} and above left out: about "
                             f"{expected:.0f} s more would pass the time limit of "
                             f"{time_limit:g} s")
                break
        start = time.perf_counter()
        scores = np.full(len(y), np.nan)
        try:
            with threadpool_limits(limits=1):
                for s, (train, test) in zip(subsets, folds, strict=True):
                    rows = s[i] if fraction < 1 else np.asarray(train)
                    pipeline = strategy.make_pipeline(kinds, random_state)
                    pipeline.fit(_rows(X, rows), y[rows])
                    scores[test] = pipeline.predict_proba(_rows(X, test))[:, 1]
        except Exception as exc:
            notes.append(f"{fraction:.0%} left out: {type(exc).__name__}: {exc}")
            continue
        seconds = time.perf_counter() - start
        seconds_per_row = seconds / max(n_rows, 1)
        post = postprocess(scores)
        fitted.append((_point(fraction, n_rows // len(folds), post, seconds, trivial),
                       post, scores[scored]))
    if full_scores is not None:
        scores = np.asarray(full_scores, dtype=float)
        post = postprocess(scores)
        n_full = sum(len(train) for train, _ in folds) // len(folds)
        fitted.append((_point(1.0, n_full, post, 0.0, trivial), post, scores[scored]))
    gain = relative = normalized = se = None
    by_fraction = {point.fraction: (point, post, s) for point, post, s in fitted}
    if 0.5 in by_fraction and 1.0 in by_fraction:
        (half, half_post, half_scores) = by_fraction[0.5]
        (full, full_post, full_scores_) = by_fraction[1.0]
        if objective.kind == "cost":
            gain = half.value - full.value
            a, b = half_post.pred, full_post.pred
        else:
            gain = full.value - half.value
            a, b = half_scores, full_scores_
        relative = gain / abs(half.value) if half.value else None
        normalized = _normalized(gain, trivial, objective)
        se = _paired_se(y[scored], a, b, objective, random_state=random_state)
    return LearningCurve(strategy=strategy.describe(),
                         points=tuple(point for point, _, _ in fitted),
                         last_doubling_gain=gain, relative_gain=relative,
                         normalized_gain=normalized, standard_error=se,
                         note="; ".join(notes))


def _point(fraction, n_train, post, seconds, trivial):
    normalized = (post.metrics["cost"] / trivial if trivial else None)
    return LearningPoint(fraction=float(fraction), n_train=int(n_train),
                         value=float(post.value), normalized_cost=normalized,
                         seconds=round(float(seconds), 3))


def _normalized(gain, trivial, objective):
    """A gain on the scale of :data:`MIN_GAIN`."""
    if objective.kind != "cost":
        return float(gain)
    return float(gain / trivial) if trivial else None


def _trivial(y, objective):
    """Cost of the best trivial rule, for normalized costs (cost objective)."""
    from autoimb._metrics import trivial_cost

    if objective.kind != "cost":
        return None
    return trivial_cost(y, objective.fp_cost, objective.fn_cost) or None


def _learning_curve_of(model, X, y, time_limit, random_state):
    """The learning curve from the search context, or from data given again."""
    from autoimb._evaluation import cross_fit_postprocessing

    strategy = getattr(model, "best_strategy_", None)
    if strategy is None:
        return None, "the returned model is the trivial rule: no strategy to refit"
    objective = model.objective_
    context = getattr(model, "_context", None)
    if X is None and context is not None:
        y_scored = context.y[context.scored]
        cached = context.oof_cache.get(model.best_trial_number_)
        # The curve is drawn on one partition; repeated folds' cached scores
        # average several, so the full-data point is refitted like the others.
        repeated = len(context.partition) < len(context.folds)
        full = None
        if cached is not None and not repeated:
            full = np.full(len(context.y), np.nan)
            full[context.scored] = cached[0]
        curve = learning_curve(
            strategy, context.X, context.y, context.partition,
            postprocess=context.postprocess, kinds=context.kinds,
            objective=objective, full_scores=full, time_limit=time_limit,
            random_state=context.model_seed,
            trivial=_trivial(y_scored, objective),
            seconds_per_row=_seconds_per_row(model, context.folds))
        return curve, None
    if X is None:
        return None, ("the learning curve refits the best strategy, so it needs "
                      "the training data: call diagnose() right after fit, or "
                      "pass X and y (autoimb diagnose MODEL --data FILE --target "
                      "COL)")
    from sklearn.model_selection import StratifiedKFold

    from autoimb._postprocessing import CALIBRATIONS

    X = model._check_X(X, reset=False)
    y = np.asarray(y)
    unknown = sorted(set(y.tolist()) - set(model.classes_.tolist()), key=str)
    if unknown:
        raise AutoImbError(
            f"y holds labels {unknown[:5]} the model was not trained on; its "
            f"labels are {model.classes_.tolist()}.")
    y01 = (y == model.pos_label_).astype(int)
    n_splits = model.validation_.n_splits if model.validation_.kind == "kfold" else 3
    n_splits = max(2, min(n_splits, int(y01.sum()), int(len(y01) - y01.sum())))
    splitter = StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
    folds = list(splitter.split(np.zeros(len(y01)), y01))
    fold_ids = np.empty(len(y01), dtype=int)
    for k, (_, test) in enumerate(folds):
        fold_ids[test] = k
    calibrations = _calibrations_of(model) or tuple(CALIBRATIONS)

    def postprocess(scores):
        return cross_fit_postprocessing(scores, y01, fold_ids, objective=objective,
                                        calibrations=calibrations)

    curve = learning_curve(
        strategy, X, y01, folds, postprocess=postprocess, kinds=model.kinds_,
        objective=objective, time_limit=time_limit, random_state=random_state,
        trivial=_trivial(y01, objective))
    return curve, None


def _seconds_per_row(model, folds):
    """Fitting seconds per training row of the best trial, from ``results_``."""
    rows = model.results_.set_index("number")
    try:
        seconds = float(rows.loc[model.best_trial_number_, "fit_time"])
    except (KeyError, TypeError, ValueError):
        return None
    n_rows = sum(len(train) for train, _ in folds)
    return seconds / n_rows if math.isfinite(seconds) and n_rows else None


def _calibrations_of(model):
    try:
        from autoimb._spaces import load_search_space

        return tuple(load_search_space(model.search_space).calibrations)
    except Exception:
        return None


# -- the verdict --------------------------------------------------------------


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
    return f"{value:.{digits}g}"


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
        return (f"The best trial (#{gain.best_trial}, {unit} {_num(gain.best_value)}, "
                "raw cross-validated) uses no class weights and no resampling: "
                "imbalance handling gains nothing over a tuned threshold.")
    what = "saves" if gain.metric == "cost" else "adds"
    noise = ("noise level unknown" if gain.standard_error is None else
             "beyond noise" if gain.beyond_noise else "within noise")
    scale = ("of the best trivial rule's cost" if gain.metric == "cost"
             else "points of AP")
    return (f"The best strategy (#{gain.best_trial}, {gain.best_strategy}) {what} "
            f"{_num(gain.gain)} ± {_num(gain.standard_error)} {unit} over the best "
            f"without weights or resampling (#{gain.plain_trial}, "
            f"{gain.plain_strategy}: {_num(gain.plain_value)} against "
            f"{_num(gain.best_value)}, both raw cross-validated values): "
            f"{_num(gain.normalized_gain, 3)} {scale}, {noise}.")


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
    examples = ", ".join(map(str, noise.positive_examples[:5]))
    text = (f"{noise.n_suspect_positives} of {noise.n_positive} positives "
            f"({_pct(noise.share_of_positives)}) score no higher than an average "
            f"negative ({noise.positive_threshold:.3g}), and "
            f"{noise.positives_in_low_half} ({_pct(noise.low_half_share)}) sit among "
            "the half of rows the model is surest are negative")
    if noise.likely:
        text += ("; random label errors leave that trace, so many positives are "
                 "probably mislabelled (or the features cannot tell them apart)")
    elif noise.share_of_positives >= NOISE_SHARE:
        text += ("; few sit among the surest negatives, which points at classes "
                 "that overlap rather than at wrong labels")
    else:
        text += "; no sign of many wrong labels"
    if examples:
        text += f". Check by hand, e.g. {noise.row_numbers} {examples}"
    return text + "."


def _curve_sentence(curve: LearningCurve | None) -> str | None:
    if curve is None or not curve.points:
        return None
    cost = curve.points[0].normalized_cost is not None
    steps = ", ".join(
        f"{p.fraction:.0%}: {_num(p.normalized_cost if cost else p.value, 3)}"
        for p in curve.points)
    what = "normalized cost" if cost else "average precision"
    text = f"Learning curve of the best strategy ({what} by share of rows): {steps}"
    if curve.normalized_gain is not None:
        se = _scaled(curve.last_doubling_gain, curve.normalized_gain,
                     curve.standard_error)
        text += (f"; from 50% to 100% of the rows it improves by "
                 f"{curve.normalized_gain:.3f} ± {se}, ")
        text += ("so more rows would likely help further" if curve.still_learning
                 else "little to expect from more rows of the same kind")
    return text + "."


def format_diagnosis(diagnosis: Diagnosis) -> str:
    """The diagnosis as readable text: the verdict, then the findings."""
    lines = [f"Diagnosis: {diagnosis.headline}"]
    lines += [f"  - {s}" for s in diagnosis.sentences[1:]]
    gain = diagnosis.gain
    if gain is not None:
        lines.append(f"  The returned model's expected {gain.metric} on new data: "
                     f"{_num(gain.chosen_estimate)} (bootstrap bias-corrected; "
                     f"{_num(gain.chosen_raw)} raw cross-validated).")
    if diagnosis.learning_curve is not None and diagnosis.learning_curve.note:
        lines.append(f"  Learning curve: {diagnosis.learning_curve.note}.")
    for missing in diagnosis.missing:
        lines.append(f"  Not computed: {missing}.")
    return "\n".join(lines)


def _scored_rows(model):
    """Row numbers of the out-of-fold probabilities, and what they count."""
    context = getattr(model, "_context", None)
    if context is not None:
        return np.flatnonzero(context.scored), "training rows"
    n_rows = getattr(getattr(model, "kinds_", None), "n_rows", 0)
    if n_rows == len(model.oof_target_):
        return np.arange(n_rows), "training rows"
    return np.arange(len(model.oof_target_)), "scored rows"


def diagnose(model, X=None, y=None, *, learning_curve: bool = True,
             time_limit: float | None = 60.0, n_boot: int = 200,
             random_state: int = 0) -> Diagnosis:
    """Diagnose whether imbalance is the real problem of a fitted model.

    See :meth:`autoimb.AutoImbClassifier.diagnose`.
    """
    missing = []
    gain = strategy_gain(model)
    y_oof = np.asarray(getattr(model, "oof_target_", np.array([])), dtype=int)
    p_oof = np.asarray(getattr(model, "oof_proba_", np.array([])), dtype=float)
    sep = noise = None
    if len(np.unique(y_oof)) == 2:
        sep = separability(y_oof, p_oof, n_boot=n_boot, random_state=random_state)
        if np.ptp(p_oof) == 0:
            missing.append("label noise: the search returned the trivial rule, "
                           "whose probabilities are all equal")
        else:
            ids, counted = _scored_rows(model)
            noise = label_noise(y_oof, p_oof, row_ids=ids, row_numbers=counted)
    else:
        missing.append("separation and label noise: the model keeps no out-of-fold "
                       "probabilities of both classes")
    curve = None
    if learning_curve:
        curve, why = _learning_curve_of(model, X, y, time_limit, random_state)
        if why:
            missing.append(f"learning curve: {why}")
    verdict = _verdict(gain, sep, noise, curve)
    sentences = [_VERDICTS[verdict]] + [
        s for s in (_gain_sentence(gain), _separation_sentence(sep),
                    _noise_sentence(noise), _curve_sentence(curve)) if s]
    return Diagnosis(verdict=verdict, sentences=tuple(sentences),
                     objective=model.objective_.kind, gain=gain, separability=sep,
                     label_noise=noise, learning_curve=curve,
                     missing=tuple(missing))
