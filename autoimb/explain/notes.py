"""Markdown notes and figure artifacts shown by optuna-dashboard.

optuna-dashboard renders a study's and each trial's *note* as GitHub-flavoured
Markdown (tables work, raw HTML does not unless the dashboard runs with
``--allow-unsafe``) and shows images with ``![title](url)``. Artifacts
uploaded with :func:`optuna.artifacts.upload_artifact` are listed on the
trial or study page and served by the dashboard at

* ``/artifacts/<study_id>/<artifact_id>`` for a study's artifact,
* ``/artifacts/<study_id>/<trial_id>/<artifact_id>`` for a trial's artifact,

where the ids are the storage's internal ids (see
:mod:`autoimb._optuna_compat`), not the trial number. :func:`artifact_url` builds
those paths, to embed a figure in a note.

The builders (:func:`trial_note`, :func:`study_note`) are pure functions
that return Markdown text. The ``attach_*`` functions write to the storage and
never raise on a storage failure: a diagnostic must never break a search.

Optuna 5 refuses to change a finished trial: upload a trial's figures while
the trial is running (inside the objective, before it returns). A note of a
trial is kept in the *study's* system attributes, so it can still be saved
for a finished trial (:func:`attach_trial_note` takes the live
:class:`optuna.Trial`, or a :class:`~optuna.trial.FrozenTrial` with its study).

Examples
--------
>>> print(trial_note(strategy="LightGBM, class weights", state="COMPLETE",
...                  fold_scores=[0.5, 0.7], metric_name="average_precision",
...                  confusion=None, threshold=None, metrics=None, reason=None))
### Strategy
<BLANKLINE>
LightGBM, class weights
<BLANKLINE>
**State:** COMPLETE
<BLANKLINE>
### Cross-validation
<BLANKLINE>
| fold | average_precision |
| ---: | ---: |
| 1 | 0.5 |
| 2 | 0.7 |
| **mean ± sd** | **0.6 ± 0.1** |
"""

from __future__ import annotations

import logging
import math
import os
import re
import tempfile
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import optuna

from autoimb._optuna_compat import storage_of, study_id_of, trial_id_of, trial_stand_in
from autoimb.exceptions import AutoImbError
from autoimb.storage.location import local_file

if TYPE_CHECKING:
    # lazy: matplotlib loads only when a figure is drawn
    from matplotlib.figure import Figure

    from autoimb._optuna_compat import ArtifactStore

__all__ = [
    "artifact_dir_for",
    "artifact_url",
    "attach_figures",
    "attach_study_note",
    "attach_trial_note",
    "default_artifact_store",
    "study_note",
    "trial_note",
]

logger = logging.getLogger(__name__)

#: Suffix of the artifact folder laid next to a storage file.
ARTIFACT_DIR_SUFFIX = ".artifacts"

_FAILED_STATES = {"PRUNED", "FAIL"}

# Serialises note writes of this process (see _save_note).
_NOTE_LOCK = threading.Lock()


def _fmt(value: Any, digits: int = 4) -> str:
    """Format a number for a note: ``digits`` significant digits, ``n/a`` for NaN."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return _cell(str(value))
    if math.isnan(number):
        return "n/a"
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return f"{number:.{digits}g}"


def _cell(text: str) -> str:
    """Make ``text`` safe inside one Markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _state_name(state: Any) -> str:
    """``TrialState.PRUNED`` or ``"pruned"`` -> ``"PRUNED"``."""
    name = getattr(state, "name", state)
    return str(name).upper()


def _fold_table(fold_scores: Sequence[float], metric_name: str) -> list[str]:
    lines = [f"| fold | {_cell(metric_name)} |", "| ---: | ---: |"]
    for i, score in enumerate(fold_scores, start=1):
        lines.append(f"| {i} | {_fmt(score)} |")
    finite = [float(s) for s in fold_scores if s is not None and math.isfinite(s)]
    if len(finite) >= 2:
        mean = sum(finite) / len(finite)
        sd = math.sqrt(sum((s - mean) ** 2 for s in finite) / len(finite))
        lines.append(f"| **mean ± sd** | **{_fmt(mean)} ± {_fmt(sd)}** |")
    return lines


def _confusion_table(confusion: Mapping[str, Any]) -> list[str]:
    missing = {"tn", "fp", "fn", "tp"} - set(confusion)
    if missing:
        raise AutoImbError(
            f"confusion is missing the key(s) {sorted(missing)}; pass a dict "
            "with the counts 'tn', 'fp', 'fn' and 'tp'."
        )
    tn, fp, fn, tp = (confusion[k] for k in ("tn", "fp", "fn", "tp"))
    return [
        "| | predicted negative | predicted positive |",
        "| --- | ---: | ---: |",
        f"| **actual negative** | {_fmt(tn)} (TN) | {_fmt(fp)} (FP) |",
        f"| **actual positive** | {_fmt(fn)} (FN) | {_fmt(tp)} (TP) |",
    ]


