"""Everything that explains a search: dashboard, notes, figures, diagnostics,
report.

One home for what shows people why a strategy won:

- :mod:`~autoimb.explain.dashboard`: serve optuna-dashboard
  (:class:`DashboardServer`, :func:`run_dashboard`, :func:`dashboard_command`);
- :mod:`~autoimb.explain.notes`: the Markdown notes and PNG artifacts the
  dashboard shows;
- :mod:`~autoimb.explain.figures`: matplotlib figures of a classifier's scores;
- :mod:`~autoimb.explain.explainer`: the :class:`Explainer` a search calls to
  write its trials' and study's notes and figures;
- :mod:`~autoimb.explain.diagnostics`: is imbalance the real problem?
  (:func:`diagnose`, :class:`Diagnosis`);
- :mod:`~autoimb.explain.report`: one self-contained HTML file of it all
  (:func:`autoimb.report`, :func:`render_report`).

Names are loaded on first use, and matplotlib only when a figure is drawn:
``import autoimb; autoimb.AutoImbClassifier`` does not import matplotlib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# Public names and the submodule defining each, imported on first use.
_LAZY = {
    "DashboardServer": ".dashboard",
    "Diagnosis": ".diagnostics",
    "Explainer": ".explainer",
    "artifact_store_for": ".explainer",
    "dashboard_command": ".dashboard",
    "default_artifact_store": ".notes",
    "diagnose": ".diagnostics",
    "figure_to_png": ".figures",
    "plot_cost_curve": ".figures",
    "plot_precision_recall": ".figures",
    "plot_reliability": ".figures",
    "render_report": ".report",
    "run_dashboard": ".dashboard",
}

if TYPE_CHECKING:  # pragma: no cover
    from autoimb.explain.dashboard import (
        DashboardServer,
        dashboard_command,
        run_dashboard,
    )
    from autoimb.explain.diagnostics import Diagnosis, diagnose
    from autoimb.explain.explainer import Explainer, artifact_store_for
    from autoimb.explain.figures import (
        figure_to_png,
        plot_cost_curve,
        plot_precision_recall,
        plot_reliability,
    )
    from autoimb.explain.notes import default_artifact_store
    from autoimb.explain.report import render_report


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'autoimb.explain' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "DashboardServer",
    "Diagnosis",
    "Explainer",
    "artifact_store_for",
    "dashboard_command",
    "default_artifact_store",
    "diagnose",
    "figure_to_png",
    "plot_cost_curve",
    "plot_precision_recall",
    "plot_reliability",
    "render_report",
    "run_dashboard",
]
