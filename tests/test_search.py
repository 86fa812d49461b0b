"""The search loop's shared context: what it keeps of each trial."""

import numpy as np

from autoimb import load_search_space
from autoimb._evaluation import PostProcessing
from autoimb._folds import Validation, make_folds
from autoimb._objective import Objective
from autoimb._preprocessing import ColumnKinds
from autoimb._search import CACHED_TRIALS, SearchContext


def _context(objective, holdout=True):
    y = np.r_[np.zeros(900, dtype=int), np.ones(100, dtype=int)]
    validation = (Validation("holdout", 1, 0.2) if holdout
                  else Validation("kfold", 5, 0.2))
    return SearchContext(
        X=np.zeros((len(y), 1)), y=y, kinds=ColumnKinds((), ("a",)),
        folds=make_folds(validation, y, seed=0), objective=objective,
        space=load_search_space("fast"), model_seed=0)


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
            context.keep_scores(number, scores, _post(float(value), n_scored))
        cache = context.oof_cache
        assert len(cache) == CACHED_TRIALS
        kept = sorted(float(post.value) for _, post in cache.values())
        expected = (list(range(CACHED_TRIALS)) if best == "low"
                    else list(range(20, CACHED_TRIALS + 20)))
        assert kept == expected
        scores, _ = next(iter(cache.values()))
        assert scores.dtype == np.float32 and scores.shape == (n_scored,)
        assert not np.isnan(scores).any()


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