def trial_note(
    *,
    strategy: str,
    state: str,
    fold_scores: Sequence[float],
    metric_name: str,
    confusion: Mapping[str, Any] | None,
    threshold: float | None,
    metrics: Mapping[str, float] | None,
    reason: str | None,
    outcome: str | None = None,
) -> str:
    """Build the Markdown note of one trial.

    Parameters
    ----------
    strategy : str
        The trial's strategy in words (model, weights, resampler, calibration).
    state : str or optuna.trial.TrialState
        ``"COMPLETE"``, ``"PRUNED"``, ``"FAIL"``, ``"RUNNING"``...
    fold_scores : sequence of float
        The objective's score on each cross-validation fold seen so far.
    metric_name : str
        Name of the score (column header of the fold table).
    confusion : dict or None
        Out-of-fold confusion counts at ``threshold``, keys ``"tn"``,
        ``"fp"``, ``"fn"``, ``"tp"``; ``None`` leaves the table out.
    threshold : float or None
        Decision threshold the confusion matrix was counted at.
    metrics : dict of str to float or None
        Other metrics to list (e.g. recall, precision, cost).
    reason : str or None
        Why the trial was pruned or failed; shown in a "Why" section. A
        pruned or failed trial always gets that section.
    outcome : str, default=None
        How the trial ended in autoimb's words (completed, pruned, stopped,
        skipped, failed: :mod:`autoimb.storage.outcomes`), shown beside
        Optuna's ``state`` (a skipped trial is PRUNED in Optuna).

    Returns
    -------
    str
        Markdown text.

    Raises
    ------
    AutoImbError
        If ``confusion`` lacks one of its four keys.

    Examples
    --------
    >>> note = trial_note(strategy="logistic regression", state="PRUNED",
    ...                   fold_scores=[0.1], metric_name="AP", confusion=None,
    ...                   threshold=None, metrics=None, reason="fold 1 below median")
    >>> note.splitlines()[-3:]
    ['### Why', '', 'fold 1 below median']
    """
    state_name = _state_name(state)
    parts: list[str] = ["### Strategy", "", str(strategy).strip() or "(unknown)", ""]
    parts += [f"**Outcome:** {outcome} (Optuna state {state_name})" if outcome
              else f"**State:** {state_name}", ""]
    parts += ["### Cross-validation", ""]
    if fold_scores:
        parts += _fold_table(list(fold_scores), metric_name)
    else:
        parts.append("No fold was scored.")
    if confusion is not None:
        at = f" at threshold {_fmt(threshold)}" if threshold is not None else ""
        parts += ["", f"### Confusion matrix{at} (out of fold)", ""]
        parts += _confusion_table(confusion)
    elif threshold is not None:
        parts += ["", f"**Threshold:** {_fmt(threshold)}"]
    if metrics:
        parts += ["", "### Metrics", "", "| metric | value |", "| --- | ---: |"]
        parts += [f"| {_cell(k)} | {_fmt(v)} |" for k, v in metrics.items()]
    if state_name in _FAILED_STATES or reason:
        text = str(reason).strip() if reason else "No reason was recorded."
        parts += ["", "### Why", "", text]
    return "\n".join(parts)


def _class_lines(class_counts: Mapping[Any, int]) -> list[str]:
    lines = ["| class | rows | share |", "| --- | ---: | ---: |"]
    total = sum(int(v) for v in class_counts.values())
    for label, count in class_counts.items():
        share = f"{100.0 * int(count) / total:.2f} %" if total else "n/a"
        lines.append(f"| {_cell(str(label))} | {int(count)} | {share} |")
    counts = [int(v) for v in class_counts.values()]
    if len(counts) == 2 and min(counts) > 0:
        ratio = max(counts) / min(counts)
        lines += ["", f"Imbalance ratio (majority : minority): **{ratio:.3g} : 1**"]
    elif len(counts) == 2:
        lines += ["", "One class has no row: the ratio is undefined."]
    return lines


