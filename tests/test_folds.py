"""How candidates are validated: folds or a holdout, by size and budget."""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

import autoimb
from autoimb.pipeline.evaluation import out_of_fold_scores
from autoimb.search.folds import (
    Validation,
    check_folds,
    choose_validation,
    first_partition,
    make_folds,
)


@pytest.mark.parametrize(("rows", "columns", "minority", "timeout", "expected"), [
    (2_000, 10, 100, 60, Validation("kfold", 5, 0.2, 3)),  # small: repeated
    (2_000, 10, 100, None, Validation("kfold", 5, 0.2)),  # no budget: once
    (1_000, 100, 40, 60, Validation("kfold", 5, 0.2)),  # a repeat costs too much
    (900, 100, 40, 60, Validation("kfold", 5, 0.2, 2)),
    (5_000, 10, 1_000, 60, Validation("kfold", 5, 0.2)),  # 200 positives per fold
    (20_000, 16, 550, 60, Validation("kfold", 3, 1 / 3)),
    (20_000, 16, 550, 3600, Validation("kfold", 5, 0.2, 10)),  # at most 10
    (1_000, 8, 40, 30, Validation("kfold", 5, 0.2, 3)),
    (1_000, 8, 40, 120, Validation("kfold", 5, 0.2, 6)),  # 3 more a minute
    (280_000, 10, 2_000, 60, Validation("holdout", 1, 0.2)),
    (280_000, 3, 800, 60, Validation("kfold", 3, 1 / 3)),  # too few minority rows
    (212_000, 3, 830, 600, Validation("kfold", 5, 0.2)),  # large: never repeated
    (99_000, 3, 830, 600, Validation("kfold", 5, 0.2, 6)),
    (40_000, 20, 4_000, 60, Validation("holdout", 1, 0.2)),
])
def test_choose_validation(rows, columns, minority, timeout, expected):
    """Check the size rule: 5 folds when small for the budget (repeated while a
    repeated trial stays within the capacity and folds hold fewer than 200
    positives: at most 3 times up to a minute, 3 more for each further minute,
    at most 10, never from 100,000 rows), 3 when medium, a holdout when large,
    if it keeps at least 200 rows of the smaller class."""
    assert choose_validation(rows, columns, minority, timeout) == expected


@pytest.mark.parametrize(
        ("rows", "columns", "trials_at_once", "timeout", "n_repeats"), [
    (1_000, 8, 1, 60, 3),
    (1_000, 8, 2, 60, 6),  # one trial per core: the cap counts core-minutes
    (1_000, 8, 4, 60, 10),  # at most 10
    (1_000, 8, 2, 120, 10),
    (3_600, 11, 2, 60, 4),  # the cost of one trial still caps it (FLAML's capacity)
    (1_000, 100, 2, 60, 1),  # a repeat costs too much, whatever the cores
])
def test_repeats_count_core_minutes(rows, columns, trials_at_once, timeout, n_repeats):
    """Check that a search running k trials at once may repeat its folds k times
    as often (it runs about k times as many trials), within the same cost per
    trial and the cap of 10."""
    validation = choose_validation(rows, columns, 40, timeout,
                                   trials_at_once=trials_at_once)
    assert validation.n_repeats == n_repeats


def test_holdout_scores_a_fifth_stratified():
    """Check that the holdout holds out 20% of the rows, stratified."""
    y = np.r_[np.zeros(9000, dtype=int), np.ones(1000, dtype=int)]
    ((train, test),) = make_folds(Validation("holdout", 1, 0.2), y, seed=0)
    assert len(test) == 2000 and y[test].sum() == 200
    assert not set(train) & set(test)


def test_repeated_folds_partition_the_rows_once_per_repeat():
    """Check that repeated folds hold each row out once per repeat, that the first
    repeat is the unrepeated partition, and that the repeats differ."""
    y = np.r_[np.zeros(180, dtype=int), np.ones(20, dtype=int)]
    folds = make_folds(Validation("kfold", 5, 0.2, 3), y, seed=4)
    assert len(folds) == 15
    times = np.zeros(len(y), dtype=int)
    for _, test in folds:
        times[test] += 1
        assert y[test].sum() == 4  # stratified
    assert (times == 3).all()
    once = make_folds(Validation("kfold", 5, 0.2), y, seed=4)
    first = first_partition(folds)
    assert len(first) == 5
    assert all((a[1] == b[1]).all() for a, b in zip(first, once, strict=True))
    assert not all((a[1] == b[1]).all() for a, b in zip(folds[5:10], once, strict=True))


