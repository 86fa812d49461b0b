"""Prior shift: estimate a new positive rate, and adapt a fitted model to it.

When the positive rate of the data changes (say from 10% in training to 3% in
production) but what each class looks like does not, the model's calibrated
probabilities are off by the same factor on every row's odds, and its
cost-optimal threshold is off with them. :func:`estimate_prior` estimates the new
rate from unlabelled rows (EM, Saerens, Latinne and Decaestecker 2002, see
:func:`~autoimb.pipeline.prior.em_prior`); :func:`adapt_to_prior` returns the model with
its probabilities and decisions adjusted to that rate (or to a rate you know),
when the rate differs from the training rate by more than the noise of both
(see :class:`PriorShiftAdapter`: adapting to a rate within that noise only moves
the threshold by chance, and measured over many draws it loses more often than
it wins; ``benchmarks/results/2026-12-08-prior_shift.md``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from autoimb.exceptions import AutoImbError
from autoimb.pipeline.objective import Objective
from autoimb.pipeline.prior import adjust_to_prior, em_prior, em_standard_error
from autoimb.pipeline.threshold import best_threshold, f1_loss

__all__ = ["PriorEstimate", "PriorShiftAdapter", "adapt_to_prior", "estimate_prior"]

_THRESHOLDS = ("auto", "bayes", "retuned")
#: Two-sided 95% normal quantile: the intervals of the rates and of their
#: difference.
_Z95 = 1.959963984540054


@dataclass(frozen=True)
class PriorEstimate:
    """The positive rate of unlabelled rows, estimated by EM.

    Attributes
    ----------
    rate : float
        The estimated positive rate.
    training_rate : float
        The positive rate of the model's training rows.
    n_iter : int
        EM steps taken.
    converged : bool
        Whether EM converged within its steps.
    n_rows : int
        Rows the estimate is made from.
    std_error : float
        Its standard error from sampling
        (:func:`~autoimb.pipeline.prior.em_standard_error`): the noise of the
        rows, not the bias of a model miscalibrated on them.
    """

    rate: float
    training_rate: float
    n_iter: int
    converged: bool
    n_rows: int
    std_error: float = math.nan

    @property
    def ratio(self) -> float:
        """``rate / training_rate``: above 1, more positives than in training."""
        return self.rate / self.training_rate

    @property
    def low(self) -> float:
        """The lower end of the rate's 95% interval (``rate - 1.96 std_error``,
        at least 0)."""
        return max(0.0, self.rate - _Z95 * self.std_error)

    @property
    def high(self) -> float:
        """The upper end of the rate's 95% interval (at most 1)."""
        return min(1.0, self.rate + _Z95 * self.std_error)

    def to_dict(self) -> dict:
        """The fields, ``ratio``, ``low`` and ``high`` as a plain dict."""
        return dict(asdict(self), ratio=self.ratio, low=self.low, high=self.high)


def training_rate(model) -> float:
    """The positive rate of the rows the model's probabilities were calibrated on:
    the mean of ``oof_target_``."""
    target = getattr(model, "oof_target_", None)
    if target is None or len(target) == 0:
        raise AutoImbError(
            f"{type(model).__name__} has no oof_target_ (the labels of its training "
            "rows): prior shift needs a model fitted by autoimb.fit. Refit it with "
            "this version of autoimb.")
    rate = float(np.mean(target))
    if not 0.0 < rate < 1.0:
        raise AutoImbError(
            f"The model's training rows have a positive rate of {rate:g}; prior shift "
            "needs both classes in training.")
    return rate


def positive_proba(model, X) -> np.ndarray:
    """The model's calibrated probability of ``pos_label_`` for each row of X."""
    proba = model.predict_proba(X)
    return proba[:, list(model.classes_).index(model.pos_label_)]


