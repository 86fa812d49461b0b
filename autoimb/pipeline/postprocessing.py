"""Post-processing: the calibrator and the threshold rule, chosen from scores.

A strategy's out-of-fold scores leave two cheap choices: which calibrator maps
them to probabilities (none, sigmoid, isotonic), and which rule turns
probabilities into decisions (a threshold tuned on labelled rows, or the Bayes
threshold ``fp_cost / (fp_cost + fn_cost)`` that is optimal for calibrated
probabilities). Every choice is itself made by cross-fitting, over the groups of
rows the :class:`PostProcessor` is given: a calibrator is judged by the log loss
it reaches on groups it was not fitted on, and a rule by the cost (or F1) of the
decisions it makes on groups it was not tuned on. So when
:func:`~autoimb.pipeline.evaluation.cross_fit_postprocessing` fits a post-processor on
every fold but k to score fold k, neither the calibrator, nor the threshold, nor
the choice between them has seen fold k's labels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from autoimb.pipeline.calibration import make_calibrator
from autoimb.pipeline.objective import Objective

__all__ = ["CALIBRATIONS", "RULES", "PostProcessor"]

CALIBRATIONS = {
    "none": "no calibration",
    "sigmoid": "sigmoid (Platt) calibration",
    "isotonic": "isotonic calibration",
}
RULES = {
    "tuned": "threshold tuned on held-out scores",
    "bayes": "Bayes threshold fp_cost / (fp_cost + fn_cost)",
}
_LOG_LOSS_EPS = 1e-4
_INNER_GROUPS = 3


def _log_loss(y, proba, sample_weight=None) -> float:
    p = np.clip(proba, _LOG_LOSS_EPS, 1 - _LOG_LOSS_EPS)
    return float(-np.average(np.where(y == 1, np.log(p), np.log(1 - p)),
                             weights=sample_weight))


def inner_groups(y, scores, groups=None) -> np.ndarray:
    """Groups to cross-fit over: those given if there are two or more, else
    three stratified groups dealt in score order (deterministic)."""
    if groups is not None and len(np.unique(groups)) >= 2:
        return np.asarray(groups)
    y = np.asarray(y)
    order = np.lexsort((np.asarray(scores, dtype=float), y))
    dealt = np.empty(len(y), dtype=int)
    for label in (0, 1):
        rows = order[y[order] == label]
        dealt[rows] = np.arange(len(rows)) % _INNER_GROUPS
    return dealt


class PostProcessor:
    """Choose and fit a calibrator and a threshold rule on labelled scores.

    Parameters
    ----------
    objective : Objective
        Gives the costs (or F1) that the threshold rule is judged by.
    calibrations : sequence of {"none", "sigmoid", "isotonic"}, default=all three
        The calibrators to choose from, simplest first: ties go to the first.
    make_calibrator : callable, default=autoimb.pipeline.calibration.make_calibrator
        Builds an unfitted calibrator from its name (replaceable in tests).

    Attributes
    ----------
    calibration_ : str
        The calibrator of least cross-fitted log loss.
    rule_ : {"tuned", "bayes"}
        The rule of least cross-fitted cost (or highest F1). ``"bayes"`` only
        when the objective has costs.
    calibrator_ : fitted calibrator
        ``calibration_`` fitted on all rows.
    threshold_ : float
        The decision threshold on calibrated probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> from autoimb.pipeline.objective import Objective
    >>> rng = np.random.default_rng(0)
    >>> y = (rng.random(2000) < 0.1).astype(int)
    >>> scores = 1 / (1 + np.exp(-(2 * y + rng.normal(size=2000) - 2)))
    >>> post = PostProcessor(Objective("cost", 1.0, 9.0)).fit(scores, y)
    >>> post.calibration_ in CALIBRATIONS, post.rule_ in RULES
    (True, True)
    """

    def __init__(self, objective: Objective,
                 calibrations: Sequence[str] = tuple(CALIBRATIONS),
                 make_calibrator: Callable = make_calibrator):
        self.objective = objective
        self.calibrations = tuple(calibrations)
        self.make_calibrator = make_calibrator

    def fit(self, scores, y, groups=None, sample_weight=None) -> PostProcessor:
        """Choose by cross-fitting over ``groups``, then fit on all rows.

        ``sample_weight`` counts each entry that many times: rows of equal
        score, label and group may come merged (then ``groups`` must be given,
        as the groups dealt when it is not are groups of rows)."""
        scores, y = np.asarray(scores, dtype=float), np.asarray(y)
        if sample_weight is not None and (groups is None
                                          or len(np.unique(groups)) < 2):
            raise ValueError("Weighted rows need the groups to cross-fit over "
                             "(two or more); got none.")
        groups = inner_groups(y, scores, groups)
        masks = [(groups != g, groups == g) for g in np.unique(groups)]
        w = sample_weight
        inner = {method: self._cross_fit(method, scores, y, masks, w)
                 for method in self.calibrations}
        self.calibration_ = min(self.calibrations,
                                key=lambda m: _log_loss(y, inner[m][0], w))
        self.rule_ = self._choose_rule(scores, y, masks, *inner[self.calibration_], w)
        self.calibrator_ = self.make_calibrator(self.calibration_).fit(
            scores, y, **_weighted(w))
        self.threshold_ = self._threshold(self.rule_, y,
                                          self.calibrator_.transform(scores), w)
        return self

    def transform(self, scores) -> np.ndarray:
        """Calibrated probabilities."""
        return np.clip(self.calibrator_.transform(scores), 0.0, 1.0)

    def predict(self, scores) -> np.ndarray:
        """Decisions (bool) at the threshold."""
        return self.transform(scores) >= self.threshold_

    def describe(self) -> str:
        """The choices in words."""
        return f"{CALIBRATIONS[self.calibration_]}, {RULES[self.rule_]}"

    # -- choices ---------------------------------------------------------------

    def _cross_fit(self, method, scores, y, masks, w):
        """Probabilities of each group from a calibrator fitted on the others."""
        proba = np.empty(len(y))
        calibrators = []
        for fit, held in masks:
            calibrators.append(self.make_calibrator(method).fit(
                scores[fit], y[fit], **_weighted(w, fit)))
            proba[held] = calibrators[-1].transform(scores[held])
        return proba, calibrators

    def _choose_rule(self, scores, y, masks, proba, calibrators, w) -> str:
        objective = self.objective
        if not objective.uses_costs_for_threshold:
            return "tuned"
        tuned = np.empty(len(y), dtype=bool)
        for (fit, held), calibrator in zip(masks, calibrators, strict=True):
            threshold = objective.tune_threshold(
                y[fit], calibrator.transform(scores[fit]), **_weighted(w, fit))
            tuned[held] = proba[held] >= threshold
        bayes = proba >= objective.bayes_threshold
        if objective.rule_score(y, bayes, w) < objective.rule_score(y, tuned, w):
            return "bayes"
        return "tuned"

    def _threshold(self, rule, y, proba, w=None) -> float:
        if rule == "bayes":
            return self.objective.bayes_threshold
        return self.objective.tune_threshold(y, proba, **_weighted(w))


def _weighted(sample_weight, rows=None) -> dict:
    """``sample_weight`` (of ``rows``) as a keyword, or no keyword at all: a
    calibrator given by the caller need not take weights unless they are used."""
    if sample_weight is None:
        return {}
    return {"sample_weight": sample_weight if rows is None else sample_weight[rows]}
