"""The portfolio of starting strategies."""

import math

import optuna

from autoimb import load_search_space
from autoimb.pipeline.preprocessing import ColumnKinds
from autoimb.search.portfolio import PORTFOLIO, enqueue_portfolio, portfolio_params
from autoimb.search.trials import strategy_of

NUMERIC = ColumnKinds(categorical=(), numeric=tuple(f"x{i}" for i in range(9)))
MIXED = ColumnKinds(categorical=("c",), numeric=("a", "b"), levels=(3,))


def test_every_entry_is_a_valid_strategy_of_the_default_space():
    """Check that each entry becomes parameters the default space accepts, with
    sqrt(p)/p for max_features and values inside the space's ranges."""
    space = load_search_space("default")
    for name, entry, _ in PORTFOLIO:
        params = portfolio_params(space, entry, NUMERIC)
        assert params is not None, name
        strategy = strategy_of(space, params, NUMERIC)
        assert strategy.model == entry["model"]
        if entry.get("max_features") == "sqrt":
            assert strategy.model_params["max_features"] == math.sqrt(9) / 9


def test_entries_outside_the_space_are_left_out():
    """Check that the fast preset (no forests) keeps only what it can express."""
    space = load_search_space("fast")
    kept = [name for name, entry, _ in PORTFOLIO
            if portfolio_params(space, entry, MIXED) is not None]
    assert "balanced random forest" not in kept
    assert "random forest, balanced_subsample" not in kept
    assert "LightGBM, 300 trees at learning rate 0.05" in kept


def test_large_data_queues_only_the_cheap_entries():
    """Check that with large data only the cheap entries are queued, in order."""
    study = optuna.create_study()
    queued = enqueue_portfolio(study, load_search_space("default"), NUMERIC, large=True)
    assert queued == [name for name, _, cheap in PORTFOLIO if cheap]
    assert [t.user_attrs["recipe"] for t in study.get_trials()] == queued
