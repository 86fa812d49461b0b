"""Blending the best strategies: average their calibrated probabilities.

The differences between the best few strategies are often within the noise of
cross-validation; averaging their calibrated probabilities lowers the variance
that picking one of them would keep. The blend is scored as honestly as a single
strategy: each member's probabilities are already cross-fitted, and the blend's
threshold is cross-fitted again, fold by fold. A blend is kept only if it does
better than the best single strategy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from optuna.trial import TrialState

from ._evaluation import PostProcessing, cross_fit_postprocessing

__all__ = ["Candidate", "blend", "top_trials"]


@dataclass
class Candidate:
    """One completed trial with its out-of-fold scores and post-processing."""

    trial_number: int
    strategy: object
    scores: np.ndarray
    post: PostProcessing


def top_trials(study, k: int) -> list:
    """The ``k`` best completed trials with distinct strategies, best first."""
    completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    reverse = study.direction.name == "MAXIMIZE"
    ranked = sorted(completed, key=lambda t: t.value, reverse=reverse)
    chosen, seen = [], set()
    for trial in ranked:
        key = trial.user_attrs.get("strategy", str(trial.params))
        if key not in seen:
            seen.add(key)
            chosen.append(trial)
        if len(chosen) == k:
            break
    return chosen


def blend(candidates: list[Candidate], y, fold_ids, objective):
    """How many of the best candidates to average, and the scoring of that blend.

    Returns ``(m, post)``: the first ``m`` candidates are averaged (``m == 1``: the
    best single strategy), ``post`` is the cross-fitted post-processing of their
    averaged probabilities.
    """
    better = (np.less if objective.direction == "minimize" else np.greater)
    best_m, best_post = 1, candidates[0].post
    for m in range(2, len(candidates) + 1):
        proba = np.mean([c.post.proba for c in candidates[:m]], axis=0)
        post = cross_fit_postprocessing(proba, y, fold_ids, calibration="none",
                                        objective=objective)
        if better(post.value, best_post.value):
            best_m, best_post = m, post
    return best_m, best_post
