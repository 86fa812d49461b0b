"""AutoImbClassifier end to end through the public API."""

import time

import numpy as np
import optuna
import pandas as pd
import pytest

import autoimb
from autoimb import AutoImbClassifier, AutoImbError, StudyMismatchError
from autoimb.storage.outcomes import count_outcomes, describe_outcomes
from tests.conftest import read_dataset


def test_fit_returns_calibrated_thresholded_model(small_data, fast_options):
    """Check that fit returns a classifier whose predict applies threshold_ to
    predict_proba, with the attributes the search promises."""
    X, y = small_data
    model = autoimb.fit(X, y, n_trials=4, fp_cost=1, fn_cost=20, **fast_options)
    proba = model.predict_proba(X)
    assert np.allclose(proba.sum(axis=1), 1)
    expected = np.where(proba[:, 1] >= model.threshold_, 1, 0)
    assert np.array_equal(model.predict(X), expected)
    chosen = model.study_.trials[model.ensemble_[0]]
    assert model.best_params_ == chosen.params
    assert model.best_trial_number_ == chosen.number
    if len(model.ensemble_) == 1:
        assert model.best_score_raw_ == chosen.value
    # the chosen one is the best, or within noise of the best and simpler
    assert model.best_score_raw_ >= model.study_.best_value or len(model.ensemble_) > 1
    assert isinstance(model.results_, pd.DataFrame) and len(model.results_) >= 4
    assert {"strategy", "cost", "normalized_cost", "threshold"} <= set(model.results_)


def test_fit_times_say_where_the_time_went(small_data, fast_options):
    """Check that fit_times_ has every step of fit, none negative, adding up to
    the total, which is the fit's wall time; no workers without processes."""
    X, y = small_data
    start = time.perf_counter()
    model = autoimb.fit(X, y, n_trials=3, **fast_options)
    wall = time.perf_counter() - start
    times = model.fit_times_
    assert list(times) == ["prepare", "search", "wait_workers", "stop_workers",
                           "choice", "refit", "finish", "total"]
    assert min(times.values()) >= 0
    assert sum(times.values()) - times["total"] == pytest.approx(times["total"])
    assert 0.8 * wall < times["total"] <= wall
    assert times["search"] > times["refit"] > 0
    assert times["wait_workers"] == times["stop_workers"] == 0


def test_the_summary_says_how_the_search_went(small_data, fast_options):
    """Check that summary() has a line with the trials by state, how many ran
    at once, the splits and the fit's time against its budget."""
    X, y = small_data
    model = autoimb.fit(X, y, n_trials=3, timeout=30, n_jobs=1, **fast_options)
    counts = model.results_["outcome"].value_counts()
    [line] = [line for line in model.summary().splitlines()
              if line.startswith("Search: ")]
    waiting = counts.get("queued", 0)  # the portfolio queued beyond n_trials
    assert waiting == len(model.results_) - 3 > 0
    ended = describe_outcomes(count_outcomes(model.results_["outcome"][
        model.results_["outcome"] != "queued"]))
    assert line == (
        f"Search: 3 trials ({ended}) and {waiting} queued but not "
        "run, 1 at a time, scored on 3 stratified folds; fit in "
        f"{model.fit_times_['total']:.1f} s for a budget of 30 s")


def test_portfolio_comes_first(small_data, fast_options):
    """Check that the portfolio (the article's recipes among strong fixed
    strategies) makes the first trials of a new study, in its order."""
    X, y = small_data
    options = {**fast_options, "search_space": "default"}
    model = autoimb.fit(X, y, n_trials=8, **options)
    recipes = [t.user_attrs.get("recipe") for t in model.study_.trials[:7]]
    assert recipes == ["no handling, tuned threshold",
                       "LightGBM, 300 trees at learning rate 0.05",
                       "balanced random forest", "logistic regression, balanced",
                       "class_weight balanced", "SMOTE at ratio 0.5",
                       "random forest, balanced_subsample"]
    smote = model.study_.trials[5].params
    assert smote["resampler"] == "smote" and smote["sampling_ratio"] == 0.5
    assert model.study_.trials[1].params["lightgbm.n_estimators"] == 300


