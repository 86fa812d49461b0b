"""Is imbalance the real problem? autoimb.explain.diagnostics and
AutoImbClassifier.diagnose, on the article's noisy data and on clean data."""

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.metrics import average_precision_score, roc_auc_score

import autoimb
from autoimb._classifier import remember_ids
from autoimb.cli import main
from autoimb.exceptions import AutoImbError
from autoimb.explain.diagnostics import (
    Diagnosis,
    _paired_se,
    label_noise,
    separability,
    strategy_family,
)
from autoimb.pipeline.objective import Objective

#: The seed article's data set: 2% of the labels drawn at random by construction.
ARTICLE = {"n_samples": 20000, "n_features": 25, "n_informative": 10,
           "weights": [0.97, 0.03], "flip_y": 0.02, "random_state": 42}
SEARCH = {"search_space": "fast", "n_trials": 6, "cv": 3, "storage": "memory",
          "random_state": 0, "show_progress_bar": False}


@pytest.fixture(scope="module")
def article():
    """The article's data set, its first 6,000 rows (240 positives), searched."""
    X, y = make_classification(**ARTICLE)
    X, y = X[:6000], y[:6000]
    model = autoimb.fit(X, y, **SEARCH)
    # A generous time limit: the machine running the tests may be busy.
    return model, model.diagnose(time_limit=180), X, y


@pytest.fixture(scope="module")
def clean():
    """The same shape without label noise and with well separated classes."""
    X, y = make_classification(**{**ARTICLE, "n_samples": 3000, "flip_y": 0.0,
                                  "class_sep": 3.0})
    model = autoimb.fit(X, y, **SEARCH)
    return model, model.diagnose(time_limit=180), X, y


def test_the_verdict_differs_between_noisy_and_clean_data(article, clean):
    """Check that the article's data (2% random labels) is diagnosed with label
    noise, and clean, well separated data with no imbalance problem at all."""
    _, noisy, _, _ = article
    _, tidy, _, _ = clean
    print(noisy, tidy, sep="\n\n")
    assert noisy.verdict == "label_noise"
    assert tidy.verdict == "not_imbalance"
    # The numbers behind them.
    assert noisy.label_noise.share_of_positives > 0.15
    assert noisy.label_noise.low_half_share > 0.08
    assert tidy.label_noise.share_of_positives < 0.02
    assert noisy.separability.roc_auc < 0.9 < 0.99 < tidy.separability.roc_auc
    assert not tidy.gain.pays
    assert str(noisy).startswith("Diagnosis: Label noise")
    assert "Imbalance is not a problem here" in str(tidy)


def test_label_noise_examples_are_training_rows_of_positives(article):
    """Check that the suspect examples are positives of the training data, most
    confidently contradicted first."""
    model, diagnosis, _, y = article
    noise = diagnosis.label_noise
    assert noise.row_numbers == "training rows"
    assert len(noise.positive_examples) == 10
    assert set(y[list(noise.positive_examples)]) == {1}
    proba = model.oof_proba_[list(noise.positive_examples)]
    assert np.all(np.diff(proba) >= 0)
    assert proba.max() <= noise.positive_threshold


def _article_true_labels():
    """The article's labels before 2% of them were redrawn.

    make_classification draws the same rows with flip_y=0.02 and flip_y=0 when
    nothing is shuffled; the shuffled rows are matched back by their sorted
    values (the columns are shuffled too).
    """
    unshuffled = {k: v for k, v in ARTICLE.items() if k != "flip_y"}
    X_flip, y_flip = make_classification(**unshuffled, flip_y=0.02, shuffle=False)
    X_clean, y_clean = make_classification(**unshuffled, flip_y=0.0, shuffle=False)
    assert np.array_equal(X_flip, X_clean)
    row_of = {tuple(np.round(np.sort(row), 9)): i for i, row in enumerate(X_flip)}
    X, y = make_classification(**ARTICLE)
    index = np.array([row_of[tuple(np.round(np.sort(row), 9))] for row in X])
    assert np.array_equal(y_flip[index], y)
    return y_clean[index]


