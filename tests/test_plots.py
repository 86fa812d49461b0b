"""Tests of autoimb.explain.figures: diagnostic figures of binary scores."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from autoimb.exceptions import AutoImbError
from autoimb.explain.figures import (
    PNG_MAGIC,
    _cost_steps,
    figure_to_png,
    plot_cost_curve,
    plot_precision_recall,
    plot_reliability,
)

REPO = Path(__file__).resolve().parents[1]


def _by_gid(fig: Figure, gid: str):
    """The artists of the first axes with this gid."""
    ax = fig.axes[0]
    found = [a for a in ax.get_children() if a.get_gid() == gid]
    assert found, f"no artist with gid {gid!r}"
    return found


def _line_by_label(fig: Figure, label: str):
    lines = [ln for ln in fig.axes[0].lines if ln.get_label() == label]
    assert len(lines) == 1, [ln.get_label() for ln in fig.axes[0].lines]
    return lines[0]


def _imbalanced(seed: int, n: int = 200, rate: float = 0.1):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rate).astype(int)
    y[:2] = [0, 1]  # both classes present
    # Rounded scores: plenty of ties, which the step functions must handle.
    p = np.round(np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1), 2)
    return y, p


def _brute_force_cost(y, p, threshold, fp_cost, fn_cost):
    pred = p >= threshold
    return fp_cost * np.sum(pred & (y == 0)) + fn_cost * np.sum(~pred & (y == 1))


def test_precision_recall_figure_has_curve_title_and_operating_point():
    """Check that the PR figure draws the curve, AP in the title, operating point."""
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    y, p = _imbalanced(0)
    fig = plot_precision_recall(y, p, threshold=0.5)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 1
    ap = sklearn_metrics.average_precision_score(y, p)
    assert fig.axes[0].get_title() == f"Precision-recall (AP = {ap:.3f})"

    (curve,) = _by_gid(fig, "pr_curve")
    precision, recall, _ = sklearn_metrics.precision_recall_curve(y, p)
    np.testing.assert_allclose(
        sorted(zip(curve.get_xdata(), curve.get_ydata(), strict=True)),
        sorted(zip(recall, precision, strict=True)),
    )

    (point,) = _by_gid(fig, "operating_point")
    pred = (p >= 0.5).astype(int)
    assert point.get_xdata()[0] == pytest.approx(sklearn_metrics.recall_score(y, pred))
    assert point.get_ydata()[0] == pytest.approx(
        sklearn_metrics.precision_score(y, pred)
    )


def test_precision_recall_without_threshold_marks_no_point():
    """Check that no operating point is drawn when threshold is None."""
    y, p = _imbalanced(1)
    fig = plot_precision_recall(y, p)
    gids = {a.get_gid() for a in fig.axes[0].get_children()}
    assert "pr_curve" in gids
    assert "operating_point" not in gids


def test_cost_curve_minimum_matches_brute_force_small_array():
    """Check that the cost curve's minimum equals a brute-force threshold search."""
    y = np.array([0, 0, 1, 0, 1, 0, 0, 1, 0, 0])
    p = np.array([0.05, 0.2, 0.2, 0.3, 0.45, 0.5, 0.5, 0.8, 0.9, 0.1])
    fp_cost, fn_cost = 1.0, 3.0
    fig = plot_cost_curve(y, p, fp_cost=fp_cost, fn_cost=fn_cost, threshold=0.3)
    line = _line_by_label(fig, "total cost")

    candidates = np.r_[np.unique(p), 1.01, 0.0]
    brute = [_brute_force_cost(y, p, t, fp_cost, fn_cost) for t in candidates]
    assert min(line.get_ydata()) == pytest.approx(min(brute))
    # Hand-checked: threshold 0.2 -> FP 5 (0.2, 0.3, 0.5, 0.5, 0.9), FN 0 -> 5,
    # while 0.45 -> FP 3, FN 1 (the positive at 0.2) -> 6.
    assert min(brute) == 5.0
    assert line.get_ydata()[np.argmin(line.get_ydata())] == 5.0
    assert line.get_xdata()[np.argmin(line.get_ydata())] in (0.0, 0.2)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize(("fp_cost", "fn_cost"), [(1.0, 1.0), (1.0, 20.0), (5.0, 0.5)])
