"""The ``autoimb`` command line: fit, predict, evaluate, worker, export,
monitor, diagnose, report, dashboard, presets.

Typical use, from a shell::

    autoimb fit train.csv --target fraud --fp-cost 1 --fn-cost 20 --trials 100
    autoimb worker --storage postgresql://db/autoimb --study fraud   # more machines
    autoimb export --storage postgresql://db/autoimb --study fraud --out model.joblib
    autoimb predict model.joblib new.csv --id customer_id --out scores.csv
    autoimb evaluate model.joblib test.parquet --target fraud --json
    autoimb monitor model.joblib batch.csv --reference holdout.csv
    autoimb diagnose model.joblib --data train.csv --target fraud
    autoimb report model.joblib --out report.html
    autoimb dashboard autoimb.journal
    autoimb presets

Data files are CSV or TSV (optionally gzip-compressed) or Parquet, told apart by
their extension (see :mod:`autoimb.deploy.io`). Errors print one line
``autoimb: error: ...`` on stderr and exit with status 2 for usage and input
errors (a missing file, an unknown column, a bad option value, a file that is not
an autoimb model), 1 for other failures, 130 when interrupted (Ctrl+C), 143 when
stopped by SIGTERM (the running trial is queued again) and 75 when the study's
database stayed unreachable; after the last two, the same command resumes the
study. ``autoimb monitor`` also exits with status 1 when an alert fires.
``--debug``, given anywhere on the line, also prints the traceback.

``autoimb fit`` records the name of the target column in the model
(``target_name_``), so that ``autoimb predict`` can drop that column when the
data still holds it, and the ``--id`` columns (``id_columns_``), which every
later command drops without ``--id`` and ``autoimb predict`` copies to its output.
"""

import difflib
import inspect
import json
import math
import os
import sys
import traceback
import warnings
from enum import Enum
from typing import Annotated

import numpy as np
import pandas as pd
import typer

from autoimb._version import __version__
from autoimb.deploy.io import read_table, table_format, write_table
from autoimb.exceptions import (
    AutoImbError,
    NoCompletedTrialError,
    SearchTerminated,
    StorageUnavailableError,
)
from autoimb.pipeline.metrics import METRICS
from autoimb.search.settings import DEFAULT_PARALLEL

__all__ = ["app", "main"]

# Each command imports what it runs inside its own function: `autoimb --help`
# and `autoimb predict` start without loading Optuna, the search or the
# dashboard (start-up speed, not an import cycle: lint-imports checks).

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, what the shell reports for a process it ended
EXIT_STORAGE_LOST = 75  # EX_TEMPFAIL: try again later

#: Names of the columns ``autoimb predict`` writes, after the optional id column.
PROBABILITY_COLUMN = "probability"
LABEL_COLUMN = "label"

