"""The examples run end to end (with a tiny budget)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATASETS

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TINY = {"AUTOIMB_EXAMPLE_TRIALS": "2", "AUTOIMB_EXAMPLE_TIMEOUT": "60",
        "AUTOIMB_EXAMPLE_PRESET": "fast"}


def _run(script, tmp_path):
    env = {**os.environ, **TINY}
    return subprocess.run([sys.executable, str(EXAMPLES / script)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)


def test_quickstart(tmp_path):
    """Check that the quick start searches, reports a held-out cost and exports."""
    result = _run("quickstart.py", tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Best strategy:" in result.stdout and "Held-out cost:" in result.stdout
    assert (tmp_path / "quickstart_model.joblib").exists()
    assert (tmp_path / "autoimb.journal").exists()


def test_business_cost_on_real_data(tmp_path):
    """Check that the business-cost example runs on the bank marketing data set."""
    if not (DATASETS / "bank_marketing.csv.gz").exists():
        pytest.skip(f"{DATASETS} is not present next to the repository")
    result = _run("business_cost.py", tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "held-out clients" in result.stdout