def test_cost_curve_every_step_matches_brute_force(seed, fp_cost, fn_cost):
    """Check that the cost of every step, at its cut and inside it, equals a
    brute-force count."""
    y, p = _imbalanced(seed, n=120)
    thresholds, costs = _cost_steps(y, p, fp_cost=fp_cost, fn_cost=fn_cost)
    assert np.all(np.diff(thresholds) > 0)
    assert thresholds.size == np.unique(p).size + 1
    expected = [_brute_force_cost(y, p, t, fp_cost, fn_cost) for t in thresholds]
    np.testing.assert_allclose(costs, expected)
    # The first step predicts everything positive, the last everything negative.
    assert costs[0] == fp_cost * (y == 0).sum()
    assert costs[-1] == fn_cost * y.sum()
    # Between two distinct scores, the cost is the one at the upper score.
    inside = (thresholds[:-1] + thresholds[1:]) / 2
    np.testing.assert_allclose(
        [_brute_force_cost(y, p, t, fp_cost, fn_cost) for t in inside], costs[1:])

    fig = plot_cost_curve(y, p, fp_cost=fp_cost, fn_cost=fn_cost, threshold=0.5)
    line = _line_by_label(fig, "total cost")
    assert line.get_drawstyle() == "steps-pre"
    assert min(line.get_ydata()) == pytest.approx(min(expected))


def test_cost_curve_counts_come_from_the_search_threshold_module():
    """Check that the figure's steps are the cuts of
    autoimb.pipeline.threshold.cost_curve, the function the search chooses its
    thresholds with."""
    from autoimb.pipeline.threshold import cost_curve

    y, p = _imbalanced(7, n=80)
    cuts, tp, fp = cost_curve(y, p, position=1.0)
    thresholds, costs = _cost_steps(y, p, fp_cost=1.0, fn_cost=9.0)
    np.testing.assert_allclose(thresholds[:-1], cuts[1:][::-1])
    np.testing.assert_allclose(thresholds[:-1], np.unique(p))
    np.testing.assert_allclose(costs, (fp + 9.0 * (tp[-1] - tp))[::-1])


def test_cost_curve_marks_chosen_bayes_and_trivial():
    """Check that chosen and Bayes thresholds and the trivial cost are drawn right."""
    y, p = _imbalanced(4)
    fp_cost, fn_cost, threshold = 2.0, 18.0, 0.37
    fig = plot_cost_curve(y, p, fp_cost=fp_cost, fn_cost=fn_cost, threshold=threshold)

    (chosen,) = _by_gid(fig, "chosen_threshold")
    assert set(chosen.get_xdata()) == {threshold}
    chosen_cost = _brute_force_cost(y, p, threshold, fp_cost, fn_cost)
    assert f"{chosen_cost:.4g}" in chosen.get_label()
    assert "0.37" in chosen.get_label()

    (bayes,) = _by_gid(fig, "bayes_threshold")
    np.testing.assert_allclose(bayes.get_xdata(), [0.1, 0.1])

    (trivial,) = _by_gid(fig, "trivial_cost")
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    expected = min(n_neg * fp_cost, n_pos * fn_cost)
    assert set(trivial.get_ydata()) == {expected}
    assert trivial.get_linestyle() == "--"

    (minimum,) = _by_gid(fig, "minimum_cost")
    assert minimum.get_ydata()[0] == min(_line_by_label(fig, "total cost").get_ydata())
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(lbl.startswith("chosen threshold") for lbl in labels)


def test_cost_curve_handles_large_input_quickly():
    """Check that 300k scores' cost curve is computed without a threshold loop."""
    import time

    rng = np.random.default_rng(5)
    y = (rng.random(300_000) < 0.02).astype(int)
    p = rng.random(300_000)
    start = time.perf_counter()
    fig = plot_cost_curve(y, p, fp_cost=1.0, fn_cost=10.0, threshold=0.5)
    elapsed = time.perf_counter() - start
    line = _line_by_label(fig, "total cost")
    assert len(line.get_xdata()) == np.unique(p).size + 2
    # A loop over 300k thresholds, each O(n), would take hours; sorting takes ms.
    assert elapsed < 5.0
    assert line.get_ydata()[0] == (y == 0).sum() * 1.0


def test_reliability_plots_both_curves_and_diagonal():
    """Check that the reliability diagram has the diagonal and per-bin rates."""
    y = np.array([0, 0, 0, 1, 0, 1, 1, 1])
    raw = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9])
    cal = np.array([0.05, 0.1, 0.15, 0.2, 0.7, 0.75, 0.8, 0.85])
    fig = plot_reliability(y, raw, cal, n_bins=2)

    (diag,) = _by_gid(fig, "diagonal")
    assert list(diag.get_xdata()) == [0, 1]
    assert list(diag.get_ydata()) == [0, 1]

    (before,) = _by_gid(fig, "before_calibration")
    # Two quantile bins of four samples each.
    np.testing.assert_allclose(before.get_xdata(), [0.25, 0.75])
    np.testing.assert_allclose(before.get_ydata(), [0.25, 0.75])
    (after,) = _by_gid(fig, "after_calibration")
    np.testing.assert_allclose(after.get_xdata(), [0.125, 0.775])
    np.testing.assert_allclose(after.get_ydata(), [0.25, 0.75])

    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    brier_raw = np.mean((raw - y) ** 2)
    assert f"before calibration (Brier {brier_raw:.4f})" in labels


