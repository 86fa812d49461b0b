"""Trials and studies that explain themselves in optuna-dashboard.

Every trial gets a Markdown note while it still runs (optuna 5 refuses notes and
artifacts on a finished trial): its strategy in words, each fold's score, the
confusion matrix at its threshold, and for a pruned or failed trial, why. A trial
that beats the best so far also gets its figures: the precision-recall curve, cost
against threshold, and the reliability diagram before and after calibration. The
study note tells the data, the objective and the best trial, with its figures.
"""

from __future__ import annotations

import logging
import tempfile
import threading

import numpy as np
import optuna

from .._metrics import METRICS
from .._storage import local_file
from ..exceptions import AutoImbError
from .notes import (
    artifact_url,
    attach_figures,
    attach_study_note,
    attach_trial_note,
    default_artifact_store,
    study_note,
    trial_note,
)

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


class Explainer:
    """Writes notes and figures for the trials and the study of one search.

    Parameters
    ----------
    objective : Objective
    n_rows, n_columns : int
    class_counts : dict
        Count of each class label, positive last.
    artifact_store : optuna artifact store or None
        Where figures go; None writes notes only.
    """

    def __init__(self, objective, *, n_rows, n_columns, class_counts, artifact_store):
        self.objective = objective
        self.n_rows = n_rows
        self.n_columns = n_columns
        self.class_counts = class_counts
        self.artifact_store = artifact_store
        self._lock = threading.Lock()

    # -- trials --------------------------------------------------------------

    def completed(self, trial, strategy, scores, post, y) -> None:
        """Note a completed trial; add figures if it beats the best so far."""
        metrics = {k: post.metrics[k] for k in METRICS}
        confusion = {k: post.metrics[k] for k in ("tn", "fp", "fn", "tp")}
        attach_trial_note(trial, trial_note(
            strategy=f"{strategy.describe()}; {post.final.describe()}",
            state="COMPLETE",
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
            metrics=None, reason=reason))

    def figures(self, y, scores, post) -> dict:
        """The best trial's figures, by name."""
        from .figures import plot_cost_curve, plot_precision_recall, plot_reliability

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
