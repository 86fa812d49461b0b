"""The shims over Optuna's private names."""

import importlib

import numpy as np
import optuna
import pytest
import scipy.special

from autoimb._optuna_compat import speed_up_tpe


@pytest.fixture
def truncnorm():
    """Optuna's truncated normal module, reloaded afterwards (its own functions)."""
    from optuna.samplers._tpe import _truncnorm

    yield _truncnorm
    importlib.reload(_truncnorm)


def test_faster_log_ndtr_gives_optuna_values(truncnorm):
    """Check that the replacement agrees with Optuna's own function across the
    tails and the centre, where TPE evaluates it."""
    x = np.r_[np.linspace(-60.0, 60.0, 20_001), -1e4, 1e4]
    before = truncnorm._log_ndtr(x)
    assert speed_up_tpe()
    assert truncnorm._log_ndtr is scipy.special.log_ndtr
    np.testing.assert_allclose(truncnorm._log_ndtr(x), before, rtol=1e-7, atol=1e-12)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_tpe_proposes_the_same_parameters_faster_or_not(truncnorm):
    """Check that a seeded multivariate TPE study proposes the same parameters
    with Optuna's function and with its replacement."""

    def run():
        sampler = optuna.samplers.TPESampler(seed=0, multivariate=True, group=True)
        study = optuna.create_study(sampler=sampler)
        study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 1) ** 2
                       + t.suggest_float("lr", 1e-3, 1.0, log=True)
                       + t.suggest_int("n", 1, 50) / 50, n_trials=40)
        return [trial.params for trial in study.trials]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    slow = run()
    speed_up_tpe()
    fast = run()
    for a, b in zip(slow, fast, strict=True):
        assert a.keys() == b.keys()
        np.testing.assert_allclose([a[k] for k in a], [b[k] for k in a], rtol=1e-6)
