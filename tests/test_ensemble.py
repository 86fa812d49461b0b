import numpy as np

from autoimb.pipeline.evaluation import cross_fit_postprocessing
from autoimb.pipeline.objective import Objective
from autoimb.pipeline.strategy import Strategy
from autoimb.search.ensemble import Candidate, blends


def _candidate(number, scores, y, fold_ids, objective):
    post = cross_fit_postprocessing(scores, y, fold_ids, objective=objective)
    return Candidate((number,), (Strategy("lightgbm"),), scores, post)


def _views(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(int)
    signal = 1.5 * y

    def view():
        return 1 / (1 + np.exp(-(signal + rng.normal(size=n) - 2)))

    return y, np.arange(n) % 5, view(), view(), view()


def test_blend_of_noisy_views_beats_each():
    """Check that averaging noisy views of one signal costs less than either."""
    y, fold_ids, a, b, _ = _views()
    objective = Objective("cost", 1.0, 9.0)
    singles = [_candidate(i, p, y, fold_ids, objective) for i, p in enumerate([a, b])]
    (blend,) = blends(singles, y, fold_ids, objective, 2, ("none", "sigmoid"))
    assert sorted(blend.trial_numbers) == [0, 1] and blend.is_blend
    assert np.allclose(blend.scores, (a + b) / 2)
    assert blend.post.value < min(c.post.value for c in singles)
    assert blend.describe().startswith("Blend of 2")


def test_blends_grow_one_member_at_a_time_best_first():
    """Check that blends of the best 2 .. max_members candidates are made, the
    members ranked by their per-fold scores (a useless candidate comes last)."""
    y, fold_ids, a, b, _ = _views(n=1500, seed=1)
    noise = np.random.default_rng(9).random(len(y))
    objective = Objective("cost", 1.0, 9.0)
    singles = [_candidate(i, p, y, fold_ids, objective)
               for i, p in enumerate([noise, a, b])]
    made = blends(singles, y, fold_ids, objective, 3, ("none",))
    assert [sorted(m.trial_numbers) for m in made] == [[1, 2], [0, 1, 2]]
    assert blends(singles, y, fold_ids, objective, 1, ("none",)) == []


def test_blend_members_are_cross_fitted():
    """Check that a blend's rows of fold k are decided by the members that score
    best without fold k: when fold k alone makes a member look best, fold k is
    blended without it."""
    from autoimb.pipeline.evaluation import cross_fit_postprocessing

    y, fold_ids, a, b, c = _views(n=2000, seed=3)
    objective = Objective("cost", 1.0, 9.0)
    lucky = c.copy()
    rows = fold_ids == 0
    lucky[rows] = np.where(y[rows] == 1, 0.99, 0.01)  # perfect on fold 0 only
    lucky[~rows] = np.random.default_rng(4).random((~rows).sum())  # noise elsewhere
    singles = [_candidate(i, p, y, fold_ids, objective)
               for i, p in enumerate([lucky, a, b])]
    (blend,) = blends(singles, y, fold_ids, objective, 2, ("none",))
    expected = cross_fit_postprocessing((a + b) / 2, y, fold_ids, objective=objective,
                                        calibrations=("none",))
    assert np.array_equal(blend.post.pred[rows], expected.pred[rows])


def test_fold_labels_never_change_blend_decisions():
    """Check, black-box, that flipping every label of fold k leaves the blend's
    probabilities and decisions of fold k unchanged: its calibrator, rule and
    threshold are cross-fitted like a single strategy's."""
    y, fold_ids, a, b, _ = _views(n=1000, seed=2)
    objective = Objective("cost", 1.0, 9.0)

    def blend_for(labels):
        singles = [_candidate(i, p, labels, fold_ids, objective)
                   for i, p in enumerate([a, b])]
        return blends(singles, labels, fold_ids, objective, 2,
                      ("none", "sigmoid", "isotonic"))[0].post

    base = blend_for(y)
    for k in range(5):
        rows = fold_ids == k
        changed = y.copy()
        changed[rows] = 1 - changed[rows]
        post = blend_for(changed)
        assert np.array_equal(post.pred[rows], base.pred[rows])
        assert np.allclose(post.proba[rows], base.proba[rows])
