"""The search loop's shared context: what it keeps of each trial, and how a
trial is kept within the budget."""

import gc
import os
import re
import weakref
from types import SimpleNamespace

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.datasets import make_classification

from autoimb import AutoImbWarning, load_search_space
from autoimb.pipeline.evaluation import PostProcessing
from autoimb.pipeline.objective import Objective
from autoimb.pipeline.preprocessing import ColumnKinds
from autoimb.search import memory as _memory
from autoimb.search import trials as _search
from autoimb.search.budget import Budget
from autoimb.search.folds import Validation, make_folds
from autoimb.search.memory import TrialMemory
from autoimb.search.trials import (
    CACHED_TRIALS,
    SearchContext,
    make_objective,
    trial_size,
)


def _context(objective, holdout=True):
    y = np.r_[np.zeros(900, dtype=int), np.ones(100, dtype=int)]
    validation = (Validation("holdout", 1, 0.2) if holdout
                  else Validation("kfold", 5, 0.2))
    return SearchContext(
        X=np.zeros((len(y), 1)), y=y, kinds=ColumnKinds((), ("a",)),
        folds=make_folds(validation, y, seed=0), objective=objective,
        space=load_search_space("fast"), model_seed=0)


def _trial(number):
    """What the score store needs of a trial: its number and storage id."""
    return SimpleNamespace(number=number, _trial_id=number)


def _post(value, n):
    return PostProcessing(proba=np.zeros(n, dtype=np.float32),
                          pred=np.zeros(n, dtype=bool), value=value)


def test_the_cache_keeps_the_scored_rows_of_the_best_trials():
    """Check that the out-of-fold cache holds only the scored rows (a holdout's
    fifth) and only the best CACHED_TRIALS trials, by the objective's direction."""
    for objective, best in [(Objective("cost", 1.0, 9.0), "low"),
                            (Objective("average_precision", 1.0, 1.0), "high")]:
        context = _context(objective)
        n_scored = int(context.scored.sum())
        assert n_scored == 200
        values = np.random.default_rng(0).permutation(CACHED_TRIALS + 20)
        for number, value in enumerate(values):
            scores = np.full(len(context.y), np.nan)
            scores[context.scored] = 0.5
            context.keep_scores(_trial(number), scores, _post(float(value), n_scored))
        cache = context.oof_cache
        assert len(cache) == CACHED_TRIALS
        kept = sorted(float(post.value) for _, post in cache.values())
        expected = (list(range(CACHED_TRIALS)) if best == "low"
                    else list(range(20, CACHED_TRIALS + 20)))
        assert kept == expected
        scores, _ = next(iter(cache.values()))
        assert scores.dtype == np.float32 and scores.shape == (n_scored,)
        assert not np.isnan(scores).any()


def test_the_cache_keeps_fewer_trials_when_many_rows_are_scored(monkeypatch):
    """Check that the cache holds at most about CACHED_VALUES scores (here 200
    scored rows and a cap of 4,000 values: the best 20 trials), and never fewer
    than MIN_CACHED_TRIALS trials."""
    monkeypatch.setattr(_search, "CACHED_VALUES", 4_000)
    context = _context(Objective("cost", 1.0, 9.0))
    assert context.cached_trials == 20
    for number, value in enumerate(np.random.default_rng(0).permutation(60)):
        context.keep_scores(_trial(number), np.full(len(context.y), 0.5),
                            _post(float(value), 200))
    assert sorted(post.value for _, post in context.oof_cache.values()) == \
        list(range(20))
    monkeypatch.setattr(_search, "CACHED_VALUES", 10)
    assert _context(Objective("cost", 1.0, 9.0)).cached_trials == \
        _search.MIN_CACHED_TRIALS


def test_repeated_folds_group_post_processing_by_the_first_repeat():
    """Check that with repeated folds every row is scored and post-processing is
    cross-fitted over the first repeat's folds."""
    context = _context(Objective("cost", 1.0, 9.0), holdout=False)
    context.folds = make_folds(Validation("kfold", 5, 0.2, 3), context.y, seed=0)
    assert context.scored.all()
    assert len(context.partition) == 5
    assert sorted(np.unique(context.groups)) == [0, 1, 2, 3, 4]
    for k, (_, test) in enumerate(context.partition):
        assert (context.groups[test] == k).all()


# -- a resampler's time on large folds ----------------------------------------------

