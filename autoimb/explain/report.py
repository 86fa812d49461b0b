"""An HTML report of a fitted model and its search, in one self-contained file.

The file opens offline and can be sent to someone without the dashboard: CSS is
inline, figures are PNG images inlined as ``data:`` URLs, nothing is fetched.
It shows the data, the returned model in words, the search history, which
choices mattered (Optuna's parameter importances), the best trial of each
strategy family side by side, the precision-recall curve, the cost against the
threshold with the chosen threshold marked, the reliability diagram before and
after calibration, the confusion matrix at the chosen threshold, and the
diagnostics of :mod:`autoimb.explain.diagnostics`.

Every curve is drawn from the model's cross-fitted out-of-fold predictions
(``oof_proba_``): each probability from models, a calibrator and a threshold
that never saw its row.
"""

from __future__ import annotations

import base64
import datetime
import html
import math
import os
import warnings

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import CategoricalDistribution
from optuna.importance import FanovaImportanceEvaluator, get_param_importances
from sklearn.utils.validation import check_is_fitted

from autoimb._validation import summarize_data
from autoimb._version import __version__
from autoimb.exceptions import AutoImbError
from autoimb.explain.diagnostics import FAMILIES, applied_resampler, trial_families
from autoimb.pipeline.models import MODELS
from autoimb.pipeline.resampling import RESAMPLERS
from autoimb.search.run import results_table
from autoimb.storage.location import StorageLocation
from autoimb.storage.outcomes import count_outcomes, describe_outcomes

__all__ = ["render_report", "report", "summarize_data"]

#: Completed trials needed before parameter importances mean anything.
MIN_TRIALS_FOR_IMPORTANCE = 3

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       margin: 0 auto; max-width: 1100px; padding: 1.5em 2em; color: #1d2430;
       line-height: 1.45; }
