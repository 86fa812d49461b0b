"""The final model of a study: chosen from its completed trials, then fitted.

Every entry point takes this one path: ``fit`` after its search (a first run or
a resumed one) and ``autoimb export`` of a study, whoever ran its trials. The
choice is a function of the study alone:

* its completed trials and their out-of-fold scores stored with the study
  (:mod:`autoimb.search.scores`), float32, post-processed again in float64 by the
  same cross-fitting;
* its settings (objective, costs, folds and seeds, ``ensemble_size``) and its
  recorded timeout, which sets how long the final model's refit may take
  (:meth:`autoimb.search.budget.Budget.refit_allowance`; the best single
  strategy always stays a candidate).

Neither the seconds left when the choice is made, nor the memory free at that
moment, nor which process holds which trial's scores changes it: time and
memory shape which trials *run*, never what is *chosen* among those that ran.
Before ``fit`` chooses it closes the search (workers start no more trials) and
waits for the trials other processes are running (:func:`settle`), so that
its choice and a later export see the same trials.

Examples
--------
>>> import os, tempfile, autoimb
>>> from sklearn.datasets import make_classification
>>> X, y = make_classification(n_samples=400, weights=[0.9], random_state=0)
>>> journal = os.path.join(tempfile.mkdtemp(), "study.journal")
>>> model = autoimb.fit(X, y, search_space="fast", n_trials=3, cv=3,
...                     storage=journal, study_name="demo", show_progress_bar=False)
>>> again = autoimb.export_study(journal, "demo", data=(X, y))
>>> (again.strategy_, again.best_score_) == (model.strategy_, model.best_score_)
True
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from optuna.trial import TrialState
from sklearn.dummy import DummyClassifier

from autoimb._warnings import warn
from autoimb.pipeline.metrics import trivial_cost
from autoimb.search.budget import Budget
from autoimb.search.ensemble import Candidate
from autoimb.search.job import BUDGET_KEY, CLOSED_KEY
from autoimb.search.selection import (
    Selection,
    bias_corrected_estimate,
    candidate_pool,
    is_prior_default,
    within_allowance,
)
from autoimb.search.trials import best_trial_or_raise
from autoimb.storage.studies import fail_dead_workers_trials

__all__ = ["FINALS_KEY", "FinalChoice", "choose_final", "close_search", "fit_final",
           "previous_finals", "record_final", "settle"]

#: The final models fits of the study chose, oldest first: each stays a
#: candidate of later choices (see :func:`candidate_pool`'s ``kept_finals``).
FINALS_KEY = "autoimb.finals"
# A fit whose choice is expected to cost this much more than the last fit's
# says so (the bias correction grows with the candidates, and noise moves it).
_WORSE_BY = 1.10

logger = logging.getLogger(__name__)

_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class FinalChoice:
    """The chosen candidate of a study and what is known of it.

    Attributes
    ----------
    candidate : Candidate
        The trivial rule, one strategy, or a blend of strategies, with its
        out-of-fold scores and fitted post-processing (calibrator, threshold).
    selection : Selection
        The choice among the pool and its bias-corrected estimate, in totals
        over the scored rows (costs) or averaged (average precision).
    pool : tuple of Candidate
        The candidates, in order of preference.
    scale : float
        Rows over scored rows for a cost (1 for average precision): totals over
        the scored rows times this are totals over all training rows.
    chosen_as : str
        ``"trivial rule"``, ``"prior default"``, ``"blend"`` or ``"single
        strategy"``.
    trivial_cost : float or None
        The cost of the best trivial rule over all rows (cost objective).
    """

    candidate: Candidate
    selection: Selection
    pool: tuple
    scale: float
    chosen_as: str
    trivial_cost: float | None

    @property
    def estimate(self) -> float:
        """Bias-corrected value, in totals over all rows for a cost."""
        return float(self.selection.estimate * self.scale)

    @property
    def raw(self) -> float:
        """The chosen candidate's own cross-validated value (optimistic)."""
        return float(self.selection.raw * self.scale)

    @property
    def best_raw(self) -> float:
        """The best raw value in the pool (the chosen one's, or better)."""
        return float(self.selection.best_raw * self.scale)

    @property
    def normalized_estimate(self) -> float:
        """The bias-corrected cost over the best trivial rule's (NaN without
        one)."""
        if not self.trivial_cost:
            return float("nan")
        return self.estimate / self.trivial_cost


def close_search(study, *, closed: bool = True) -> None:
    """Say in the study that its search has ended (workers then start no more
    trials), or, ``closed=False``, that it runs again."""
    study.set_user_attr(CLOSED_KEY, closed)


