"""Search spaces: declarative presets of the joint imbalance strategy.

A search space is a TOML file (see ``search_spaces/README.md`` for the schema)
parsed once into frozen dataclasses that check themselves.
:meth:`SearchSpace.suggest` turns one Optuna trial into a
:class:`~autoimb.pipeline.strategy.Strategy`, asking only the parameters that
apply (define-by-run, conditional).
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from autoimb.exceptions import AutoImbError
from autoimb.pipeline.models import MODELS
from autoimb.pipeline.postprocessing import CALIBRATIONS
from autoimb.pipeline.resampling import RESAMPLERS
from autoimb.pipeline.strategy import Strategy

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["Param", "SearchSpace", "list_search_spaces", "load_search_space"]

_PARAM_TYPES = ("float", "int", "categorical")
_TOP_KEYS = ("description", "models", "weighting", "resampling", "calibration")


def _suggest_or_fix(trial, name, spec):
    return spec.suggest(trial, name) if isinstance(spec, Param) else spec


@dataclass(frozen=True)
class Param:
    """One searched parameter, mirroring the ``trial.suggest_*`` arguments.

    Parameters
    ----------
    type : {"float", "int", "categorical"}
        Which ``trial.suggest_*`` asks for the value.
    low, high : float or int, default=None
        Bounds (inclusive) of a numeric parameter.
    log : bool, default=False
        Sample a numeric parameter on a log scale.
    choices : tuple, default=None
        Values of a categorical parameter.
    where : str, default=""
        Where the parameter was read from, used in error messages.

    Examples
    --------
    >>> Param(type="float", low=0.01, high=1.0, log=True)
    Param(type='float', low=0.01, high=1.0, log=True)
    """

    type: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    choices: tuple | None = None
    where: str = field(default="", repr=False, compare=False)

    def __post_init__(self):
        where = f" in {self.where}" if self.where else ""
        if self.type not in _PARAM_TYPES:
            raise AutoImbError(
                f"Unknown parameter type {self.type!r}{where}. "
                f"Use one of {sorted(_PARAM_TYPES)}."
            )
        if self.type == "categorical":
            if not self.choices:
                raise AutoImbError(
                    f"A categorical parameter{where} needs a non-empty 'choices' list."
                )
            object.__setattr__(self, "choices", tuple(self.choices))
            return
        if self.low is None or self.high is None or not self.low <= self.high:
            raise AutoImbError(
                f"A {self.type} parameter{where} needs 'low' <= 'high'; "
                f"got low={self.low!r}, high={self.high!r}."
            )
        if self.log and self.low <= 0:
            raise AutoImbError(
                f"A log-scale parameter{where} needs low > 0; got low={self.low!r}."
            )

    def __repr__(self) -> str:
        if self.type == "categorical":
            return f"Param(type='categorical', choices={list(self.choices)!r})"
        log = ", log=True" if self.log else ""
        return f"Param(type={self.type!r}, low={self.low!r}, high={self.high!r}{log})"

    def suggest(self, trial, name: str):
        """Ask ``trial`` for this parameter under ``name``."""
        if self.type == "float":
            return trial.suggest_float(name, self.low, self.high, log=self.log)
        if self.type == "int":
            return trial.suggest_int(name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_categorical(name, list(self.choices))

    @classmethod
    def parse(cls, value, where: str):
        """Read a parameter from its TOML form; a non-table value is a constant."""
        if not isinstance(value, Mapping):
            return value
        known = ("type", "low", "high", "log", "choices")
        _check_keys(value, known, where)
        if "type" not in value:
            raise AutoImbError(
                f"The parameter {where} needs a 'type' "
                f"(one of {sorted(_PARAM_TYPES)}), or a plain value to fix it."
            )
        return cls(**value, where=where)


def _check_keys(table: Mapping, known, where: str) -> None:
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(str(key), list(known), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise AutoImbError(
                f"Unknown key {key!r} in {where}.{hint} "
                f"Known keys: {', '.join(sorted(known))}."
            )


@dataclass(frozen=True)
class SearchSpace:
    """The joint search space of model, weighting, resampler and calibration.

    Build one with :func:`load_search_space` from a preset name, a TOML file or a
    mapping of the same structure.

    Parameters
    ----------
    models : dict of str to dict
        For each model family (see ``autoimb.pipeline.models.MODELS``) its
        hyperparameters, each a :class:`Param` or a constant, and
        ``class_weight``, the weightings to try (a subset of what the family
        supports).
    positive_weight : Param or float
        Weight of the positive class when a model uses a ``"custom"`` weighting
        or LightGBM's ``"scale_pos_weight"``.
    resamplers : tuple of str
        Names from ``autoimb.pipeline.resampling.RESAMPLERS``; ``"none"`` keeps
        the data.
    sampling_ratio : Param or float
        Minority to majority ratio after resampling.
    k_neighbors : Param or int
        Neighbours of the SMOTE family and ADASYN.
    calibrations : tuple of str
        Among ``"none"``, ``"sigmoid"``, ``"isotonic"``: the calibrators every
        trial chooses from (by cross-fitting, not as a searched parameter).
    description : str
        One line shown in listings.
    source : str
        Where the space was read from.
    """

    models: Mapping[str, Mapping[str, Any]]
    positive_weight: Any = 10.0
    resamplers: tuple = ("none",)
    sampling_ratio: Any = 0.5
    k_neighbors: Any = 5
    calibrations: tuple = tuple(CALIBRATIONS)
    description: str = ""
    source: str = field(default="<mapping>", compare=False, repr=False)

    def __post_init__(self):
        where = self.source
        if not self.models:
            raise AutoImbError(f"The search space {where} lists no model.")
        for name, params in self.models.items():
            if name not in MODELS:
                _raise_unknown("model", name, MODELS, where)
            for weighting in params.get("class_weight", ("none",)):
                if weighting not in MODELS[name].weightings:
                    raise AutoImbError(
                        f"Model {name!r} in {where} cannot use class_weight "
                        f"{weighting!r}; it supports {list(MODELS[name].weightings)}."
                    )
        for resampler in self.resamplers:
            if resampler not in RESAMPLERS:
                _raise_unknown("resampler", resampler, RESAMPLERS, where)
        for calibration in self.calibrations:
            if calibration not in CALIBRATIONS:
                _raise_unknown("calibration", calibration, CALIBRATIONS, where)
        _check_range(self.sampling_ratio, 0.0, 1.0, "[resampling] ratio", where,
                     low_open=True)
        _check_range(self.k_neighbors, 1, None, "[resampling] k_neighbors", where)
        _check_range(self.positive_weight, 0.0, None, "[weighting] positive_weight",
                     where, low_open=True)

    @property
    def model_names(self) -> list[str]:
        """The model families in this space."""
        return list(self.models)

    def suggest(self, trial, *, has_categorical: bool = False,
                has_numeric: bool = True) -> Strategy:
        """Ask ``trial`` for one strategy of this space.

        Parameters that do not apply (the resampling ratio when no resampler is
        chosen, a positive weight without custom weighting) are never asked, so
        Optuna's records show only what the trial used.
        """
        model = trial.suggest_categorical("model", self.model_names)
        spec = self.models[model]
        model_params = {
            key: _suggest_or_fix(trial, f"{model}.{key}", value)
            for key, value in spec.items()
            if key != "class_weight"
        }
        weightings = list(spec.get("class_weight", ("none",)))
        weighting = trial.suggest_categorical(f"{model}.class_weight", weightings)
        positive_weight = None
        if weighting in ("custom", "scale_pos_weight"):
            positive_weight = _suggest_or_fix(trial, "positive_weight",
                                              self.positive_weight)
        resampler, ratio, k = "none", None, None
        resamplers = self.usable_resamplers(has_categorical, has_numeric)
        if MODELS[model].resamples_itself:
            resamplers = ["none"]
        if resamplers != ["none"]:
            resampler = trial.suggest_categorical("resampler", resamplers)
        if RESAMPLERS.get(resampler) and RESAMPLERS[resampler].uses_ratio:
            ratio = _suggest_or_fix(trial, "sampling_ratio", self.sampling_ratio)
        if RESAMPLERS.get(resampler) and RESAMPLERS[resampler].uses_neighbors:
            k = _suggest_or_fix(trial, "k_neighbors", self.k_neighbors)
        return Strategy(model=model, model_params=model_params, weighting=weighting,
                        positive_weight=positive_weight, resampler=resampler,
                        sampling_ratio=ratio, k_neighbors=k)

    def usable_resamplers(self, has_categorical: bool, has_numeric: bool) -> list[str]:
        """The resamplers that can run on data with these kinds of columns."""
        usable = []
        for name in self.resamplers:
            if name == "smotenc" and not (has_categorical and has_numeric):
                continue
            usable.append(name)
        return usable or ["none"]

    @classmethod
    def from_mapping(cls, data: Mapping, source: str = "<mapping>") -> SearchSpace:
        """Parse the TOML structure (see ``search_spaces/README.md``)."""
        _check_keys(data, _TOP_KEYS, source)
        if not isinstance(data.get("models", {}), Mapping):
            raise AutoImbError(
                f"'models' in {source} must be a table of model families, e.g. "
                "[models.lightgbm] in TOML or {'models': {'lightgbm': {}}}; got "
                f"{data['models']!r}.")
        models = {}
        for name, params in dict(data.get("models", {})).items():
            if name not in MODELS:
                _raise_unknown("model", name, MODELS, source)
            params = dict(params or {})
            _check_keys(params, (*MODELS[name].hyperparameters, "class_weight"),
                        f"{source} [models.{name}]")
            parsed = {}
            for key, value in params.items():
                where = f"{source} [models.{name}] {key}"
                if key == "class_weight":
                    parsed[key] = tuple(value if isinstance(value, list) else [value])
                else:
                    parsed[key] = Param.parse(value, where)
            models[name] = parsed
        weighting = dict(data.get("weighting", {}))
        _check_keys(weighting, ("positive_weight",), f"{source} [weighting]")
        resampling = dict(data.get("resampling", {}))
        _check_keys(resampling, ("methods", "ratio", "k_neighbors"),
                    f"{source} [resampling]")
        calibration = dict(data.get("calibration", {}))
        _check_keys(calibration, ("methods",), f"{source} [calibration]")
        return cls(
            models=models,
            positive_weight=Param.parse(weighting.get("positive_weight", 10.0),
                                        f"{source} [weighting] positive_weight"),
            resamplers=tuple(resampling.get("methods", ("none",))),
            sampling_ratio=Param.parse(resampling.get("ratio", 0.5),
                                       f"{source} [resampling] ratio"),
            k_neighbors=Param.parse(resampling.get("k_neighbors", 5),
                                    f"{source} [resampling] k_neighbors"),
            calibrations=tuple(calibration.get("methods", tuple(CALIBRATIONS))),
            description=str(data.get("description", "")),
            source=source,
        )


def _check_range(value, low, high, name, where, *, low_open=False):
    """Check a fixed value, or the bounds of a searched one, against a range."""
    bounds = (value.low, value.high) if isinstance(value, Param) else (value, value)
    for bound in bounds:
        if bound is None:
            continue
        too_low = bound <= low if low_open else bound < low
        if too_low or (high is not None and bound > high):
            interval = f"{'(' if low_open else '['}{low}, {high if high else 'inf'}]"
            raise AutoImbError(
                f"{name} in {where} must lie in {interval}; got {bound!r}.")


def _raise_unknown(kind: str, name, known, where: str):
    close = difflib.get_close_matches(str(name), list(known), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise AutoImbError(
        f"Unknown {kind} {name!r} in {where}.{hint} "
        f"Known: {', '.join(sorted(known))}."
    )


def _presets_folder():
    """The folder of the bundled presets: inside the wheel, or the repository's."""
    bundled = resources.files("autoimb").joinpath("search_spaces")
    if bundled.is_dir():
        return bundled
    return Path(__file__).resolve().parents[2] / "search_spaces"