SMOTE_ENN_SPACE = {
    "models": {"logistic_regression": {"C": 1.0, "class_weight": ["none"]}},
    "resampling": {"methods": ["smote_enn"], "ratio": 0.8, "k_neighbors": 5},
    "calibration": {"methods": ["none"]},
}


def _duplicated_rows_context(budget):
    """24,000 rows of three features with 4 values each: nearly every row has
    thousands of duplicates, the case where a neighbour search (ENN after
    SMOTE) grows with the square of the rows. Training folds of 19,200 rows
    hold about 34,000 after over-sampling to 0.8."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.integers(0, 4, size=(24_000, 3)).astype(float),
                     columns=["a", "b", "c"])
    y = (rng.random(len(X)) < 0.02).astype(int)
    return _frame_context(X, y, SMOTE_ENN_SPACE, budget, folds=5, fn_cost=49.0)


def _frame_context(X, y, space, budget, *, folds, fn_cost):
    """A search over a numeric frame: ``folds`` stratified folds, the cost
    objective with fp_cost 1."""
    return SearchContext(
        X=X, y=y, kinds=ColumnKinds((), tuple(X.columns)),
        folds=make_folds(Validation("kfold", folds, 0.2), y, seed=0),
        objective=Objective("cost", 1.0, fn_cost),
        space=load_search_space(space), model_seed=0, budget=budget)


def _one_trial(context):
    study = optuna.create_study()
    study.optimize(make_objective(context), n_trials=1)
    return study.trials[0]

SLOW_FOREST_SPACE = {
    "models": {"random_forest": {"n_estimators": 500, "max_depth": 30,
                                 "min_samples_leaf": 1, "max_features": 1.0,
                                 "class_weight": ["none"]}},
    "resampling": {"methods": ["none"]},
    "calibration": {"methods": ["none"]},
}


# pytest-timeout's default method uses SIGALRM, which stop_at then leaves alone.
@pytest.mark.timeout(600, method="thread")
def test_a_fold_that_runs_past_the_time_for_trials_is_stopped_part_way():
    """Check that a trial whose first fold alone takes far longer than the
    budget (500 deep trees; nothing ran before, so nothing predicted it) is
    stopped in the middle of that fold, soon after the time for trials plus the
    5 % grace (Budget.hard_stop), and pruned saying so; and that the SIGALRM
    handler and timer are as they were."""
    import signal
    import time

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(20_000, 10)), columns=list("abcdefghij"))
    y = (X["a"] + rng.normal(size=len(X)) > 2.5).astype(int).to_numpy()
    budget = Budget(3.0)
    context = _frame_context(X, y, SLOW_FOREST_SPACE, budget, folds=3, fn_cost=9.0)
    start = time.perf_counter()
    trial = _one_trial(context)
    elapsed = time.perf_counter() - start
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert trial.user_attrs["pruned_reason"] == (
        "stopped in fold 1 of 3: the budget's time for trials ran out")
    assert elapsed < 3.0 + 2.0  # the hard stop is at about 2 s; a fold, 20 s or more
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)



# pytest-timeout's default method uses SIGALRM, which stop_at then leaves alone.
@pytest.mark.timeout(600, method="thread")
def test_a_fold_in_one_long_native_call_is_stopped_part_way():
    """Check that a fold whose neighbour search is one native call of several
    seconds (SMOTE + ENN on rows of 4 distinct values, as on kddcup_http), which
    the budget wrongly predicted cheap, is stopped at the hard stop rather than
    when the call returns, and pruned saying so."""
    import threading
    import time

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.integers(0, 2, size=(50_000, 2)).astype(float),
                     columns=["a", "b"])
    y = (rng.random(len(X)) < 0.05).astype(int)
    budget = Budget(2.0)  # the hard stop: about 1 s from the start
    budget.record_resampling("smote_enn", [(100_000, 0.01)])  # "cheap"
    context = _frame_context(X, y, SMOTE_ENN_SPACE, budget, folds=5, fn_cost=19.0)
    start = time.perf_counter()
    trial = _one_trial(context)
    stopped = time.perf_counter() - start
    for helper in [t for t in threading.enumerate() if t.name == "autoimb-fold"]:
        helper.join()
    finished = time.perf_counter() - start
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert trial.user_attrs["pruned_reason"] == (
        "stopped in fold 1 of 5: the budget's time for trials ran out")
    assert stopped < 2.0
    assert finished > stopped + 2.0  # the fold's own call: several seconds more

def test_an_untried_resampler_is_timed_on_a_sample_before_a_large_trial():
    """Check that before the first trial of SMOTE + ENN on large folds its time
    is measured on an eighth of a fold, and that the trial is not started when
    that time, scaled to the fold by the square of the rows, overruns the budget
    (the slowest trial so far, the old guess, would have let it start)."""
    budget = Budget(1.6)  # 0.5 s left once the reserve is kept
    budget.record("logistic_regression", 1.0, 0.01, 0.002, is_best=True)
    context = _duplicated_rows_context(budget)
    strategy = context.space.suggest(optuna.create_study().ask(),
                                     has_categorical=False, has_numeric=True)
    _, fold_rows = trial_size(strategy, context)
    untimed = budget.predict("logistic_regression", 1.0, "smote_enn",
                             rows=fold_rows, folds=5)
    assert budget.allows(untimed)  # the old guess: the slowest trial so far
    trial = _one_trial(context)

    assert trial.state == optuna.trial.TrialState.PRUNED
    assert "it would take about" in trial.user_attrs["pruned_reason"]
    [(rows, seconds)] = budget._resamples["smote_enn"]
    train = len(context.folds[0][0])
    assert rows == pytest.approx(train / 8 * 1.8 / 1.02, rel=0.05)
    assert seconds > 0
    assert fold_rows == pytest.approx(8 * rows, rel=0.01)
    assert budget.predict("logistic_regression", 1.0, "smote_enn",
                          rows=8 * rows, folds=5) == pytest.approx(
        0.01 + 5 * 64 * seconds)


def test_a_trial_records_its_resampler_runs_with_their_rows():
    """Check that a finished trial records one run of its resampler per fold,
    with the rows after over-sampling, next to the run on the sample."""
    budget = Budget(600.0)
    budget.record("logistic_regression", 1.0, 0.01, 0.002, is_best=True)
    context = _duplicated_rows_context(budget)
    trial = _one_trial(context)

    assert trial.state == optuna.trial.TrialState.COMPLETE
    runs = budget._resamples["smote_enn"]
    assert len(runs) == 1 + 5
    sample, *folds = runs
    for k, (rows, seconds) in enumerate(folds):
        n_pos = int(context.y[context.folds[k][0]].sum())
        n_neg = len(context.folds[k][0]) - n_pos
        assert rows == n_neg + round(0.8 * n_neg)
        assert seconds > 0
    assert sample[0] < min(rows for rows, _ in folds) / 7


def test_a_trial_holds_one_fitted_pipeline_at_a_time(monkeypatch):
    """Check that when a fold's pipeline is fitted, no earlier fold's fitted
    pipeline is still alive: the trial keeps its resampling summary, not its
    model (five folds of a deep random forest would otherwise be held at once:
    over 1 GB on diabetes_readmit30)."""
    from autoimb.pipeline.strategy import Strategy

    made, alive_at_fit = [], []
    original = Strategy.make_pipeline

    def tracked(self, *args, **kwargs):
        pipeline = original(self, *args, **kwargs)
        fit = pipeline.fit

        def counting_fit(*fit_args, **fit_kwargs):
            gc.collect()
            alive_at_fit.append(sum(ref() is not None for ref in made[:-1]))
            return fit(*fit_args, **fit_kwargs)

        pipeline.fit = counting_fit
        made.append(weakref.ref(pipeline))
        return pipeline

    monkeypatch.setattr(Strategy, "make_pipeline", tracked)
    rng = np.random.default_rng(0)
    y = (rng.random(1_000) < 0.1).astype(int)
    X = pd.DataFrame({"a": rng.normal(size=len(y)) + y, "b": rng.normal(size=len(y))})
    context = SearchContext(
        X=X, y=y, kinds=ColumnKinds((), ("a", "b")),
        folds=make_folds(Validation("kfold", 5, 0.2), y, seed=0),
        objective=Objective("cost", 1.0, 9.0), space=load_search_space("fast"),
        model_seed=0)
    trial = _one_trial(context)

    assert trial.state == optuna.trial.TrialState.COMPLETE
    assert alive_at_fit == [0] * 5


def test_the_cache_never_drops_the_prior_default():
    """Check that the trials in ``kept`` (the portfolio's balanced random forest,
    which the final choice prefers within noise) stay cached even when they are
    the worst, and that the cache still holds ``CACHED_TRIALS`` in all."""
    objective = Objective("cost", 1.0, 9.0)
    context = _context(objective)
    context.kept = {0}
    n_scored = int(context.scored.sum())
    for number in range(CACHED_TRIALS + 20):  # trial 0 is the worst by far
        value = 1e6 if number == 0 else float(number)
        context.keep_scores(_trial(number), np.full(len(context.y), 0.5),
                            _post(value, n_scored))
    assert 0 in context.oof_cache
    assert len(context.oof_cache) == CACHED_TRIALS
    assert CACHED_TRIALS - 1 in context.oof_cache
    assert CACHED_TRIALS not in context.oof_cache


OVERSAMPLING_SPACE = {
    "models": {"logistic_regression": {"C": 1.0, "class_weight": ["none"]}},
    "resampling": {"methods": ["random_over"], "ratio": 1.0},
    "calibration": {"methods": ["none"]},
}
PLAIN_SPACE = {**OVERSAMPLING_SPACE, "resampling": {"methods": ["none"]}}


def _oversampling_context(space, memory=None):
    """20,000 rows of 10 float columns, 5 % positives: over-sampling to ratio
    1 makes 1.9 times the training rows."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(20_000, 10)), columns=list("abcdefghij"))
    y = (rng.random(len(X)) < 0.05).astype(int)
    context = _frame_context(X, y, space, Budget(None), folds=3, fn_cost=19.0)
    if memory is not None:
        context.memory = memory
    return context


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"),
                    reason="no /proc to read the resident memory from")
