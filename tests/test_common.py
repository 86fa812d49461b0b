"""scikit-learn's estimator checks on AutoImbClassifier with a tiny budget."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import autoimb
from autoimb import AutoImbClassifier

EXPECTED_FAILURES = {}


@parametrize_with_checks(
    [AutoImbClassifier("fast", n_trials=2, cv=2, storage="memory", random_state=0,
                       show_progress_bar=False)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILURES,
)
def test_sklearn_compatible(estimator, check):
    """Check that AutoImbClassifier passes scikit-learn's estimator checks."""
    check(estimator)


def test_parameter_constraints_cover_init():
    """Check that every constructor parameter has a validation constraint."""
    estimator = AutoImbClassifier()
    params = set(estimator.get_params(deep=False))
    assert set(estimator._parameter_constraints) == params


@pytest.mark.parametrize("name", autoimb.__all__)
def test_public_names_import(name):
    """Check that every name in autoimb.__all__ can be imported."""
    assert getattr(autoimb, name) is not None