def study_note(
    *,
    n_rows: int,
    n_columns: int,
    class_counts: Mapping[Any, int],
    objective: str,
    fp_cost: float | None,
    fn_cost: float | None,
    best: Mapping[str, Any] | None,
    image_links: Sequence[tuple[str, str]] | None,
) -> str:
    """Build the Markdown note of a study.

    Parameters
    ----------
    n_rows, n_columns : int
        Shape of the training data.
    class_counts : dict
        Rows per class label, e.g. ``{0: 990, 1: 10}``.
    objective : str
        Name of the objective the search optimises.
    fp_cost, fn_cost : float or None
        Costs of a false positive and a false negative, if the objective
        uses them.
    best : dict or None
        The best trial so far: keys ``"number"``, ``"value"``, ``"estimate"``
        (the bias-corrected value of the returned model), ``"optimistic"``
        (whether ``"value"`` is better than ``"estimate"``; default True),
        ``"strategy"`` and ``"scored_rows"`` (the rows each trial was scored
        on, when costs are totals over all ``n_rows`` but trials were scored on
        fewer, as on a holdout; each optional). ``None`` before any trial completed.
    image_links : list of (title, url) or None
        Images to show, e.g. ``[("PR curve", artifact_url(study, art_id))]``.
        URLs ending in an image extension, or pointing at ``/artifacts/``,
        are embedded as images; others are written as links.

    Returns
    -------
    str
        Markdown text.

    Examples
    --------
    >>> text = study_note(n_rows=1000, n_columns=12, class_counts={0: 980, 1: 20},
    ...                   objective="cost", fp_cost=1.0, fn_cost=25.0,
    ...                   best={"number": 7, "value": 131.0, "strategy": "LightGBM"},
    ...                   image_links=[("Cost curve", "/artifacts/1/ab-12")])
    >>> "Imbalance ratio (majority : minority): **49 : 1**" in text
    True
    >>> text.splitlines()[-1]
    '![Cost curve](/artifacts/1/ab-12)'
    """
    parts = ["## Data", "", f"{int(n_rows)} rows, {int(n_columns)} columns.", ""]
    parts += _class_lines(class_counts)
    parts += ["", "## Objective", "", f"**{_cell(objective)}**"]
    if fp_cost is not None or fn_cost is not None:
        parts += [
            "",
            f"Cost of a false positive: {_fmt(fp_cost)}; "
            f"of a false negative: {_fmt(fn_cost)}.",
        ]
    parts += ["", "## Best trial so far", ""]
    if best:
        parts += [
            f"Trial **#{best.get('number', '?')}**, value "
            f"**{_fmt(best.get('value'))}**",
        ]
        if best.get("estimate") is not None:
            # optimistic only when better than the estimate (best["optimistic"])
            why = ("That value is the best of many on the same rows, so optimistic. "
                   if best.get("optimistic", True) else
                   "That value is its raw cross-validated value. ")
            parts += [
                "",
                f"{why}Expected on new data (bootstrap bias-corrected): "
                f"**{_fmt(best.get('estimate'))}**.",
            ]
        scored = best.get("scored_rows")
        if scored and scored < n_rows:
            parts += [
                "",
                f"These costs are totals over the {int(n_rows)} training rows. A "
                f"trial's value in the trials table is its cost over the {int(scored)} "
                f"rows it was scored on, about {n_rows / scored:.3g} times lower.",
            ]
        if best.get("strategy"):
            parts += ["", str(best["strategy"])]
    else:
        parts.append("No trial has completed yet.")
    if image_links:
        parts += ["", "## Figures", ""]
        for i, (title, url) in enumerate(image_links):
            if i:
                parts.append("")
            safe_title = str(title).replace("[", "(").replace("]", ")")
            is_image = "/artifacts/" in url or re.search(
                r"\.(png|jpe?g|gif|svg|webp)$", url, flags=re.IGNORECASE
            )
            prefix = "!" if is_image else ""
            parts.append(f"{prefix}[{safe_title}]({url})")
    return "\n".join(parts)


def artifact_url(study_or_trial: optuna.Study | optuna.Trial, artifact_id: str) -> str:
    """URL path at which optuna-dashboard serves an artifact.

    Parameters
    ----------
    study_or_trial : optuna.Study or optuna.Trial
        What the artifact was uploaded to (a :class:`~optuna.trial.FrozenTrial`
        works as well: its internal id is used).
    artifact_id : str
        The id :func:`attach_figures` or
        :func:`optuna.artifacts.upload_artifact` returned.

    Returns
    -------
    str
        ``/artifacts/<study_id>/<artifact_id>`` for a study,
        ``/artifacts/<study_id>/<trial_id>/<artifact_id>`` for a trial. The
        path is relative to the dashboard's root, which is what a note needs.

    Raises
    ------
    TypeError
        If ``study_or_trial`` is neither a study nor a trial.
    """
    if isinstance(study_or_trial, optuna.Study):
        return f"/artifacts/{study_id_of(study_or_trial)}/{artifact_id}"
    if isinstance(study_or_trial, optuna.Trial):
        study_id = study_id_of(study_or_trial.study)
        return f"/artifacts/{study_id}/{trial_id_of(study_or_trial)}/{artifact_id}"
    raise TypeError(
        f"study_or_trial must be an optuna.Study or optuna.Trial, got "
        f"{type(study_or_trial).__name__}."
    )


