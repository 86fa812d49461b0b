import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import optuna
import pytest

from autoimb import AutoImbError, list_search_spaces, load_search_space
from autoimb.pipeline.models import MODELS
from autoimb.pipeline.resampling import RESAMPLERS
from autoimb.pipeline.strategy import Strategy
from autoimb.search.spaces import Param

ROOT = Path(__file__).resolve().parents[1]


def test_bundled_presets():
    """Check that the default, fast and no-resampling presets exist and load."""
    presets = list_search_spaces()
    assert {"default", "fast", "no_resampling"} <= set(presets)
    for name in presets:
        space = load_search_space(name)
        assert space.model_names and all(presets[name] for name in presets)


def test_default_preset_covers_the_joint_space():
    """Check that the default preset searches every model, resampler and calibration."""
    space = load_search_space("default")
    assert set(space.model_names) == set(MODELS)
    assert set(space.resamplers) == set(RESAMPLERS)
    assert set(space.calibrations) == {"none", "sigmoid", "isotonic"}
    assert space.models["lightgbm"]["class_weight"] == (
        "none", "balanced", "custom", "scale_pos_weight")
    assert "balanced_subsample" in space.models["random_forest"]["class_weight"]
    assert space.sampling_ratio.type == "float"


def test_no_resampling_preset_never_resamples():
    """Check that the no_resampling preset never asks for a resampler."""
    space = load_search_space("no_resampling")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        trial = study.ask()
        assert space.suggest(trial).resampler == "none"
        assert "resampler" not in trial.params


def test_unknown_preset_suggests_the_closest():
    """Check that a misspelled preset name gets a 'did you mean'."""
    with pytest.raises(AutoImbError, match="Did you mean 'fast'"):
        load_search_space("fastt")


def test_typo_in_preset_file_names_key_and_file(tmp_path):
    """Check that a typo in a preset file names the key, the file and the fix."""
    path = tmp_path / "mine.toml"
    path.write_text('[models.lightgbm]\n'
                    'num_leafs = { type = "int", low = 8, high = 64 }\n')
    expected = r"num_leafs.*mine.toml.*Did you mean 'num_leaves'"
    with pytest.raises(AutoImbError, match=expected):
        load_search_space(path)


@pytest.mark.parametrize("text, message", [
    ('[models.lightgbm]\nnum_leaves = { type = "int", low = 64, high = 8 }',
     "low.*<=.*high"),
    ('[models.lightgbm]\nnum_leaves = { low = 8, high = 64 }', "needs a 'type'"),
    ('[models.svm]\n', "Unknown model 'svm'"),
    ('[models.lightgbm]\n[resampling]\nmethods = ["smoteee"]', "Did you mean 'smote'"),
    ('[models.lightgbm]\n[calibration]\nmethods = ["beta"]', "Unknown calibration"),
    ('[models.lightgbm]\nclass_weight = ["balanced_subsample"]',
     "cannot use class_weight"),
    ('[models.lightgbm]\n[sampling]\n', "Unknown key 'sampling'"),
    ('[models.lightgbm]\n'
     'learning_rate = { type = "float", low = 0, high = 1, log = true }',
     "log-scale parameter.*low > 0"),
])
def test_invalid_preset_files(tmp_path, text, message):
    """Check that each kind of preset error gets its own message."""
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(AutoImbError, match=message):
        load_search_space(path)


def test_user_mapping_and_constants():
    """Check that a mapping works as a space and plain values fix a parameter."""
    space = load_search_space({"models": {"lightgbm": {"n_estimators": 25,
                                                       "class_weight": ["none"]}}})
    trial = optuna.create_study().ask()
    strategy = space.suggest(trial)
    assert strategy.model_params == {"n_estimators": 25}
    assert trial.params == {"model": "lightgbm", "lightgbm.class_weight": "none"}


def test_param_repr_round_trips():
    """Check that a Param's repr rebuilds an equal Param."""
    for param in (Param(type="float", low=0.1, high=1.0, log=True),
                  Param(type="int", low=1, high=5),
                  Param(type="categorical", choices=("a", "b"))):
        assert eval(repr(param)) == param


def test_missing_preset_file():
    """Check that a preset path that does not exist is named in the error."""
    with pytest.raises(AutoImbError, match="does not exist"):
        load_search_space("nowhere/space.toml")


def test_conditional_parameters_only_when_used():
    """Check that the ratio is asked only with a resampler, the weight only with
    custom weighting."""
    space = load_search_space("default")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(80):
        trial = study.ask()
        strategy = space.suggest(trial, has_categorical=True)
        has_ratio = strategy.sampling_ratio is not None
        assert ("sampling_ratio" in trial.params) == has_ratio
        uses_ratio = (strategy.resampler != "none"
                      and RESAMPLERS[strategy.resampler].uses_ratio)
        assert uses_ratio == ("sampling_ratio" in trial.params)
        assert ("positive_weight" in trial.params) == (
            strategy.weighting in ("custom", "scale_pos_weight"))
        if MODELS[strategy.model].resamples_itself:
            assert strategy.resampler == "none"


def _every_strategy():
    yield from (Strategy(name, weighting=w, positive_weight=5.0)
                for name, info in MODELS.items() for w in info.weightings)
    yield from (Strategy("hist_gradient_boosting", resampler=r, sampling_ratio=0.5,
                         k_neighbors=3) for r in RESAMPLERS)


@pytest.mark.parametrize("strategy", list(_every_strategy()),
                         ids=lambda s: s.describe())
def test_every_model_and_resampler_runs_on_mixed_data(strategy, mixed_frame):
    """Check that each model, weighting and resampler fits on data with categorical
    strings and missing values, and scores every row."""
    from autoimb._validation import check_frame, column_kinds

    frame, labels = mixed_frame
    X = check_frame(frame)
    y = (labels == "fraud").astype(int)
    pipeline = strategy.make_pipeline(column_kinds(X), random_state=0).fit(X, y)
    proba = pipeline.predict_proba(X)[:, 1]
    assert proba.shape == (len(X),) and np.all((proba >= 0) & (proba <= 1))


def test_presets_are_inside_the_built_wheel(tmp_path):
    """Check that building the wheel puts the presets inside the package."""
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
         str(tmp_path), str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    wheel = next(tmp_path.glob("autoimb-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for preset in ("default", "fast", "no_resampling"):
        assert f"autoimb/search_spaces/{preset}.toml" in names
