"""The systems that ``peers.py`` compares, and the worker that fits one of them.

``peers.py`` (the parent) runs every fit as ``python peers_systems.py JOB RESULT``
in a fresh process, with the interpreter of the system's venv. This module must
therefore import with nothing but numpy, pandas and scikit-learn: each system
imports its own library inside its function. It must not import ``_common``
(which caps the thread pools at one thread): the peers may use both cores.

A system is a function ``fit(X_train, y_train, ctx) -> Fitted`` registered in
``SYSTEMS``. ``ctx`` carries the seed, the budget, the costs and a scratch
folder; ``Fitted`` holds the positive-class probability and the label of any
rows, the number of trials and the system's own estimate of its normalized cost,
if it reports one. To add a system, write such a function and register it::

    SYSTEMS["my_system"] = System(fit_my_system, uses_budget=True, venv=".venv-my")

``venv`` names a folder under ``benchmarks/`` whose ``bin/python`` runs the
system (``None``: the interpreter that runs ``peers.py``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    make_scorer,
    precision_score,
    recall_score,
)

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets"
ARTICLE = "article"
SMALL = ("yeast_me2", "wine_white_le4", "oil_spill", "abalone_19", "ecoli_imu",
         "us_crime")
TEST_SIZE = 0.25
#: Environment variable with JSON keyword arguments added to autoimb.fit
#: (``peers.py --autoimb-options``).
AUTOIMB_OPTIONS_VAR = "PEERS_AUTOIMB_OPTIONS"
MAX_NATIVE_CATEGORIES = 255  # HistGradientBoosting's limit for native categoricals


# -- data -------------------------------------------------------------------------

def dataset_names() -> list[str]:
    """Every shared ``*.csv.gz`` data set and the synthetic article set."""
    shared = sorted(p.name.removesuffix(".csv.gz") for p in DATA_DIR.glob("*.csv.gz"))
    return [*shared, ARTICLE]


def load_dataset(name: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Features as a DataFrame and the 0/1 label (1 = minority)."""
    if name == ARTICLE:
        from sklearn.datasets import make_classification

        X, y = make_classification(n_samples=20000, n_features=25, n_informative=10,
                                   weights=[0.97, 0.03], flip_y=0.02, random_state=42)
        return pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])]), y
    frame = pd.read_csv(DATA_DIR / f"{name}.csv.gz", low_memory=False)
    return frame.drop(columns="target"), frame["target"].to_numpy().astype(int)


def load_target(name: str) -> np.ndarray:
    if name == ARTICLE:
        return load_dataset(name)[1]
    return pd.read_csv(DATA_DIR / f"{name}.csv.gz", usecols=["target"])[
        "target"].to_numpy().astype(int)