def test_suspect_positives_are_mostly_the_redrawn_labels(article):
    """Check against the truth of the article's data that most suspect positives
    are negatives whose label was redrawn, that most of those are found, and
    that the examples shown are such rows."""
    model, diagnosis, _, y = article
    truth = _article_true_labels()[:len(y)]
    mislabelled = set(np.flatnonzero((y == 1) & (truth == 0)).tolist())
    proba = model.oof_proba_.astype(float)
    noise = diagnosis.label_noise
    suspects = set(np.flatnonzero((y == 1) & (proba <= noise.positive_threshold))
                   .tolist())
    assert len(suspects) == noise.n_suspect_positives
    found = len(suspects & mislabelled)
    examples = list(noise.positive_examples)
    print(f"{len(mislabelled)} mislabelled positives, {len(suspects)} suspects, "
          f"{found} of them mislabelled, {np.sum(truth[examples] == 0)} of the "
          f"{len(examples)} examples")
    assert found / len(suspects) > 0.6  # 43 of 48 when written
    assert found / len(mislabelled) > 0.6  # 43 of 60
    assert np.sum(truth[examples] == 0) >= 8


def test_learning_curve_refits_fractions_of_the_best_strategy(article):
    """Check that right after fit the learning curve has 25/50/75/100%, the last
    being the search's own trial, with costs normalized by the trivial rule."""
    model, diagnosis, _, _ = article
    curve = diagnosis.learning_curve
    assert [p.fraction for p in curve.points] == [0.25, 0.5, 0.75, 1.0]
    assert curve.points[-1].value == pytest.approx(
        model.results_.set_index("number").loc[model.best_trial_number_, "value"])
    assert all(0 < p.normalized_cost < 1.5 for p in curve.points)
    assert curve.points[0].n_train < curve.points[-1].n_train
    assert curve.standard_error > 0 and curve.note == ""


def test_gain_compares_best_with_best_plain_trial(clean):
    """Check that the gain compares the best trial with the best trial that has
    no weights and no resampling, paired over the rows right after fit."""
    model, diagnosis, _, _ = clean
    gain = diagnosis.gain
    done = model.results_[model.results_["state"] == "COMPLETE"]
    assert gain.best_value == done["value"].min()
    plain = done[(done["strategy"].str.endswith("no resampling"))
                 & ~done["strategy"].str.contains("weight")]
    assert gain.plain_value == plain["value"].min()
    assert gain.chosen_estimate == model.best_score_
    assert gain.standard_error_method.startswith("paired bootstrap")
    assert set(gain.by_family) <= {"no_handling", "weights", "oversampling",
                                   "undersampling", "combined", "ensembles"}


def test_loaded_model_degrades_and_takes_the_data_again(clean):
    """Check that a model without its search context still diagnoses what it
    holds, says the learning curve needs the data, and draws it when given."""
    model, _, X, y = clean
    loaded = pickle.loads(pickle.dumps(model))
    assert not hasattr(loaded, "_context")
    bare = loaded.diagnose()
    assert bare.learning_curve is None
    assert any("pass X and y" in m for m in bare.missing)
    assert bare.separability == model.diagnose(learning_curve=False).separability
    if bare.gain.plain_trial != bare.gain.best_trial:
        assert bare.gain.standard_error_method.startswith("from each trial")
    again = loaded.diagnose(X, y, time_limit=None)
    assert [p.fraction for p in again.learning_curve.points] == [0.25, 0.5, 0.75,
                                                                1.0]
    assert again.learning_curve.note == ""


