"""Model files: the fitted classifier, its metadata and a checksum.

A file is a zip of ``autoimb-model.json`` (format, metadata, SHA-256 of the payload)
and ``payload.bin``, the serialized classifier (joblib or skops bytes). ``load``
reads the JSON, checks the checksum and the library versions before it unpacks the
payload, so a truncated, corrupted or foreign file is refused with a clear message
and without running anything it carries.

A joblib (pickle) payload can run arbitrary code when it is unpacked: load only
files from a source you trust, or export with ``format="skops"``, which loads
without executing code and asks you to trust the types it names.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import platform
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import joblib
import pandas as pd

from autoimb._validation import plain_value
from autoimb._warnings import warn
from autoimb.exceptions import ModelFileError

__all__ = ["export_model", "load", "model_metadata"]

FORMAT = "autoimb-model/1"
_MANIFEST = "autoimb-model.json"
_PAYLOAD = "payload.bin"
_LIBRARIES = ("autoimb", "scikit-learn", "imbalanced-learn", "lightgbm", "optuna",
              "numpy", "pandas")


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in _LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "unknown"
    found["python"] = platform.python_version()
    return found


def model_metadata(model) -> dict:
    """What a model file records about the model besides the model itself."""
    kinds = model.kinds_
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
        "columns": kinds.columns,
        "target": getattr(model, "target_name_", None),
        "id_columns": list(getattr(model, "id_columns_", [])),
        "dtypes": {c: ("categorical" if c in kinds.categorical else "numeric")
                   for c in kinds.columns},
        "fitted_on_dataframe": hasattr(model, "feature_names_in_"),
        "classes": [plain_value(c) for c in model.classes_],
        "pos_label": plain_value(model.pos_label_),
        "objective": model.objective_.kind,
        "fp_cost": model.objective_.fp_cost,
        "fn_cost": model.objective_.fn_cost,
        "threshold": model.threshold_,
        "cv_score": model.best_score_,
        "cv_metrics": {k: plain_value(v) for k, v in model.cv_metrics_.items()},
        "strategy": model.strategy_,
        "best_params": {k: plain_value(v) for k, v in model.best_params_.items()},
        "study_name": getattr(model, "study_name_", None),
        "storage": getattr(model, "storage_location_", None),
    }


def export_model(model, path, *, format: str = "joblib") -> str:
    """Write ``model`` to ``path`` (see the module docstring)."""
    if format not in ("joblib", "skops"):
        raise ModelFileError(
            f"Unknown model file format {format!r}; use 'joblib' or 'skops'.")
    portable = copy.copy(model)
    if hasattr(portable, "results_"):  # skops cannot serialise a DataFrame
        portable.results_ = portable.results_.to_dict(orient="list")
    if format == "joblib":
        buffer = io.BytesIO()
        joblib.dump(portable, buffer)
        payload = buffer.getvalue()
    else:
        import skops.io as sio

        payload = sio.dumps(portable)
    envelope = {"format": FORMAT, "payload_format": format,
                "metadata": model_metadata(model),
                "sha256": hashlib.sha256(payload).hexdigest(), "payload": payload}
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    write_envelope(envelope, tmp)
    os.replace(tmp, path)
    return str(path)


def write_envelope(envelope: dict, path) -> None:
    """Write a model file: a zip of a JSON manifest and the payload bytes."""
    manifest = {k: v for k, v in envelope.items() if k != "payload"}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(_MANIFEST, json.dumps(manifest, indent=1, default=str))
        archive.writestr(_PAYLOAD, envelope["payload"])


def read_envelope(path) -> dict:
    """The checked envelope of a model file, payload not yet unpacked.

    Nothing in the file is unpickled here: the manifest is JSON, and the payload's
    checksum is verified before :func:`load` unpacks it.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"Model file {str(path)!r} does not exist.")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if _MANIFEST not in names or _PAYLOAD not in names:
                raise ModelFileError(
                    f"{str(path)!r} is not an autoimb model file; make one with "
                    "model.export(path) or `autoimb fit ... --out model.joblib`.")
            envelope = json.loads(archive.read(_MANIFEST))
            envelope["payload"] = archive.read(_PAYLOAD)
    except ModelFileError:
        raise
    except zipfile.BadZipFile as exc:
        if "CRC" in str(exc):
            raise ModelFileError(
                f"The checksum of {str(path)!r} does not match its content: the file "
                "is corrupted. Export the model again.") from exc
        raise ModelFileError(
            f"{str(path)!r} is not a readable autoimb model file ({exc}); it may be "
            "truncated or corrupted. Export the model again.") from exc
    except Exception as exc:
        raise ModelFileError(
            f"{str(path)!r} is not a readable autoimb model file "
            f"({type(exc).__name__}: {exc}); it may be truncated or corrupted. Export "
            "the model again.") from exc
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        raise ModelFileError(
            f"{str(path)!r} is not an autoimb model file; make one with "
            "model.export(path) or `autoimb fit ... --out model.joblib`.")
    if hashlib.sha256(envelope["payload"]).hexdigest() != envelope.get("sha256"):
        raise ModelFileError(
            f"The checksum of {str(path)!r} does not match its content: the file is "
            "corrupted. Export the model again.")
    return envelope


def load(path, *, trusted: bool | list[str] = False):
    """Load a model written by :meth:`AutoImbClassifier.export`.

    Parameters
    ----------
    path : str or path-like
    trusted : bool or list of str, default=False
        For skops files only: the types to trust beyond skops' defaults; ``True``
        trusts every type the file names (do this only for files you made).

    Returns
    -------
    AutoImbClassifier

    Examples
    --------
    >>> import autoimb, tempfile, os
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=300, weights=[0.9], random_state=0)
    >>> model = autoimb.fit(X, y, search_space="fast", n_trials=1, cv=2,
    ...                     storage="memory", show_progress_bar=False)
    >>> path = model.export(os.path.join(tempfile.mkdtemp(), "model.joblib"))
    >>> (autoimb.load(path).predict(X) == model.predict(X)).all()
    np.True_
    """
    envelope = read_envelope(path)
    _warn_on_version_mismatch(envelope["metadata"].get("versions", {}), path)
    payload = envelope["payload"]
    if envelope["payload_format"] == "skops":
        import skops.io as sio

        untrusted = sio.get_untrusted_types(data=payload)
        if trusted is True:
            trusted = untrusted
        missing = sorted(set(untrusted) - set(trusted or ()))
        if missing:
            raise ModelFileError(
                f"{str(path)!r} names types skops does not trust by default: "
                f"{', '.join(missing)}. If you made this file or trust its source, "
                "pass trusted=True (or the list of types) to autoimb.load.")
        model = sio.loads(payload, trusted=trusted or None)
    else:
        model = joblib.load(io.BytesIO(payload))
    if isinstance(getattr(model, "results_", None), dict):
        model.results_ = pd.DataFrame(model.results_)
    return model


def _warn_on_version_mismatch(saved: dict, path) -> None:
    now = _versions()
    differ = {k: (v, now.get(k)) for k, v in saved.items()
              if k != "python" and now.get(k) != v}
    if differ:
        text = ", ".join(f"{k} {old} (now {new})" for k, (old, new) in differ.items())
        warn(f"{str(path)!r} was saved with {text}; predictions may differ. Install "
             "the saved versions, or refit and export the model again.")