def test_trials_explain_themselves(small_data, fast_options):
    """Check that each completed trial records its strategy and every metric."""
    X, y = small_data
    model = autoimb.fit(X, y, n_trials=3, fp_cost=1, fn_cost=10, **fast_options)
    keys = {"strategy", "cost", "normalized_cost", "average_precision", "roc_auc", "f1",
            "precision", "recall", "balanced_accuracy", "brier", "ece", "threshold",
            "fit_time", "fold_scores", "confusion", "calibration", "threshold_rule"}
    for trial in model.study_.get_trials(states=(optuna.trial.TrialState.COMPLETE,)):
        assert keys <= set(trial.user_attrs)
        assert len(trial.intermediate_values) == 3  # one report per fold
        c = trial.user_attrs["confusion"]
        assert trial.user_attrs["cost"] == c["fp"] * 1 + c["fn"] * 10 == trial.value


def test_mixed_frame_with_string_labels(mixed_frame, fast_options):
    """Check that categorical strings, missing values and string labels work end to
    end, with the minority label as the positive class."""
    X, y = mixed_frame
    model = autoimb.fit(X, y, n_trials=4, **fast_options)
    assert model.pos_label_ == "fraud"
    assert set(model.predict(X)) <= {"fraud", "ok"}
    assert list(model.classes_) == ["fraud", "ok"]
    proba = model.predict_proba(X)
    assert np.allclose(proba.sum(axis=1), 1)
    assert model.kinds_.categorical == ("channel", "country")


def test_pos_label_overrides_the_minority(small_data, fast_options):
    """Check that pos_label picks the class of interest."""
    X, y = small_data
    model = autoimb.fit(X, np.where(y == 1, "a", "b"), pos_label="b", n_trials=2,
                        **fast_options)
    assert model.pos_label_ == "b"


def test_average_precision_objective(small_data, fast_options):
    """Check that the AP objective maximises and reports average precision."""
    X, y = small_data
    model = autoimb.fit(X, y, objective="average_precision", n_trials=3, **fast_options)
    assert model.study_.direction == optuna.study.StudyDirection.MAXIMIZE
    assert 0 < model.best_score_ <= 1
    expected = model.cv_metrics_["average_precision"]
    assert model.best_score_raw_ == pytest.approx(expected)
    assert model.best_score_ <= model.best_score_raw_ + 0.02  # corrected, not inflated


def test_same_seed_same_result(small_data, fast_options):
    """Check that the same random_state with n_jobs=1 gives the same trials with
    the same values, and identical predictions when the same candidates are
    chosen: the choice may swap candidates within noise whose measured fit
    times are nearly equal (README, Reproducibility), which failed this test
    about one run in seven when it asked for the same best parameters."""
    X, y = small_data
    a = autoimb.fit(X, y, n_trials=6, **fast_options)
    b = autoimb.fit(X, y, n_trials=6, **fast_options)
    assert [t.params for t in a.study_.trials] == [t.params for t in b.study_.trials]
    assert [t.value for t in a.study_.trials] == [t.value for t in b.study_.trials]
    if a.ensemble_ == b.ensemble_:
        assert a.best_params_ == b.best_params_
        assert np.array_equal(a.predict_proba(X), b.predict_proba(X))


def test_rerun_resumes_the_study(small_data, fast_options, tmp_path):
    """Check that a rerun with the same storage and study name continues the study
    and keeps the trials already finished."""
    X, y = small_data
    options = {**fast_options, "storage": str(tmp_path / "s.journal"),
               "study_name": "s"}
    first = autoimb.fit(X, y, n_trials=3, **options)
    values = [t.value for t in first.study_.trials if t.state.is_finished()]
    second = autoimb.fit(X, y, n_trials=5, **options)
    trials = second.study_.trials
    finished = [t for t in trials if t.state.is_finished()]
    assert len(finished) >= 5
    assert [t.value for t in trials[:len(values)]] == values


def test_default_storage_is_a_journal_in_the_current_folder(small_data, tmp_path,
                                                             monkeypatch, capsys):
    """Check that without storage the study goes to ./autoimb.journal, the dashboard
    command is printed, and the same fit run again resumes instead of starting over."""
    monkeypatch.chdir(tmp_path)
    X, y = small_data
    model = autoimb.fit(X, y, search_space="fast", n_trials=2, cv=3, random_state=0)
    assert (tmp_path / "autoimb.journal").exists()
    assert "autoimb dashboard autoimb.journal" in capsys.readouterr().err
    again = autoimb.fit(X, y, search_space="fast", n_trials=2, cv=3, random_state=0,
                        show_progress_bar=False)
    assert again.study_name_ == model.study_name_
    assert len(again.study_.trials) == len(model.study_.trials)


