"""Trials and studies that explain themselves in optuna-dashboard.

The :class:`Explainer` observes a search (it is a
:class:`~autoimb.search.trials.SearchObserver`): whoever runs the search (``fit``,
``autoimb worker``, ``autoimb export``) registers it, and the search core tells
it of the study, each trial and the final choice without importing it.

Every trial gets a Markdown note while it still runs (optuna 5 refuses notes and
artifacts on a finished trial): its strategy in words, each fold's score, the
confusion matrix at its threshold, and for a pruned or failed trial, why. A trial
that beats the best so far also gets its figures: the precision-recall curve, cost
against threshold, and the reliability diagram before and after calibration. The
study note tells the data, the objective and the best trial, with its figures.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import threading

import numpy as np
import optuna

from autoimb._validation import plain_value
from autoimb.exceptions import AutoImbError
from autoimb.explain.dashboard import dashboard_command
from autoimb.explain.notes import (
    artifact_url,
    attach_figures,
    attach_study_note,
    attach_trial_note,
    default_artifact_store,
    study_note,
    trial_note,
)
from autoimb.pipeline.metrics import METRICS
from autoimb.search.trials import SearchObserver
from autoimb.storage.location import local_file
from autoimb.storage.outcomes import OUTCOME_KEY

logger = logging.getLogger(__name__)

__all__ = ["Explainer", "artifact_store_for"]

_OBJECTIVE_TEXT = {
    "cost": "minimise the total cost of errors on held-out rows",
    "average_precision": "maximise average precision on held-out rows",
}


def artifact_store_for(location: str | None):
    """Where figures go: next to a journal or SQLite file, a temporary folder for an
    in-memory study, nowhere (None) for a remote database."""
    if location is None:
        return optuna.artifacts.FileSystemArtifactStore(
            tempfile.mkdtemp(prefix="autoimb-artifacts-"))
    if local_file(location) is None:
        logger.info("No local folder for the figures of %s; notes only.", location)
        return None
    try:
        return default_artifact_store(location)
    except AutoImbError as exc:
        logger.info("No folder for the figures of %s (%s); notes only.", location, exc)
        return None


class Explainer(SearchObserver):
    """Writes notes and figures for the trials and the study of one search.

    Parameters
    ----------
    dashboard : bool, default=False
        Figures go to a temporary folder even for a study in memory, for a
        dashboard served during the search.
    verbose : bool, default=False
        Say on stderr where the study lives and the command that opens its
        dashboard (a search that makes or resumes a study).

    Attributes
    ----------
    artifact_store : optuna artifact store or None
        Where figures go (None: notes only), set when the study is ready.
    """

    def __init__(self, *, dashboard: bool = False, verbose: bool = False):
        self.dashboard = dashboard
        self.verbose = verbose
        self.artifact_store = None
        self._lock = threading.Lock()

    # -- the search's steps (SearchObserver) ---------------------------------

    def study_ready(self, run) -> None:
        """Take the data's shape, the objective and the study's folder for
        figures; write the study note of a search that makes or resumes it."""
        data, location = run.data, run.storage_location
        self.objective = run.objective
        self.n_rows, self.n_columns = len(data.X), data.X.shape[1]
        self.class_counts = {plain_value(data.negative_label):
                             len(data.y) - data.n_positives,
                             plain_value(data.pos_label): data.n_positives}
        self.artifact_store = (artifact_store_for(location)
                               if location or self.dashboard else None)
        if run.join:
            return
        self.describe_study(run.study)
        if location is not None:
            message = (f"autoimb: study {run.study_name!r} in {location}; watch "
                       f"it with: {dashboard_command(location)}")
            logger.info(message)
            if self.verbose:
                print(message, file=sys.stderr)

    def trial_completed(self, trial, strategy, scores, post, y) -> None:
        self.completed(trial, strategy, scores, post, y)

    def trial_stopped(self, trial, strategy, state: str, reason: str) -> None:
        self.stopped(trial, strategy, state, reason)

    def final_chosen(self, run, choice) -> None:
        """The study note names the final model, with its figures."""
        context, chosen = run.context, choice.candidate
        numbers = chosen.trial_numbers
        figures = None
        if self.artifact_store is not None:
            figures = self.figures(context.y[context.scored], chosen.scores,
                                   chosen.post)
        best = {"number": numbers[0] if numbers else None, "value": choice.raw,
                "estimate": choice.estimate, "strategy": chosen.describe(),
                "optimistic": (choice.raw < choice.estimate
                               if context.objective.direction == "minimize"
                               else choice.raw > choice.estimate)}
        if context.objective.kind == "cost":  # totals over all rows
            best["scored_rows"] = int(np.count_nonzero(context.scored))
        self.describe_study(run.study, best=best, figures=figures)

    # -- trials --------------------------------------------------------------

    def completed(self, trial, strategy, scores, post, y) -> None:
        """Note a completed trial; add figures if it beats the best so far."""
        metrics = {k: post.metrics[k] for k in METRICS}
        confusion = {k: post.metrics[k] for k in ("tn", "fp", "fn", "tp")}
        attach_trial_note(trial, trial_note(
            # named by what its resampler did (TrialRun.record), not asked
            strategy=f"{trial.user_attrs.get('strategy') or strategy.describe()}; "
                     f"{post.final.describe()}",
            state="COMPLETE", outcome="completed",
            fold_scores=trial.user_attrs.get("fold_scores", []),
            metric_name=self._fold_metric, confusion=confusion,
            threshold=post.threshold, metrics=metrics, reason=None))
        if self.artifact_store is not None and \
                self._is_new_best(trial.study, post.value):
            attach_figures(trial, self.figures(y, scores, post), self.artifact_store)

    def stopped(self, trial, strategy, state: str, reason: str) -> None:
        """Note a pruned or failed trial with the reason."""
        attach_trial_note(trial, trial_note(
            strategy=strategy.describe() if strategy else "(not chosen yet)",
            state=state, fold_scores=trial.user_attrs.get("fold_scores", []),
            metric_name=self._fold_metric, confusion=None, threshold=None,
            metrics=None, reason=reason,
            outcome=trial.user_attrs.get(OUTCOME_KEY)))  # set before telling

    def figures(self, y, scores, post) -> dict:
        """The best trial's figures, by name."""
        # lazy: matplotlib loads only when a figure is drawn
        from autoimb.explain.figures import (
            plot_cost_curve,
            plot_precision_recall,
            plot_reliability,
        )

        figures = {
            "precision_recall": plot_precision_recall(y, post.proba,
                                                      threshold=post.threshold),
            "cost_vs_threshold": plot_cost_curve(
                y, post.proba, fp_cost=self.objective.fp_cost,
                fn_cost=self.objective.fn_cost, threshold=post.threshold),
        }
        figures["reliability"] = plot_reliability(y, scores, post.proba)
        return figures

    # -- the study -----------------------------------------------------------

    def describe_study(self, study, *, best=None, figures=None) -> None:
        """Write the study note: data, objective, best so far and its figures."""
        links = None
        if figures and self.artifact_store is not None:
            ids = attach_figures(study, figures, self.artifact_store)
            links = [(name.replace("_", " "), artifact_url(study, artifact_id))
                     for name, artifact_id in ids.items()]
        attach_study_note(study, study_note(
            n_rows=self.n_rows, n_columns=self.n_columns,
            class_counts=self.class_counts,
            objective=_OBJECTIVE_TEXT[self.objective.kind],
            fp_cost=self.objective.fp_cost, fn_cost=self.objective.fn_cost,
            best=best, image_links=links))

    @property
    def _fold_metric(self) -> str:
        return ("normalized oracle cost" if self.objective.kind == "cost"
                else "average precision")

    def _is_new_best(self, study, value) -> bool:
        with self._lock:
            try:
                best = study.best_value
            except ValueError:
                return True
        if not np.isfinite(value):
            return False
        return value < best if self.objective.direction == "minimize" else value > best