def test_reliability_with_tied_scores_uses_fewer_bins():
    """Check that constant scores give one point instead of empty bins or an error."""
    y = np.array([0, 1, 0, 1])
    p = np.full(4, 0.5)
    fig = plot_reliability(y, p, p, n_bins=10)
    (before,) = _by_gid(fig, "before_calibration")
    assert list(before.get_xdata()) == [0.5]
    assert list(before.get_ydata()) == [0.5]


def test_figure_to_png_returns_png_bytes_of_the_figure_size():
    """Check that figure_to_png returns a decodable PNG of figsize * dpi pixels."""
    import matplotlib.image

    y, p = _imbalanced(6)
    fig = plot_precision_recall(y, p, threshold=0.4)
    fig.set_size_inches(4, 3)
    data = figure_to_png(fig, dpi=50)
    assert data[:8] == PNG_MAGIC == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(io.BytesIO(data), format="png")
    assert image.shape[:2] == (150, 200)
    # Not a blank canvas: something was drawn.
    assert image.std() > 0.01


def test_figure_to_png_rejects_non_figures():
    """Check that figure_to_png names the wrong type it was given."""
    with pytest.raises(TypeError, match="got dict"):
        figure_to_png({})


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([0, 1, 2], [0.1, 0.2, 0.3], r"only 0 and 1.*\[0, 1, 2\]"),
        ([0, 1], [0.1, 0.2, 0.3], "y_true has 2 samples but proba has 3"),
        ([0, 1], [0.1, float("nan")], "1 non-finite value"),
        ([[0, 1]], [[0.1, 0.2]], "must be 1-D"),
        ([], [], "empty"),
    ],
)
def test_invalid_scores_raise_with_the_value_and_fix(y, p, message):
    """Check that bad targets or scores raise AutoImbError naming the problem."""
    with pytest.raises(AutoImbError, match=message):
        plot_precision_recall(np.array(y), np.array(p))
    with pytest.raises(AutoImbError, match=message):
        plot_cost_curve(np.array(y), np.array(p), fp_cost=1, fn_cost=1, threshold=0.5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fp_cost": -1, "fn_cost": 1}, r"fp_cost=-1 is invalid"),
        ({"fp_cost": 1, "fn_cost": float("inf")}, r"fn_cost=inf is invalid"),
        ({"fp_cost": "a", "fn_cost": 1}, r"fp_cost='a' is not a number"),
        ({"fp_cost": 0, "fn_cost": 0}, "both 0"),
    ],
)
def test_invalid_costs_raise(kwargs, message):
    """Check that negative, infinite, non-numeric or all-zero costs are refused."""
    with pytest.raises(AutoImbError, match=message):
        plot_cost_curve(np.array([0, 1]), np.array([0.2, 0.8]), threshold=0.5, **kwargs)


def test_invalid_n_bins_raise():
    """Check that plot_reliability refuses a non-integer or zero n_bins."""
    y, p = np.array([0, 1]), np.array([0.2, 0.8])
    with pytest.raises(AutoImbError, match="n_bins=0"):
        plot_reliability(y, p, p, n_bins=0)
    with pytest.raises(AutoImbError, match=r"n_bins=2\.5"):
        plot_reliability(y, p, p, n_bins=2.5)


def _env_without_backend() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO), env.get("PYTHONPATH")])
    )
    return env


def test_importing_does_not_touch_pyplot_or_the_backend():
    """Check that importing the plotting and dashboard modules selects no backend."""
    code = (
        "import sys, matplotlib\n"
        "before = matplotlib.rcParams._get_backend_or_none()\n"
        "import autoimb.explain.figures as figures\n"
        "import autoimb.explain.notes, autoimb.explain.dashboard\n"
        "import numpy as np\n"
        "figures.figure_to_png(figures.plot_precision_recall("
        "np.array([0, 1]), np.array([0.2, 0.7])))\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
        "after = matplotlib.rcParams._get_backend_or_none()\n"
        "assert before == after, (before, after)\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=_env_without_backend(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