def test_study_of_other_data_is_refused(small_data, fast_options, tmp_path):
    """Check that a study made for another data set is not resumed on this one."""
    X, y = small_data
    options = {**fast_options, "storage": str(tmp_path / "s.journal"),
               "study_name": "s"}
    autoimb.fit(X, y, n_trials=1, **options)
    with pytest.raises(StudyMismatchError, match="different data set"):
        autoimb.fit(X[:500], y[:500], n_trials=1, **options)
    with pytest.raises(StudyMismatchError, match="fn_cost"):
        autoimb.fit(X, y, n_trials=1, fn_cost=99, **options)


def test_predict_checks_columns(mixed_frame, fast_options):
    """Check that predict reorders columns by name but refuses missing or extra ones,
    naming them."""
    X, y = mixed_frame
    model = autoimb.fit(X, y, n_trials=2, **fast_options)
    reordered = X[list(reversed(X.columns))]
    assert np.array_equal(model.predict_proba(reordered), model.predict_proba(X))
    with pytest.raises(AutoImbError, match=r"missing \['age'\]"):
        model.predict(X.drop(columns="age"))
    with pytest.raises(AutoImbError, match=r"unexpected \['extra'\]"):
        model.predict(X.assign(extra=1))
    with pytest.raises(AutoImbError, match="'amount' was numeric in training"):
        model.predict(X.assign(amount="lots"))


def test_interrupt_keeps_best_so_far(small_data, fast_options, monkeypatch):
    """Check that Ctrl-C during the search returns the best model found so far."""
    X, y = small_data
    from autoimb.search import trials as _search

    original = _search.make_objective

    def interrupting(ctx):
        run = original(ctx)

        def trial(t):
            if t.number >= 2:
                raise KeyboardInterrupt
            return run(t)
        return trial

    monkeypatch.setattr(_search, "make_objective", interrupting)
    with pytest.warns(autoimb.AutoImbWarning, match="interrupted"):
        model = autoimb.fit(X, y, n_trials=10, **fast_options)
    assert model.best_trial_number_ in (0, 1)
    assert model.predict(X).shape == (len(X),)


def test_real_data_with_categoricals_and_missing(fast_options):
    """Check that a real data set with categorical strings and missing values
    (thyroid_hypo) is searched end to end and beats the trivial classifier."""
    X, y = read_dataset("thyroid_hypo")
    model = autoimb.fit(X, y, n_trials=3, fp_cost=1, fn_cost=10, **fast_options)
    assert model.kinds_.has_categorical and X.isna().any().any()
    assert model.cv_metrics_["normalized_cost"] < 0.5
    assert set(np.unique(model.predict(X))) <= {0, 1}


def test_invalid_parameters_are_named():
    """Check that a bad constructor value names the parameter and the value."""
    with pytest.raises(ValueError, match=r"'n_trials' parameter.*Got 0"):
        AutoImbClassifier(n_trials=0).fit([[0], [1]], [0, 1])
    with pytest.raises(ValueError, match="'timeout' parameter"):
        AutoImbClassifier(timeout=0).fit([[0], [1]], [0, 1])


def test_blend_of_best_strategies(small_data, fast_options):
    """Check that a blend averages its members' scores, calibrates the average and
    applies its own threshold, and that blending is a choice the bias-corrected
    score accounts for."""
    X, y = small_data
    model = autoimb.fit(X, y, n_trials=8, fp_cost=1, fn_cost=20, ensemble_size=3,
                        **fast_options)
    fitted = model.best_estimator_
    assert len(fitted.pipelines) == max(len(model.ensemble_), 1)
    frame = pd.DataFrame(X, columns=model.kinds_.columns)
    average = np.mean([p.predict_proba(frame)[:, 1] for p in fitted.pipelines], axis=0)
    assert np.allclose(model.predict_proba(X)[:, 1],
                       np.clip(fitted.calibrator.transform(average), 0, 1))
    single = autoimb.fit(X, y, n_trials=8, fp_cost=1, fn_cost=20, ensemble_size=1,
                         **fast_options)
    assert len(single.ensemble_) <= 1
    assert model.cv_metrics_["n_candidates"] > single.cv_metrics_["n_candidates"]
    if len(model.ensemble_) > 1:
        assert model.strategy_.startswith(f"Blend of {len(model.ensemble_)}")


