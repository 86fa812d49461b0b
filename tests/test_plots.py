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
    plot_search_history,
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
    # Two bins of two positives each: cut at the median positive score, 0.75
    # (raw) and 0.775 (calibrated), six rows below and two above.
    np.testing.assert_allclose(before.get_xdata(), [2.3 / 6, 0.85])
    np.testing.assert_allclose(before.get_ydata(), [2 / 6, 1.0])
    (after,) = _by_gid(fig, "after_calibration")
    np.testing.assert_allclose(after.get_xdata(), [1.95 / 6, 0.825])
    np.testing.assert_allclose(after.get_ydata(), [2 / 6, 1.0])

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


def test_reliability_at_low_prevalence_spreads_its_points_where_positives_are():
    """Check that on 2% prevalence most reliability points lie above the
    prevalence, where the positives' scores are, each bin resting on about the
    same number of positives; bins of equal widths or equal row counts put
    nearly all of them in a heap at the bottom left."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=20_000)
    p = 1 / (1 + np.exp(-(2.0 * z - 5.5)))  # calibrated, about 2% positives
    y = (rng.random(z.size) < p).astype(int)
    prevalence = y.mean()
    assert 0.01 < prevalence < 0.04
    fig = plot_reliability(y, p, p, n_bins=10)
    (after,) = _by_gid(fig, "after_calibration")
    x = np.asarray(after.get_xdata())
    assert x.size == 10
    assert np.sum(x > 2 * prevalence) >= 7, x
    # Each bin holds about a tenth of the positives.
    edges = np.quantile(p[y == 1], np.linspace(0, 1, 11))[1:-1]
    per_bin = np.bincount(np.searchsorted(edges, p[y == 1], side="right"))
    assert per_bin.min() >= 0.8 * y.sum() / 10


def _history(values, *, minimize=True):
    values = np.asarray(values, dtype=float)
    return plot_search_history(np.arange(values.size), values, minimize=minimize,
                               metric="cost" if minimize else "AP")


def test_search_history_leaves_a_far_outlier_trial_off_its_axis():
    """Check that one trial at 14,000 among trials near 600 does not stretch the
    value axis: the axis spans the other trials, the best-so-far line fills a
    readable part of it, and the outlier is marked on the top edge with a note
    of how many trials are above and how far they go."""
    rng = np.random.default_rng(0)
    values = 600 + 40 * rng.random(30)
    values[[5, 12, 20]] = [590, 580, 570]
    values[3] = 14_000
    fig = _history(values)
    ax = fig.axes[0]
    bottom, top = ax.get_ylim()
    assert bottom <= 570 and 640 <= top < 700
    (best,) = _by_gid(fig, "best_so_far")
    best_y = np.asarray(best.get_ydata())
    # Outside the outlier (trial 3 is not the best so far at any point) the
    # best-so-far steps take at least a third of the axis's height.
    assert (best_y.max() - best_y.min()) / (top - bottom) > 1 / 3
    (dots,) = _by_gid(fig, "trials")
    assert 14_000 not in dots.get_ydata() and len(dots.get_ydata()) == 29
    (far,) = _by_gid(fig, "outliers")
    assert list(far.get_xdata()) == [3]
    (note,) = _by_gid(fig, "outlier_note")
    assert note.get_text() == "1 trial above, up to 14,000"


def test_search_history_outliers_of_a_maximized_value_sit_below():
    """Check that for a value to maximize (AP) the far-low trials are the
    outliers, marked on the bottom edge, and the axis spans the others."""
    values = np.r_[np.linspace(0.60, 0.70, 12), 0.02, 0.01]
    fig = _history(values, minimize=False)
    bottom, top = fig.axes[0].get_ylim()
    assert 0.5 < bottom <= 0.60 and top >= 0.70
    (note,) = _by_gid(fig, "outlier_note")
    assert note.get_text() == "2 trials below, down to 0.01"


def test_search_history_without_outliers_shows_every_trial():
    """Check that trials of comparable values all stay on the axis, unmarked."""
    values = np.r_[600.0, 640, 620, 700, 590, 610, 900]
    fig = _history(values)
    bottom, top = fig.axes[0].get_ylim()
    assert bottom < 590 and top > 900
    assert not [a for a in fig.axes[0].get_children() if a.get_gid() == "outliers"]


def test_cost_curve_zooms_on_the_low_costs_around_the_chosen_threshold():
    """Check that the cost axis is not stretched by the costs of predicting
    everything positive or negative (a hundred times the lowest): the view
    holds the minimum, the chosen and the Bayes thresholds, and its top is a
    few times the costs of interest, with a note of how high the curve goes."""
    rng = np.random.default_rng(1)
    z = rng.normal(size=5_000)
    p = 1 / (1 + np.exp(-(2.5 * z - 6.0)))
    y = (rng.random(z.size) < p).astype(int)
    fp_cost, fn_cost, threshold = 10.0, 500.0, 0.05
    fig = plot_cost_curve(y, p, fp_cost=fp_cost, fn_cost=fn_cost, threshold=threshold)
    ax = fig.axes[0]
    line = _line_by_label(fig, "total cost")
    high, low = max(line.get_ydata()), min(line.get_ydata())
    bottom, top = ax.get_ylim()
    assert bottom <= low and top < high / 2
    chosen = _brute_force_cost(y, p, threshold, fp_cost, fn_cost)
    bayes = _brute_force_cost(y, p, fp_cost / (fp_cost + fn_cost), fp_cost, fn_cost)
    assert top >= max(chosen, bayes)
    left, right = ax.get_xlim()
    (minimum,) = _by_gid(fig, "minimum_cost")
    for x in (threshold, fp_cost / (fp_cost + fn_cost), minimum.get_xdata()[0]):
        assert left < x < right
    assert right < 0.8  # the neighbourhood of the thresholds, not all of [0, 1]
    (note,) = _by_gid(fig, "zoom_note")
    assert f"{high:,.0f}" in note.get_text()


def test_cost_curve_shows_both_lines_when_the_chosen_threshold_is_bayes():
    """Check that when the chosen threshold is the Bayes one, the Bayes line is
    drawn dashed on top of a thicker chosen line (so both show) and the legend
    says they are the same; the lowest point is labelled as found in hindsight."""
    y, p = _imbalanced(4)
    fp_cost, fn_cost = 1.0, 9.0
    fig = plot_cost_curve(y, p, fp_cost=fp_cost, fn_cost=fn_cost,
                          threshold=fp_cost / (fp_cost + fn_cost))
    (chosen,) = _by_gid(fig, "chosen_threshold")
    (bayes,) = _by_gid(fig, "bayes_threshold")
    assert bayes.get_zorder() > chosen.get_zorder()
    assert bayes.get_linestyle() == "--"
    assert chosen.get_linewidth() > 2 * bayes.get_linewidth()
    assert "chosen = Bayes" in bayes.get_label()
    (minimum,) = _by_gid(fig, "minimum_cost")
    assert "in hindsight" in minimum.get_label()
    # Apart, each keeps its own look and its own cost in the legend.
    fig = plot_cost_curve(y, p, fp_cost=fp_cost, fn_cost=fn_cost, threshold=0.5)
    (chosen,) = _by_gid(fig, "chosen_threshold")
    (bayes,) = _by_gid(fig, "bayes_threshold")
    assert "chosen = Bayes" not in bayes.get_label()
    bayes_cost = _brute_force_cost(y, p, 0.1, fp_cost, fn_cost)
    assert f"cost {bayes_cost:.4g}" in bayes.get_label()


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


def test_search_history_ticks_are_whole_trial_numbers():
    """Check that the trial-number axis has no tick at 2.5 or 7.5."""
    fig = _history(np.linspace(600, 500, 20))
    ticks = fig.axes[0].get_xticks()
    assert len(ticks) >= 3 and np.all(ticks == np.round(ticks))