def test_a_trial_records_what_it_took_per_training_row():
    """Check that a completed trial records its memory per row of a training
    fold, measured: a plain logistic regression on 13,333 rows of 10 columns
    takes some MB (its fold's float copies), well under 10 KB a row. The
    memory earlier tests freed is handed back first, so that the trial's
    copies take new pages rather than free ones already counted."""
    context = _oversampling_context(PLAIN_SPACE)
    assert context.memory.predict("logistic_regression", 1) is None
    _memory.release_free_memory()
    assert _one_trial(context).state == optuna.trial.TrialState.COMPLETE
    per_row = context.memory.predict("logistic_regression", 1)
    assert 0 < per_row * 13_333 < 130


def test_a_trial_that_needs_more_memory_than_is_left_is_not_started(monkeypatch):
    """Check that once trials took 2 KB per training row, a trial whose
    over-sampling makes 25,333 rows of a fold (about 48 MB) is pruned before
    any fold when 30 MB are left, saying why; that it runs when 70 MB are
    left (80 % of them hold it); and that with nothing recorded it runs
    whatever is left."""
    fitted = []
    original = _search.out_of_fold_scores
    monkeypatch.setattr(_search, "out_of_fold_scores",
                        lambda *a, **k: fitted.append(1) or original(*a, **k))
    monkeypatch.setattr(_memory, "available_mb", lambda: 30.0)
    memory = TrialMemory()
    memory.record("logistic_regression", rows=1_000, mb=2_000 / 1024)
    trial = _one_trial(_oversampling_context(OVERSAMPLING_SPACE, memory))

    assert trial.state == optuna.trial.TrialState.PRUNED
    assert trial.user_attrs["pruned_reason"] == (
        "its over-sampling makes 1.9 times the training rows, which would take "
        "about 49 MB (as much per row as the trials so far), more than 80% of the "
        "30 MB of memory left")
    assert fitted == []

    monkeypatch.setattr(_memory, "available_mb", lambda: 70.0)
    memory = TrialMemory()
    memory.record("logistic_regression", rows=1_000, mb=2_000 / 1024)
    context = _oversampling_context(OVERSAMPLING_SPACE, memory)
    assert _one_trial(context).state == optuna.trial.TrialState.COMPLETE

    monkeypatch.setattr(_memory, "available_mb", lambda: 1.0)
    context = _oversampling_context(OVERSAMPLING_SPACE)  # nothing recorded
    assert _one_trial(context).state == optuna.trial.TrialState.COMPLETE
    assert fitted == [1, 1]