h1 { margin-bottom: 0.1em; }
h2 { border-bottom: 2px solid #d8dee8; padding-bottom: 0.2em; margin-top: 1.8em; }
.subtitle { color: #5a6475; margin-top: 0; }
.headline { background: #eef4ff; border-left: 4px solid #3b6fd8;
            padding: 0.7em 1em; margin: 1em 0; }
.verdict { background: #fff5e6; border-left: 4px solid #e08a00;
           padding: 0.7em 1em; margin: 1em 0; font-weight: 600; }
table { border-collapse: collapse; margin: 0.6em 0 1em; font-size: 0.93em; }
th, td { border: 1px solid #d8dee8; padding: 0.3em 0.7em; text-align: left;
         vertical-align: top; }
th { background: #f3f5f9; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.best td { background: #fdf0f0; }
.row { display: flex; flex-wrap: wrap; gap: 0 2em; align-items: flex-start; }
.figures { display: flex; flex-wrap: wrap; gap: 0 1.5em; }
.figures figure { flex: 0 1 520px; }
figure { margin: 0.5em 0; }
nav { font-size: 0.92em; }
nav a { margin-right: 1em; color: #3b6fd8; }
figure img { max-width: 100%; border: 1px solid #e3e7ee; }
figcaption { color: #5a6475; font-size: 0.88em; max-width: 640px; }
.note { color: #5a6475; font-size: 0.92em; }
footer { margin-top: 3em; color: #8a93a3; font-size: 0.85em; }
"""


# -- what the fitted model keeps about its data ---------------------------------


def _data_summary(model, X, y) -> tuple[dict | None, str]:
    summary = getattr(model, "data_summary_", None)
    if summary is not None:
        return summary, ""
    if X is not None and y is not None:
        X = model._check_X(X)
        y01 = (np.asarray(y) == model.pos_label_).astype(int)
        return summarize_data(X, y01, model.classes_, model.pos_label_), ""
    kinds = model.kinds_
    y = np.asarray(model.oof_target_)
    negative = model.classes_[model.classes_ != model.pos_label_][0]
    return {
        "n_rows": int(kinds.n_rows) or len(y), "n_columns": len(kinds.columns),
        "n_categorical": len(kinds.categorical), "n_numeric": len(kinds.numeric),
        "class_counts": {str(negative): int(np.sum(y == 0)),
                         str(model.pos_label_): int(np.sum(y == 1))},
    }, ("Missing values are unknown: this model was fitted before autoimb kept "
        "them; pass the training data to count them.")


# -- the search's trials --------------------------------------------------------


def _results(model, study) -> tuple[pd.DataFrame, str]:
    """The trials table, from ``study`` when given, else from the model."""
    if study is not None:
        return results_table(study), (f"study {study.study_name!r}, read when this "
                                      "report was made")
    return model.results_, "the model's record of its search (results_)"


def open_model_study(model):
    """The study a model names (``study_name_`` in ``storage_location_``), opened
    read-only, or None (with the reason) when it cannot be reached."""
    location = getattr(model, "storage_location_", None)
    name = getattr(model, "study_name_", None)
    if not location or not name:
        return None, "the model was fitted with an in-memory study"
    return load_study(location, name)


def load_study(location: str, name: str):
    """Open study ``name`` in a storage without creating anything; return
    ``(study, None)`` or ``(None, reason)``."""
    try:
        parsed = StorageLocation.parse(location)
        if parsed.local_file is not None and not os.path.isfile(parsed.local_file):
            return None, f"no such file: {parsed.local_file!r}"
        storage = parsed.open(for_search=False)
        return optuna.load_study(study_name=name, storage=storage), None
    except Exception as exc:
        return None, f"the study {name!r} in {location} cannot be read ({exc})"


def _choices(results: pd.DataFrame) -> pd.DataFrame:
    """The choices of each completed trial in one vocabulary for all models."""
    rows = []
    for _, row in results.iterrows():
        model = row.get("params.model")
        if not isinstance(model, str) or row["state"] != "COMPLETE" \
                or not _finite(row["value"]):
            continue
        weighting = row.get(f"params.{model}.class_weight")
        resampler = applied_resampler(row)  # what acted, not what was asked
        rows.append({
            "value": float(row["value"]),
            "model": MODELS[model].label if model in MODELS else model,
            "class weights": weighting if isinstance(weighting, str) else "none",
            "resampler": RESAMPLERS[resampler].label if resampler in RESAMPLERS
            else resampler,
            "calibration": str(row.get("calibration") or "none"),
            "threshold rule": str(row.get("threshold_rule") or "none"),
        })
    return pd.DataFrame(rows)


def importances(results: pd.DataFrame, *, minimize: bool,
                seed: int = 0) -> tuple[dict[str, float] | None, str]:
    """Which choices mattered: Optuna's fANOVA parameter importances.

    The trials' own parameters depend on the model (each family has its own
    hyperparameters), so Optuna would only weigh the few present in every
    trial. The choices are first put in one vocabulary for all trials (model,
    class weights, resampler, calibration, threshold rule), then
    :func:`optuna.importance.get_param_importances` weighs them.

    Returns
    -------
    importances : dict or None
        Share of the variance of the value each choice explains (sum 1).
    note : str
        Why there are none, or how to read them.
    """
    choices = _choices(results)
    if len(choices) < MIN_TRIALS_FOR_IMPORTANCE:
        n = len(choices)
        return None, (f"{n} completed trial{'' if n == 1 else 's'}: at least "
                      f"{MIN_TRIALS_FOR_IMPORTANCE} are needed to say which choices "
                      "mattered. Run more trials.")
    names = [c for c in choices.columns if c != "value"]
    varying = [c for c in names if choices[c].nunique() > 1]
    if not varying:
        return None, ("Every completed trial made the same choices: nothing to "
                      "compare.")
    if choices["value"].nunique() < 2:
        return None, ("Every completed trial scored the same value: no choice "
                      "made a difference.")
    distributions = {c: CategoricalDistribution(sorted(choices[c].unique()))
                     for c in names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            study = optuna.create_study(
                direction="minimize" if minimize else "maximize")
            for _, row in choices.iterrows():
                study.add_trial(optuna.trial.create_trial(
                    params={c: row[c] for c in names}, distributions=distributions,
                    value=row["value"]))
            found = get_param_importances(
                study, evaluator=FanovaImportanceEvaluator(seed=seed))
        except (RuntimeError, ValueError) as exc:
            return None, f"Optuna could not weigh the choices ({exc})."
        finally:
            optuna.logging.set_verbosity(verbosity)
    note = (f"fANOVA importances (optuna.importance) over {len(choices)} completed "
            "trials: the share of the variance of the trials' values each choice "
            "explains. With few trials they are rough.")
    return {k: float(v) for k, v in found.items()}, note


def _family_table(model, results) -> list[dict]:
    """The best trial of each strategy family, with the family's trials counted
    in every state (``"tried"``) and completed with a value (``"completed"``)."""
    done = results[(results["state"] == "COMPLETE") & results["value"].notna()]
    if done.empty:
        return []
    families = trial_families(results)
    done = done.assign(family=families[done.index])
    lower = model.objective_.kind == "cost"
    rows = []
    for key, label in FAMILIES.items():
        tried = int((families == key).sum())
        trials = done[done["family"] == key].sort_values("value", ascending=lower,
                                                         kind="mergesort")
        if trials.empty:
            rows.append({"family": label, "tried": tried, "completed": 0,
                         "trial": None})
            continue
        best = trials.iloc[0]
        rows.append({"family": label, "tried": tried, "completed": len(trials),
                     "trial": int(best["number"]), "strategy": best["strategy"],
                     **{k: best.get(k) for k in ("value", "normalized_cost",
                                                 "average_precision", "recall",
                                                 "precision", "calibration")}})
    return rows


# -- HTML pieces ----------------------------------------------------------------


def _e(text) -> str:
    return html.escape(str(text))


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _n(value, digits: int = 4) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if not _finite(value):
        return "n/a"
    value = float(value)
    if value.is_integer() and abs(value) < 1e12:
        return f"{int(value):,}"
    if 10 ** digits <= abs(value) < 1e12:  # 22,410, not 2.241e+04
        return f"{value:,.0f}"
    return f"{value:,.{digits}g}"


def _table(header: list[str], rows: list[list], *, numeric=(), classes=None) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cells = "".join(
            f'<td class="num">{_n(v)}</td>' if j in numeric else f"<td>{_e(v)}</td>"
            for j, v in enumerate(row))
        css = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _figure(fig, alt: str, caption: str) -> str:
    # lazy: matplotlib loads only when a figure is drawn
    from autoimb.explain.figures import figure_to_png

    data = base64.b64encode(figure_to_png(fig, dpi=90)).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{_e(alt)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _section(title: str, *parts: str, anchor: str) -> str:
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>{"".join(parts)}</section>'


def _p(text: str, css: str | None = None) -> str:
    return f'<p class="{css}">{_e(text)}</p>' if css else f"<p>{_e(text)}</p>"


# -- the sections ---------------------------------------------------------------


def _data_section(model, X, y) -> str:
    summary, note = _data_summary(model, X, y)
    counts = summary["class_counts"]
    total = sum(counts.values())
    rows = [["rows", summary["n_rows"]], ["columns", summary["n_columns"]],
            ["numeric columns", summary["n_numeric"]],
            ["categorical columns", summary["n_categorical"]]]
    if "missing_cells" in summary:
        rows += [["missing values (cells)", summary["missing_cells"]],
                 ["rows with a missing value", summary["rows_with_missing"]]]
    tables = [_table(["", "value"], rows, numeric=(1,))]
    class_rows = [[label, count, f"{100 * count / total:.2f}%" if total else "n/a"]
                  for label, count in counts.items()]
    tables.append(_table(["class", "rows", "share"], class_rows, numeric=(1,)))
    missing = summary.get("missing_by_column") or {}
    if missing:
        tables.append(_table(["column", "missing values"],
                             [[k, v] for k, v in missing.items()], numeric=(1,)))
    parts = [f'<div class="row">{"".join(tables)}</div>']
    values = list(counts.values())
    if min(values) > 0:
        parts.append(_p(f"Imbalance ratio (majority : minority) "
                        f"{max(values) / min(values):.3g} : 1; the positive class "
                        f"is {model.pos_label_!r}."))
    if note:
        parts.append(_p(note, "note"))
    if len(model.oof_target_) != summary["n_rows"]:
        parts.append(_p(f"The figures below are drawn on the {len(model.oof_target_)} "
                        "held-out rows of the holdout validation.", "note"))
    return _section("The data", *parts, anchor="data")


def _pipeline_section(model) -> str:
    m = model.cv_metrics_
    kind = model.objective_.kind
    metric = "cost" if kind == "cost" else "average precision"
    words = [
        f"The returned model: {model.strategy_}.",
        f"It predicts {model.pos_label_!r} when its calibrated probability is at "
        f"least {model.threshold_:.4g} (threshold rule: "
        f"{m.get('threshold_rule', 'n/a')}; calibration: "
        f"{m.get('calibration', 'n/a')}).",
        f"Expected {metric} on new data: {_n(model.best_score_)} (bootstrap "
        f"bias-corrected: the best of {m.get('n_candidates', '?')} candidates "
        f"scored {_n(model.best_score_raw_)} on the rows that chose it).",
    ]
    best = m.get("best_candidate_value")
    if best is not None and _finite(best) and best != model.best_score_raw_:
        within = (f"{m['tolerance']:.2g} standard errors" if "tolerance" in m
                  else "noise")
        words.append(f"Chosen as the {m.get('chosen_as', 'candidate')}: within "
                     f"{within} of the best candidate's cross-validated {metric} "
                     f"{_n(best)}, and simpler: among candidates within noise of "
                     "the best, the simplest is preferred.")
    if kind == "cost":
        words.append(f"A false positive costs {_n(model.objective_.fp_cost)}, a "
                     f"false negative {_n(model.objective_.fn_cost)}.")
    if len(getattr(model, "ensemble_", [])) > 1:
        words.append("It averages the calibrated probabilities of trials "
                     + ", ".join(f"#{n}" for n in model.ensemble_) + ".")
    validation = model.validation_
    words.append(f"Candidates were scored on {validation.describe()}.")
    parts = [f'<div class="headline">{"<br>".join(_e(w) for w in words)}</div>']
    params = getattr(model, "best_params_", {}) or {}
    if params:
        trial = getattr(model, "best_trial_number_", None)
        parts.append(_table([f"parameter of the returned model's trial (#{trial})",
                             "value"],
                            [[k, v if isinstance(v, str) else _n(v)]
                             for k, v in params.items()]))
    return _section("The returned model", *parts, anchor="pipeline")


def _history_section(model, results, source) -> str:
    # lazy: matplotlib loads only when a figure is drawn
    from autoimb.explain.figures import plot_search_history

    minimize = model.objective_.kind == "cost"
    done = results[(results["state"] == "COMPLETE") & results["value"].notna()]
    # How each trial ended in autoimb's words (a model file from before the
    # outcomes were recorded has Optuna's states only).
    outcome = results["outcome"] if "outcome" in results else \
        results["state"].str.lower().replace({"complete": "completed",
                                              "fail": "failed"})
    # Trials that ran part way; skipped ones never started.
    stopped = results[outcome.isin(["pruned", "stopped", "failed"])]["number"]
    counts = describe_outcomes(count_outcomes(outcome))
    text = f"{len(results)} trials ({counts}), from {source}."
    parts = [_p(text)]
    if len(done):
        fig = plot_search_history(done["number"], done["value"], minimize=minimize,
                                  metric=model.objective_.metric_name,
                                  stopped=stopped.to_numpy())
        parts.append(_figure(fig, "search history",
                             "Each completed trial's cross-validated value (raw) and "
                             "the best so far; crosses at the bottom are trials that "
                             "ran part way (pruned, stopped by the budget or failed; "
                             "skipped trials never ran). Trials far worse than the "
                             "others are "
                             "left off the axis, marked by triangles on its edge, "
                             "with their number and worst value above the plot."))
    return _section("Search history", *parts, anchor="history")


def _importance_section(model, results) -> str:
    # lazy: matplotlib loads only when a figure is drawn
    from autoimb.explain.figures import plot_bars

    found, note = importances(results, minimize=model.objective_.kind == "cost")
    parts = []
    if found:
        names = list(found)
        parts.append(_figure(plot_bars(names, [found[n] for n in names],
                                       title="Which choices mattered",
                                       xlabel="share of the variance of the value"),
                             "parameter importances", note))
    else:
        parts.append(_p(note, "note"))
    return _section("Which choices mattered", *parts, anchor="importance")


def _family_section(model, results) -> str:
    # lazy: matplotlib loads only when a figure is drawn
    from autoimb.explain.figures import plot_bars

    rows = _family_table(model, results)
    if not rows:
        return _section("Strategy families", _p("No trial completed.", "note"),
                        anchor="families")
    kind = model.objective_.kind
    best_trial = getattr(model, "best_trial_number_", None)
    table_rows, css = [], []
    for row in rows:
        if row["trial"] is None:
            what = "not tried" if not row["tried"] else "none completed"
            table_rows.append([row["family"], row["tried"], row["completed"], what,
                               "", None, None, None, None, None])
            css.append(None)
            continue
        table_rows.append([row["family"], row["tried"], row["completed"],
                           f"#{row['trial']}", row["strategy"], row["value"],
                           row["normalized_cost"], row["average_precision"],
                           row["recall"], row["precision"]])
        css.append("best" if row["trial"] == best_trial else None)
    header = ["family", "trials", "completed", "best trial of the family",
              "its strategy", "cost" if kind == "cost" else "average precision",
              "normalized cost", "AP", "recall", "precision"]
    parts = [_table(header, table_rows, numeric=(1, 2, 5, 6, 7, 8, 9),
                    classes=css)]
    parts.append(_p(_which_is_which(model, results), "note"))
    done = [r for r in rows if r["trial"] is not None]
    key = "normalized_cost" if kind == "cost" else "average_precision"
    if len(done) >= 2 and all(_finite(r[key]) for r in done):
        labels = [r["family"].split(" (")[0] for r in done]
        winner = next((i for i, r in enumerate(done) if r["trial"] == best_trial),
                      None)
        parts.append(_figure(
            plot_bars(labels, [r[key] for r in done],
                      title="Best trial of each strategy family",
                      xlabel=("normalized cost (cost / best trivial rule's)"
                              if kind == "cost" else "average precision"),
                      highlight=winner),
            "strategy families",
            "Raw cross-validated values of the best trial of each family (the "
            "family of the returned model's trial in red)."))
    parts.append(_p("The column \"trials\" counts every trial of the family, "
                    "whatever became of it; \"completed\", those that finished "
                    "with a value. Values are "
                    "each trial's raw cross-validated value; the best of many "
                    "trials is optimistic, so small differences are noise (see "
                    "the diagnostics below).", "note"))
    return _section("Strategy families side by side", *parts, anchor="families")


def _which_is_which(model, results) -> str:
    """The returned model's trial and the best single trial, named apart: they
    differ when the selection prefers a simpler candidate within noise of the
    best, or an ensemble."""
    done = results[(results["state"] == "COMPLETE") & results["value"].notna()]
    kind = model.objective_.kind
    metric = "cost" if kind == "cost" else "average precision"
    returned = getattr(model, "best_trial_number_", None)
    ensemble = list(getattr(model, "ensemble_", []) or [])
    if len(ensemble) > 1:
        text = ("The returned model averages trials "
                + ", ".join(f"#{n}" for n in ensemble) + " (highlighted: #"
                f"{ensemble[0]}).")
    elif returned is not None:
        text = f"The returned model is trial #{returned} (highlighted)."
    else:
        text = "The returned model is the trivial rule, no trial."
    if not done.empty:
        ranked = done.sort_values("value", ascending=kind == "cost", kind="mergesort")
        top = ranked.iloc[0]
        if int(top["number"]) == returned and len(ensemble) <= 1:
            text += (f" It is also the best single trial by cross-validated "
                     f"{metric} ({_n(top['value'])}).")
        else:
            text += (f" The best single trial by cross-validated {metric} is "
                     f"#{int(top['number'])} ({top['strategy']}, {_n(top['value'])})"
                     f"; the returned model was {_chosen_as(model)}.")
    return text


def _chosen_as(model) -> str:
    how = (getattr(model, "cv_metrics_", {}) or {}).get("chosen_as")
    return (f"chosen as the {how} (see the returned model above)" if how
            else "chosen among the candidates (see the returned model above)")


def _curves_section(model) -> str:
    # lazy: matplotlib loads only when a figure is drawn
    from autoimb.explain.figures import (
        plot_cost_curve,
        plot_precision_recall,
        plot_reliability,
    )

    y = np.asarray(model.oof_target_).astype(int)
    proba = np.asarray(model.oof_proba_, dtype=float)
    objective = model.objective_
    threshold = float(model.threshold_)
    shown = min(max(threshold, 0.0), 1.0)
    figs = [
        _figure(plot_precision_recall(y, proba, threshold=shown), "precision-recall",
                "Precision against recall of the out-of-fold probabilities; the "
                "dot is the chosen threshold."),
        _figure(plot_cost_curve(y, proba, fp_cost=objective.fp_cost,
                                fn_cost=objective.fn_cost, threshold=shown),
                "cost against threshold", _cost_caption(model)),
    ]
    raw = getattr(model, "oof_scores_", None)
    notes = []
    if raw is not None and len(raw) == len(y):
        figs.append(_figure(plot_reliability(y, np.asarray(raw, float), proba),
                            "reliability",
                            "Observed rate of positives against the predicted "
                            "probability, in bins that hold about the same number "
                            "of positives each (so the points spread over the "
                            "scores positives get, even when they are rare): "
                            "before calibration (the strategy's odds-corrected "
                            "scores) and after."))
    else:
        notes.append(_p("The reliability diagram needs the scores before "
                        "calibration, which this model does not keep (fitted "
                        "before autoimb kept them).", "note"))
    parts = [f'<div class="figures">{"".join(figs)}</div>', *notes]
    return _section("Curves of the out-of-fold predictions", *parts, anchor="curves")


def _cost_caption(model) -> str:
    """What the cost figure shows, and why the chosen threshold is not the
    curve's lowest point."""
    rule = (getattr(model, "cv_metrics_", {}) or {}).get("threshold_rule")
    text = ("Total cost of the out-of-fold probabilities at every threshold, with "
            "the chosen threshold (red), the Bayes threshold fp/(fp+fn) (green, "
            "dashed over the red line when they are the same) and the best "
            "trivial rule (grey, dashed). The lowest point of the curve is found "
            "in hindsight, on the very rows it is measured on, so no rule could "
            "count on it for new data. ")
    if rule == "bayes":
        text += ("The chosen threshold is the Bayes one, fp/(fp+fn) on the "
                 "calibrated probability: the fit compared it with a threshold "
                 "tuned on the scores, each judged on rows held out from its "
                 "choice (cross-fitting), and the Bayes rule cost less there.")
    elif rule == "tuned" and model.objective_.uses_costs_for_threshold:
        text += ("The chosen threshold was tuned to the lowest cost of the final "
                 "calibrated probabilities of all training rows (not of these "
                 "out-of-fold ones); the fit preferred tuning to the Bayes "
                 "threshold because, judged on rows held out from the choice "
                 "(cross-fitting), it cost no more.")
    elif rule == "tuned":
        text += ("Without costs, the chosen threshold is the one of highest F1 on "
                 "the final calibrated probabilities of all training rows, not "
                 "the lowest point of this curve.")
    return text


def _confusion_section(model) -> str:
    m = model.cv_metrics_
    labels = list(model.classes_)
    negative = labels[1 - labels.index(model.pos_label_)]
    rows = [[f"actual {negative}", m["tn"], m["fp"]],
            [f"actual {model.pos_label_}", m["fn"], m["tp"]]]
    table = _table(["", f"predicted {negative}", f"predicted {model.pos_label_}"],
                   rows, numeric=(1, 2))
    text = (f"Out-of-fold decisions at the chosen threshold, each made by a "
            f"threshold fitted without its row: precision {m['precision']:.3f}, "
            f"recall {m['recall']:.3f}, F1 {m['f1']:.3f}, normalized cost "
            f"{_n(m['normalized_cost'])} (below 1 beats the best trivial rule).")
    return _section("Confusion matrix at the chosen threshold", table, _p(text),
                    anchor="confusion")


def _diagnostics_section(diagnosis) -> str:
    # lazy: matplotlib loads only when a figure is drawn
    from autoimb.explain.figures import plot_learning_curve

    if diagnosis is None:
        return ""
    parts = [f'<div class="verdict">{_e(diagnosis.headline)}</div>',
             "<ul>" + "".join(f"<li>{_e(s)}</li>" for s in diagnosis.sentences[1:])
             + "</ul>"]
    curve = diagnosis.learning_curve
    if curve is not None and len(curve.points) >= 2:
        cost = curve.points[0].normalized_cost is not None
        fig = plot_learning_curve(
            [p.n_train for p in curve.points],
            [p.normalized_cost if cost else p.value for p in curve.points],
            metric="normalized cost" if cost else "average precision",
            minimize=cost)
        parts.append(_figure(fig, "learning curve",
                             f"{curve.strategy}, refitted on 25%, 50%, 75% and 100% "
                             "of each fold's training rows, scored on the same "
                             "held-out rows."))
    noise = diagnosis.label_noise
    if noise is not None and noise.positive_examples:
        parts.append(_p("Positives most confidently contradicted: "
                        f"{noise.examples_text()}."))
    for missing in diagnosis.missing:
        parts.append(_p(f"Not computed: {missing}.", "note"))
    return _section("Diagnostics: is imbalance the real problem?", *parts,
                    anchor="diagnostics")


# -- the whole ------------------------------------------------------------------

_SECTIONS = (("data", "Data"), ("pipeline", "Returned model"),
             ("history", "History"), ("importance", "Choices that mattered"),
             ("families", "Families"), ("curves", "Curves"),
             ("confusion", "Confusion matrix"), ("diagnostics", "Diagnostics"))


def _nav(with_diagnostics: bool) -> str:
    links = [f'<a href="#{anchor}">{text}</a>' for anchor, text in _SECTIONS
             if with_diagnostics or anchor != "diagnostics"]
    return f"<nav>{''.join(links)}</nav>"


def render_report(model, *, X=None, y=None, study=None, diagnose: bool = True,
                  time_limit: float | None = 60.0, title: str | None = None) -> str:
    """The HTML report of a fitted model, as text.

    Parameters
    ----------
    model : AutoImbClassifier
        Fitted, or loaded with :func:`autoimb.load`.
    X, y : DataFrame or array-like, default=None
        The training data again, for a loaded model: its missing values and
        the diagnostics' learning curve. Not needed right after ``fit``.
    study : optuna.Study, default=None
        The study to read the search history and importances from; default
        the model's own record of its trials (``results_``).
    diagnose : bool, default=True
        Add the diagnostics (:meth:`~autoimb.AutoImbClassifier.diagnose`).
    time_limit : float or None, default=60.0
        Seconds for the diagnostics' learning curve.
    title : str, default=None

    Returns
    -------
    str
        A complete HTML document with inline CSS and images.
    """

    check_is_fitted(model)
    if study is None and getattr(model, "study_", None) is not None:
        study = model.study_
    results, source = _results(model, study)
    diagnosis = model.diagnose(X, y, time_limit=time_limit) if diagnose else None
    title = title or f"autoimb report: {getattr(model, 'study_name_', 'model')}"
    where = getattr(model, "storage_location_", None)
    subtitle = (f"Study {getattr(model, 'study_name_', '?')!r}"
                + (f" in {where}" if where else " (in memory)")
                + f"; made {datetime.datetime.now():%Y-%m-%d %H:%M} by autoimb "
                f"{__version__}.")
    body = [f"<h1>{_e(title)}</h1>", _p(subtitle, "subtitle"),
            _nav(diagnosis is not None)]
    if diagnosis is not None:
        body.append(f'<div class="verdict">{_e(diagnosis.headline)}</div>')
    body += [
        _data_section(model, X, y),
        _pipeline_section(model),
        _history_section(model, results, source),
        _importance_section(model, results),
        _family_section(model, results),
        _curves_section(model),
        _confusion_section(model),
        _diagnostics_section(diagnosis),
        "<footer>A self-contained file: styles and figures are inside it. Curves "
        "and counts come from cross-fitted out-of-fold predictions.</footer>",
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def report(model, path: str | os.PathLike[str] = "autoimb-report.html", *, X=None,
           y=None, study=None, diagnose: bool = True,
           time_limit: float | None = 60.0) -> str:
    """Write the HTML report of a fitted model to one self-contained file.

    The file opens offline in any browser: the data (rows, columns, classes,
    missing values), the returned model in words, the search history, which
    choices mattered, the best trial of each strategy family side by side, the
    precision-recall curve, cost against threshold, the reliability diagram
    before and after calibration, the confusion matrix at the chosen threshold
    and the diagnostics.

    Parameters
    ----------
    model : AutoImbClassifier
        Fitted, or loaded with :func:`autoimb.load`.
    path : str or path-like, default="autoimb-report.html"
    X, y : DataFrame or array-like, default=None
        The training data again, for a loaded model (missing values, learning
        curve); not needed right after ``fit``.
    study : optuna.Study, default=None
        Read the trials from this study (e.g. one other workers added to);
        default the model's own record.
    diagnose : bool, default=True
    time_limit : float or None, default=60.0
        Seconds for the diagnostics' learning curve.

    Returns
    -------
    str
        The path written.

    Examples
    --------
    >>> import os, tempfile
    >>> import autoimb
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=500, weights=[0.9], random_state=0)
    >>> model = autoimb.fit(X, y, search_space="fast", n_trials=3, cv=3,
    ...                     storage="memory", random_state=0,
    ...                     show_progress_bar=False)
    >>> path = autoimb.report(model, os.path.join(tempfile.mkdtemp(), "r.html"),
    ...                       diagnose=False)
    >>> open(path).read().count("data:image/png;base64,") >= 5
    True
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise AutoImbError(f"Cannot write the report {path!r}: the folder "
                           f"{folder!r} does not exist.")
    text = render_report(model, X=X, y=y, study=study, diagnose=diagnose,
                         time_limit=time_limit)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path
