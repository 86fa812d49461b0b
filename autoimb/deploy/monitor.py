"""Watch a deployed model: per-class quality with labels, drift without them.

A :class:`Monitor` holds a fitted model and alert levels. Each batch of new rows
given to :meth:`Monitor.check` gets a :class:`MonitorResult`: the numbers, the
alerts that fired (as data, each with its name, value, limit and message), and
whether all is well. With labels, the batch's recall and precision of each class
and its cost at the model's threshold are measured. With or without labels, the
positive rate of the batch is estimated (EM, see :func:`~autoimb.estimate_prior`)
or, with labels, counted, and compared with the training rate; and when the
monitor was given reference rows, the distribution of the model's probabilities
on the batch is compared with that on the reference (population stability index,
Kolmogorov-Smirnov test), and EM's estimate on the batch with its estimate on
the reference. ``Monitor.history`` keeps one row per batch.

Why reference rows, and not the training rows' out-of-fold probabilities
``oof_proba_``: those come from the cross-validation models (a model per fold,
a calibrator per fold), not from the refitted model that is deployed, and they
are distributed differently even when nothing drifted. On held-out rows of the
training distribution, the deployed model's probabilities against
``oof_proba_`` give a stability index of 2.9 on satimage_4 (isotonic
calibration: the deployed model's probabilities take 50 values, the
out-of-fold ones 3,057) and 0.98 on mammography (30% of its rows are one
repeated row, which the deployed model scores once and three fold models score
three ways): an alert on every batch. Reference rows go through the deployed
model, so the comparison measures drift only.

The defaults and their sources:

- recall of the positive class at least 0.70: the alert level of the article
  this project started from;
- population stability index at most 0.2: the rule of thumb of credit scoring
  reads below 0.1 as little change, 0.1-0.25 as moderate and above 0.25 as
  significant (Yurdakul and Naranjo, "Statistical properties of the population
  stability index", Journal of Risk Model Validation; Yurdakul, PhD thesis,
  Western Michigan University, 2018); 0.2 flags a shift inside the moderate
  band, before it is significant;
- positive rate within a factor of 2 of the training rate (and outside the
  noise: the rate's 95% interval excludes the training rate): our choice. A factor
  on the odds of the positive class moves the cost-optimal cut on the model's
  probabilities by the same factor; on satimage_4 a factor of 4 either way costs
  50% to 60% more than the model adapted to it (``docs/monitoring.md``). A
  factor of 2 lies outside the noise of the count (at least 20 positives
  expected, see below) and of EM on a well-calibrated model (on held-out rows
  at the training rate, EM is 13% above it on satimage_4, 23% on mammography),
  but not outside EM's bias on a poorly calibrated one (6 times on
  wine_white_le4): give reference rows, whose EM estimate is then the baseline.
  With labels, the counted rate is judged, and EM's estimate as well: the same
  batch with labels never passes where it would alert without them (issue
  39: half the positives of a mammography batch dropped, EM's ratio 0.45
  alerted unlabelled, the count's 0.52 passed labelled).

Drift needs enough rows to be told from noise: the stability index raises no
alert on a batch of fewer than ``min_rows`` rows, nor the positive rate on a
batch expected to hold fewer than 20 positive rows at the training rate; the
result's ``notes`` say so.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from numbers import Integral, Real

import numpy as np
import pandas as pd
from scipy import stats

from autoimb.deploy.export import load
from autoimb.deploy.prior_shift import positive_proba, training_rate
from autoimb.exceptions import AutoImbError
from autoimb.pipeline.metrics import binary_metrics, check_known_labels
from autoimb.pipeline.prior import em_prior, em_standard_error

__all__ = ["Alert", "Monitor", "MonitorResult", "population_stability_index"]

#: Expected positive rows (at the training rate) below which a batch's positive
#: rate raises no alert: with 20, a Poisson count halves or doubles by chance
#: in about 1% of batches.
MIN_EXPECTED_POSITIVES = 20
_SMOOTHING = 0.5
_Z95 = 1.959963984540054


def population_stability_index(reference, current, n_bins: int = 10) -> float:
    """The population stability index of ``current`` against ``reference``.

    ``sum((c_i - r_i) * log(c_i / r_i))`` over bins cut at the quantiles of
    ``reference`` (ties merge bins), where ``r_i`` and ``c_i`` are the shares
    of the rows in bin ``i``, each count plus one half so that an empty bin
    stays finite. It is a symmetric Kullback-Leibler divergence: 0 for the same
    distribution. Without any shift it is about ``(n_bins - 1) * (1 / n_ref + 1
    / n_cur)`` on average.

    Parameters
    ----------
    reference, current : array-like of shape (n,)
    n_bins : int, default=10

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal(size=5000)
    >>> round(population_stability_index(ref, rng.normal(size=5000)), 3)
    0.005
    >>> round(population_stability_index(ref, rng.normal(0.5, size=5000)), 2)
    0.25
    """
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, n_bins + 1)[1:-1]))
    n = len(edges) + 1
    ref = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=n)
    cur = np.bincount(np.searchsorted(edges, current, side="right"), minlength=n)
    ref = (ref + _SMOOTHING) / (ref.sum() + _SMOOTHING * n)
    cur = (cur + _SMOOTHING) / (cur.sum() + _SMOOTHING * n)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


@dataclass(frozen=True)
class Alert:
    """An alert level a batch crossed.

    Attributes
    ----------
    name : str
        The metric: ``"recall"``, ``"precision"``, ``"cost_per_row"``, ``"psi"``
        or ``"rate_ratio"`` (the positive rate over the training rate).
    value : float
        The batch's value.
    limit : float
        The alert level it crossed.
    message : str
        What happened, in a sentence.
    """

    name: str
    value: float
    limit: float
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class MonitorResult:
    """What :meth:`Monitor.check` found in one batch.

    Attributes
    ----------
    batch : str
        The batch's name (its number in the monitor's history by default).
    n_rows : int
    labelled : bool
        Whether labels came with the batch.
    metrics : dict
        Without labels: ``mean_proba``, ``predicted_positive_rate``, ``psi``,
        ``psi_no_shift`` (its expected value without any shift at these
        sizes), ``ks_statistic``, ``ks_pvalue`` (the batch's probabilities
        against the reference's), ``estimated_rate`` (EM),
        ``estimated_rate_low`` and ``estimated_rate_high`` (its 95% interval
        from sampling, :func:`~autoimb.pipeline.prior.em_standard_error`),
        ``em_converged``, ``training_rate``, ``reference_estimated_rate`` (EM
        on the reference rows), ``rate_ratio`` (the batch's rate over the
        training rate; see :class:`Monitor`). With labels also:
        ``positive_rate`` (counted) with its 95% interval (Wilson)
        ``positive_rate_low`` and ``positive_rate_high``,
        ``estimated_rate_ratio`` (EM's estimate over its baseline, judged as
        well), ``n_positive``, ``recall`` and ``precision`` of the positive class,
        ``recall_negative`` and ``precision_negative``, ``cost``,
        ``cost_per_row``, ``normalized_cost``, ``average_precision``,
        ``roc_auc``, ``brier``, ``threshold`` and the confusion counts ``tn``,
        ``fp``, ``fn``, ``tp``. ``psi``, ``psi_no_shift``, ``ks_statistic``,
        ``ks_pvalue`` and ``reference_estimated_rate`` only when the monitor
        has reference rows.
    alerts : list of Alert
    limits : dict
        The alert levels that applied to this batch, by metric name (a labelled
        batch's ``estimated_rate_ratio`` shares the ``rate_ratio`` level and
        alert).
    notes : list of str
        What could not be judged, and why.
    pos_label : label
        The positive class.
    """

    batch: str
    n_rows: int
    labelled: bool
    metrics: dict
    alerts: list[Alert] = field(default_factory=list)
    limits: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    pos_label: object = 1

    @property
    def ok(self) -> bool:
        """True when no alert fired."""
        return not self.alerts

    def to_dict(self) -> dict:
        """A JSON-ready dict: batch, n_rows, labelled, ok, metrics, limits,
        alerts, notes."""
        return {"batch": self.batch, "n_rows": self.n_rows, "labelled": self.labelled,
                "ok": self.ok, "pos_label": _plain(self.pos_label),
                "metrics": {k: _plain(v) for k, v in self.metrics.items()},
                "limits": {k: _plain(v) for k, v in self.limits.items()},
                "alerts": [{k: _plain(v) for k, v in a.to_dict().items()}
                           for a in self.alerts],
                "notes": list(self.notes)}

    def to_frame(self) -> pd.DataFrame:
        """One row per metric: ``metric``, ``value``, ``limit`` and ``status``
        (``"ok"``, ``"ALERT"``, or empty for metrics without a level or
        undefined on this batch)."""
        rows = [{"metric": name, "value": value,
                 "limit": _describe_limit(name, self.limits.get(name)),
                 "status": self._status(name)}
                for name, value in self.metrics.items()]
        return pd.DataFrame(rows, columns=["metric", "value", "limit", "status"])

    def _status(self, name) -> str:
        """"ALERT", "ok", or "" (no level, or the value is undefined)."""
        value = self.metrics.get(name)
        if self.limits.get(name) is None or value is None or value != value:
            return ""
        if name == "estimated_rate_ratio":  # a labelled batch's EM, judged too
            m = self.metrics
            moved = _rate_moved(m["estimated_rate"], m["estimated_rate_low"],
                                m["estimated_rate_high"], m["estimated_rate"] / value,
                                self.limits[name])
            return "ALERT" if moved else "ok"
        # The value too: a labelled batch's rate alert may be EM's, not the count's.
        return "ALERT" if any(a.name == name and a.value == value
                              for a in self.alerts) else "ok"

    def report(self) -> str:
        """The result in readable lines (what ``autoimb monitor`` prints)."""
        m = self.metrics
        head = f"Batch {self.batch}: {self.n_rows} rows"
        if self.labelled:
            head += (f", {m['n_positive']} of class {self.pos_label!r} "
                     f"({m['positive_rate']:.2%})")
        else:
            head += ", unlabelled"
        lines = [head]
        shown = [name for name in _REPORTED if name in m]
        width = max(len(_LABELS[name]) for name in shown) + 2
        for name in shown:
            limit_text = _describe_limit(name, self.limits.get(name)) or ""
            if f"{name}_low" in m:  # a rate's 95% interval, where a limit would be
                limit_text = (f"[{_format(name, m[name + '_low'])}, "
                              f"{_format(name, m[name + '_high'])}]")
            lines.append(f"  {_LABELS[name]:<{width}}{_format(name, m[name]):>10}"
                         f"  {limit_text:<12}{self._status(name)}".rstrip())
        lines += [f"  note: {note}" for note in self.notes]
        lines += [f"ALERT {a.name}: {a.message}" for a in self.alerts]
        lines.append("OK: no alert" if self.ok else
                     f"{len(self.alerts)} alert(s): "
                     f"{', '.join(a.name for a in self.alerts)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


_LABELS = {
    "recall": "recall (positive)",
    "precision": "precision (positive)",
    "recall_negative": "recall (negative)",
    "precision_negative": "precision (negative)",
    "cost": "cost",
    "cost_per_row": "cost per row",
    "normalized_cost": "normalized cost",
    "average_precision": "average precision",
    "positive_rate": "positive rate",
    "estimated_rate": "estimated rate (EM)",
    "reference_estimated_rate": "reference (EM)",
    "training_rate": "training rate",
    "rate_ratio": "rate ratio",
    "estimated_rate_ratio": "rate ratio (EM)",
    "mean_proba": "mean probability",
    "predicted_positive_rate": "predicted positive",
    "psi": "PSI",
    "ks_statistic": "KS statistic",
    "ks_pvalue": "KS p-value",
}
_REPORTED = list(_LABELS)
_PERCENT = {"positive_rate", "estimated_rate", "reference_estimated_rate",
            "training_rate", "mean_proba",
            "predicted_positive_rate"}


def _format(name, value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if name in _PERCENT:
        return f"{value:.2%}"
    if name in ("ks_pvalue", "cost"):
        return f"{value:.6g}" if name == "cost" else f"{value:.3g}"
    return f"{value:.3f}"


def _describe_limit(name, limit) -> str | None:
    if limit is None:
        return None
    if name in ("rate_ratio", "estimated_rate_ratio"):
        return f"in [{1 / limit:.3g}, {limit:.3g}]"
    if name in ("recall", "precision"):
        return f">= {limit:g}"
    return f"<= {limit:g}"


def _plain(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Monitor:
    """Check batches of new rows against a fitted model's training, with alerts.

    Parameters
    ----------
    model : AutoImbClassifier, str or path-like
        A fitted model, or the path of a model file (:func:`autoimb.load`). Its
        training rate is the mean of ``oof_target_``.
    reference : DataFrame or array-like, default=None
        Rows from the distribution the model was trained for (held-out rows,
        or a batch known to be good): the model's probabilities on them are
        what each batch's probabilities are compared with. ``None``: score
        drift is not measured (the positive rate still is; see the module
        docstring for why the out-of-fold probabilities are no reference).
    min_recall : float or None, default=0.7
        Alert when the recall of the positive class falls below this (labelled
        batches).
    min_precision : float or None, default=None
        Alert when the precision of the positive class falls below this.
    max_cost_per_row : float or None, default=None
        Alert when the cost of the batch's errors (with the model's fp_cost and
        fn_cost) per row exceeds this.
    max_psi : float or None, default=0.2
        Alert when the population stability index of the batch's probabilities
        against the reference's exceeds this.
    max_rate_ratio : float or None, default=2.0
        Alert when the batch's positive rate is more than this many times the
        training rate, or less than the training rate divided by it. With
        labels the rate is counted. Without, it is estimated by EM, which is
        only as good as the model's calibration on new rows; with reference
        rows the estimate is compared with EM's estimate on them rather than
        with the training rate, which cancels EM's bias for this model to first
        order (on wine_white_le4, EM finds 23% positives in held-out rows of a
        3.8% training rate). The alert also needs the rate's 95% interval
        (Wilson's for the count, EM's from sampling) to exclude the baseline,
        so that a small batch's noise does not raise it. A labelled batch is
        judged on its count and on EM's estimate as well: the labels never let
        pass a batch that would alert without them.
    n_bins : int, default=10
        Bins of the stability index, at quantiles of the reference's
        probabilities.
    min_rows : int, default=100
        Batches with fewer rows raise no drift alert (stability index):
        without any shift, its value is about ``(n_bins - 1) / min_rows``.

    Attributes
    ----------
    model : AutoImbClassifier
    reference_proba : ndarray or None
        The model's probabilities of the positive class on the reference rows.
    reference_rate : float or None
        EM's estimate of the positive rate of the reference rows.
    history : pandas.DataFrame
        One row per batch checked: ``batch``, ``time`` (UTC), ``n_rows``,
        ``labelled``, ``ok``, ``alerts`` (names, comma-separated), and every
        metric.

    See Also
    --------
    autoimb.estimate_prior : The EM estimate of the positive rate.
    autoimb.adapt_to_prior : Adapt the model when the rate has moved.

    Examples
    --------
    >>> import autoimb
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=4000, weights=[0.9], class_sep=1.5,
    ...                            random_state=0)
    >>> model = autoimb.fit(X[:2000], y[:2000], search_space="fast", n_trials=2,
    ...                     cv=3, fp_cost=1, fn_cost=9, storage="memory",
    ...                     random_state=0, show_progress_bar=False)
    >>> monitor = autoimb.Monitor(model, reference=X[2000:3000])
    >>> result = monitor.check(X[3000:], y[3000:])
    >>> result.ok, bool(result.metrics["recall"] > 0.7)
    (True, True)
    >>> shifted = X[3000:].copy()
    >>> shifted[:, 2] += 3.0                          # one feature moved
    >>> result = monitor.check(shifted)
    >>> result.ok, [a.name for a in result.alerts]
    (False, ['psi', 'rate_ratio'])
    >>> print(result.alerts[0].message)               # doctest: +ELLIPSIS
    the model's probabilities drifted: population stability index ... above 0.2 ...
    >>> monitor.history[["batch", "n_rows", "labelled", "ok", "alerts"]]
    ... # doctest: +NORMALIZE_WHITESPACE
      batch  n_rows  labelled     ok          alerts
    0     1    1000      True   True
    1     2    1000     False  False  psi,rate_ratio
    """

    def __init__(self, model, *, reference=None, min_recall: float | None = 0.7,
                 min_precision: float | None = None,
                 max_cost_per_row: float | None = None,
                 max_psi: float | None = 0.2, max_rate_ratio: float | None = 2.0,
                 n_bins: int = 10, min_rows: int = 100):
        if isinstance(model, (str, os.PathLike)):
            model = load(model)
        self.model = model
        share, positive = "between 0 and 1", "of at least 0"
        self.min_recall = _check_level("min_recall", min_recall, share,
                                       lambda v: 0 <= v <= 1)
        self.min_precision = _check_level("min_precision", min_precision, share,
                                          lambda v: 0 <= v <= 1)
        self.max_cost_per_row = _check_level("max_cost_per_row", max_cost_per_row,
                                             positive, lambda v: v >= 0)
        self.max_psi = _check_level("max_psi", max_psi, positive, lambda v: v >= 0)
        self.max_rate_ratio = _check_level("max_rate_ratio", max_rate_ratio,
                                           "above 1 (2 alerts when the rate halves "
                                           "or doubles)", lambda v: v > 1)
        self.n_bins = _check_count("n_bins", n_bins, 2)
        self.min_rows = _check_count("min_rows", min_rows, 1)
        self._training_rate = training_rate(model)
        self.reference_proba = self.reference_rate = None
        if reference is not None:
            self.reference_proba = positive_proba(model, reference)
            if len(self.reference_proba) < self.min_rows:
                raise AutoImbError(
                    f"The reference has {len(self.reference_proba)} rows, fewer than "
                    f"min_rows={self.min_rows}: its probabilities would be too "
                    "noisy a reference. Pass more rows, or a smaller min_rows.")
            self.reference_rate = em_prior(self.reference_proba,
                                          self._training_rate)[0]
        self._rows: list[dict] = []

    @property
    def history(self) -> pd.DataFrame:
        """One row per batch checked (see the class docstring)."""
        return pd.DataFrame(self._rows)

    def check(self, X, y=None, *, batch: str | None = None) -> MonitorResult:
        """Measure one batch, compare it with the alert levels, add it to history.

        Parameters
        ----------
        X : DataFrame or array-like
            The batch's rows, with the training columns.
        y : array-like, default=None
            Their labels (of the kind the model was trained on), if known.
        batch : str, default=None
            A name for the batch in the history, such as a date; ``None`` numbers
            the batches 1, 2, ...

        Returns
        -------
        MonitorResult
        """
        model = self.model
        proba = positive_proba(model, X)
        if len(proba) == 0:
            raise AutoImbError("The batch has no rows; pass at least one row to "
                               "Monitor.check.")
        name = str(len(self._rows) + 1) if batch is None else str(batch)
        result = MonitorResult(batch=name, n_rows=len(proba), labelled=y is not None,
                               metrics={}, pos_label=model.pos_label_)
        if y is not None:
            self._labelled_metrics(result, proba, self._to01(y, len(proba)))
        self._drift_metrics(result, proba)
        self._judge(result)
        self._rows.append(self._history_row(result))
        return result

    # -- measuring -----------------------------------------------------------

    def _to01(self, y, n_rows: int) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != n_rows:
            raise AutoImbError(
                f"y has shape {y.shape} but the batch has {n_rows} rows; pass one "
                "label per row.")
        classes = list(self.model.classes_)
        known = pd.Series(y).isin(classes).to_numpy()
        if not known.all():
            check_known_labels(y, self.model.classes_)  # missing ones, counted
            unknown = sorted({str(v) for v in y[~known]})[:5]
            raise AutoImbError(
                f"y holds labels {unknown} the model was not trained on; its labels "
                f"are {[_plain(c) for c in classes]}. Pass labels of that kind.")
        return (y == self.model.pos_label_).astype(int)

    def _labelled_metrics(self, result: MonitorResult, proba, y01) -> None:
        objective = self.model.objective_
        m = binary_metrics(y01, proba, self.model.threshold_,
                           fp_cost=objective.fp_cost, fn_cost=objective.fn_cost)
        n_pos = int(y01.sum())
        predicted_negative = m["tn"] + m["fn"]
        low, high = _wilson(n_pos, len(y01))
        result.metrics.update(
            n_positive=n_pos, positive_rate=n_pos / len(y01), positive_rate_low=low,
            positive_rate_high=high,
            recall=m["recall"] if n_pos else float("nan"),
            precision=m["precision"] if m["tp"] + m["fp"] else float("nan"),
            recall_negative=m["tn"] / (m["tn"] + m["fp"]) if m["tn"] + m["fp"]
            else float("nan"),
            precision_negative=m["tn"] / predicted_negative if predicted_negative
            else float("nan"),
            cost=m["cost"], cost_per_row=m["cost_per_row"],
            normalized_cost=m["normalized_cost"],
            average_precision=m["average_precision"], roc_auc=m["roc_auc"],
            brier=m["brier"], threshold=float(self.model.threshold_),
            tn=m["tn"], fp=m["fp"], fn=m["fn"], tp=m["tp"])
        if n_pos == 0:
            result.notes.append("no positive row: recall is undefined.")
        elif n_pos < MIN_EXPECTED_POSITIVES:
            low, high = _wilson(m["tp"], n_pos)
            result.notes.append(
                f"recall from {n_pos} positive rows only: its 95% interval is "
                f"[{low:.2f}, {high:.2f}].")

    def _drift_metrics(self, result: MonitorResult, proba) -> None:
        rate, _, converged = em_prior(proba, self._training_rate)
        observed = result.metrics.get("positive_rate")
        m = result.metrics
        m.update(mean_proba=float(np.mean(proba)),
                 predicted_positive_rate=float(np.mean(proba >= self.model.threshold_)))
        reference = self.reference_proba
        if reference is not None:
            ks = stats.ks_2samp(proba, reference, method="asymp")
            m.update(psi=population_stability_index(reference, proba, self.n_bins),
                     psi_no_shift=(self.n_bins - 1) * (1 / len(reference)
                                                      + 1 / len(proba)),
                     ks_statistic=float(ks.statistic), ks_pvalue=float(ks.pvalue))
        elif self.max_psi is not None:
            result.notes.append(
                "score drift not measured: the monitor has no reference rows "
                "(reference= in Python, --reference on the command line).")
        half = _Z95 * em_standard_error(proba, self._training_rate, rate)
        m.update(estimated_rate=rate, estimated_rate_low=max(0.0, rate - half),
                 estimated_rate_high=min(1.0, rate + half),
                 em_converged=bool(converged), training_rate=self._training_rate)
        if self.reference_rate is not None:
            m["reference_estimated_rate"] = self.reference_rate
        em_ratio = rate / (self.reference_rate or self._training_rate)
        if observed is not None:
            m["rate_ratio"] = observed / self._training_rate
            m["estimated_rate_ratio"] = em_ratio
        else:
            m["rate_ratio"] = em_ratio
            bias = (self.reference_rate or self._training_rate) / self._training_rate
            if max(bias, 1 / bias) > 1.5:
                result.notes.append(
                    f"EM is biased for this model: it estimates "
                    f"{self.reference_rate:.2%} positives in the reference rows, for "
                    f"a training rate of {self._training_rate:.2%}; the rate ratio "
                    "compares the batch's estimate with the reference's.")
        if not converged:
            result.notes.append("EM did not converge: the estimated rate is rough.")

    # -- judging -------------------------------------------------------------

    def _judge(self, result: MonitorResult) -> None:
        m, n = result.metrics, result.n_rows
        low = {"recall": self.min_recall, "precision": self.min_precision}
        for name, limit in low.items():
            if limit is None or name not in m:
                continue
            result.limits[name] = limit
            if m[name] < limit:  # NaN (undefined) raises nothing
                counts = (f"{m['tp']} of {m['tp'] + m['fn']} positive rows found"
                          if name == "recall" else
                          f"{m['tp']} of {m['tp'] + m['fp']} rows predicted positive "
                          "are")
                result.alerts.append(Alert(
                    name, m[name], limit,
                    f"{name} of class {result.pos_label!r} is {m[name]:.3f}, below "
                    f"{limit:g} ({counts})."))
        if self.max_cost_per_row is not None and "cost_per_row" in m:
            limit = result.limits["cost_per_row"] = self.max_cost_per_row
            if m["cost_per_row"] > limit:
                result.alerts.append(Alert(
                    "cost_per_row", m["cost_per_row"], limit,
                    f"the errors cost {m['cost_per_row']:.4g} per row, above {limit:g} "
                    f"({m['fp']} false positives, {m['fn']} false negatives)."))
        if self.max_psi is not None and "psi" in m:
            if n < self.min_rows:
                result.notes.append(
                    f"drift not judged: {n} rows, fewer than min_rows={self.min_rows}.")
            else:
                limit = result.limits["psi"] = self.max_psi
                if m["psi"] > limit:
                    result.alerts.append(Alert(
                        "psi", m["psi"], limit,
                        f"the model's probabilities drifted: population stability "
                        f"index {m['psi']:.3f} above {limit:g} against the reference "
                        f"(KS statistic {m['ks_statistic']:.3f}, "
                        f"p={m['ks_pvalue']:.2g})."))
        if self.max_rate_ratio is not None:
            self._judge_rate(result)

    def _judge_rate(self, result: MonitorResult) -> None:
        """The positive-rate alert: a rate whose ratio to its baseline is beyond
        the factor and whose 95% interval excludes the baseline. Without labels
        the rate is EM's estimate; with labels the count is judged, and EM's
        estimate as well, so that the labels never make a batch pass that would
        alert without them."""
        m, limit = result.metrics, self.max_rate_ratio
        expected = result.n_rows * self._training_rate
        if expected < MIN_EXPECTED_POSITIVES:
            result.notes.append(
                f"positive rate not judged: about {expected:.0f} positive rows "
                f"expected at the training rate, fewer than "
                f"{MIN_EXPECTED_POSITIVES}.")
            return
        result.limits["rate_ratio"] = limit
        if result.labelled:
            result.limits["estimated_rate_ratio"] = limit
        em_base = self.reference_rate or self._training_rate
        em_fires = _rate_moved(m["estimated_rate"], m["estimated_rate_low"],
                               m["estimated_rate_high"], em_base, limit)
        em_ratio = m["estimated_rate"] / em_base
        if self.reference_rate is not None:
            em_base_text = f"EM's estimate on the reference rows, {em_base:.2%}"
        else:
            em_base_text = f"the training rate {em_base:.2%}"
        em_text = (f"the positive rate estimated by EM is {m['estimated_rate']:.2%} "
                   f"(95% interval {m['estimated_rate_low']:.2%} to "
                   f"{m['estimated_rate_high']:.2%}), {em_ratio:.2f} times "
                   f"{em_base_text}")
        tail = (f" (alert beyond a factor of {limit:g}, with the 95% interval "
                "excluding the baseline); consider autoimb.adapt_to_prior.")
        if not result.labelled:
            if em_fires:
                result.alerts.append(Alert("rate_ratio", em_ratio, limit,
                                           em_text + tail))
            return
        ratio = m["rate_ratio"]
        counted = (f"the positive rate (counted) is {m['positive_rate']:.2%} (95% "
                   f"interval {m['positive_rate_low']:.2%} to "
                   f"{m['positive_rate_high']:.2%}), {ratio:.2f} times the training "
                   f"rate {self._training_rate:.2%}")
        if _rate_moved(m["positive_rate"], m["positive_rate_low"],
                       m["positive_rate_high"], self._training_rate, limit):
            result.alerts.append(Alert("rate_ratio", ratio, limit, counted + tail))
        elif em_fires:
            result.alerts.append(Alert(
                "rate_ratio", em_ratio, limit,
                f"{em_text}, beyond a factor of {limit:g}, while {counted}: the "
                "same batch without labels alerts. The count is the better "
                "measure of the rate; where EM departs from it, the model's "
                "probabilities on these rows may be miscalibrated: check them "
                "before adapting the model to an estimate."))

    def _history_row(self, result: MonitorResult) -> dict:
        row = {"batch": result.batch,
               "time": pd.Timestamp(datetime.now(timezone.utc)),
               "n_rows": result.n_rows, "labelled": result.labelled, "ok": result.ok,
               "alerts": ",".join(a.name for a in result.alerts)}
        row.update(result.metrics)
        return row


def _check_level(name: str, value, where: str, valid) -> float | None:
    """``value`` as a float, or an error naming it and the valid range."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Real) \
            or not math.isfinite(value) or not valid(value):
        raise AutoImbError(
            f"{name}={value!r} is not a valid alert level: pass a number {where}, or "
            "None for no alert on it.")
    return float(value)


def _check_count(name: str, value, lowest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < lowest:
        raise AutoImbError(f"{name}={value!r} must be an integer of at least {lowest}.")
    return int(value)


def _rate_moved(rate: float, low: float, high: float, base: float,
                factor: float) -> bool:
    """Whether a rate moved from ``base`` by more than ``factor`` either way,
    beyond noise: the ratio is past the factor and the 95% interval ``[low,
    high]`` excludes ``base``."""
    ratio = rate / base
    return (ratio > factor or ratio < 1 / factor) and not low <= base <= high


def _wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson's 95% interval of a proportion."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)

