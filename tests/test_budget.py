"""The time budget: the deadline covers the search and the refit."""

import time

import numpy as np
import pytest
from sklearn.datasets import make_classification

import autoimb
from autoimb.pipeline.strategy import Strategy
from autoimb.search.budget import Budget, strategy_size


def test_predict_scales_with_size_and_family():
    """Check that a trial's duration is predicted from its own family scaled by
    size, and from another family by their rough relative cost."""
    budget = Budget(60.0)
    assert budget.predict("lightgbm", 1.0) == 0.0  # nothing known yet
    budget.record("lightgbm", 1.0, 2.0, 0.4, is_best=True)
    budget.record("lightgbm", 3.0, 6.6, 1.3, is_best=False)
    assert budget.predict("lightgbm", 2.0) == pytest.approx(np.median([4.0, 4.4]))
    assert budget.predict("random_forest", 1.0) > budget.predict("lightgbm", 1.0)
    # another family's time, scaled by the rough relative cost, and doubled
    assert budget.predict("hist_gradient_boosting", 1.0) == pytest.approx(
        2.0 * np.median([2.0, 2.2]))


def test_reserve_keeps_time_for_the_refit_of_the_best():
    """Check that the reserve grows with the best trials' fold time and that work
    is allowed only if it ends before the deadline minus the reserve."""
    budget = Budget(10.0)
    empty = budget.reserve
    budget.record("hist_gradient_boosting", 1.0, 5.0, 2.0, is_best=True)
    assert budget.reserve == pytest.approx(empty + 2.0 * budget.refit_factor)
    assert budget.allows(1.0) and not budget.allows(9.0)
    assert Budget(None).allows(1e9) and Budget(None).reserve == 0.0


def test_strategy_size_reads_trees_or_iterations():
    """Check that size is hundreds of trees, or of boosting iterations, else 1."""
    assert strategy_size(Strategy("lightgbm", {"n_estimators": 300})) == 3.0
    assert strategy_size(Strategy("hist_gradient_boosting", {"max_iter": 50})) == 0.5
    assert strategy_size(Strategy("logistic_regression", {"C": 1.0})) == 1.0


def test_fit_keeps_its_timeout():
    """Check that fit with a timeout returns close to it, refit included, and runs
    several trials (a loose bound: the benchmark measures the contract)."""
    X, y = make_classification(n_samples=4000, n_features=20, weights=[0.93],
                               random_state=0)
    start = time.perf_counter()
    model = autoimb.fit(X, y, timeout=12, storage="memory", random_state=0,
                        show_progress_bar=False)
    elapsed = time.perf_counter() - start
    assert elapsed < 12 * 1.5
    assert (model.results_.state == "COMPLETE").sum() >= 2



def test_predict_adds_the_resampler_time():
    """Check that a neighbour-based resampler's own time is added to the model's
    (from its own runs once it ran, the slowest trial so far before), and that
    a cheap resampler adds nothing."""
    budget = Budget(60.0)
    budget.record("lightgbm", 1.0, 2.0, 0.4, is_best=True)
    budget.record("lightgbm", 1.0, 12.0, 0.4, is_best=False, resampler="smote_enn",
                  resample_seconds=10.0, resample_runs=[(None, 10.0)])
    assert budget.predict("lightgbm", 1.0) == pytest.approx(2.0)
    assert budget.predict("lightgbm", 1.0, "random_under") == pytest.approx(2.0)
    assert budget.predict("lightgbm", 1.0, "smote_enn") == pytest.approx(12.0)
    assert budget.predict("lightgbm", 1.0, "adasyn") == pytest.approx(2.0 + 12.0)


def test_resampler_time_grows_with_the_square_of_the_rows_above_its_runs():
    """Check that a resampler's time per fold is scaled from its largest run
    with known rows: by the square of the rows above it (a neighbour search over
    duplicated rows grows so), linearly below it, and once per fold."""
    budget = Budget(60.0)
    budget.record("lightgbm", 1.0, 2.0, 0.4, is_best=True)
    budget.record_resampling("tomek_links", [(1_000, 0.1), (4_000, 0.8)])
    assert not budget.needs_measuring("tomek_links")
    assert budget.needs_measuring("smote_enn")
    assert not budget.needs_measuring("random_under")  # never worth timing
    assert budget.predict("lightgbm", 1.0, "tomek_links", rows=8_000) == \
        pytest.approx(2.0 + 0.8 * 4)
    assert budget.predict("lightgbm", 1.0, "tomek_links", rows=2_000, folds=3) == \
        pytest.approx(2.0 + 3 * 0.4)
    budget.record_resampling("random_over", [(1_000, 5.0)])  # cheap: never counted
    assert budget.predict("lightgbm", 1.0, "random_over", rows=8_000) == 2.0


def test_a_resampler_records_its_time():
    """Check that the resampling step reports the seconds it took."""
    from autoimb.pipeline.resampling import AdaptiveResampler

    X, y = make_classification(n_samples=500, weights=[0.9], random_state=0)
    resampler = AdaptiveResampler("smote", sampling_ratio=0.5, k_neighbors=5,
                                  random_state=0)
    resampler.fit_resample(X, y)
    assert 0.0 < resampler.summary_["seconds"] < 10.0


def test_the_budget_answers_every_question_about_time():
    """Check the budget's answers: a trial is refused when its predicted time
    (twice it on one split) passes the time for trials, and the reason says
    so; the rest of a trial's folds is refused at the pace of those done; the
    wait for other workers' trials ends with the trials' grace; the refit
    allowance is a share of the timeout, none without one."""
    budget = Budget(100.0)
    budget.record("lightgbm", 1.0, 30.0, 6.0, is_best=True)
    left = budget.remaining() - budget.reserve
    assert budget.refuses_trial("lightgbm", 1.0, folds=5) is None
    assert budget.refuses_trial("lightgbm", left / 30.0 + 0.1, folds=5) \
        .startswith("it would take about")
    one_split = budget.refuses_trial("lightgbm", 0.6 * left / 30.0, folds=1)
    assert one_split is not None and "needs 2 times that" in one_split
    assert budget.refuses_folds(10.0, done=1, total=5) is None
    assert budget.refuses_folds(50.0, done=1, total=5) == (
        "after fold 1 of 5, the other folds (about 200 s) would overrun the budget")
    assert budget.refuses_folds(80.0, done=5, total=5) is None  # nothing left
    assert budget.wait_for_others(1e6) == pytest.approx(left + 5.0, abs=0.1)
    assert Budget(None).wait_for_others(3.0) == 16.0
    assert not budget.trials_over() and Budget(1e-9).trials_over()
    assert not Budget(None).trials_over()
    assert Budget.refit_allowance(60.0) == pytest.approx(6.0)
    assert Budget.refit_allowance(None) is None