def _save_note(target: Any, body: str, what: str) -> bool:
    try:
        from optuna_dashboard import save_note

        # save_note reads the note version, then writes it and the text chunks:
        # two threads writing at once could interleave their chunks.
        with _NOTE_LOCK:
            save_note(target, body)
    except Exception as exc:
        logger.warning(
            "Could not save the %s note (%s: %s); the search goes on without it. "
            "Check that the storage is writable and that optuna-dashboard is "
            "installed.",
            what,
            type(exc).__name__,
            exc,
        )
        return False
    return True


def attach_trial_note(
    trial: optuna.Trial | optuna.trial.FrozenTrial,
    body: str,
    *,
    study: optuna.Study | None = None,
) -> bool:
    """Save ``body`` as the trial's note in optuna-dashboard; never raise.

    Parameters
    ----------
    trial : optuna.Trial or optuna.trial.FrozenTrial
        The live trial (the object the objective received), running or
        finished: the note is stored in the study's system attributes, which
        optuna 5 still lets one change after the trial ended. A FrozenTrial
        (e.g. in a study callback) needs ``study``.
    body : str
        Markdown text, e.g. from :func:`trial_note`. Saving again replaces it.
    study : optuna.Study or None, default=None
        The trial's study; required only with a FrozenTrial.

    Returns
    -------
    bool
        True if the note was saved; False (and a logged warning) otherwise.
    """
    number = getattr(trial, "number", "?")
    if isinstance(trial, optuna.trial.FrozenTrial):
        if study is None:
            logger.warning(
                "Could not save the note of trial #%s: a FrozenTrial has no "
                "storage; pass study=<its study>, or the optuna.Trial the "
                "objective received.",
                number,
            )
            return False
        return _save_note(trial_stand_in(study, trial), body, f"trial #{number}")
    return _save_note(trial, body, f"trial #{number}")


def attach_study_note(study: optuna.Study, body: str) -> bool:
    """Save ``body`` as the study's note in optuna-dashboard; never raise.

    Parameters
    ----------
    study : optuna.Study
        The study.
    body : str
        Markdown text, e.g. from :func:`study_note`. Saving again replaces it.

    Returns
    -------
    bool
        True if the note was saved; False (and a logged warning) otherwise.
    """
    name = getattr(study, "study_name", "?")
    return _save_note(study, body, f"study {name!r}")