def estimate_prior(model, X, *, tol: float = 1e-6,
                   max_iter: int = 1000) -> PriorEstimate:
    """Estimate the positive rate of unlabelled rows from a model's probabilities.

    The EM algorithm of Saerens, Latinne and Decaestecker (2002) on the model's
    calibrated probabilities (see :func:`~autoimb.pipeline.prior.em_prior`). It
    assumes a prior shift: the rate changed, not what each class looks like.

    The estimate is only as good as the model's calibration on new rows, and
    EM magnifies errors of calibration. Check it on held-out rows of the
    training distribution first: it should return about the training rate.
    On real data (``docs/monitoring.md``) it does within 13% on satimage_4 and
    23% on mammography, but finds 23% positives among held-out rows of
    wine_white_le4 whose rate is 3.7% (a weak model, whose refitted version is
    more confident than the calibrator fitted on cross-validation scores
    allows for): there, adapt to a rate you know, or not at all.

    Parameters
    ----------
    model : AutoImbClassifier
        A fitted model (from :func:`autoimb.fit` or :func:`autoimb.load`).
    X : DataFrame or array-like
        Unlabelled rows, with the training columns.
    tol : float, default=1e-6
        EM stops when the rate moves by less than this.
    max_iter : int, default=1000
        EM stops after this many steps.

    Returns
    -------
    PriorEstimate
        ``rate``, ``training_rate``, ``ratio``, ``n_iter``, ``converged``,
        ``n_rows``, ``std_error`` and the 95% interval ``low``, ``high``.

    See Also
    --------
    adapt_to_prior : The model adjusted to the estimated rate.

    References
    ----------
    .. [1] M. Saerens, P. Latinne and C. Decaestecker, "Adjusting the outputs of
       a classifier to new a priori probabilities: a simple procedure", Neural
       Computation 14(1), 21-41, 2002.

    Examples
    --------
    >>> import autoimb
    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=4000, weights=[0.9], class_sep=2,
    ...                            random_state=0)
    >>> model = autoimb.fit(X[:2000], y[:2000], search_space="fast", n_trials=2,
    ...                     cv=3, storage="memory", random_state=0,
    ...                     show_progress_bar=False)
    >>> new_X, new_y = X[2000:], y[2000:]
    >>> batch = np.vstack([new_X[new_y == 0][:300], new_X[new_y == 1]])
    >>> print(f"true rate {(new_y == 1).sum() / len(batch):.3f}")
    true rate 0.414
    >>> estimate = autoimb.estimate_prior(model, batch)
    >>> print(f"{estimate.training_rate:.2f} -> {estimate.rate:.1f}")
    0.10 -> 0.4
    """
    check_is_fitted(model)
    rate = training_rate(model)
    proba = positive_proba(model, X)
    new, n_iter, converged = em_prior(proba, rate, tol=tol, max_iter=max_iter)
    return PriorEstimate(rate=new, training_rate=rate, n_iter=n_iter,
                         converged=converged, n_rows=len(proba),
                         std_error=em_standard_error(proba, rate, new))