def split_indices(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the training and test parts: stratified, 25 % test."""
    from sklearn.model_selection import train_test_split

    return train_test_split(np.arange(len(y)), test_size=TEST_SIZE, stratify=y,
                            random_state=seed)


# -- costs and metrics --------------------------------------------------------------

def costs_for(y_train) -> tuple[float, float]:
    """fp_cost = 1 and fn_cost = negatives per positive of the training part."""
    n_pos = int(np.sum(y_train == 1))
    return 1.0, (len(y_train) - n_pos) / n_pos


def trivial_cost(y, fp_cost: float, fn_cost: float) -> float:
    """Cost of the cheaper constant rule: all negative or all positive."""
    n_pos = int(np.sum(np.asarray(y) == 1))
    return min(n_pos * fn_cost, (len(y) - n_pos) * fp_cost)


def normalized_cost(y_true, y_pred, fp_cost: float, fn_cost: float) -> float:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    fp = np.sum((y_pred == 1) & (y_true == 0))
    fn = np.sum((y_pred == 0) & (y_true == 1))
    cost = fp_cost * fp + fn_cost * fn
    base = trivial_cost(y_true, fp_cost, fn_cost)
    return float(cost / base) if base > 0 else float(cost)


def neg_normalized_cost(y_true, y_pred, fp_cost: float, fn_cost: float) -> float:
    """Minus the normalized cost of the scored rows: a score, higher is better."""
    return -normalized_cost(y_true, y_pred, fp_cost, fn_cost)


def cost_scorer(fp_cost: float, fn_cost: float):
    """scikit-learn scorer: minus the normalized cost on the rows it scores."""
    return make_scorer(neg_normalized_cost, fp_cost=fp_cost, fn_cost=fn_cost)


def test_metrics(y_test, proba, pred, fp_cost, fn_cost) -> dict:
    y_test, pred = np.asarray(y_test), np.asarray(pred).astype(int)
    fp = int(np.sum((pred == 1) & (y_test == 0)))
    fn = int(np.sum((pred == 0) & (y_test == 1)))
    return {
        "fp": fp, "fn": fn, "cost": fp_cost * fp + fn_cost * fn,
        "normalized_cost": normalized_cost(y_test, pred, fp_cost, fn_cost),
        "ap": float(average_precision_score(y_test, proba)),
        "f1": float(f1_score(y_test, pred, zero_division=0)),
        "recall": float(recall_score(y_test, pred, zero_division=0)),
        "precision": float(precision_score(y_test, pred, zero_division=0)),
    }


# -- the systems --------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Context:
    seed: int
    budget: float | None
    fp_cost: float
    fn_cost: float
    workdir: Path


@dataclasses.dataclass
class Fitted:
    """A fitted system: probability and label of the positive class, and facts."""

    predict_proba: Callable[[pd.DataFrame], np.ndarray]
    predict: Callable[[pd.DataFrame], np.ndarray]
    config: str = ""
    trials: int | None = None
    trials_completed: int | None = None  # of those, the ones that ran to the end
    # of those, the ones that fitted a fold or more: completed, or pruned after
    # a fold (not the proposals stopped before fitting, for the time left)
    trials_fitted: int | None = None
    # autoimb: the portfolio's queued recipes, and the completed trials that the
    # search proposed itself (not queued)
    trials_queued: int | None = None
    trials_proposed_completed: int | None = None
    reported_normalized_cost: float | None = None
    reported_raw_normalized_cost: float | None = None
    threshold_seconds: float | None = None  # threshold tuning after the search
    # autoimb: seconds of each step of fit (fit_times_), e.g. "prepare 1.2, ..."
    fit_steps: str = ""
    versions: str = ""


@dataclasses.dataclass(frozen=True)
class System:
    fit: Callable[[pd.DataFrame, np.ndarray, Context], Fitted]
    uses_budget: bool
    venv: str | None = None  # folder under benchmarks/ holding bin/python


class TabularEncoder(TransformerMixin, BaseEstimator):
    """Text columns to what tree models read; numeric columns unchanged.

    A text column with at most ``max_categories`` values in the training rows
    becomes a pandas ``category`` (HistGradientBoosting and LightGBM treat it as
    categorical); a longer one, or every text column if ``numeric=True``, becomes
    its category code as a float. Unseen and missing values become NaN.
    """

    def __init__(self, max_categories=MAX_NATIVE_CATEGORIES, numeric=False):
        self.max_categories = max_categories
        self.numeric = numeric

    def fit(self, X, y=None):
        text = [c for c in X.columns if not (pd.api.types.is_numeric_dtype(X[c])
                                             or pd.api.types.is_bool_dtype(X[c]))]
        self.categories_ = {c: _sorted_values(X[c]) for c in text}
        return self

    def transform(self, X):
        X = X.copy()
        for column, categories in self.categories_.items():
            values = pd.Categorical(X[column], categories=categories)
            if self.numeric or len(categories) > self.max_categories:
                codes = values.codes.astype(float)
                codes[codes < 0] = np.nan
                X[column] = codes
            else:
                X[column] = values
        for column in X.columns:
            if pd.api.types.is_bool_dtype(X[column]):
                X[column] = X[column].astype(float)
        return X


def _sorted_values(column: pd.Series) -> pd.Index:
    values = pd.Index(column.dropna().unique())
    try:
        return values.sort_values()
    except TypeError:  # mixed types: keep the order of appearance
        return values


def _threshold_fitted(model, config: str, trials=None, reported=None,
                      versions="", threshold=None) -> Fitted:
    """A Fitted around a scikit-learn classifier; ``threshold`` overrides predict."""
    def proba(X):
        return model.predict_proba(X)[:, list(model.classes_).index(1)]

    def predict(X):
        if threshold is None:
            return np.asarray(model.predict(X)).astype(int)
        return (proba(X) >= threshold).astype(int)

    return Fitted(proba, predict, config=config, trials=trials,
                  reported_normalized_cost=reported, versions=versions)


def _sklearn_versions() -> str:
    import sklearn

    return f"scikit-learn {sklearn.__version__}, pandas {pd.__version__}"


def _tuned(estimator, ctx: Context):
    from sklearn.model_selection import TunedThresholdClassifierCV

    return TunedThresholdClassifierCV(estimator, scoring=cost_scorer(ctx.fp_cost,
                                                                     ctx.fn_cost),
                                      random_state=ctx.seed)


def fit_hgb_default(X, y, ctx: Context) -> Fitted:
    """The article's baseline: HistGradientBoosting, default threshold 0.5."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(TabularEncoder(),
                          HistGradientBoostingClassifier(random_state=ctx.seed))
    model.fit(X, y)
    return _threshold_fitted(model, "HGB defaults, threshold 0.5",
                             versions=_sklearn_versions())


