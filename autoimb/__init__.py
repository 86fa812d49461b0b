"""autoimb: search the whole imbalanced-learning strategy at once.

Model family and hyperparameters, class weights, resampler and ratio, calibration
and decision threshold are searched jointly by one Optuna study, each candidate
scored honestly on rows that none of its stages was fitted on.

>>> import autoimb
>>> from sklearn.datasets import make_classification
>>> X, y = make_classification(n_samples=500, weights=[0.9], random_state=0)
>>> model = autoimb.fit(X, y, search_space="fast", n_trials=2, cv=3,
...                     fp_cost=1, fn_cost=10, storage="memory", random_state=0,
...                     show_progress_bar=False)
>>> model.predict_proba(X[:2]).shape
(2, 2)
"""

import importlib
import logging
from typing import TYPE_CHECKING

from autoimb._version import __version__
from autoimb.exceptions import (
    AutoImbError,
    AutoImbWarning,
    ModelFileError,
    NoCompletedTrialError,
    SearchTerminated,
    StorageUnavailableError,
    StudyMismatchError,
)

# Public names and the module defining each. They are imported on first use, so
# that `autoimb --version` or a bad command line does not pay for scikit-learn,
# imbalanced-learn, LightGBM and Optuna (about 3 s).
_LAZY = {
    "AutoImbClassifier": "._classifier",
    "fit": "._classifier",
    "DashboardServer": ".explain.dashboard",
    "run_dashboard": ".explain.dashboard",
    "load": ".deploy.export",
    "Monitor": ".deploy.monitor",
    "MonitorResult": ".deploy.monitor",
    "PriorShiftAdapter": ".deploy.prior_shift",
    "adapt_to_prior": ".deploy.prior_shift",
    "estimate_prior": ".deploy.prior_shift",
    "ThresholdedPipeline": ".pipeline.fitted",
    "evaluate": ".pipeline.metrics",
    "SearchSpace": ".search.spaces",
    "list_search_spaces": ".search.spaces",
    "load_search_space": ".search.spaces",
    "report": ".explain.report",
    "Strategy": ".pipeline.strategy",
    "WorkerReport": ".workers.worker",
    "export_study": ".workers.export",
    "run_worker": ".workers.worker",
}

if TYPE_CHECKING:  # pragma: no cover
    from autoimb._classifier import AutoImbClassifier, fit
    from autoimb.deploy.export import load
    from autoimb.deploy.monitor import Monitor, MonitorResult
    from autoimb.deploy.prior_shift import (
        PriorShiftAdapter,
        adapt_to_prior,
        estimate_prior,
    )
    from autoimb.explain.dashboard import DashboardServer, run_dashboard
    from autoimb.explain.report import report
    from autoimb.pipeline.fitted import ThresholdedPipeline
    from autoimb.pipeline.metrics import evaluate
    from autoimb.pipeline.strategy import Strategy
    from autoimb.search.spaces import SearchSpace, list_search_spaces, load_search_space
    from autoimb.workers.export import export_study
    from autoimb.workers.worker import WorkerReport, run_worker


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'autoimb' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AutoImbClassifier",
    "AutoImbError",
    "AutoImbWarning",
    "DashboardServer",
    "ModelFileError",
    "Monitor",
    "MonitorResult",
    "NoCompletedTrialError",
    "PriorShiftAdapter",
    "SearchSpace",
    "SearchTerminated",
    "StorageUnavailableError",
    "Strategy",
    "StudyMismatchError",
    "ThresholdedPipeline",
    "WorkerReport",
    "__version__",
    "adapt_to_prior",
    "estimate_prior",
    "evaluate",
    "export_study",
    "fit",
    "list_search_spaces",
    "load",
    "load_search_space",
    "report",
    "run_dashboard",
    "run_worker",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