def list_search_spaces() -> dict[str, str]:
    """Name and description of every bundled preset.

    Examples
    --------
    >>> from autoimb import list_search_spaces
    >>> sorted(list_search_spaces())
    ['default', 'fast', 'no_resampling']
    """
    folder = _presets_folder()
    presets = {}
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
            presets[entry.name[: -len(".toml")]] = str(data.get("description", ""))
    return presets


def load_search_space(search_space="default") -> SearchSpace:
    """Load a search space from a preset name, a TOML file or a mapping.

    Parameters
    ----------
    search_space : str, path-like, mapping or SearchSpace, default="default"
        A bundled preset name (see :func:`list_search_spaces`), the path of a TOML
        file with the same schema, a mapping of that structure, or a
        :class:`SearchSpace`, returned as is.

    Returns
    -------
    SearchSpace

    Examples
    --------
    >>> from autoimb import load_search_space
    >>> space = load_search_space("fast")
    >>> space.model_names
    ['logistic_regression', 'hist_gradient_boosting', 'lightgbm']
    """
    if isinstance(search_space, SearchSpace):
        return search_space
    if isinstance(search_space, Mapping):
        return SearchSpace.from_mapping(search_space)
    text = str(search_space)
    path = Path(text)
    if text.endswith(".toml") or path.is_file():
        if not path.is_file():
            raise AutoImbError(
                f"Search space file {text!r} does not exist. Pass an existing TOML "
                f"file or a preset name ({', '.join(sorted(list_search_spaces()))})."
            )
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise AutoImbError(
                f"Search space file {text!r} is not valid TOML: {exc}") from exc
        return SearchSpace.from_mapping(data, source=str(path))
    presets = list_search_spaces()
    if text not in presets:
        close = difflib.get_close_matches(text, list(presets), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise AutoImbError(
            f"Unknown search space preset {text!r}.{hint} "
            f"Presets: {', '.join(sorted(presets))}; or pass the path of a TOML file."
        )
    entry = _presets_folder().joinpath(f"{text}.toml")
    data = tomllib.loads(entry.read_text(encoding="utf-8"))
    return SearchSpace.from_mapping(data, source=f"preset {text!r}")