def test_repeated_out_of_fold_scores_average_the_repeats():
    """Check that a row held out in several repeats gets the mean of its scores,
    each from a model that never saw it."""
    X, y = make_classification(n_samples=300, weights=[0.9], random_state=0)
    folds = make_folds(Validation("kfold", 5, 0.2, 2), y, seed=0)
    scores, fold_ids, _ = out_of_fold_scores(LogisticRegression, X, y, folds)
    first, _, _ = out_of_fold_scores(LogisticRegression, X, y, folds[:5])
    second, _, _ = out_of_fold_scores(LogisticRegression, X, y, folds[5:])
    np.testing.assert_allclose(scores, (first + second) / 2)
    assert not np.allclose(first, second)
    assert sorted(np.unique(fold_ids)) == [0, 1, 2, 3, 4]


def test_a_small_timed_search_repeats_its_folds():
    """Check end to end that a timed search on small data scores every trial on
    repeated folds and that post-processing is cross-fitted over the first
    repeat's five folds."""
    X, y = make_classification(n_samples=400, n_features=6, weights=[0.9],
                               random_state=0)
    model = autoimb.fit(X, y, search_space="fast", n_trials=2, timeout=60,
                        storage="memory", random_state=0, show_progress_bar=False)
    assert model.validation_ == Validation("kfold", 5, 0.2, 3)
    assert len(model._context.folds) == 15
    assert sorted(np.unique(model._context.groups)) == [0, 1, 2, 3, 4]
    assert np.isfinite(model.oof_proba_).all() and len(model.oof_proba_) == 400


def test_a_search_of_two_trials_at_once_repeats_its_folds_twice_as_often():
    """Check end to end that the folds' repeats follow the trials the search
    runs at once (``n_jobs_``): 3 in a minute one at a time, 6 two at a time."""
    X, y = make_classification(n_samples=400, n_features=6, weights=[0.9],
                               random_state=0)
    model = autoimb.fit(X, y, search_space="fast", n_trials=2, timeout=60, n_jobs=2,
                        parallel="threads", storage="memory", random_state=0,
                        show_progress_bar=False)
    assert model.n_jobs_ == 2
    assert model.validation_ == Validation("kfold", 5, 0.2, 6)
    assert len(model._context.folds) == 30


def test_check_folds_refuses_overlapping_test_parts():
    """Check that test parts that overlap are refused with the way out."""
    y = np.r_[np.zeros(90, dtype=int), np.ones(10, dtype=int)]
    folds = list(ShuffleSplit(3, random_state=0).split(y))
    with pytest.raises(ValueError, match=r"more than one split.*StratifiedKFold"):
        check_folds(folds, y, "ShuffleSplit(3)")


def test_a_holdout_search_end_to_end():
    """Check that a search scored on one holdout split (a user's splitter) works:
    post-processing is cross-fitted over groups of the holdout rows."""
    X, y = make_classification(n_samples=1500, weights=[0.9], random_state=0)
    model = autoimb.fit(X, y, search_space="fast", n_trials=3, storage="memory",
                        cv=StratifiedShuffleSplit(1, test_size=0.3, random_state=0),
                        random_state=0, show_progress_bar=False)
    assert model.validation_.kind == "given"
    assert len(model.oof_proba_) == 450  # the holdout rows only
    assert model.predict(X).shape == (1500,)


@pytest.mark.parametrize("cv", [None, [(np.arange(300, 1000), np.arange(300))]])
def test_cv_none_and_lists_of_splits(cv):
    """Check that cv=None (the size rule) and a list of (train, test) pairs work
    (they used to pass validation and crash in fit)."""
    X, y = make_classification(n_samples=1000, weights=[0.85], random_state=1)
    model = autoimb.fit(X, y, search_space="fast", n_trials=2, cv=cv,
                        storage="memory", random_state=0, show_progress_bar=False)
    expected = "kfold" if cv is None else "given"
    assert model.validation_.kind == expected
