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
4. **Whether more rows would help.** A learning curve: the returned model's
   strategy refitted on 25%, 50% and 75% of each fold's training rows, scored
   on the same held-out rows and post-processed the same cross-fitted way as
   the search, against 100% (the search's own trial).

Then a verdict in plain sentences, with the numbers behind it.

One module per diagnosis: :mod:`.gain` (1), :mod:`.separation` (2),
:mod:`.noise` (3), :mod:`.learning` (4), :mod:`.verdict` (the verdict and
its sentences); :mod:`.families` groups trials by strategy family and
:mod:`._stats` holds the bootstrap shared by the diagnoses. This module
holds :func:`diagnose`, :class:`Diagnosis` and re-exports the names of
the modules.

References
----------
.. [1] C. Northcutt, L. Jiang and I. Chuang, "Confident learning: estimating
   uncertainty in dataset labels", Journal of Artificial Intelligence
   Research 70, 1373-1411 (2021).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# Names other modules and tests import from here are re-exported ("as" marks
# them for the linter).
from autoimb.explain.diagnostics._stats import MIN_GAIN as MIN_GAIN
from autoimb.explain.diagnostics._stats import _paired_se as _paired_se
from autoimb.explain.diagnostics.families import FAMILIES, strategy_family
from autoimb.explain.diagnostics.families import applied_resampler as applied_resampler
from autoimb.explain.diagnostics.families import trial_families as trial_families
from autoimb.explain.diagnostics.gain import StrategyGain, strategy_gain
from autoimb.explain.diagnostics.learning import FRACTIONS as FRACTIONS
from autoimb.explain.diagnostics.learning import (
    LearningCurve,
    LearningPoint,
    _learning_curve_of,
)
from autoimb.explain.diagnostics.learning import learning_curve as learning_curve
from autoimb.explain.diagnostics.noise import LOW_HALF_SHARE as LOW_HALF_SHARE
from autoimb.explain.diagnostics.noise import NOISE_SHARE as NOISE_SHARE
from autoimb.explain.diagnostics.noise import LabelNoise, label_noise
from autoimb.explain.diagnostics.separation import WEAK_AUC as WEAK_AUC
from autoimb.explain.diagnostics.separation import Separability, separability
from autoimb.explain.diagnostics.verdict import (
    _VERDICTS,
    _curve_sentence,
    _gain_sentence,
    _noise_sentence,
    _num,
    _separation_sentence,
    _verdict,
)

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
    """Row numbers (or ids) of the out-of-fold probabilities, which rows they
    are, and the id column they are values of (None for positions)."""
    ids, columns = getattr(model, "oof_ids_", None), getattr(model, "id_columns_", ())
    if ids is not None and len(ids) == len(model.oof_target_) and len(columns) == 1:
        return ids, "training rows", columns[0]
    context = getattr(model, "_context", None)
    if context is not None:
        return np.flatnonzero(context.scored), "training rows", None
    n_rows = getattr(getattr(model, "kinds_", None), "n_rows", 0)
    if n_rows == len(model.oof_target_):
        return np.arange(n_rows), "training rows", None
    return np.arange(len(model.oof_target_)), "scored rows", None


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
            ids, counted, id_name = _scored_rows(model)
            noise = label_noise(y_oof, p_oof, row_ids=ids, row_numbers=counted,
                                id_name=id_name)
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
