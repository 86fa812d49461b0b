"""Candidates for the final model: single strategies, and blends of the best.

The differences between the best few strategies are often within the noise of
cross-validation; averaging their scores lowers the variance that picking one of
them would keep. A blend is scored as honestly as a single strategy: its members'
scores are out of fold, and its calibrator, rule and threshold are cross-fitted
over the same folds. Whether a blend or a
single strategy is returned is a choice among candidates like any other, made by
:mod:`autoimb.search.selection`, whose reported score corrects for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoimb.pipeline.evaluation import PostProcessing, cross_fit_postprocessing

__all__ = ["Candidate", "blends", "fixed_blend"]


@dataclass
class Candidate:
    """A scored candidate for the final model.

    Attributes
    ----------
    trial_numbers : tuple of int
        The trial (one) or trials (a blend) it is made of; none for the trivial
        rule.
    strategies : tuple of Strategy
        Their strategies, in the same order.
    scores : array
        Its out-of-fold scores: the strategy's, or the average of the members'.
    post : PostProcessing
        Its cross-fitted post-processing (calibrator, rule and threshold).
    refit_seconds : float
        Predicted time to refit it on all rows.
    best : bool
        Whether it is the single strategy of the best value (it stays a
        candidate whatever its refit costs, see
        :func:`autoimb.search.selection.within_allowance`).
    resampling : tuple of list
        What each strategy's resampler did on all rows, once the candidate
        is fitted on them (:meth:`StrategyPipeline.resampling`); empty
        before. :meth:`describe` names the strategies by it.
    """

    trial_numbers: tuple
    strategies: tuple
    scores: np.ndarray
    post: PostProcessing
    refit_seconds: float = 0.0
    best: bool = False
    resampling: tuple = ()

    @property
    def is_blend(self) -> bool:
        return len(self.trial_numbers) > 1

    @property
    def is_trivial(self) -> bool:
        """The rule without a model
        (:func:`autoimb.search.selection.trivial_candidate`)."""
        return not self.trial_numbers

    def describe(self) -> str:
        """The candidate in words, with its chosen post-processing."""
        if self.is_trivial:
            side = "positive" if self.post.final.threshold_ <= 0 else "negative"
            return (f"No model: every row predicted {side} (no strategy beat this "
                    "trivial rule by more than the noise of cross-validation)")
        done = self.resampling or (None,) * len(self.strategies)
        described = [s.describe(r) for s, r in zip(self.strategies, done, strict=True)]
        if not self.is_blend:
            return f"{described[0]}; {self.post.final.describe()}"
        return (f"Blend of {len(self.strategies)} (average of their scores; "
                f"{self.post.final.describe()}): " + " | ".join(described))


def blends(singles: list[Candidate], y, groups, objective, max_members: int,
           calibrations) -> list[Candidate]:
    """Blends of the best 2, 3, ... ``max_members`` of ``singles``.

    A blend averages its members' out-of-fold scores (probabilities on the real
    class balance); its calibrator, rule and threshold are then cross-fitted over
    ``groups`` like a single strategy's. Its *members* are cross-fitted too: the
    rows of group k are decided by the blend of the candidates that score best on
    the other groups, so not even the choice of members saw their labels. (The
    returned blend's members are the best on all groups.) Candidates are ranked by
    the objective's per-group score of their out-of-fold scores (the least cost
    any threshold reaches on the group, normalized; or the group's average
    precision).
    """
    y, groups = np.asarray(y), np.asarray(groups)
    if max_members < 2 or len(singles) < 2:
        return []
    labels = np.unique(groups)
    sign = 1.0 if objective.direction == "minimize" else -1.0
    per_group = sign * np.array([
        [objective.oracle_fold_score(y[groups == g], c.scores[groups == g])
         for g in labels] for c in singles])

    def average(of):
        return np.mean([singles[i].scores for i in of], axis=0)

    def best(m, without=None):
        """The m best candidates, judged on every group but ``without``."""
        kept = labels != without
        return np.argsort(per_group[:, kept].mean(axis=1), kind="stable")[:m]

    made = []
    for m in range(2, min(max_members, len(singles)) + 1):
        members = best(m)
        post = cross_fit_postprocessing(
            average(members), y, groups, objective=objective,
            calibrations=calibrations,
            scores_for_fold=lambda k, m=m: average(best(m, without=k)))
        made.append(Candidate(
            trial_numbers=tuple(singles[i].trial_numbers[0] for i in members),
            strategies=tuple(singles[i].strategies[0] for i in members),
            scores=average(members), post=post,
            refit_seconds=sum(singles[i].refit_seconds for i in members)))
    return made


def fixed_blend(members: list[Candidate], y, groups, objective,
                calibrations) -> Candidate:
    """The blend of exactly ``members`` (single strategies): their scores
    averaged, its calibrator, rule and threshold cross-fitted over ``groups``.
    Unlike :func:`blends`, the members are given (a final model chosen before,
    kept as a candidate), not picked on the rows they are scored on."""
    scores = np.mean([c.scores for c in members], axis=0)
    post = cross_fit_postprocessing(scores, np.asarray(y), np.asarray(groups),
                                    objective=objective, calibrations=calibrations)
    return Candidate(
        trial_numbers=tuple(c.trial_numbers[0] for c in members),
        strategies=tuple(c.strategies[0] for c in members), scores=scores,
        post=post, refit_seconds=sum(c.refit_seconds for c in members))