def fit_hgb_balanced_tuned(X, y, ctx: Context) -> Fitted:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline

    model = _tuned(make_pipeline(TabularEncoder(), HistGradientBoostingClassifier(
        class_weight="balanced", random_state=ctx.seed)), ctx).fit(X, y)
    return _threshold_fitted(
        model, f"HGB balanced, threshold {model.best_threshold_:.4g}",
        reported=-model.best_score_, versions=_sklearn_versions())


def fit_brf_tuned(X, y, ctx: Context) -> Fitted:
    import imblearn
    from imblearn.ensemble import BalancedRandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    forest = BalancedRandomForestClassifier(
        n_estimators=300, sampling_strategy="all", replacement=True, bootstrap=False,
        n_jobs=-1, random_state=ctx.seed)
    model = _tuned(make_pipeline(TabularEncoder(numeric=True),
                                 SimpleImputer(strategy="median",
                                               keep_empty_features=True),
                                 forest), ctx).fit(X, y)
    return _threshold_fitted(
        model, f"BalancedRandomForest 300, threshold {model.best_threshold_:.4g}",
        reported=-model.best_score_,
        versions=f"{_sklearn_versions()}, imbalanced-learn {imblearn.__version__}")


def fit_lgbm_isotonic_bayes(X, y, ctx: Context) -> Fitted:
    import lightgbm
    from lightgbm import LGBMClassifier
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import make_pipeline

    lgbm = LGBMClassifier(n_estimators=300, learning_rate=0.05, verbose=-1,
                          random_state=ctx.seed)
    model = CalibratedClassifierCV(make_pipeline(TabularEncoder(), lgbm),
                                   method="isotonic", cv=5).fit(X, y)
    threshold = ctx.fp_cost / (ctx.fp_cost + ctx.fn_cost)
    return _threshold_fitted(
        model, f"LightGBM 300 x 0.05, isotonic, Bayes threshold {threshold:.4g}",
        versions=f"{_sklearn_versions()}, lightgbm {lightgbm.__version__}",
        threshold=threshold)


class FlamlRefit(ClassifierMixin, BaseEstimator):
    """One FLAML configuration as a scikit-learn classifier of raw rows.

    ``fit`` does what FLAML's final retraining does: its ``DataTransformer`` on the
    rows, then the FLAML learner (``learner``, e.g. ``LGBMEstimator``) built from
    ``config``, with no time budget.
    """

    def __init__(self, learner=None, config=None, n_jobs=-1):
        self.learner = learner
        self.config = config
        self.n_jobs = n_jobs

    def fit(self, X, y):
        from flaml.automl.data import DataTransformer

        self.transformer_ = DataTransformer()
        Xt, yt = self.transformer_.fit_transform(X, y, "classification")
        self.classes_ = np.unique(y)
        self.model_ = self.learner(task="binary", n_jobs=self.n_jobs, **self.config)
        self.model_.fit(Xt, yt)
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(self.transformer_.transform(X))

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def fit_flaml_tuned(X, y, ctx: Context) -> Fitted:
    """FLAML's search (AP, the whole budget), then a cost-tuned threshold on top.

    The threshold tuning (5 refits of FLAML's chosen configuration) comes after
    FLAML's ``time_budget``, not inside it; ``threshold_seconds`` records it.
    """
    import flaml
    from flaml import AutoML

    automl = AutoML()
    automl.fit(X, y, task="classification", time_budget=ctx.budget, metric="ap",
               estimator_list=["lgbm", "rf", "extra_tree"], seed=ctx.seed, n_jobs=-1,
               verbose=0)
    config = {k: v for k, v in automl.best_config.items() if k != "FLAML_sample_size"}
    start = time.perf_counter()
    model = _tuned(FlamlRefit(type(automl.model), config), ctx).fit(X, y)
    tuning = time.perf_counter() - start
    trials = sum(getattr(automl, "_iter_per_learner", {}).values()) or len(
        automl.config_history)
    described = ", ".join(f"{k}={_short(v)}" for k, v in config.items())
    fitted = _threshold_fitted(
        model, f"{automl.best_estimator}({described}), threshold "
        f"{model.best_threshold_:.4g}", trials=trials, reported=-model.best_score_,
        versions=f"flaml {flaml.__version__}, {_sklearn_versions()}")
    fitted.threshold_seconds = tuning
    return fitted


