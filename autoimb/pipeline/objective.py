"""What the search optimises: business cost, or average precision."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score

from autoimb.pipeline.metrics import trivial_cost
from autoimb.pipeline.threshold import (
    bayes_threshold,
    best_cost_threshold,
    best_threshold,
    cost_loss,
    f1_loss,
)

__all__ = ["Objective"]


@dataclass(frozen=True)
class Objective:
    """The user's objective, resolved.

    Parameters
    ----------
    kind : {"cost", "average_precision"}
        Minimise the total cost of errors, or maximise average precision.
    fp_cost, fn_cost : float
        Cost of a false positive and of a false negative. With
        ``"average_precision"`` they choose the threshold only if
        ``costs_given``; otherwise the threshold maximises F1.
    costs_given : bool
        Whether the user gave the costs.
    """

    kind: str
    fp_cost: float
    fn_cost: float
    costs_given: bool = True

    @property
    def direction(self) -> str:
        return "minimize" if self.kind == "cost" else "maximize"

    @property
    def metric_name(self) -> str:
        return "cost" if self.kind == "cost" else "average_precision"

    @property
    def uses_costs_for_threshold(self) -> bool:
        return self.kind == "cost" or self.costs_given

    @property
    def bayes_threshold(self) -> float:
        return bayes_threshold(self.fp_cost, self.fn_cost)

    def tune_threshold(self, y_true, scores, sample_weight=None) -> float:
        """The threshold that is best on these rows: least cost, with the cut
        at the cost-aware position in its gap, or highest F1 (see
        :func:`~autoimb.pipeline.threshold.best_threshold`). ``sample_weight`` counts
        each row that many times."""
        if self.uses_costs_for_threshold:
            return best_threshold(y_true, scores, cost_loss(self.fp_cost, self.fn_cost),
                                  position=self.bayes_threshold,
                                  sample_weight=sample_weight)[0]
        return best_threshold(y_true, scores, f1_loss, sample_weight=sample_weight)[0]

    def rule_score(self, y_true, pred, sample_weight=None) -> float:
        """Lower is better: the cost of these predictions, or minus their F1.
        ``sample_weight`` counts each row that many times."""
        y_true, pred = np.asarray(y_true), np.asarray(pred)
        weight = 1 if sample_weight is None else np.asarray(sample_weight)
        fp = np.sum((pred & (y_true == 0)) * weight)
        fn = np.sum((~pred & (y_true == 1)) * weight)
        if self.uses_costs_for_threshold:
            return float(fp * self.fp_cost + fn * self.fn_cost)
        tp = np.sum((pred & (y_true == 1)) * weight)
        return -float(2 * tp / max(2 * tp + fp + fn, 1))

    def oracle_fold_score(self, y_true, scores) -> float:
        """A quick per-fold score for pruning (comparable between trials only).

        Cost: the least normalised cost any threshold reaches on the fold;
        average precision: the fold's average precision.
        """
        y_true = np.asarray(y_true)
        if self.kind == "cost":
            cost = best_cost_threshold(y_true, scores, self.fp_cost, self.fn_cost)[1]
            trivial = trivial_cost(y_true, self.fp_cost, self.fn_cost)
            return cost / trivial if trivial > 0 else 0.0
        return float(average_precision_score(y_true, scores))
