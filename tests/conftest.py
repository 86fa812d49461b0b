"""Shared fixtures: small data sets, and the location of the shared real data."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def read_dataset(name: str) -> tuple[pd.DataFrame, pd.Series]:
    """One of the shared real data sets, read in place."""
    path = DATASETS / f"{name}.csv.gz"
    if not path.exists():
        pytest.skip(f"shared data set {path} is not present next to the repository")
    frame = pd.read_csv(path, low_memory=False)
    return frame.drop(columns="target"), frame["target"]


def make_small_data():
    """A 600-row numeric problem with 10% positives (for module fixtures)."""
    return make_classification(n_samples=600, n_features=8, n_informative=4,
                               weights=[0.9], random_state=0)


@pytest.fixture
def small_data():
    """A 600-row numeric problem with 10% positives."""
    return make_small_data()


@pytest.fixture
def mixed_frame():
    """A frame with numeric, categorical (strings) and missing values, string labels."""
    rng = np.random.default_rng(0)
    n = 500
    signal = rng.normal(size=n)
    y = np.where(signal + rng.normal(scale=0.7, size=n) > 1.4, "fraud", "ok")
    frame = pd.DataFrame({
        "amount": signal * 3 + rng.normal(size=n),
        "age": rng.integers(18, 90, size=n).astype(float),
        "channel": rng.choice(["web", "shop", "phone"], size=n),
        "country": np.where(signal > 1, "XX", rng.choice(["FR", "DE", "IT"], size=n)),
    })
    frame.loc[rng.choice(n, 40, replace=False), "age"] = np.nan
    frame.loc[rng.choice(n, 30, replace=False), "channel"] = None
    return frame, y


FAST = {"search_space": "fast", "cv": 3, "storage": "memory", "random_state": 0,
        "show_progress_bar": False}


@pytest.fixture
def fast_options():
    """Options for a quick search: fast preset, 3 folds, in memory, seeded."""
    return dict(FAST)


@pytest.fixture
def processes():
    """Processes a test starts (``subprocess.Popen``); any left running at the
    end is killed."""
    started = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