def settle(study, budget) -> int:
    """Wait for the trials other processes are running in ``study``, so that
    the choice sees them: until they end, at most until ``budget``'s
    deadline (its reserve kept, the trials' grace of 5 % of the timeout
    allowed), or without a deadline twice the study's longest trial. Trials
    of processes that are gone (on this machine) are failed at once.

    Returns the number of trials still running when it stopped waiting.
    """
    longest = max((t.duration.total_seconds() for t in study.get_trials(
        deepcopy=False, states=(TrialState.COMPLETE,)) if t.duration), default=0.0)
    give_up = time.perf_counter() + budget.wait_for_others(longest)
    while True:
        fail_dead_workers_trials(study)
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if not running or time.perf_counter() >= give_up:
            return len(running)
        time.sleep(_POLL_SECONDS)


def choose_final(study, context, *, ensemble_size: int) -> FinalChoice:
    """Choose the final model among the study's completed trials.

    Parameters
    ----------
    study : optuna.Study
    context : SearchContext
        The study's data, folds, objective, space and score store.
    ensemble_size : int
        Blends of up to this many distinct strategies are candidates.

    Returns
    -------
    FinalChoice

    Raises
    ------
    NoCompletedTrialError
        If no trial completed.
    """
    best_trial_or_raise(study)
    # Average precision costs a sort per candidate and resample: fewer candidates.
    pool = candidate_pool(study, context, ensemble_size=ensemble_size,
                          limit=50 if context.objective.kind == "cost" else 10,
                          kept_finals=[f["trials"] for f in previous_finals(study)])
    timeout = study.user_attrs.get(BUDGET_KEY, {}).get("timeout")
    pool = within_allowance(pool, Budget.refit_allowance(timeout))
    y_scored = context.y[context.scored]
    selection = bias_corrected_estimate(pool, y_scored, context.objective,
                                        random_state=context.model_seed)
    chosen = pool[selection.index]
    cost = context.objective.kind == "cost"
    scale = len(context.y) / len(y_scored) if cost else 1.0
    trivial = (trivial_cost(y_scored, context.objective.fp_cost,
                            context.objective.fn_cost) * scale if cost else None)
    return FinalChoice(candidate=chosen, selection=selection, pool=tuple(pool),
                       scale=scale, chosen_as=_chosen_as(chosen, context.kept),
                       trivial_cost=trivial)


def previous_finals(study) -> list[dict]:
    """The final models earlier fits of ``study`` chose: ``trials`` (their
    numbers), ``estimate`` (bias-corrected, totals over all rows for a cost)
    and ``strategy`` (in words)."""
    return list(study.user_attrs.get(FINALS_KEY, []))


def record_final(study, choice: FinalChoice) -> None:
    """Keep ``choice`` in the study as a candidate of later choices, and warn
    when it is expected to do clearly worse than the last fit's choice."""
    finals = previous_finals(study)
    numbers = sorted(choice.candidate.trial_numbers)
    last = finals[-1] if finals else None
    if last is not None and last["estimate"] is not None:
        before, now = last["estimate"], choice.estimate
        minimize = study.direction.name == "MINIMIZE"
        worse = now > _WORSE_BY * before if minimize else now < before / _WORSE_BY
        if worse and sorted(last["trials"]) != numbers:
            warn(f"This fit chose {choice.candidate.describe()!r}, expected "
                 f"{choice.estimate:.6g} on new data, where the study's last fit "
                 f"chose {last['strategy']!r}, expected {before:.6g}. The last "
                 "choice was a candidate again; the bias correction grows with "
                 "the number of candidates, and on few positives the estimates "
                 "move by that much between choices. Export the model you "
                 "prefer, or fit again with a larger budget.")
    if last is None or sorted(last["trials"]) != numbers:
        finals.append({"trials": numbers, "estimate": float(choice.estimate),
                       "strategy": choice.candidate.describe()})
        study.set_user_attr(FINALS_KEY, finals[-20:])


def fit_final(choice: FinalChoice, context) -> list:
    """The pipelines of the chosen candidate, fitted on all rows (a prior
    that predicts the share of positives for the trivial rule, with a
    warning)."""
    chosen = choice.candidate
    if chosen.is_trivial:
        side = "positive" if chosen.post.threshold <= 0 else "negative"
        warn(f"No strategy beat the trivial rule by more than the noise of "
             f"cross-validation; the model predicts every row {side}. More rows "
             "(more positives above all) or more informative features may "
             "change that.")
        return [DummyClassifier(strategy="prior").fit(context.X, context.y)]
    pipelines = [strategy.make_pipeline(context.kinds, context.model_seed,
                                        n_jobs=context.model_threads)
                 .fit(context.X, context.y) for strategy in chosen.strategies]
    # named from now on by what their resamplers did on all rows
    chosen.resampling = tuple(pipeline.resampling() for pipeline in pipelines)
    return pipelines


def _chosen_as(candidate, kept) -> str:
    """The candidate's place in the order of preference, in words."""
    if candidate.is_trivial:
        return "trivial rule"
    if is_prior_default(candidate, kept):
        return "prior default"
    return "blend" if candidate.is_blend else "single strategy"