def test_a_trial_that_adds_no_rows_runs_however_little_memory_is_left(monkeypatch):
    """Check that the memory check never stops a trial without over-sampling,
    which the number of trials at once was already chosen for: stopping every
    trial would leave the search nothing."""
    monkeypatch.setattr(_memory, "available_mb", lambda: 1.0)
    memory = TrialMemory()
    memory.record("logistic_regression", rows=1, mb=1_000.0)
    trial = _one_trial(_oversampling_context(PLAIN_SPACE, memory))
    assert trial.state == optuna.trial.TrialState.COMPLETE


def test_a_search_whose_trials_never_fit_in_memory_stops_and_says_why(monkeypatch):
    """Check that a search whose every trial over-samples more than the memory
    left holds stops after MAX_SHORT_OF_MEMORY pruned trials in a row, long
    before its 600 s budget, with a warning that names the way out; and that
    the error for a search with no completed trial gives the first pruned
    trial's reason."""
    import time
    import warnings

    from autoimb.exceptions import NoCompletedTrialError

    monkeypatch.setattr(_memory, "available_mb", lambda: 30.0)
    memory = TrialMemory()
    memory.record("logistic_regression", rows=1_000, mb=2_000 / 1024)
    context = _oversampling_context(OVERSAMPLING_SPACE, memory)
    context.budget = Budget(600.0)
    study = optuna.create_study()
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _search.run_search(study, context, n_trials=None, timeout=600.0, n_jobs=1,
                           show_progress_bar=False)
    assert time.perf_counter() - start < 60
    assert len(study.trials) == _search.MAX_SHORT_OF_MEMORY
    assert all(t.user_attrs["short_of_memory"] for t in study.trials)
    [message] = [str(w.message) for w in caught
                 if issubclass(w.category, AutoImbWarning)]
    assert re.match(r"The search stopped, \d+ s before its deadline: ", message)
    assert "its last 20 trials were skipped before they started" in message
    assert message.endswith("Give it more memory, or a search space with lower "
                            "sampling ratios or without over-sampling.")
    with pytest.raises(NoCompletedTrialError,
                       match=r"\(20 skipped\)\. First trial skipped: its "
                             r"over-sampling makes 1\.9 times"):
        _search.best_trial_or_raise(study)


