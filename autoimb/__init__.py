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

from ._version import __version__
from .exceptions import (
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
    "load": "._export",
    "Monitor": "._monitor",
    "MonitorResult": "._monitor",
    "PriorShiftAdapter": "._prior_shift",
    "adapt_to_prior": "._prior_shift",
    "estimate_prior": "._prior_shift",
    "ThresholdedPipeline": "._fitted",
    "evaluate": "._metrics",
    "SearchSpace": "._spaces",
    "list_search_spaces": "._spaces",
    "load_search_space": "._spaces",
    "report": ".explain.report",
    "Strategy": "._strategy",
    "WorkerReport": "._worker",
    "export_study": "._study_export",
    "run_worker": "._worker",
}

if TYPE_CHECKING:  # pragma: no cover
    from ._classifier import AutoImbClassifier, fit
    from ._export import load
    from ._fitted import ThresholdedPipeline
    from ._metrics import evaluate
    from ._monitor import Monitor, MonitorResult
    from ._prior_shift import PriorShiftAdapter, adapt_to_prior, estimate_prior
    from ._spaces import SearchSpace, list_search_spaces, load_search_space
    from ._strategy import Strategy
    from ._study_export import export_study
    from ._worker import WorkerReport, run_worker
    from .explain.dashboard import DashboardServer, run_dashboard
    from .explain.report import report


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