def fit_autogluon(X, y, ctx: Context) -> Fitted:
    """AutoGluon medium_quality on average precision, then its cost threshold.

    ``calibrate_decision_threshold`` scores thresholds on AutoGluon's internal
    validation rows (or out-of-fold predictions when it bags); the best score it
    saw there is its reported estimate.
    """
    import autogluon.tabular as agt
    from autogluon.core.metrics import make_scorer as ag_make_scorer
    from autogluon.tabular import TabularPredictor

    seen = []

    def score(y_true, y_pred):
        value = neg_normalized_cost(y_true, y_pred, ctx.fp_cost, ctx.fn_cost)
        seen.append(value)
        return value

    scorer = ag_make_scorer("neg_normalized_cost", score, optimum=0,
                            greater_is_better=True, needs_class=True)
    frame = X.assign(**{"__target__": y})
    predictor = TabularPredictor(label="__target__", eval_metric="average_precision",
                                 problem_type="binary",
                                 path=str(ctx.workdir / "autogluon"))
    predictor.fit(frame, presets="medium_quality", time_limit=ctx.budget, verbosity=0)
    start = time.perf_counter()
    threshold = predictor.calibrate_decision_threshold(metric=scorer, verbose=False)
    predictor.set_decision_threshold(threshold)
    tuning = time.perf_counter() - start
    board = predictor.leaderboard(silent=True)
    positive = predictor.positive_class

    def proba(rows):
        return predictor.predict_proba(rows)[positive].to_numpy()

    def predict(rows):
        return (predictor.predict(rows).to_numpy() == positive).astype(int)

    models = ", ".join(board["model"].astype(str))
    return Fitted(
        proba, predict,
        config=f"best {predictor.model_best}, threshold {threshold:.4g}; "
               f"models {models}",
        trials=len(board), reported_normalized_cost=-max(seen) if seen else None,
        threshold_seconds=tuning,
        versions=f"autogluon.tabular {agt.__version__}, {_sklearn_versions()}")


def fit_autoimb(X, y, ctx: Context) -> Fitted:
    """autoimb with its defaults, the cost objective and the budget as timeout.
    Its warnings (a worker killed at the stop, a lock removed, a failed trial)
    go to the fit's log."""
    import logging

    import autoimb

    logging.getLogger("autoimb").addHandler(logging.StreamHandler())
    options = json.loads(os.environ.get(AUTOIMB_OPTIONS_VAR) or "{}")
    model = autoimb.fit(X, y, objective="cost", fp_cost=ctx.fp_cost,
                        fn_cost=ctx.fn_cost, timeout=ctx.budget,
                        random_state=ctx.seed, show_progress_bar=False,
                        storage=str(ctx.workdir / "autoimb.journal"), **options)
    base = trivial_cost(y, ctx.fp_cost, ctx.fn_cost)
    states = model.results_["state"]
    completed = states == "COMPLETE"
    queued = model.results_["recipe"].notna()
    raw = getattr(model, "best_score_raw_", None)
    positive = list(model.classes_).index(1)
    return Fitted(
        lambda rows: model.predict_proba(rows)[:, positive],
        lambda rows: (np.asarray(model.predict(rows)) == 1).astype(int),
        config=f"{model.strategy_}, threshold {model.threshold_:.4g}",
        trials=int(states.isin(["COMPLETE", "PRUNED"]).sum()),
        trials_completed=int(completed.sum()),
        trials_fitted=int((completed | (
            (states == "PRUNED")
            & model.results_["reason"].fillna("").str.startswith("after fold"))).sum()),
        trials_queued=int(queued.sum()),
        trials_proposed_completed=int((completed & ~queued).sum()),
        reported_normalized_cost=float(model.best_score_) / base,
        reported_raw_normalized_cost=None if raw is None else float(raw) / base,
        fit_steps=", ".join(f"{step} {seconds:.1f}" for step, seconds
                            in getattr(model, "fit_times_", {}).items()),
        versions=f"autoimb {autoimb.__version__} ({Path(autoimb.__file__).parent}), "
                 f"{_sklearn_versions()}")