class PriorShiftAdapter(ClassifierMixin, BaseEstimator):
    """A fitted model whose probabilities and threshold follow a new positive rate.

    ``fit`` takes unlabelled rows (or nothing, when ``rate`` is given), sets the
    new rate ``rate_``, and never refits ``estimator``.

    Probabilities are adjusted by Bayes' rule: every row's odds are multiplied by
    ``odds(rate_) / odds(training_rate_)``
    (:func:`~autoimb.pipeline.prior.adjust_to_prior`).

    Decisions follow the model's own threshold rule, rerun at the new rate
    (``threshold="auto"``):

    - a model whose rule is the Bayes threshold (chosen by the search because its
      calibrated probabilities made it the cheaper rule) predicts positive when
      its adjusted probability is at least ``fp_cost / (fp_cost + fn_cost)``:
      the cost-optimal decision for calibrated probabilities at the new rate;
    - a model whose threshold was tuned on labelled rows gets it tuned again, the
      same way (bootstrap median of the cheapest cuts), on its out-of-fold
      probabilities ``oof_proba_`` with each class weighed as at the new rate:
      positives by ``rate_ / training_rate_``, negatives by ``(1 - rate_) / (1 -
      training_rate_)``. What each class looks like does not change under a
      prior shift, so this weighted cost is the expected cost at the new rate,
      and the cut needs no trust in the calibration of the probabilities it
      moves to (Bayes' rule on them would);
    - the trivial rule (every row negative or positive) becomes the cheaper
      constant rule at the new rate.

    ``threshold="bayes"`` or ``"retuned"`` forces one of the first two. (Moving
    the stored threshold through the same odds correction as the probabilities
    would change nothing: the correction is increasing, so ``p >= t`` and
    ``p' >= t'`` are the same decisions.)

    **When it adapts.** Only when the new rate differs from the training rate
    by more than their noise: ``|rate - training_rate| > 1.96 * sqrt(se_new**2 +
    se_training**2)``, where ``se_new`` is the standard error of EM's estimate
    (0 for a rate given) and ``se_training`` the binomial standard error of the
    training rate (``oof_target_``). Otherwise the model is kept as it is
    (``adapted_`` False, the same probabilities and decisions) and
    ``decision_`` says why: a rate within the noise carries no evidence of a
    shift, and retuning the threshold to it only moves the cut by chance (the
    threshold retuned at the training rate is not the stored one: the stored
    one is tuned on the probabilities of the calibrator fitted on all rows).
    Measured over 20 draws on four data sets, with two models each, adapting
    batches without a shift anyway raised the cost for 5 of the 8 models (by up
    to 36%) and lowered it for 1 (``docs/monitoring.md``). ``force=True``
    adapts whatever the rate.

    Parameters
    ----------
    estimator : AutoImbClassifier
        A fitted model, with ``oof_target_`` (its training labels) and
        ``objective_``.
    rate : float, default=None
        The new positive rate, if known; ``None`` estimates it from the rows
        given to ``fit`` (:func:`estimate_prior`).
    threshold : {"auto", "bayes", "retuned"}, default="auto"
        How the decision threshold follows the new rate: the model's own rule
        (``"auto"``), the Bayes threshold on adjusted probabilities, or the
        threshold tuned on out-of-fold probabilities weighed to the new rate.
    tol : float, default=1e-6
        EM stops when the rate moves by less than this.
    max_iter : int, default=1000
        EM stops after this many steps.
    force : bool, default=False
        Adapt even when the rate is within the noise of the training rate.

    Attributes
    ----------
    rate_ : float
        The positive rate the model is adapted to (the training rate when it
        was not adapted).
    adapted_ : bool
        Whether the model was adapted: the rate differs from the training rate
        beyond their noise, or ``force=True``.
    decision_ : str
        Why it was adapted or not, with the numbers.
    training_rate_ : float
        The positive rate of the model's training rows.
    odds_ratio_ : float
        ``odds(rate_) / odds(training_rate_)``: every row's odds are multiplied
        by it.
    estimate_ : PriorEstimate or None
        The EM estimate, when ``rate`` was not given.
    threshold_ : float
        The decision threshold on adjusted probabilities.
    threshold_rule_ : {"bayes", "retuned", "constant", "kept"}
        How ``threshold_`` was set (``"constant"``: a trivial model fitted for
        average precision, which predicts every row negative at any rate;
        ``"kept"``: not adapted, the model's own threshold).
    classes_, pos_label_, objective_
        Those of ``estimator``.

    See Also
    --------
    adapt_to_prior : Build and fit it in one call.
    estimate_prior : The new rate alone.

    Examples
    --------
    >>> import autoimb
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=1000, weights=[0.9], random_state=0)
    >>> model = autoimb.fit(X, y, search_space="fast", n_trials=2, cv=3,
    ...                     fp_cost=1, fn_cost=9, storage="memory", random_state=0,
    ...                     show_progress_bar=False)
    >>> adapted = autoimb.PriorShiftAdapter(model, rate=0.3).fit()
    >>> round(adapted.training_rate_, 3), adapted.rate_, adapted.adapted_
    (0.102, 0.3, True)
    >>> bool((adapted.predict_proba(X)[:, 1] >= model.predict_proba(X)[:, 1]).all())
    True
    >>> kept = autoimb.PriorShiftAdapter(model, rate=0.11).fit()
    >>> kept.adapted_, kept.rate_ == kept.training_rate_
    (False, True)
    >>> print(kept.decision_)                        # doctest: +ELLIPSIS
    not adapted: the rate 11.00% is within the noise of the training rate 10.20% ...
    """

    def __init__(self, estimator, *, rate: float | None = None,
                 threshold: str = "auto", tol: float = 1e-6, max_iter: int = 1000,
                 force: bool = False):
        self.estimator = estimator
        self.rate = rate
        self.threshold = threshold
        self.tol = tol
        self.max_iter = max_iter
        self.force = force

    def fit(self, X=None, y=None) -> PriorShiftAdapter:
        """Set the new rate: ``rate``, or the EM estimate on the rows of X.

        Parameters
        ----------
        X : DataFrame or array-like, default=None
            Unlabelled rows from the new distribution; needed when ``rate`` is
            None.
        y : None
            Ignored: the point is to adapt without labels.

        Returns
        -------
        self : PriorShiftAdapter
        """
        model = self.estimator
        check_is_fitted(model)
        self._check_params()
        self.training_rate_ = training_rate(model)
        if self.rate is None:
            if X is None:
                raise AutoImbError(
                    "PriorShiftAdapter needs either rate= (the new positive rate) or "
                    "unlabelled rows X to estimate it from; pass one of them.")
            self.estimate_ = estimate_prior(model, X, tol=self.tol,
                                            max_iter=self.max_iter)
            new_rate, new_se = self.estimate_.rate, self.estimate_.std_error
        else:
            self.estimate_ = None
            new_rate, new_se = float(self.rate), 0.0
        self.adapted_, self.decision_ = _decide(
            new_rate, new_se, self.training_rate_, len(model.oof_target_),
            estimated=self.estimate_ is not None, force=self.force)
        self.rate_ = new_rate if self.adapted_ else self.training_rate_
        odds = self.rate_ / (1 - self.rate_)
        self.odds_ratio_ = odds / (self.training_rate_ / (1 - self.training_rate_))
        self.classes_ = np.asarray(model.classes_)
        self.pos_label_ = model.pos_label_
        self.objective_ = model.objective_
        if self.adapted_:
            self.threshold_ = self._new_threshold(model)
        else:
            self.threshold_, self.threshold_rule_ = float(model.threshold_), "kept"
        return self

    def _rule(self, model) -> str:
        if self.threshold != "auto":
            return self.threshold
        rule = getattr(model, "cv_metrics_", {}).get("threshold_rule")
        if rule in ("bayes", "constant"):
            return "bayes" if model.objective_.uses_costs_for_threshold else "constant"
        return "retuned"

    def _new_threshold(self, model) -> float:
        self.threshold_rule_ = self._rule(model)
        if self.threshold_rule_ == "bayes":
            return float(model.objective_.bayes_threshold)
        if self.threshold_rule_ == "constant":
            return float(model.threshold_)  # every row negative, whatever the rate
        return retuned_threshold(model, self.training_rate_, self.rate_)

    def _check_params(self):
        if self.threshold not in _THRESHOLDS:
            raise AutoImbError(
                f"threshold={self.threshold!r} is not one of {list(_THRESHOLDS)}; pass "
                "'auto' (the model's own rule), 'bayes' (fp_cost / (fp_cost + "
                "fn_cost)) or 'retuned'.")
        if self.rate is not None and not (
                isinstance(self.rate, Real) and 0.0 < self.rate < 1.0):
            raise AutoImbError(
                f"rate={self.rate!r} is not a positive rate strictly between 0 and 1; "
                "pass the fraction of positive rows, such as 0.05, or None to "
                "estimate it from unlabelled rows.")
        if self.threshold == "bayes" and \
                not self.estimator.objective_.uses_costs_for_threshold:
            raise AutoImbError(
                "threshold='bayes' needs the model's costs, but it was fitted for "
                "average precision without fp_cost and fn_cost; use "
                "threshold='auto' or 'retuned'.")

    def positive_proba(self, X) -> np.ndarray:
        """Adjusted probability of ``pos_label_`` for each row."""
        check_is_fitted(self)
        return adjust_to_prior(positive_proba(self.estimator, X),
                               self.training_rate_, self.rate_)

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities adjusted to ``rate_``, columns in the order of
        ``classes_``."""
        p = self.positive_proba(X)
        pos = list(self.classes_).index(self.pos_label_)
        proba = np.empty((len(p), 2))
        proba[:, pos] = p
        proba[:, 1 - pos] = 1.0 - p
        return proba

    def predict(self, X) -> np.ndarray:
        """Labels at ``threshold_`` on the adjusted probabilities (the model's
        own labels when it was not adapted)."""
        check_is_fitted(self)
        if not self.adapted_:
            return self.estimator.predict(X)
        positive = self.positive_proba(X) >= self.threshold_
        pos = list(self.classes_).index(self.pos_label_)
        return np.where(positive, self.pos_label_, self.classes_[1 - pos])


def _decide(new_rate: float, new_se: float, training_rate: float, n_training: int,
            *, estimated: bool, force: bool) -> tuple[bool, str]:
    """Whether to adapt to ``new_rate``, and why: its difference from the
    training rate against 1.96 standard errors of that difference (the new
    rate's, 0 when given, and the training rate's, binomial on its rows)."""
    training_se = math.sqrt(training_rate * (1 - training_rate) / n_training)
    bound = _Z95 * math.hypot(new_se, training_se)
    source = "EM's estimate" if estimated else "the rate"
    what = f"{source} {new_rate:.2%}"
    detail = (f"a difference of {abs(new_rate - training_rate):.2%} against "
              f"{bound:.2%} for 95% confidence; standard errors "
              + (f"{new_se:.2%} of the estimate and " if estimated else "")
              + f"{training_se:.2%} of the training rate, on its {n_training} rows")
    if abs(new_rate - training_rate) > bound:
        return True, (f"adapted: {what} differs from the training rate "
                      f"{training_rate:.2%} beyond the noise ({detail}).")
    if force:
        return True, (f"adapted (force=True): {what} is within the noise of the "
                      f"training rate {training_rate:.2%} ({detail}).")
    return False, (f"not adapted: {what} is within the noise of the training rate "
                   f"{training_rate:.2%} ({detail}); the model is kept as it is. "
                   "Pass force=True to adapt anyway.")


def retuned_threshold(model, training_rate: float, new_rate: float) -> float:
    """The threshold tuned again on the model's out-of-fold probabilities, each
    class weighed as at the new rate, on the scale of adjusted probabilities.

    Weighing positives by ``a`` and negatives by ``b`` turns the cost ``fp *
    fp_cost + fn * fn_cost`` into ``fp * (b * fp_cost) + fn * (a * fn_cost)``:
    the same search for a cut, with costs scaled (and F1 of weighted counts).
    """
    a = new_rate / training_rate
    b = (1.0 - new_rate) / (1.0 - training_rate)
    objective = model.objective_
    y, proba = np.asarray(model.oof_target_), np.asarray(model.oof_proba_, dtype=float)
    if objective.uses_costs_for_threshold:
        shifted = Objective("cost", b * objective.fp_cost, a * objective.fn_cost)
        t = shifted.tune_threshold(y, proba)
    else:
        t = best_threshold(y, proba, lambda tp, fp, n_pos: f1_loss(a * tp, b * fp,
                                                                    a * n_pos))[0]
    if not np.isfinite(t):
        return t
    return float(adjust_to_prior(np.array([t]), training_rate, new_rate)[0])


def adapt_to_prior(model, X=None, *, rate: float | None = None,
                   threshold: str = "auto", force: bool = False) -> PriorShiftAdapter:
    """Adapt a fitted model to a new positive rate, estimated or given.

    ``adapt_to_prior(model, X)`` is ``PriorShiftAdapter(model).fit(X)``: the
    rate of the unlabelled rows X is estimated by EM, and the returned model's
    probabilities and decisions follow it when it differs from the training
    rate beyond the noise of both. See :class:`PriorShiftAdapter` for
    how the threshold is adjusted.

    Parameters
    ----------
    model : AutoImbClassifier
        A fitted model.
    X : DataFrame or array-like, default=None
        Unlabelled rows from the new distribution (not needed with ``rate``).
    rate : float, default=None
        The new positive rate, if known.
    threshold : {"auto", "bayes", "retuned"}, default="auto"
        How the threshold follows the new rate; see :class:`PriorShiftAdapter`.
    force : bool, default=False
        Adapt even when the rate is within the noise of the training rate
        (otherwise the model is kept as it is, and ``decision_`` says so).

    Returns
    -------
    PriorShiftAdapter
        Fitted; ``rate_`` and ``estimate_`` tell the rate, ``adapted_`` and
        ``decision_`` whether it was adapted and why.

    Examples
    --------
    >>> import autoimb
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=1000, weights=[0.9], random_state=0)
    >>> model = autoimb.fit(X, y, search_space="fast", n_trials=2, cv=3,
    ...                     storage="memory", random_state=0, show_progress_bar=False)
    >>> adapted = autoimb.adapt_to_prior(model, X[y == 1])   # all positives
    >>> bool(adapted.rate_ > 0.5), adapted.predict(X[:3]).shape
    (True, (3,))
    """
    return PriorShiftAdapter(model, rate=rate, threshold=threshold,
                             force=force).fit(X)