def test_trials_in_a_row_short_of_memory_count_from_the_last_that_fitted():
    """Check that a trial that completes resets the count of trials in a row
    pruned for want of memory, and that other pruned trials do too."""
    class Study:
        stopped = False

        def get_trials(self, **kwargs):
            return []

        def stop(self):
            self.stopped = True

    stopper, study = _search._Stopper(None, 10, Budget(None)), Study()
    short = optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED,
                                      user_attrs={"short_of_memory": True})
    timed = optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED)
    done = optuna.trial.create_trial(value=1.0)
    for trial in [short] * 19 + [done] + [short] * 19 + [timed] + [short] * 19:
        stopper(study, trial)
    assert stopper.short_of_memory == 19
    assert not study.stopped
    with pytest.warns(AutoImbWarning, match="its last 20 trials were skipped"):
        stopper(study, short)
    assert study.stopped


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"),
                    reason="no /proc to read the resident memory from")
def test_what_a_trial_took_is_learned_by_other_processes_from_the_study(monkeypatch):
    """Check that a completed trial keeps its memory record in the study, and
    that a search with nothing recorded of its own (a worker process, or a
    search resumed) learns it from there before an over-sampling trial: with
    the record scaled up to 2 KB a row, that trial is pruned when 30 MB are
    left."""
    study = optuna.create_study()
    _memory.release_free_memory()
    study.optimize(make_objective(_oversampling_context(PLAIN_SPACE)), n_trials=1)
    kept = study.trials[0].user_attrs["memory"]
    assert kept["model"] == "logistic_regression"
    assert kept["rows"] == 13_333 and kept["mb"] > 0

    other = _oversampling_context(OVERSAMPLING_SPACE)  # nothing of its own
    study.add_trial(optuna.trial.create_trial(
        value=1.0, user_attrs={"memory": {**kept, "mb": 2_000 / 1024 * 13.333}}))
    monkeypatch.setattr(_memory, "available_mb", lambda: 30.0)
    study.optimize(make_objective(other), n_trials=1)
    trial = study.trials[-1]
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert trial.user_attrs["pruned_reason"].startswith(
        "its over-sampling makes 1.9 times the training rows, which would take about 4")


def test_the_progress_bar_shows_the_best_trial_unit_free_and_the_time_left(capsys):
    """Check that the progress bar names the best trial by number with its
    normalized cost (the unit the summary uses, whatever rows a trial was scored
    on), and the seconds left of a timed fit; with the trial's raw cost, a
    total over a holdout's fifth of the rows, it read five times lower than
    the summary's cost on large data."""
    import autoimb

    X, y = make_classification(n_samples=600, weights=[0.9], random_state=0)
    model = autoimb.fit(X, y, search_space="fast", n_trials=3, cv=3,
                        timeout=20, storage="memory", random_state=0)
    shown = capsys.readouterr().err.replace("\r", "\n").splitlines()
    last = [line for line in shown if "autoimb search" in line][-1]
    best = model.study_.best_trial
    assert f"best #{best.number}: normalized cost " \
           f"{best.user_attrs['normalized_cost']:.3f}, " in last
    assert re.search(r", \d+ s left\]", last), last