def test_reported_score_does_not_beat_the_trivial_rule_on_noise():
    """Check that with shuffled labels (no signal at all) the returned model's
    reported normalized cost is about 1 or more, averaged over seeds, while its
    raw cross-validated value, the best of 15 trials on the same rows, claims to
    beat the trivial rule. (Measured: raw 0.93-0.99, reported 0.96-1.03, held
    out 1.01-1.10; before the bias correction it reported the raw value.)"""
    from sklearn.datasets import make_classification

    from autoimb.pipeline.metrics import trivial_cost

    reported, raw = [], []
    for seed in range(3):
        X, y = make_classification(n_samples=3000, weights=[0.94], random_state=seed)
        y = np.random.default_rng(seed).permutation(y)
        ratio = (y == 0).sum() / (y == 1).sum()
        model = autoimb.fit(X, y, search_space="fast", n_trials=15, cv=3,
                            fp_cost=1, fn_cost=ratio, storage="memory",
                            random_state=seed, show_progress_bar=False)
        trivial = trivial_cost(y, 1, ratio)
        reported.append(model.best_score_ / trivial)
        raw.append(model.best_score_raw_ / trivial)
    assert np.mean(reported) >= 0.98, reported
    assert np.mean(raw) < 0.98 <= np.mean(reported), raw


def test_a_resampler_that_did_nothing_is_not_named_as_resampling():
    """Check that a strategy asking for over-sampling to a ratio below the
    data's own (nothing resampled) is named by what was done in the strategy,
    the results table, the families and the learning curve (issue 39)."""
    from sklearn.datasets import make_classification

    from autoimb.explain.diagnostics import trial_families
    from autoimb.explain.report import _choices

    X, y = make_classification(n_samples=400, weights=[0.8], random_state=0)
    space = {"models": {"logistic_regression": {"C": 1.0, "class_weight": ["none"]}},
             "resampling": {"methods": ["random_over"], "ratio": 0.05}}
    model = autoimb.fit(X, y, search_space=space, n_trials=2, cv=3,
                        storage="memory", show_progress_bar=False)
    done = ("no resampling (random over-sampling to ratio 0.05 left the rows as is:"
            " the data's own ratio is at or above it)")
    assert model.strategy_.startswith(f"Logistic regression, {done}; ")
    assert f"Best strategy: Logistic regression, {done}" in model.summary()
    completed = model.results_[model.results_["state"] == "COMPLETE"]
    assert (completed["resampler"] == "none").all()
    assert completed["strategy"].str.contains(done, regex=False).all()
    assert set(trial_families(completed)) == {"no_handling"}
    assert set(_choices(model.results_)["resampler"]) == {"no resampling"}  # report
    assert done in model.diagnose().learning_curve.strategy


def test_the_summary_counts_the_trials_another_process_ran(tmp_path, monkeypatch):
    """Check that a fit that resumes a study whose other trials another process
    ran (as an `autoimb worker` would) says so in its summary, not "1 at a
    time" alone (issue 39)."""
    from sklearn.datasets import make_classification

    from autoimb.search import trials as _trials

    X, y = make_classification(n_samples=300, weights=[0.85], random_state=0)
    options = {"search_space": "fast", "cv": 3, "random_state": 0,
               "storage": str(tmp_path / "s.journal"), "study_name": "s",
               "show_progress_bar": False}
    with monkeypatch.context() as patch:  # trials run elsewhere
        patch.setattr(_trials, "worker_id", lambda: "another-host:1")
        autoimb.fit(X, y, n_trials=3, **options)
    model = autoimb.fit(X, y, n_trials=4, **options)
    assert (model.results_["worker"] == "another-host:1").sum() == 3
    assert "3 of the 4 by other processes (autoimb worker, earlier fits); this " \
           "fit ran 1 at a time, scored on" in model.summary()
    loaded = autoimb.load(model.export(tmp_path / "model.joblib"))
    assert loaded.summary() == model.summary()