def _short(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


SYSTEMS: dict[str, System] = {
    "hgb_default": System(fit_hgb_default, uses_budget=False),
    "hgb_balanced_tuned": System(fit_hgb_balanced_tuned, uses_budget=False),
    "brf_tuned": System(fit_brf_tuned, uses_budget=False),
    "lgbm_isotonic_bayes": System(fit_lgbm_isotonic_bayes, uses_budget=False),
    "flaml_tuned": System(fit_flaml_tuned, uses_budget=True, venv=".venv-flaml"),
    "autogluon": System(fit_autogluon, uses_budget=True, venv=".venv-autogluon"),
    "autoimb": System(fit_autoimb, uses_budget=True),
}


# -- the worker ---------------------------------------------------------------------

def run_job(job: dict, record: dict) -> None:
    """Fit one system on one training part, score it on the test part.

    Fills ``record`` as it goes, so a failure keeps what was measured before it.
    """
    name, seed = job["dataset"], job["seed"]
    X, y = load_dataset(name)
    split = np.load(job["split_file"])
    train, test = split["train"], split["test"]
    if len(y) != len(train) + len(test):
        raise RuntimeError(f"{name}: {len(y)} rows but the split has "
                           f"{len(train) + len(test)}")
    X_train, X_test = X.iloc[train].reset_index(drop=True), X.iloc[test].reset_index(
        drop=True)
    y_train, y_test = y[train], y[test]
    fp_cost, fn_cost = costs_for(y_train)
    record.update(n_train=len(y_train), pos_train=int(y_train.sum()),
                  n_test=len(y_test), pos_test=int(y_test.sum()), fp_cost=fp_cost,
                  fn_cost=fn_cost)
    workdir = Path(job.get("workdir") or tempfile.mkdtemp(prefix="peers-work-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        ctx = Context(seed=seed, budget=job["budget"], fp_cost=fp_cost,
                      fn_cost=fn_cost, workdir=workdir)
        record["rss_before_fit_mb"] = _status_kb("VmRSS") / 1024
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitted = SYSTEMS[job["system"]].fit(X_train, y_train, ctx)
        finally:
            record["fit_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        proba = np.asarray(fitted.predict_proba(X_test), dtype=float)
        pred = np.asarray(fitted.predict(X_test)).astype(int)
        record["predict_seconds"] = time.perf_counter() - start
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    record.update(test_metrics(y_test, proba, pred, fp_cost, fn_cost))
    record.update(config=fitted.config, trials=fitted.trials,
                  trials_completed=fitted.trials_completed,
                  trials_fitted=fitted.trials_fitted,
                  trials_queued=fitted.trials_queued,
                  trials_proposed_completed=fitted.trials_proposed_completed,
                  reported_normalized_cost=fitted.reported_normalized_cost,
                  reported_raw_normalized_cost=fitted.reported_raw_normalized_cost,
                  threshold_seconds=fitted.threshold_seconds,
                  fit_steps=fitted.fit_steps or None, versions=fitted.versions)
    if fitted.reported_normalized_cost is not None:
        record["optimism"] = (record["normalized_cost"]
                              - fitted.reported_normalized_cost)


def _peak_rss_mb() -> float:
    """Peak resident memory of this process, or of a finished child if larger, MB.

    ``VmHWM``, not ``getrusage(RUSAGE_SELF)``: Linux carries the parent's peak
    across fork and exec into the child's ``ru_maxrss``, so the runner's own memory
    would count as the worker's.
    """
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(_status_kb("VmHWM"), children) / 1024  # kilobytes


def _status_kb(field: str) -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux


def main(argv: list[str]) -> int:
    """``python peers_systems.py JOB.json RESULT.json``: the parent reads RESULT."""
    job_file, result_file = Path(argv[0]), Path(argv[1])
    job = json.loads(job_file.read_text())
    result = {"status": "ok"}
    try:
        run_job(job, result)
    except BaseException as exc:
        traceback.print_exc()
        line = (f"{type(exc).__name__}: {exc}".strip().splitlines() or ["?"])[0]
        result.update(status="error", error=line[:300])
    result["worker_peak_rss_mb"] = _peak_rss_mb()
    result_file.write_text(json.dumps(result, default=_json_default))
    return 0 if result["status"] == "ok" else 1


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
