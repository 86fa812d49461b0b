"""Resamplers by name, and a wrapper that adapts them to each training fold."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from imblearn.combine import SMOTEENN, SMOTETomek
from imblearn.over_sampling import (
    ADASYN,
    SMOTE,
    SMOTENC,
    BorderlineSMOTE,
    RandomOverSampler,
)
from imblearn.under_sampling import RandomUnderSampler, TomekLinks
from sklearn.base import BaseEstimator

logger = logging.getLogger(__name__)

__all__ = ["RESAMPLERS", "AdaptiveResampler", "describe_resampling", "left_as_is",
           "resampled_rows"]


@dataclass(frozen=True)
class ResamplerInfo:
    label: str
    uses_ratio: bool
    uses_neighbors: bool


RESAMPLERS = {
    "none": ResamplerInfo("no resampling", False, False),
    "random_over": ResamplerInfo("random over-sampling", True, False),
    "smote": ResamplerInfo("SMOTE", True, True),
    "borderline_smote": ResamplerInfo("Borderline-SMOTE", True, True),
    "adasyn": ResamplerInfo("ADASYN", True, True),
    "smotenc": ResamplerInfo("SMOTE-NC", True, True),
    "random_under": ResamplerInfo("random under-sampling", True, False),
    "tomek_links": ResamplerInfo("Tomek links removal", False, False),
    "smote_tomek": ResamplerInfo("SMOTE + Tomek links", True, True),
    "smote_enn": ResamplerInfo("SMOTE + ENN", True, True),
}


def resampled_rows(method: str, ratio: float | None, n_neg: int, n_pos: int) -> int:
    """Rows after ``method`` over- or under-samples ``n_neg`` negatives and
    ``n_pos`` positives to ``ratio`` (before any cleaning: Tomek links and ENN
    search the neighbours of these rows, and remove few of them).

    Examples
    --------
    >>> resampled_rows("smote_enn", 0.5, 1000, 10)
    1500
    >>> resampled_rows("random_under", 0.5, 1000, 10)
    30
    >>> resampled_rows("smote", 0.005, 1000, 10)  # already above the ratio
    1010
    """
    if not RESAMPLERS[method].uses_ratio or ratio is None \
            or ratio <= n_pos / max(n_neg, 1):
        return n_neg + n_pos
    if method == "random_under":
        return n_pos + min(n_neg, round(n_pos / ratio))
    return n_neg + max(n_pos, round(ratio * n_neg))


def left_as_is(summary: dict) -> str | None:
    """Why the resampler of one fit left its training rows as they were (its
    :attr:`AdaptiveResampler.summary_`), or None if it resampled them."""
    if "left_as_is" in summary:
        return summary["left_as_is"]
    # a summary recorded before "left_as_is" was: only its note tells
    adapted = summary.get("adapted") or ""
    return adapted.replace("; left as is", "") if adapted.endswith("left as is") \
        else None


def describe_resampling(method: str, ratio: float | None, k: int | None,
                        summaries=None) -> str:
    """The resampling of a strategy in words: what it did on the training rows
    when its fits' ``summaries`` (:attr:`AdaptiveResampler.summary_`, one per
    fit) are given, else what it asks for.

    Examples
    --------
    >>> describe_resampling("random_over", 0.05, None)
    'random over-sampling to ratio 0.05'
    >>> done = {"left_as_is": "the data's own ratio is at or above it"}
    >>> print(describe_resampling("random_over", 0.05, None, [done, done]))
    ... # doctest: +NORMALIZE_WHITESPACE
    no resampling (random over-sampling to ratio 0.05 left the rows as is: the
    data's own ratio is at or above it)
    >>> print(describe_resampling("smote", 0.5, 5, [done, {"left_as_is": None}]))
    ... # doctest: +NORMALIZE_WHITESPACE
    SMOTE to ratio 0.50 (k=5) (in 1 of 2 folds; in the other it left the rows as
    is: the data's own ratio is at or above it)
    """
    if method == "none":
        return "no resampling"
    asked = RESAMPLERS[method].label
    if ratio is not None:
        asked += f" to ratio {ratio:.2f}"
    if k is not None:
        asked += f" (k={k})"
    summaries = list(summaries or ())
    reasons = [left_as_is(summary) for summary in summaries]
    why = "; ".join(sorted({reason for reason in reasons if reason}))
    if not why:
        return asked
    if all(reasons):
        return f"no resampling ({asked} left the rows as is: {why})"
    n_left = sum(map(bool, reasons))
    others = "the other" if n_left == 1 else "the others"
    return (f"{asked} (in {len(reasons) - n_left} of {len(reasons)} folds; in "
            f"{others} it left the rows as is: {why})")


def _build(method, ratio, k, categorical_features, seed):
    if method == "random_over":
        return RandomOverSampler(sampling_strategy=ratio, random_state=seed)
    if method == "smote":
        return SMOTE(sampling_strategy=ratio, k_neighbors=k, random_state=seed)
    if method == "borderline_smote":
        return BorderlineSMOTE(sampling_strategy=ratio, k_neighbors=k,
                               m_neighbors=max(k, 2), random_state=seed)
    if method == "adasyn":
        return ADASYN(sampling_strategy=ratio, n_neighbors=k, random_state=seed)
    if method == "smotenc":
        return SMOTENC(categorical_features=categorical_features,
                       sampling_strategy=ratio,
                       k_neighbors=k, random_state=seed)
    if method == "random_under":
        return RandomUnderSampler(sampling_strategy=ratio, random_state=seed)
    if method == "tomek_links":
        return TomekLinks()
    if method == "smote_tomek":
        return SMOTETomek(sampling_strategy=ratio, random_state=seed,
                          smote=SMOTE(sampling_strategy=ratio, k_neighbors=k,
                                      random_state=seed))
    if method == "smote_enn":
        return SMOTEENN(sampling_strategy=ratio, random_state=seed,
                        smote=SMOTE(sampling_strategy=ratio, k_neighbors=k,
                                    random_state=seed))
    raise ValueError(f"Unknown resampler {method!r}; known: {sorted(RESAMPLERS)}.")


class AdaptiveResampler(BaseEstimator):
    """Resample a training fold with one of :data:`RESAMPLERS`, adapted to it.

    A fold may hold fewer minority rows than ``k_neighbors + 1`` or already be
    more balanced than ``sampling_ratio``: then ``k_neighbors`` shrinks to what the
    fold allows, and a ratio at or below the fold's own leaves the fold as it is.
    What happened is kept in ``summary_`` so that trial notes can show it, and
    strategies be named by what they did (:func:`describe_resampling`): its
    ``"left_as_is"`` says why the rows were left as they were, or is None.

    Parameters
    ----------
    method : str, default="smote"
        A key of :data:`RESAMPLERS`.
    sampling_ratio : float, default=None
        Minority to majority ratio wanted after resampling.
    k_neighbors : int, default=None
        Neighbours of the SMOTE family and ADASYN.
    categorical_features : list of int, default=None
        Categorical column indices (SMOTE-NC).
    random_state : int, default=None
        Seed of the resampler.
    """

    def __init__(self, method="smote", sampling_ratio=None, k_neighbors=None,
                 categorical_features=None, random_state=None):
        self.method = method
        self.sampling_ratio = sampling_ratio
        self.k_neighbors = k_neighbors
        self.categorical_features = categorical_features
        self.random_state = random_state

    def fit_resample(self, X, y):
        """Return the resampled ``X, y`` (labels are 0 and 1, 1 the minority)."""
        y = np.asarray(y)
        n_pos, n_neg = int(np.sum(y == 1)), int(np.sum(y == 0))
        info = RESAMPLERS[self.method]
        ratio, k = self.sampling_ratio, self.k_neighbors
        self.summary_ = {"before": (n_neg, n_pos), "after": (n_neg, n_pos),
                         "adapted": "", "left_as_is": None}
        if info.uses_ratio and ratio is not None and ratio <= n_pos / max(n_neg, 1):
            self.summary_["adapted"] = (
                f"ratio {ratio:.2f} is at or below the fold's own; left as is")
            self.summary_["left_as_is"] = "the data's own ratio is at or above it"
            return X, y
        if info.uses_neighbors and k is not None:
            if n_pos < 2:
                self.summary_["adapted"] = "fewer than 2 minority rows; left as is"
                self.summary_["left_as_is"] = "fewer than 2 minority rows"
                return X, y
            if k > n_pos - 1:
                self.summary_["adapted"] = (
                    f"k_neighbors {k} lowered to {n_pos - 1} ({n_pos} minority rows)")
                k = n_pos - 1
        sampler = _build(self.method, ratio, k, self.categorical_features,
                         self.random_state)
        started = time.perf_counter()
        try:
            X_res, y_res = sampler.fit_resample(X, y)
        except (ValueError, RuntimeError) as exc:
            if "No samples will be generated" not in str(exc):
                raise
            # ADASYN rounds the rows to add per minority row; near the fold's own
            # ratio that is zero everywhere.
            self.summary_["adapted"] = f"ratio {ratio:.2f} adds no row here; left as is"
            self.summary_["left_as_is"] = "it adds no row at this ratio"
            return X, y
        self.summary_["seconds"] = time.perf_counter() - started
        self.summary_["after"] = (int(np.sum(y_res == 0)), int(np.sum(y_res == 1)))
        if self.summary_["after"] == self.summary_["before"]:  # Tomek links, mostly
            self.summary_["left_as_is"] = "it found no row to add or remove"
        if self.categorical_features and self.method != "smotenc":
            # Interpolated rows get fractional category codes; snap them to a code.
            X_res = np.array(X_res, dtype=float, copy=True)
            columns = list(self.categorical_features)
            X_res[:, columns] = np.round(X_res[:, columns])
        return X_res, y_res