app = typer.Typer(
    name="autoimb",
    help="Search the whole imbalanced-classification strategy (model, class "
    "weights, resampler, calibration, threshold) with Optuna.\n\n"
    "Add --debug anywhere to see the traceback of an error.",
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class ObjectiveName(str, Enum):
    cost = "cost"
    average_precision = "average_precision"


class ModelFormat(str, Enum):
    joblib = "joblib"
    skops = "skops"


# Arguments several commands share.
ModelFile = Annotated[str, typer.Argument(
    metavar="MODEL", show_default=False, help="A model file written by `autoimb fit`.")]
Trust = Annotated[bool, typer.Option(
    "--trust", help="Trust every type a skops model file names (only for files you "
    "made).")]


class Parallel(str, Enum):
    threads = "threads"
    processes = "processes"


# -- helpers ------------------------------------------------------------------


def _one_line(text) -> str:
    return " ".join(str(text).split())


def _info(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Print a warning as one line, without the source location."""
    _info(f"autoimb: warning: {_one_line(message)}")


def _positive_number(value: float | None):
    """Option callback: refuse zero, negative, infinite and NaN values."""
    if value is not None and (not math.isfinite(value) or value <= 0):
        raise typer.BadParameter(f"{value:g} is not a positive number.")
    return value


def _n_jobs(value: int | None) -> int | None:
    """Option callback: -1 or a positive number of parallel trials (or unset)."""
    if value is not None and value != -1 and value < 1:
        raise typer.BadParameter(f"{value} is neither -1 nor a positive number.")
    return value


def _missing_column(name: str, columns, path: str, what: str) -> AutoImbError:
    """The error for a column that is not in a data file, with the closest names."""
    columns = [str(c) for c in columns]
    by_case = [c for c in columns if c.lower() == name.lower()]
    close = by_case + [c for c in difflib.get_close_matches(name, columns, n=3)
                       if c not in by_case]
    hint = f" Did you mean {' or '.join(map(repr, close[:3]))}?" if close else ""
    shown = ", ".join(columns[:12]) + (f", ... ({len(columns)} in all)"
                                       if len(columns) > 12 else "")
    message = (f"The {what} column {name!r} is not in {path!r}.{hint} "
               f"Its columns: {shown}.")
    if len(columns) == 1 and any(sep in columns[0] for sep in ";|\t"):
        message += (" The file seems to use another delimiter: .csv files must be "
                    "comma-separated, .tsv files tab-separated.")
    return AutoImbError(message)


def _require_columns(frame: pd.DataFrame, names, path: str, what: str) -> None:
    for name in names:
        if name not in frame.columns:
            raise _missing_column(name, frame.columns, path, what)


def _match_label(value: str, y: pd.Series):
    """The label of ``y`` that the command-line text ``value`` stands for.

    ``"1"`` matches the integer label 1 (or 1.0); text that matches no label is
    returned as is, for the library to refuse with the list of labels.
    """
    labels = pd.unique(y.dropna())
    for label in labels:
        if str(label) == value:
            return label
    try:
        number = float(value)
    except ValueError:
        return value
    for label in labels:
        if isinstance(label, (int, float, np.integer, np.floating)) and \
                not isinstance(label, (bool, np.bool_)) and float(label) == number:
            return label
    return value


def _check_output(path: str, what: str) -> None:
    """Refuse an output path whose folder is missing, before any long work."""
    if os.path.isdir(path):
        raise AutoImbError(f"The {what} {path!r} is a folder; pass a file path.")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise AutoImbError(
            f"Cannot write the {what} {path!r}: the folder {folder!r} does not exist.")
    if not os.access(folder, os.W_OK):
        raise AutoImbError(
            f"Cannot write the {what} {path!r}: permission denied on {folder!r}.")


def _training_columns(model) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        names = model.kinds_.columns
    return [str(c) for c in names]


def _features(model, frame: pd.DataFrame, *, drop, path: str,
              target_option: bool = True):
    """The rows to give the model: ``drop`` removed, the id columns the model
    remembers (``id_columns_``) too, and the training target column when the
    model recorded its name and the data still holds it.

    A column left that the model was not trained on is refused with the way
    out: ``--target NAME`` for one named like a label (or, without
    ``target_option``, leaving it out of ``path``), ``--id`` for others.
    """
    from autoimb._classifier import drop_id_columns
    from autoimb._validation import LABEL_NAMES

    frame = drop_id_columns(model, frame.drop(columns=list(drop)))
    target = getattr(model, "target_name_", None)
    if target is not None and target in frame.columns \
            and target not in _training_columns(model):
        frame = frame.drop(columns=[target])
    if getattr(model, "feature_names_in_", None) is None:
        # Fitted on an array (from Python): columns are matched by position.
        expected = len(model.kinds_.columns)
        if frame.shape[1] != expected:
            labels = [str(c) for c in frame.columns if str(c).lower() in LABEL_NAMES]
            hint = ("" if frame.shape[1] != expected + 1 or not labels else
                    " " + _label_hint(labels[0], path, target_option, target))
            raise AutoImbError(
                f"The model was fitted on an array of {expected} columns, matched by "
                f"position, but the data has {frame.shape[1]} feature columns "
                f"({', '.join(map(str, frame.columns[:12]))}).{hint}")
        return frame.to_numpy()
    expected = _training_columns(model)
    given = [str(c) for c in frame.columns]
    extra = [c for c in given if c not in expected]
    if extra:
        missing = [c for c in expected if c not in given]
        parts = ([f"missing {_listed(missing)}"] if missing else []) + [
            f"unexpected {_listed(extra)}"]
        labels = [c for c in extra if c.lower() in LABEL_NAMES]
        way = (_label_hint(labels[0], path, target_option, target) if labels else
               "Leave the unexpected columns out of the data, or pass --id "
               f"{extra[0]} if that column identifies rows.")
        raise AutoImbError(f"The columns of {path!r} do not match the model's: "
                           f"{'; '.join(parts)}. {way}")
    return frame


def _listed(names: list) -> str:
    return f"{names[:10]}{' ...' if len(names) > 10 else ''}"


def _label_hint(name: str, path: str, target_option: bool, known: str | None) -> str:
    """The way out for a column ``name`` of the data that looks like a label;
    ``known`` is the label column the model records, if any."""
    why = ("a model fitted from Python does not record its label column"
           if known is None else f"the model's own label column is {known!r}")
    if target_option:
        return f"If it is the label, pass --target {name} ({why})."
    return f"If it is the label, leave it out of {path!r} ({why})."


def _load_model(path: str, trust: bool):
    from autoimb.deploy.export import load

    try:
        return load(path, trusted=trust)
    except AutoImbError as exc:
        if not trust and "trusted=" in str(exc):  # a skops file with untrusted types
            raise AutoImbError(
                f"{path!r} is a skops model file naming types that skops does not "
                "trust by default; pass --trust if you made it or trust its "
                "source.") from exc
        raise


def _plain(value):
    """A JSON-ready value: Python scalars, NaN and infinities as null."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _number(value, digits: int | None = 3) -> str:
    """``value`` with ``digits`` decimals, or 6 significant digits if None."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.6g}" if digits is None else f"{value:.{digits}f}"


# -- commands -----------------------------------------------------------------


def _version_callback(value: bool):
    if value:
        print(f"autoimb {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version_callback, is_eager=True,
        help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option(
        "--debug", help="Print the traceback of errors (accepted anywhere on the "
        "line).")] = False,
):
    """Search the whole imbalanced-classification strategy with Optuna."""


@app.command()
def fit(
    data: Annotated[str, typer.Argument(
        metavar="DATA", show_default=False,
        help="Training data: .csv, .csv.gz, .tsv or .parquet.")],
    target: Annotated[str, typer.Option(
        "--target", "-t", metavar="COL", show_default=False,
        help="Name of the label column (two classes).")],
    objective: Annotated[ObjectiveName, typer.Option(
        help="Minimise the cost of errors, or maximise average precision.")
    ] = ObjectiveName.cost,
    fp_cost: Annotated[float | None, typer.Option(
        callback=_positive_number, metavar="X", show_default=False,
        help="Cost of one false positive [default: 1].")] = None,
    fn_cost: Annotated[float | None, typer.Option(
        callback=_positive_number, metavar="X", show_default=False,
        help="Cost of one false negative [default: fp-cost times negatives per "
        "positive].")] = None,
    trials: Annotated[int | None, typer.Option(
        min=1, metavar="N", show_default=False,
        help="Finished trials wanted in the study [default: as many as --timeout "
        "allows, or 50 without a --timeout].")] = None,
    timeout: Annotated[float | None, typer.Option(
        callback=_positive_number, metavar="SECONDS", show_default=False,
        help="Seconds for the whole fit, the final refit included: no trial "
        "starts that would not finish in time, and the fit ends within about "
        "SECONDS (reading the data and writing the model aside) [default: no "
        "limit, the search ends after --trials].")] = None,
    preset: Annotated[str, typer.Option(
        metavar="NAME|FILE",
        help="Search space: a preset name (see `autoimb presets`) or a TOML file.")
    ] = "default",
    storage: Annotated[str | None, typer.Option(
        metavar="URL|FILE", show_default=False,
        help="Where the study lives: a journal file path, 'memory', or a database "
        "URL such as sqlite:///autoimb.db [default: ./autoimb.journal].")] = None,
    study: Annotated[str | None, typer.Option(
        metavar="NAME", show_default=False,
        help="Study name; an existing study of that name is resumed [default: "
        "derived from the data and settings].")] = None,
    cv: Annotated[int | None, typer.Option(
        min=2, metavar="K", show_default=False,
        help="Number of stratified folds [default: chosen by the data's size and "
        "the budget: 5 folds (repeated on small data with a --timeout), 3, or a "
        "20% holdout on large data].")] = None,
    seed: Annotated[int | None, typer.Option(
        metavar="N", show_default=False,
        help="Random seed, for reproducible searches.")] = None,
    n_jobs: Annotated[int | None, typer.Option(
        "--jobs", "--n-jobs", "-j", callback=_n_jobs, metavar="N",
        show_default=False,
        help="Trials run at once, -1 for one per core (results then vary) "
        "[default: one per core, at most 4 and no more than the available memory "
        "holds, in worker processes with a --timeout of 30 s or more and a shared "
        "storage; else 1].")] = None,
    parallel: Annotated[Parallel | None, typer.Option(
        show_default=False,
        help="Run --jobs trials in threads, or in worker processes beside this "
        "one (a journal file or database storage) [default: "
        f"{DEFAULT_PARALLEL}].")] = None,
    out: Annotated[str | None, typer.Option(
        "--out", "-o", metavar="FILE", show_default=False,
        help="Model file to write [default: model.joblib, or model.skops with "
        "--format skops].")] = None,
    format: Annotated[ModelFormat | None, typer.Option(
        "--format", show_default=False,
        help="Model file format [default: skops if --out ends in .skops, else "
        "joblib].")] = None,
    pos_label: Annotated[str | None, typer.Option(
        metavar="LABEL", show_default=False,
        help="The class of interest [default: the minority class].")] = None,
    id_column: Annotated[str | None, typer.Option(
        "--id", metavar="COL", show_default=False,
        help="A column that identifies rows: left out of the features.")] = None,
    progress: Annotated[bool, typer.Option(
        "--progress/--no-progress", help="Show the progress bar.")] = True,
):
    """Search the best strategy on DATA and write the fitted model.

    Prints a short summary on stdout; the study can be watched while it runs with
    `autoimb dashboard STORAGE`. Rerunning the same command resumes the study.
    """
    from autoimb._classifier import fit as fit_model
    from autoimb._classifier import remember_ids
    from autoimb.search.spaces import load_search_space

    fmt = format.value if format is not None else (
        "skops" if out is not None and out.lower().endswith(".skops") else "joblib")
    out = out if out is not None else f"model.{fmt}"
    _check_output(out, "model file")
    load_search_space(preset)  # refuse a bad preset before reading the data
    frame = read_table(data)
    drop = [id_column] if id_column is not None else []
    _require_columns(frame, [target], data, "target")
    _require_columns(frame, drop, data, "id")
    if target in drop:
        raise AutoImbError(f"--id and --target both name the column {target!r}.")
    y = frame[target]
    X = frame.drop(columns=[target, *drop])
    model = fit_model(
        X, y, search_space=preset, objective=objective.value, fp_cost=fp_cost,
        fn_cost=fn_cost, n_trials=trials, timeout=timeout, cv=cv, storage=storage,
        study_name=study, random_state=seed, n_jobs=n_jobs,
        parallel=None if parallel is None else parallel.value,
        pos_label=None if pos_label is None else _match_label(pos_label, y),
        show_progress_bar=progress, data_location=data)
    model.target_name_ = str(target)
    if drop:
        remember_ids(model, frame[drop])
    written = model.export(out, format=fmt)
    print(model.summary())
    print(f"Model written to {written} ({fmt}); score new data with: "
          f"autoimb predict {written} DATA")


@app.command()
def predict(
    model_path: ModelFile,
    data: Annotated[str, typer.Argument(
        metavar="DATA", show_default=False,
        help="Rows to score: .csv, .csv.gz, .tsv or .parquet.")],
    out: Annotated[str | None, typer.Option(
        "--out", "-o", metavar="FILE", show_default=False,
        help="Output file, CSV or Parquet after its extension [default: CSV on "
        "stdout].")] = None,
    id_column: Annotated[str | None, typer.Option(
        "--id", metavar="COL", show_default=False,
        help="A column that identifies rows: copied to the output, not given to "
        "the model [default: the --id given to fit, when DATA holds it].")] = None,
    trust: Trust = False,
):
    """Score DATA: positive-class probability and label of each row.

    The label applies the threshold stored in the model. The output holds the
    --id column (if given; else the id columns the model was fitted with, when
    DATA holds them), `probability` and `label`, one row per input row.
    """
    if out is not None and out != "-":
        table_format(out)  # refuse an unknown output format before predicting
        _check_output(out, "output file")
    model = _load_model(model_path, trust)
    frame = read_table(data)
    drop = [id_column] if id_column is not None else []
    _require_columns(frame, drop, data, "id")
    kept = drop or [c for c in getattr(model, "id_columns_", ()) if c in frame.columns
                    and c not in _training_columns(model)]
    for name in kept:
        if name in (PROBABILITY_COLUMN, LABEL_COLUMN):
            raise AutoImbError(
                f"The id column cannot be named {name!r}: the output has a column "
                "of that name. Rename it in the data.")
    X = _features(model, frame, drop=drop, path=data, target_option=False)
    proba = model.predict_proba(X)[:, list(model.classes_).index(model.pos_label_)]
    labels = model.predict(X)
    result = pd.DataFrame({PROBABILITY_COLUMN: proba, LABEL_COLUMN: labels})
    for at, name in enumerate(kept):
        result.insert(at, name, frame[name].to_numpy())
    if out is None or out == "-":
        result.to_csv(sys.stdout, index=False)
        sys.stdout.flush()
    else:
        write_table(result, out)
        n_pos = int(np.sum(labels == model.pos_label_))
        _info(f"autoimb: wrote {len(result)} rows to {out} ({n_pos} predicted "
              f"{model.pos_label_!r})")


@app.command()
def evaluate(
    model_path: ModelFile,
    data: Annotated[str, typer.Argument(
        metavar="DATA", show_default=False,
        help="Labelled rows: .csv, .csv.gz, .tsv or .parquet.")],
    target: Annotated[str, typer.Option(
        "--target", "-t", metavar="COL", show_default=False,
        help="Name of the label column.")],
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the metrics as a JSON object.")] = False,
    id_column: Annotated[str | None, typer.Option(
        "--id", metavar="COL", show_default=False,
        help="A column that identifies rows: not given to the model [default: "
        "the --id given to fit].")] = None,
    trust: Trust = False,
):
    """Print the metrics of a model on labelled DATA.

    Cost (with the model's fp and fn costs), normalized cost (below 1 beats the
    best trivial rule), average precision, precision, recall, F1 and the
    confusion matrix.
    """
    from autoimb.pipeline.metrics import evaluate as evaluate_model

    model = _load_model(model_path, trust)
    frame = read_table(data)
    drop = [id_column] if id_column is not None else []
    _require_columns(frame, [target], data, "target")
    _require_columns(frame, drop, data, "id")
    X = _features(model, frame, drop=[target, *drop], path=data)
    metrics = evaluate_model(model, X, frame[target].to_numpy())
    fp_cost, fn_cost = model.objective_.fp_cost, model.objective_.fn_cost
    labels = list(model.classes_)
    negative = labels[1 - labels.index(model.pos_label_)]
    if as_json:
        report = {key: _plain(value) for key, value in metrics.items()}
        report.update(fp_cost=_plain(fp_cost), fn_cost=_plain(fn_cost),
                      pos_label=_plain(model.pos_label_),
                      neg_label=_plain(negative))
        print(json.dumps(report, indent=2))
        return
    m = metrics
    notes = {"cost": f"{m['fp']} FP x {fp_cost:g} + {m['fn']} FN x {fn_cost:g}",
             "normalized_cost": "below 1 beats the best trivial rule"}
    rows = [(METRICS[key], _number(m.get(key), None if key == "cost" else 3),
             notes.get(key, ""))
            for key in ("cost", "normalized_cost", "average_precision", "precision",
                        "recall", "f1", "roc_auc", "balanced_accuracy")]
    print(f"{m['n_rows']} rows, {m['n_positive']} of class {model.pos_label_!r}; "
          f"threshold {m['threshold']:.4g} on its calibrated probability")
    for name, value, note in rows:
        print(f"  {name:<19}{value:>12}" + (f"   ({note})" if note else ""))
    head = [f"pred {negative}", f"pred {model.pos_label_}"]
    width = max(10, *(len(h) for h in head)) + 2
    names = [f"true {negative}", f"true {model.pos_label_}"]
    left = max(len(n) for n in names) + 2
    print("Confusion matrix (rows: true label, columns: predicted label)")
    print(" " * (left + 2) + "".join(h.rjust(width) for h in head))
    for name, counts in zip(names, ((m["tn"], m["fp"]), (m["fn"], m["tp"])),
                            strict=True):
        print(f"  {name:<{left}}" + "".join(str(c).rjust(width) for c in counts))


@app.command()
def monitor(
    model_path: ModelFile,
    data: Annotated[str, typer.Argument(
        metavar="BATCH", show_default=False,
        help="New rows: .csv, .csv.gz, .tsv or .parquet.")],
    target: Annotated[str | None, typer.Option(
        "--target", "-t", metavar="COL", show_default=False,
        help="Label column, if the batch is labelled: recall, precision and cost "
        "are then checked too.")] = None,
    reference: Annotated[str | None, typer.Option(
        metavar="FILE", show_default=False,
        help="Rows from the training distribution (held-out rows): the batch's "
        "probabilities are compared with the model's on them (drift).")] = None,
    min_recall: Annotated[float, typer.Option(
        min=0, max=1, metavar="X",
        help="Alert when the positive class's recall is below this.")] = 0.7,
    min_precision: Annotated[float | None, typer.Option(
        min=0, max=1, metavar="X", show_default=False,
        help="Alert when the positive class's precision is below this.")] = None,
    max_cost_per_row: Annotated[float | None, typer.Option(
        min=0, metavar="X", show_default=False,
        help="Alert when the errors cost more than this per row.")] = None,
    max_psi: Annotated[float, typer.Option(
        min=0, metavar="X",
        help="Alert when the population stability index exceeds this.")] = 0.2,
    max_rate_ratio: Annotated[float, typer.Option(
        metavar="X", help="Alert when the positive rate moves by more than this "
        "factor from the training rate.")] = 2.0,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the result as a JSON object.")] = False,
    id_column: Annotated[str | None, typer.Option(
        "--id", metavar="COL", show_default=False,
        help="A column that identifies rows: not given to the model [default: "
        "the --id given to fit].")] = None,
    trust: Trust = False,
):
    """Check a BATCH of new rows against MODEL, with alert levels.

    With --target: recall and precision of each class, cost at the model's
    threshold. Always: the positive rate (counted, or estimated by EM) against
    the training rate; with --reference, the drift of the model's probabilities
    (population stability index, Kolmogorov-Smirnov). Exits with status 1 when
    an alert fires, 0 otherwise.
    """
    from autoimb.deploy.monitor import Monitor

    model = _load_model(model_path, trust)
    drop = [id_column] if id_column is not None else []
    if target is not None and target in drop:
        raise AutoImbError(f"--id and --target both name the column {target!r}.")
    levels = {"min_recall": min_recall, "min_precision": min_precision,
              "max_cost_per_row": max_cost_per_row, "max_psi": max_psi,
              "max_rate_ratio": max_rate_ratio}
    watcher = Monitor(model, **levels)  # refuse bad levels before reading data
    reference_columns = []
    if reference is not None:
        frame = read_table(reference)
        reference_columns = list(frame.columns)
        _require_columns(frame, drop, reference, "id")
        extra = [target] if target is not None and target in frame.columns else []
        try:
            watcher = Monitor(model, reference=_features(
                model, frame, drop=[*drop, *extra], path=reference), **levels)
        except AutoImbError as exc:
            raise AutoImbError(f"The reference {reference!r} does not suit the "
                               f"model: {exc}") from exc
    frame = read_table(data)
    _require_columns(frame, drop, data, "id")
    labels = [] if target is None else [target]
    if target is not None and target not in frame.columns \
            and target in reference_columns:
        # --target named the reference's label column: the batch is unlabelled.
        _info(f"autoimb: {data!r} has no column {target!r}: checked as unlabelled.")
        labels = []
    _require_columns(frame, labels, data, "target")
    X = _features(model, frame, drop=[*drop, *labels], path=data)
    y = frame[labels[0]].to_numpy() if labels else None
    result = watcher.check(X, y, batch=os.path.basename(data))
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result.report())
    if not result.ok:
        raise typer.Exit(code=EXIT_FAILURE)


@app.command()
def dashboard(
    storage: Annotated[str | None, typer.Argument(
        metavar="STORAGE", show_default=False,
        help="Journal file or storage URL of the study [default: "
        "./autoimb.journal].")] = None,
    host: Annotated[str, typer.Option(
        metavar="HOST", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(
        min=1, max=65535, metavar="PORT", show_default=False,
        help="TCP port [default: a free one].")] = None,
    study: Annotated[str | None, typer.Option(
        metavar="NAME", show_default=False,
        help="Open this study's page (and wait for it).")] = None,
    artifact_dir: Annotated[str | None, typer.Option(
        metavar="DIR", show_default=False,
        help="Folder of the figures [default: next to the journal file].")] = None,
    wait: Annotated[float, typer.Option(
        min=0, metavar="SECONDS",
        help="Seconds to wait for the storage to hold a study.")] = 60.0,
    open_browser: Annotated[bool, typer.Option(
        "--open", help="Open the dashboard in a web browser.")] = False,
):
    """Serve optuna-dashboard on a study's storage until Ctrl+C."""
    try:
        from autoimb.explain.dashboard import run_dashboard
    except ImportError as exc:
        raise _Unavailable(
            f"The dashboard is not available in this installation "
            f"({_one_line(exc)}); reinstall autoimb.") from exc
    options = {"host": host, "port": port, "study_name": study,
               "artifact_dir": artifact_dir, "wait_for_study": wait}
    if open_browser:
        if "open_browser" not in inspect.signature(run_dashboard).parameters:
            raise _Unavailable("This version of the dashboard cannot open a browser; "
                               "open the printed URL yourself.")
        options["open_browser"] = True
    try:
        run_dashboard(storage, **options)
    except AutoImbError as exc:
        raise AutoImbError(str(exc).replace("wait_for_study", "--wait")) from exc


@app.command()
def worker(
    study: Annotated[str, typer.Option(
        metavar="NAME", show_default=False,
        help="The study to join (made by `autoimb fit --study NAME`).")],
    storage: Annotated[str | None, typer.Option(
        metavar="URL|FILE", show_default=False,
        help="Where the study lives: a database URL such as "
        "postgresql://user@host/db, or a journal file [default: "
        "./autoimb.journal].")] = None,
    trials: Annotated[int | None, typer.Option(
        min=1, metavar="N", show_default=False,
        help="Run at most N trials in this worker [default: until the study's "
        "budget is reached].")] = None,
    timeout: Annotated[float | None, typer.Option(
        callback=_positive_number, metavar="SECONDS", show_default=False,
        help="Start no trial that would end later than this [default: the "
        "study's deadline, if it has one].")] = None,
    data: Annotated[str | None, typer.Option(
        metavar="PATH", show_default=False,
        help="This machine's copy of the training data [default: the file the "
        "study records]; its fingerprint must be the study's.")] = None,
    target: Annotated[str | None, typer.Option(
        "--target", "-t", metavar="COL", show_default=False,
        help="The label column of --data [default: the study's].")] = None,
    wait: Annotated[float, typer.Option(
        min=0, metavar="SECONDS",
        help="Seconds to wait for the study to be created.")] = 300.0,
    progress: Annotated[bool, typer.Option(
        "--progress/--no-progress", help="Show the progress bar (waiting for "
        "the study and joining it are said either way).")] = True,
):
    """Join a study that `autoimb fit` made, and run its trials.

    Reads the data, the objective, the search space and the folds from the
    study; refuses data whose fingerprint differs from the study's; stops when
    the study holds its budget of finished trials (whoever ran them) or at its
    deadline. Does not write a model: `autoimb export` does, once the workers
    are done.
    """
    from autoimb.workers.worker import run_worker

    done = run_worker(storage, study, data=data, target=target, n_trials=trials,
                      timeout=timeout, wait=wait, show_progress_bar=progress,
                      verbose=True)
    shown = storage if storage is not None else "autoimb.journal"
    print(f"Worker {done.describe()}.")
    print(f"Build the model with: autoimb export --storage {_shown(shown)} "
          f"--study {study} --out model.joblib")
    return EXIT_INTERRUPTED if done.interrupted else 0


@app.command()
def export(
    study: Annotated[str, typer.Option(
        metavar="NAME", show_default=False, help="The study to build the model of.")],
    storage: Annotated[str | None, typer.Option(
        metavar="URL|FILE", show_default=False,
        help="Where the study lives: a database URL or a journal file [default: "
        "./autoimb.journal].")] = None,
    out: Annotated[str | None, typer.Option(
        "--out", "-o", metavar="FILE", show_default=False,
        help="Model file to write [default: model.joblib, or model.skops with "
        "--format skops].")] = None,
    format: Annotated[ModelFormat | None, typer.Option(
        "--format", show_default=False,
        help="Model file format [default: skops if --out ends in .skops, else "
        "joblib].")] = None,
    data: Annotated[str | None, typer.Option(
        metavar="PATH", show_default=False,
        help="A copy of the training data [default: the file the study "
        "records].")] = None,
    target: Annotated[str | None, typer.Option(
        "--target", "-t", metavar="COL", show_default=False,
        help="The label column of --data [default: the study's].")] = None,
    progress: Annotated[bool, typer.Option(
        "--progress/--no-progress", help="Say what is read and built.")] = True,
):
    """Build the final model from a study's trials and write the model file.

    The final model is chosen among the study's completed trials, whoever ran
    them, from the out-of-fold scores stored with the study, exactly as
    `autoimb fit` chooses after its search (the same trials give the same
    model and bias-corrected score), then refitted on all rows.
    """
    from autoimb.workers.export import export_study

    fmt = format.value if format is not None else (
        "skops" if out is not None and out.lower().endswith(".skops") else "joblib")
    out = out if out is not None else f"model.{fmt}"
    _check_output(out, "model file")
    model = export_study(storage, study, out, data=data, target=target, format=fmt,
                         show_progress_bar=progress)
    print(model.summary())
    print(f"Model written to {out} ({fmt}); score new data with: "
          f"autoimb predict {out} DATA")


def _shown(storage: str) -> str:
    return _storage_location(storage).shown


def _storage_location(storage: str):
    from autoimb.storage.location import StorageLocation

    return StorageLocation.parse(storage)


@app.command()
def diagnose(
    model_path: ModelFile,
    data: Annotated[str | None, typer.Option(
        "--data", metavar="FILE", show_default=False,
        help="The training data again, for the learning curve (it refits the "
        "best strategy on subsamples).")] = None,
    target: Annotated[str | None, typer.Option(
        "--target", "-t", metavar="COL", show_default=False,
        help="Name of the label column of --data.")] = None,
    id_column: Annotated[str | None, typer.Option(
        "--id", metavar="COL", show_default=False,
        help="A column of --data that identifies rows: not given to the "
        "model [default: the --id given to fit].")] = None,
    time_limit: Annotated[float, typer.Option(
        callback=_positive_number, metavar="SECONDS",
        help="Seconds for the learning curve's fits.")] = 60.0,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the diagnosis as a JSON object.")] = False,
    trust: Trust = False,
):
    """Is imbalance the real problem? Diagnose a model and its search.

    What imbalance handling gained over none, how well the classes separate,
    rows whose label the model confidently contradicts (possible label noise),
    and with --data a learning curve (would more rows help?), then a verdict.
    """
    if (data is None) != (target is None):
        raise AutoImbError("--data and --target go together: pass both for the "
                           "learning curve, or neither.")
    model = _load_model(model_path, trust)
    X = y = None
    if data is not None:
        frame = read_table(data)
        drop = [id_column] if id_column is not None else []
        _require_columns(frame, [target], data, "target")
        _require_columns(frame, drop, data, "id")
        X = _features(model, frame, drop=[target, *drop], path=data)
        y = frame[target].to_numpy()
    diagnosis = model.diagnose(X, y, time_limit=time_limit)
    if as_json:
        print(json.dumps(diagnosis.to_dict(), indent=2))
    else:
        print(diagnosis)


@app.command()
def report(
    model_path: ModelFile,
    out: Annotated[str, typer.Option(
        "--out", "-o", metavar="FILE",
        help="The HTML file to write.")] = "autoimb-report.html",
    data: Annotated[str | None, typer.Option(
        "--data", metavar="FILE", show_default=False,
        help="The training data again: missing values and the diagnostics' "
        "learning curve.")] = None,
    target: Annotated[str | None, typer.Option(
        "--target", "-t", metavar="COL", show_default=False,
        help="Name of the label column of --data.")] = None,
    id_column: Annotated[str | None, typer.Option(
        "--id", metavar="COL", show_default=False,
        help="A column of --data that identifies rows: not given to the "
        "model [default: the --id given to fit].")] = None,
    storage: Annotated[str | None, typer.Option(
        metavar="URL|FILE", show_default=False,
        help="Read the trials from the study in this storage [default: the one "
        "the model names, if it can be read].")] = None,
    study: Annotated[str | None, typer.Option(
        metavar="NAME", show_default=False,
        help="Name of that study [default: the model's].")] = None,
    diagnostics: Annotated[bool, typer.Option(
        "--diagnostics/--no-diagnostics",
        help="Add the diagnostics (is imbalance the real problem?).")] = True,
    time_limit: Annotated[float, typer.Option(
        callback=_positive_number, metavar="SECONDS",
        help="Seconds for the learning curve's fits (with --data).")] = 60.0,
    trust: Trust = False,
):
    """Write a self-contained HTML report of MODEL and its search.

    One file that opens offline: the data, the winning pipeline in words, the
    search history, which choices mattered, the best trial of each strategy
    family, precision-recall, cost against threshold, reliability, the confusion
    matrix and the diagnostics.
    """
    from autoimb.explain.report import load_study, open_model_study
    from autoimb.explain.report import report as write_report

    if (data is None) != (target is None):
        raise AutoImbError("--data and --target go together: pass both, or "
                           "neither.")
    _check_output(out, "report")
    model = _load_model(model_path, trust)
    if storage is not None or study is not None:
        location = storage or getattr(model, "storage_location_", None)
        name = study or getattr(model, "study_name_", None)
        if not location or not name:
            raise AutoImbError("The model names no stored study; pass both "
                               "--storage and --study.")
        _storage_location(location).require_file()  # a report creates none
        found, why = load_study(location, name)
        if found is None:
            raise AutoImbError(f"Cannot read the trials: {why}. Check --storage "
                               "and --study, or leave them out to use the model's "
                               "own record.")
    else:
        found, why = open_model_study(model)
        if found is None:
            _info(f"autoimb: the trials come from the model file ({why}).")
    X = y = None
    if data is not None:
        frame = read_table(data)
        drop = [id_column] if id_column is not None else []
        _require_columns(frame, [target], data, "target")
        _require_columns(frame, drop, data, "id")
        X = _features(model, frame, drop=[target, *drop], path=data)
        y = frame[target].to_numpy()
    written = write_report(model, out, X=X, y=y, study=found,
                           diagnose=diagnostics, time_limit=time_limit)
    print(f"Report written to {written}")


@app.command()
def presets():
    """List the bundled search-space presets (for fit --preset)."""
    from autoimb.search.spaces import list_search_spaces

    found = list_search_spaces()
    width = max((len(name) for name in found), default=0) + 2
    for name, description in found.items():
        print(f"{name:<{width}}{_one_line(description)}")


# -- entry point --------------------------------------------------------------


class _Unavailable(Exception):
    """A feature of this installation is missing (exit status 1)."""


def _pop_debug(args: list[str]) -> tuple[bool, list[str]]:
    """Take ``--debug`` out of the arguments, wherever it is before ``--``."""
    end = args.index("--") if "--" in args else len(args)
    debug = "--debug" in args[:end]
    kept = [a for a in args[:end] if a != "--debug"] + args[end:]
    return debug, kept


def _usage_message(exc) -> str:
    """Click's message of a usage error, with where to read the usage."""
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None) or "autoimb"
    message = _one_line(exc.format_message()).replace("Value error, ", "")
    return f"{message.rstrip('.')}; see '{path} --help'."


def _click_errors() -> tuple[type, ...]:
    """The exception classes of the click that typer uses (vendored or not)."""
    found = []
    if hasattr(typer, "TyperException"):
        found.append(typer.TyperException)
    try:
        import click
    except ImportError:
        pass
    else:
        found.append(click.ClickException)
    return tuple(found)


def _abort_errors() -> tuple[type, ...]:
    found = [typer.Abort]
    try:
        import click
    except ImportError:
        pass
    else:
        found.append(click.exceptions.Abort)
    return tuple(found)


def _run(args: list[str]) -> int:
    command = typer.main.get_command(app)
    result = command.main(args=args, prog_name="autoimb", standalone_mode=False)
    return result if isinstance(result, int) else 0


def main(argv=None) -> int:
    """Run the command line on ``argv`` (default: ``sys.argv[1:]``).

    Returns the exit status: 0 on success, 2 for usage and input errors, 1 for
    other failures, 130 when interrupted, 143 when stopped by SIGTERM, 75 when
    the study's database stayed unreachable.
    """
    debug, args = _pop_debug(list(sys.argv[1:] if argv is None else argv))

    def fail(message: str, status: int) -> int:
        if debug:
            traceback.print_exc()
        _info(f"autoimb: error: {_one_line(message)}")
        return status

    with warnings.catch_warnings():
        if not debug:
            warnings.showwarning = _show_warning
        try:
            status = _run(args)
            if status == EXIT_INTERRUPTED:  # typer turns Ctrl+C into this status
                _info("autoimb: interrupted")
            return status
        except _click_errors() as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":
                print(exc.format_message(), file=sys.stderr)
                return EXIT_USAGE
            status = getattr(exc, "exit_code", EXIT_FAILURE)
            if status == EXIT_USAGE:
                return fail(_usage_message(exc), status)
            return fail(exc.format_message(), status)
        except _abort_errors():
            return fail("aborted", EXIT_FAILURE)
        except KeyboardInterrupt:
            return fail("interrupted", EXIT_INTERRUPTED)
        except SearchTerminated as exc:
            return fail(str(exc), EXIT_TERMINATED)
        except StorageUnavailableError as exc:
            return fail(str(exc), EXIT_STORAGE_LOST)
        except NoCompletedTrialError as exc:
            return fail(str(exc), EXIT_FAILURE)
        except AutoImbError as exc:
            return fail(str(exc), EXIT_USAGE)
        except BrokenPipeError:
            # The reader of stdout went away (e.g. `| head`): stop quietly.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return EXIT_FAILURE
        except _Unavailable as exc:
            return fail(str(exc), EXIT_FAILURE)
        except Exception as exc:
            if type(exc).__name__ == "InvalidParameterError":  # scikit-learn's
                return fail(str(exc), EXIT_USAGE)
            if isinstance(exc, OSError) and exc.strerror:
                where = f": {exc.filename!r}" if exc.filename else ""
                return fail(f"{exc.strerror}{where}", EXIT_FAILURE)
            more = "" if debug else " (run with --debug for the traceback)"
            return fail(f"{type(exc).__name__}: {exc}{more}", EXIT_FAILURE)


if __name__ == "__main__":
    sys.exit(main())