def test_under_a_time_budget_alone_the_progress_bar_fills_with_the_seconds(capsys):
    """Check that a fit with a timeout and no trial count shows the time budget
    as the bar (a total and a percentage), and how many trials finished; the
    bar over trials had no total to fill ("0trial [00:00, ?trial/s]")."""
    import autoimb

    X, y = make_classification(n_samples=600, weights=[0.9], random_state=0)
    autoimb.fit(X, y, search_space="fast", cv=3, timeout=6, storage="memory",
                random_state=0)
    shown = capsys.readouterr().err.replace("\r", "\n").splitlines()
    last = [line for line in shown if "autoimb search" in line][-1]
    assert re.search(r"autoimb search:\s+\d+%\|.*\| \d+/6 s, best #\d+: "
                     r"normalized cost [\d.]+, \d+ trials?$", last), last
    assert "?trial/s" not in "\n".join(shown)


def _small_context(budget=None):
    """600 rows of 4 float columns, 10 % positives, 3 folds, plain logistic
    regression: a trial takes a fraction of a second."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(600, 4)), columns=list("abcd"))
    y = (X["a"] + rng.normal(size=len(X)) > 1.5).astype(int).to_numpy()
    return _frame_context(X, y, PLAIN_SPACE, budget or Budget(None), folds=3,
                          fn_cost=9.0)


def test_each_way_a_trial_ends_records_its_outcome(monkeypatch):
    """Check that trials tell apart how they ended (issue 39), whatever Optuna's
    state: completed; skipped before they start (the budget or the memory
    refused them; PRUNED in Optuna); stopped by the budget between folds
    (PRUNED); pruned by the pruner (PRUNED); stopped by SIGTERM or Ctrl-C and
    queued again (FAIL in Optuna, no error); failed on an error (FAIL); and
    that the results table shows each outcome."""
    from autoimb.search.run import results_table
    from autoimb.storage.outcomes import outcome_of

    PRUNED, FAIL = optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL
    study = optuna.create_study()

    def run(context, **patches):
        before = {t.number for t in study.trials if t.state.is_finished()}
        with monkeypatch.context() as patch:
            for name, value in patches.items():
                owner, attr = name.split(".")
                patch.setattr({"budget": context.budget, "search": _search}[owner],
                              attr, value)
            try:
                study.optimize(make_objective(context), n_trials=1,
                               catch=(Exception,))
            except KeyboardInterrupt:
                pass
        [trial] = [t for t in study.trials
                   if t.state.is_finished() and t.number not in before]
        return trial

    trial = run(_small_context())
    assert (trial.state, outcome_of(trial)) == (
        optuna.trial.TrialState.COMPLETE, "completed")
    trial = run(_small_context(), **{
        "budget.refuses_trial": lambda *a, **k: "it would end after the deadline"})
    assert (trial.state, outcome_of(trial)) == (PRUNED, "skipped")
    trial = run(_small_context(), **{
        "budget.refuses_folds": lambda *a, **k: "the other folds would overrun"})
    assert (trial.state, outcome_of(trial)) == (PRUNED, "stopped")
    context = _small_context()
    with monkeypatch.context() as patch:
        patch.setattr(optuna.Trial, "should_prune", lambda self: True)
        trial = run(context, **{"search._PRUNE_MIN_POSITIVES": 0})
    assert (trial.state, outcome_of(trial)) == (PRUNED, "pruned")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt("interrupted (SIGTERM)")
    trial = run(_small_context(), **{"search.out_of_fold_scores": interrupted})
    assert (trial.state, outcome_of(trial)) == (FAIL, "stopped")
    assert trial.user_attrs["error"] == "interrupted (SIGTERM); queued again"

    def broken(*args, **kwargs):
        raise ValueError("a real error")
    trial = run(_small_context(), **{"search.out_of_fold_scores": broken})
    assert (trial.state, outcome_of(trial)) == (FAIL, "failed")

    table = results_table(study)
    assert list(table["outcome"]) == ["completed", "skipped", "stopped", "pruned",
                                      "stopped", "failed"]  # 5: 4 queued again
    assert list(table["state"])[:6] == ["COMPLETE", "PRUNED", "PRUNED", "PRUNED",
                                        "FAIL", "FAIL"]
