import numpy as np

from autoimb._ensemble import Candidate, blend
from autoimb._evaluation import cross_fit_postprocessing
from autoimb._objective import Objective


def _candidate(number, proba, y, fold_ids, objective):
    post = cross_fit_postprocessing(proba, y, fold_ids, calibration="none",
                                    objective=objective)
    return Candidate(number, None, proba, post)


def test_blend_kept_when_noise_averages_out():
    """Check that averaging two noisy views of one signal beats either alone, and
    blend keeps both."""
    rng = np.random.default_rng(0)
    n = 4000
    y = (rng.random(n) < 0.1).astype(int)
    fold_ids = np.arange(n) % 5
    objective = Objective("cost", 1.0, 9.0)
    signal = 1.5 * y
    a = 1 / (1 + np.exp(-(signal + rng.normal(size=n) - 2)))
    b = 1 / (1 + np.exp(-(signal + rng.normal(size=n) - 2)))
    first, second = (_candidate(i, p, y, fold_ids, objective) for i, p in enumerate([a, b]))
    m, post = blend([first, second], y, fold_ids, objective)
    assert m == 2
    assert post.value < min(first.post.value, second.post.value)


def test_blend_refuses_a_useless_member():
    """Check that a member that only adds noise is left out."""
    rng = np.random.default_rng(1)
    n = 4000
    y = (rng.random(n) < 0.1).astype(int)
    fold_ids = np.arange(n) % 5
    objective = Objective("cost", 1.0, 9.0)
    good = 1 / (1 + np.exp(-(3 * y + rng.normal(size=n) - 2)))
    noise = rng.random(n)
    candidates = [_candidate(0, good, y, fold_ids, objective),
                  _candidate(1, noise, y, fold_ids, objective)]
    m, post = blend(candidates, y, fold_ids, objective)
    assert m == 1
    assert post is candidates[0].post