def test_learning_curve_keeps_to_its_time_limit(clean):
    """Check that fractions whose fits would pass the time limit are left out,
    and that the diagnosis says so."""
    model, _, X, y = clean
    loaded = pickle.loads(pickle.dumps(model))
    curve = loaded.diagnose(X, y, time_limit=1e-6).learning_curve
    assert [p.fraction for p in curve.points] == [0.25]
    assert curve.note.startswith("50% and above left out")
    assert curve.last_doubling_gain is None and not curve.still_learning


def test_to_dict_is_json(article):
    """Check that the diagnosis converts to JSON, verdict and headline first."""
    _, diagnosis, _, _ = article
    data = json.loads(json.dumps(diagnosis.to_dict()))
    assert data["verdict"] == "label_noise"
    assert data["headline"] == diagnosis.headline
    assert len(data["learning_curve"]["points"]) == 4


def test_cli_diagnose_prints_the_verdict(clean, tmp_path, capsys):
    """Check that `autoimb diagnose MODEL` prints the diagnosis, and --json with
    --data the learning curve too."""
    model, _, X, y = clean
    path = model.export(tmp_path / "model.joblib")
    assert main(["diagnose", path]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Diagnosis: Imbalance is not a problem here")
    assert "--data FILE --target COL" in out
    frame = __import__("pandas").DataFrame(X, columns=[f"x{i}" for i in
                                                       range(X.shape[1])])
    frame["target"] = y
    frame.to_csv(tmp_path / "train.csv", index=False)
    # A generous time limit, as in the fixtures: the machine running the tests
    # may be busy, and a fraction left out for time is not what this checks.
    assert main(["diagnose", path, "--data", str(tmp_path / "train.csv"),
                 "--target", "target", "--json", "--time-limit", "600"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["fraction"] for p in data["learning_curve"]["points"]] == [
        0.25, 0.5, 0.75, 1.0], data["learning_curve"]["note"]


def test_cli_diagnose_needs_data_and_target_together(clean, tmp_path, capsys):
    """Check that --data without --target is refused with the way out."""
    model, _, _, _ = clean
    path = model.export(tmp_path / "model.joblib")
    assert main(["diagnose", path, "--data", "x.csv"]) == 2
    assert "--data and --target go together" in capsys.readouterr().err


@pytest.mark.parametrize(("model", "weighting", "resampler", "family"), [
    ("lightgbm", "none", "none", "no_handling"),
    ("logistic_regression", "balanced", None, "weights"),
    ("lightgbm", "scale_pos_weight", "none", "weights"),
    ("hist_gradient_boosting", "none", "smote", "oversampling"),
    ("random_forest", "none", "random_over", "oversampling"),
    ("random_forest", "none", "tomek_links", "undersampling"),
    ("lightgbm", "none", "smote_enn", "combined"),
    ("lightgbm", "balanced", "random_under", "combined"),
    ("easy_ensemble", "none", "none", "ensembles"),
    ("balanced_random_forest", float("nan"), float("nan"), "ensembles"),
])
def test_strategy_families(model, weighting, resampler, family):
    """Check that each strategy falls in the family a report groups it in."""
    assert strategy_family(model, weighting, resampler) == family


def test_separability_matches_scikit_learn_with_ties():
    """Check that ROC AUC and AP equal scikit-learn's, ties included, and that
    their intervals hold them."""
    rng = np.random.default_rng(0)
    y = (rng.random(3000) < 0.05).astype(int)
    p = np.round(rng.random(3000) * 0.6 + 0.4 * y, 2)
    sep = separability(y, p, n_boot=100)
    assert sep.roc_auc == pytest.approx(roc_auc_score(y, p))
    assert sep.average_precision == pytest.approx(average_precision_score(y, p))
    assert sep.roc_auc_interval[0] < sep.roc_auc < sep.roc_auc_interval[1]
    lo, hi = sep.average_precision_interval
    assert lo < sep.average_precision < hi
    assert sep.n_positive == y.sum()


def test_suspect_rows_are_named_by_id_when_the_model_knows_it(tmp_path):
    """Check that with an id column remembered (``autoimb fit --id``) the
    suspect positives are given as id values, in the sentence and the JSON,
    also after a round trip through a model file; without one as positions,
    saying so."""
    X, y = make_classification(n_samples=400, n_features=5, weights=[0.85],
                               flip_y=0.05, random_state=0)
    model = autoimb.fit(X, y, **{**SEARCH, "n_trials": 2})
    plain = model.diagnose(learning_curve=False)
    assert plain.label_noise.id_name is None
    assert "(counted from 0: no id column is known)" in str(plain)
    ids = np.array([f"C{i:04d}" for i in np.random.default_rng(0).permutation(400)])
    remember_ids(model, pd.DataFrame({"customer": ids}))
    loaded = autoimb.load(model.export(tmp_path / "model.joblib"))
    for fitted in (model, loaded):
        noise = fitted.diagnose(learning_curve=False).label_noise
        assert noise.id_name == "customer"
        positions = list(plain.label_noise.positive_examples)
        assert list(noise.positive_examples) == ids[positions].tolist()
        text = str(fitted.diagnose(learning_curve=False))
        assert f"Check by hand, e.g. customer {noise.positive_examples[0]}, " in text
        data = json.loads(json.dumps(fitted.diagnose(learning_curve=False).to_dict()))
        assert data["label_noise"]["positive_examples"][0] == ids[positions[0]]


def test_label_noise_examples_by_id_or_position():
    """Check the examples in words: id values under the id column's name, or
    positions counted from 0, said as such."""
    y = np.array([0] * 8 + [1] * 4)
    p = np.array([.01, .02, .03, .02, .01, .05, .02, .04, .9, .8, .02, .01])
    assert label_noise(y, p).examples_text() == (
        "training rows at positions 11, 10 (counted from 0: no id column is known)")
    named = label_noise(y, p, row_ids=np.arange(12) * 10 + 5, id_name="row_id")
    assert named.positive_examples == (115, 105)
    assert named.examples_text(1) == "row_id 115"


def test_label_noise_needs_both_classes():
    """Check that label_noise refuses labels of one class, saying what it got."""
    with pytest.raises(AutoImbError, match="0 positive and 3 negative rows"):
        label_noise(np.zeros(3, int), np.array([0.1, 0.2, 0.3]))


def test_paired_standard_error_is_zero_for_identical_decisions():
    """Check that two trials with the same decisions differ by nothing."""
    y = np.array([0, 0, 1, 1, 0, 1])
    pred = np.array([False, True, True, False, False, True])
    objective = Objective("cost", 1.0, 5.0)
    assert _paired_se(y, pred, pred, objective) == 0.0
    assert _paired_se(y, pred, ~pred, objective) > 0


def test_diagnosis_of_nothing_known_is_unknown():
    """Check that a diagnosis without findings says so."""
    d = Diagnosis("unknown", ("x",), "cost", None, None, None, None)
    assert d.headline.startswith("Too little is known")


def test_no_signal_gives_overlap_and_a_report(tmp_path):
    """Check that data without signal, where the search returns the trivial rule,
    is diagnosed as overlap (no label-noise count on equal probabilities) and
    still gets its report."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(400, 3)), (rng.random(400) < 0.05).astype(int)
    with pytest.warns(autoimb.AutoImbWarning, match="trivial rule"):
        model = autoimb.fit(X, y, fp_cost=1, fn_cost=2,
                            **{**SEARCH, "n_trials": 3})
    diagnosis = model.diagnose()
    assert diagnosis.verdict == "overlap"
    assert diagnosis.label_noise is None and diagnosis.learning_curve is None
    assert any("trivial rule" in m for m in diagnosis.missing)
    text = Path(autoimb.report(model, tmp_path / "r.html")).read_text()
    assert "The classes overlap" in text


def _gain(**changes):
    from autoimb.explain.diagnostics import StrategyGain

    values = {"metric": "cost", "best_trial": 1, "best_strategy": "LightGBM, SMOTE",
              "best_value": 610.0, "best_family": "oversampling", "plain_trial": 4,
              "plain_strategy": "LightGBM, no resampling", "plain_value": 620.0,
              "gain": 10.0, "relative_gain": 10 / 620, "normalized_gain": 0.01,
              "standard_error": 8.0, "standard_error_method": "paired bootstrap",
              "chosen_estimate": 640.0, "chosen_raw": 615.0}
    return StrategyGain(**{**values, **changes})


def test_gain_sentence_puts_each_value_beside_its_own_trial():
    """Check that the gain sentence names the best single trial (not "the best
    strategy", which the report uses for the returned model) and gives each
    cost beside its own trial, in the order the sentence names them: #1's 610,
    then #4's 620."""
    from autoimb.explain.diagnostics.verdict import _gain_sentence

    text = _gain_sentence(_gain())
    assert "best strategy" not in text.lower()
    assert text.startswith("The best single trial by cross-validated cost (#1, "
                           "LightGBM, SMOTE: 610) saves 10 ± 8 cost over the best "
                           "trial without weights or resampling (#4, LightGBM, no "
                           "resampling: 620;")
    assert text.index("610") < text.index("620")
    same = _gain_sentence(_gain(plain_trial=1, plain_value=610.0, gain=0.0))
    assert same.startswith("The best single trial by cross-validated cost (#1, ")


def _noise(suspect, low_half):
    from autoimb.explain.diagnostics import LabelNoise

    return LabelNoise(
        method="confident learning", positive_threshold=0.1,
        negative_threshold=0.5, n_positive=200, n_suspect_positives=suspect,
        share_of_positives=suspect / 200, positive_examples=(), n_negative=9800,
        n_suspect_negatives=0, share_of_negatives=0.0, negative_examples=(),
        positives_in_low_half=low_half, low_half_share=low_half / 200,
        row_numbers="training rows")


def test_noise_sentence_verbs_agree_with_their_counts():
    """Check "1 (0.5%) sits among", "3 (1.5%) sit among", "1 of 200 positives
    (0.5%) scores" and "2 of 200 positives (1.0%) score"."""
    from autoimb.explain.diagnostics.verdict import _noise_sentence

    one = _noise_sentence(_noise(1, 1))
    assert "1 of 200 positives (0.5%) scores no higher" in one
    assert "1 (0.5%) sits among the half" in one
    many = _noise_sentence(_noise(2, 3))
    assert "2 of 200 positives (1.0%) score no higher" in many
    assert "3 (1.5%) sit among the half" in many


def test_learning_curve_sentence_names_the_returned_models_strategy():
    """Check that the learning curve is said to refit the returned model's
    strategy, the one it refits (best_strategy_), not "the best strategy"."""
    from autoimb.explain.diagnostics import LearningCurve, LearningPoint
    from autoimb.explain.diagnostics.verdict import _curve_sentence

    points = tuple(LearningPoint(fraction=f, n_train=int(1000 * f), value=1.0 - f / 2,
                                 normalized_cost=0.5 - f / 4, seconds=0.1)
                   for f in (0.5, 1.0))
    curve = LearningCurve(strategy="LightGBM", points=points, last_doubling_gain=0.25,
                          relative_gain=0.3, normalized_gain=0.125,
                          standard_error=0.01)
    text = _curve_sentence(curve)
    assert text.startswith("Learning curve of the returned model's strategy")


def test_gain_sentence_writes_large_costs_in_full():
    """Check that costs of five digits read 21,140 and 25,520, not 2.114e+04."""
    from autoimb.explain.diagnostics.verdict import _gain_sentence

    text = _gain_sentence(_gain(best_value=21_140.0, plain_value=25_520.0,
                                gain=4_380.0, standard_error=4_067.0))
    assert "e+0" not in text
    assert ": 21,140)" in text and ": 25,520;" in text and "4,380 ± 4,067" in text