def _artifact_filename(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("._") or "figure"
    return stem if stem.lower().endswith(".png") else f"{stem}.png"


def attach_figures(
    study_or_trial: optuna.Study | optuna.Trial,
    figures: Mapping[str, Figure],
    artifact_store: ArtifactStore,
) -> dict[str, str]:
    """Upload figures as PNG artifacts of a study or a running trial.

    Each figure is stored as ``<name>.png`` (so the dashboard shows it as an
    image, captioned with that file name). An upload that fails (a finished
    trial, a full disk...) is logged as a warning and left out; it never
    raises.

    Parameters
    ----------
    study_or_trial : optuna.Study or optuna.Trial
        The study, or a trial that is still running (optuna 5 refuses to
        attach artifacts to a finished trial).
    figures : dict of str to matplotlib.figure.Figure
        Figures by name, e.g. ``{"pr_curve": plot_precision_recall(...)}``.
    artifact_store : optuna.artifacts.FileSystemArtifactStore or other store
        Where the PNG bytes go, e.g. :func:`default_artifact_store`; the
        dashboard must be given the same store to show them.

    Returns
    -------
    dict of str to str
        Artifact id of each uploaded figure, by name. Pass one to
        :func:`artifact_url` to embed the figure in a note.

    Raises
    ------
    TypeError
        If ``study_or_trial`` is not a study or trial, ``artifact_store`` is
        None, or a value of ``figures`` is not a Figure.
    """
    if isinstance(study_or_trial, optuna.trial.FrozenTrial) or not isinstance(
        study_or_trial, (optuna.Study, optuna.Trial)
    ):
        raise TypeError(
            "study_or_trial must be an optuna.Study or the running optuna.Trial, "
            f"got {type(study_or_trial).__name__}; upload trial figures inside the "
            "objective, before it returns."
        )
    if artifact_store is None:
        raise TypeError(
            "artifact_store is None; pass e.g. default_artifact_store(journal_path)."
        )
    # lazy: matplotlib loads only when a figure is drawn
    from matplotlib.figure import Figure

    # lazy: matplotlib loads only when a figure is drawn
    from autoimb.explain.figures import figure_to_png

    for name, fig in figures.items():
        if not isinstance(fig, Figure):
            raise TypeError(
                f"figures[{name!r}] is a {type(fig).__name__}, not a "
                "matplotlib.figure.Figure; pass the plot_* functions' results."
            )
    ids: dict[str, str] = {}
    if _finished(study_or_trial):
        # optuna 5.1 writes the file into the store before it refuses a finished
        # trial's attribute, which would leave orphaned files behind.
        logger.warning(
            "Could not upload figures %s: trial %d has already finished; they are "
            "left out. Trial figures must be uploaded while the trial is running.",
            ", ".join(map(repr, figures)), study_or_trial.number)
        return ids
    with tempfile.TemporaryDirectory(prefix="autoimb-fig-") as tmp:
        for name, fig in figures.items():
            path = os.path.join(tmp, _artifact_filename(name))
            try:
                with open(path, "wb") as fh:
                    fh.write(figure_to_png(fig))
                ids[name] = optuna.artifacts.upload_artifact(
                    artifact_store=artifact_store,
                    file_path=path,
                    study_or_trial=study_or_trial,
                    mimetype="image/png",
                )
            except Exception as exc:
                logger.warning(
                    "Could not upload figure %r (%s: %s); it is left out. Trial "
                    "figures must be uploaded while the trial is running.",
                    name,
                    type(exc).__name__,
                    exc,
                )
    return ids


def _finished(study_or_trial) -> bool:
    """Whether ``study_or_trial`` is a trial that has already finished."""
    if not isinstance(study_or_trial, optuna.Trial):
        return False
    trial = storage_of(study_or_trial.study).get_trial(trial_id_of(study_or_trial))
    return trial.state.is_finished()


def _storage_file(storage_location: str) -> str:
    """Local file behind a storage location, or raise if there is none."""
    path = local_file(os.fspath(storage_location))
    if path is not None:
        return path
    raise AutoImbError(
        f"Storage {storage_location!r} is not a local file, so there is no folder "
        "to put artifacts next to; pass an explicit artifact folder instead "
        "(e.g. artifact_dir='autoimb-artifacts')."
    )


def default_artifact_store(
    storage_location: str | os.PathLike[str],
) -> optuna.artifacts.FileSystemArtifactStore:
    """File-system artifact store in a folder next to the storage file.

    ``autoimb.journal`` gives ``autoimb.journal.artifacts/``; ``sqlite:///x.db``
    gives ``x.db.artifacts/``. The folder is created if missing.

    Parameters
    ----------
    storage_location : str or path-like
        Path of a journal file, or a ``sqlite:///`` URL.

    Returns
    -------
    optuna.artifacts.FileSystemArtifactStore
        The store; its folder is :func:`artifact_dir_for` of the location.

    Raises
    ------
    AutoImbError
        If the location is not a local file (e.g. ``postgresql://...``).

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> store = default_artifact_store(os.path.join(folder, "autoimb.journal"))
    >>> os.path.isdir(os.path.join(folder, "autoimb.journal.artifacts"))
    True
    """
    folder = artifact_dir_for(storage_location)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise AutoImbError(
            f"Could not create the artifact folder {folder!r} ({exc}); make its "
            "parent folder writable or pass another artifact folder."
        ) from exc
    return optuna.artifacts.FileSystemArtifactStore(folder)


def artifact_dir_for(storage_location: str | os.PathLike[str]) -> str:
    """Folder :func:`default_artifact_store` uses for a storage location.

    Parameters
    ----------
    storage_location : str or path-like
        Path of a journal file, or a ``sqlite:///`` URL.

    Returns
    -------
    str
        ``<file>.artifacts`` next to the storage file (not created).

    Raises
    ------
    AutoImbError
        If the location is not a local file.

    Examples
    --------
    >>> artifact_dir_for("runs/autoimb.journal")
    'runs/autoimb.journal.artifacts'
    >>> artifact_dir_for("sqlite:///study.db")
    'study.db.artifacts'
    """
    return _storage_file(os.fspath(storage_location)) + ARTIFACT_DIR_SUFFIX
