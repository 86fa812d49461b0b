"""Tests of autoimb.explain.dashboard and autoimb.explain.notes against a real
optuna-dashboard."""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna_dashboard import get_note

from autoimb.exceptions import AutoImbError
from autoimb.explain.dashboard import DashboardServer, dashboard_command, run_dashboard
from autoimb.explain.figures import PNG_MAGIC, plot_cost_curve, plot_precision_recall
from autoimb.explain.notes import (
    artifact_dir_for,
    artifact_url,
    attach_figures,
    attach_study_note,
    attach_trial_note,
    default_artifact_store,
    study_note,
    trial_note,
)

REPO = Path(__file__).resolve().parents[1]
STUDY_NAME = "autoimb-test"

optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass
class DemoStudy:
    """A study laid out as autoimb lays it: journal, artifacts, notes, user attrs."""

    path: Path
    storage: JournalStorage
    study: optuna.Study
    artifact_store: optuna.artifacts.FileSystemArtifactStore
    notes: dict[int, str] = field(default_factory=dict)
    figures: dict[int, dict[str, str]] = field(default_factory=dict)
    study_figures: dict[str, str] = field(default_factory=dict)


def _scores(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(80) < 0.15).astype(int)
    y[:2] = [0, 1]
    return y, np.clip(0.4 * y + 0.6 * rng.random(80), 0, 1)


def build_demo_study(folder: Path, n_trials: int = 3) -> DemoStudy:
    """Mimic an autoimb search: per trial strategy attrs, fold scores, note, figure."""
    path = folder / "autoimb.journal"
    storage = JournalStorage(JournalFileBackend(str(path)))
    store = default_artifact_store(str(path))
    study = optuna.create_study(
        storage=storage, study_name=STUDY_NAME, direction="maximize"
    )
    demo = DemoStudy(path=path, storage=storage, study=study, artifact_store=store)
    for i in range(n_trials):
        trial = study.ask()
        model = trial.suggest_categorical("model", ["lightgbm", "logistic"])
        y, p = _scores(i)
        folds = [0.4 + 0.05 * i, 0.45 + 0.05 * i]
        pruned = i == n_trials - 1 and n_trials > 1
        strategy = f"{model} with class weights, strategy #{i}"
        trial.set_user_attr("strategy", strategy)
        trial.set_user_attr("fold_scores", folds)
        # Figures must be uploaded while the trial runs.
        demo.figures[trial.number] = attach_figures(
            trial, {"pr_curve": plot_precision_recall(y, p, threshold=0.5)}, store
        )
        body = trial_note(
            strategy=strategy,
            state="PRUNED" if pruned else "COMPLETE",
            fold_scores=folds[:1] if pruned else folds,
            metric_name="average_precision",
            confusion=None if pruned else {"tn": 60, "fp": 8, "fn": 3, "tp": 9},
            threshold=None if pruned else 0.5,
            metrics=None if pruned else {"recall": 0.75, "precision": 0.53},
            reason="fold 1 scored below the median of earlier trials"
            if pruned
            else None,
        )
        assert attach_trial_note(trial, body)
        demo.notes[trial.number] = body
        if pruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, float(np.mean(folds)))
    y, p = _scores(99)
    demo.study_figures = attach_figures(
        study,
        {"cost_curve": plot_cost_curve(y, p, fp_cost=1, fn_cost=10, threshold=0.4)},
        store,
    )
    best = study.best_trial
    note = study_note(
        n_rows=80,
        n_columns=4,
        class_counts={0: 68, 1: 12},
        objective="average_precision",
        fp_cost=None,
        fn_cost=None,
        best={"number": best.number, "value": best.value, "strategy": "lightgbm"},
        image_links=[
            ("Cost curve", artifact_url(study, demo.study_figures["cost_curve"]))
        ],
    )
    assert attach_study_note(study, note)
    return demo


@pytest.fixture
def demo_study(tmp_path: Path) -> DemoStudy:
    return build_demo_study(tmp_path)


def _get(url: str, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, dict(resp.headers), resp.read()


def _get_json(url: str) -> dict:
    status, _, body = _get(url)
    assert status == 200
    return json.loads(body)


# --------------------------------------------------------------------- notes


def test_trial_note_has_fold_table_confusion_and_metrics():
    """Check that a completed trial's note lists folds, confusion matrix, metrics."""
    body = trial_note(
        strategy="LightGBM | SMOTE",
        state=optuna.trial.TrialState.COMPLETE,
        fold_scores=[0.5, 0.75, 1.0],
        metric_name="average_precision",
        confusion={"tn": 90, "fp": 5, "fn": 2, "tp": 3},
        threshold=0.3125,
        metrics={"recall": 0.6, "cost": 12.0},
        reason=None,
    )
    lines = body.splitlines()
    assert "LightGBM | SMOTE" in lines  # plain text keeps the pipe
    assert "**State:** COMPLETE" in lines
    assert "| fold | average_precision |" in lines
    assert "| 1 | 0.5 |" in lines and "| 3 | 1 |" in lines
    assert "| **mean ± sd** | **0.75 ± 0.2041** |" in lines
    assert "### Confusion matrix at threshold 0.3125 (out of fold)" in lines
    assert "| **actual negative** | 90 (TN) | 5 (FP) |" in lines
    assert "| **actual positive** | 2 (FN) | 3 (TP) |" in lines
    assert "| recall | 0.6 |" in lines and "| cost | 12 |" in lines
    assert "### Why" not in lines


@pytest.mark.parametrize("state", ["PRUNED", "FAIL", optuna.trial.TrialState.PRUNED])
def test_pruned_or_failed_trial_note_explains_why(state):
    """Check that pruned and failed trials get a Why section, even without a reason."""
    with_reason = trial_note(
        strategy="logistic regression",
        state=state,
        fold_scores=[0.1],
        metric_name="AP",
        confusion=None,
        threshold=None,
        metrics=None,
        reason="ValueError: Input contains NaN",
    )
    assert with_reason.splitlines()[-3:] == [
        "### Why",
        "",
        "ValueError: Input contains NaN",
    ]
    without = trial_note(
        strategy="x",
        state=state,
        fold_scores=[],
        metric_name="AP",
        confusion=None,
        threshold=None,
        metrics=None,
        reason=None,
    )
    assert "No fold was scored." in without
    assert without.endswith("### Why\n\nNo reason was recorded.")


def test_trial_note_rejects_incomplete_confusion():
    """Check that a confusion dict lacking counts is refused, naming them."""
    with pytest.raises(AutoImbError, match=r"missing the key\(s\) \['fn', 'tp'\]"):
        trial_note(
            strategy="x",
            state="COMPLETE",
            fold_scores=[0.1],
            metric_name="AP",
            confusion={"tn": 1, "fp": 2},
            threshold=0.5,
            metrics=None,
            reason=None,
        )


def test_study_note_summarises_data_costs_best_and_images():
    """Check that the study note has classes, ratio, costs, best trial, images."""
    body = study_note(
        n_rows=10_000,
        n_columns=31,
        class_counts={"legit": 9_950, "fraud": 50},
        objective="expected cost",
        fp_cost=1.0,
        fn_cost=50.0,
        best={
            "number": 12,
            "value": 321.5,
            "strategy": "LightGBM, sigmoid calibration",
        },
        image_links=[
            ("PR curve", "/artifacts/3/ab-cd"),
            ("Report", "https://x/y.html"),
        ],
    )
    lines = body.splitlines()
    assert "10000 rows, 31 columns." in lines
    assert "| legit | 9950 | 99.50 % |" in lines
    assert "| fraud | 50 | 0.50 % |" in lines
    assert "Imbalance ratio (majority : minority): **199 : 1**" in lines
    assert "Cost of a false positive: 1; of a false negative: 50." in lines
    assert "Trial **#12**, value **321.5**" in lines
    assert "LightGBM, sigmoid calibration" in lines
    assert "![PR curve](/artifacts/3/ab-cd)" in lines
    assert "[Report](https://x/y.html)" in lines  # not an image: a link


def test_a_trial_note_says_how_the_trial_ended(monkeypatch):
    """Check that a stopped trial's note on the dashboard says how it ended in
    autoimb's words (skipped, stopped...) beside Optuna's state, where it said
    PRUNED for a trial never started (issue 39)."""
    from types import SimpleNamespace

    from autoimb.explain import explainer as _explainer

    notes = []
    monkeypatch.setattr(_explainer, "attach_trial_note",
                        lambda trial, note: notes.append(note))
    watcher = _explainer.Explainer()
    watcher.objective = SimpleNamespace(kind="cost")
    trial = SimpleNamespace(user_attrs={"autoimb.outcome": "skipped"})
    watcher.trial_stopped(trial, None, "PRUNED", "it would end after the deadline")
    assert "**Outcome:** skipped (Optuna state PRUNED)" in notes[0].splitlines()
    assert notes[0].endswith("### Why\n\nit would end after the deadline")


def test_study_note_calls_the_value_optimistic_only_when_it_is():
    """Check that the study note calls the chosen trial's value optimistic only
    when it is better than the bias-corrected estimate (issue 39)."""
    def note(value, optimistic):
        return study_note(n_rows=100, n_columns=3, class_counts={0: 90, 1: 10},
                          objective="expected cost", fp_cost=1, fn_cost=10,
                          best={"number": 3, "value": value, "estimate": 1086.54,
                                "optimistic": optimistic},
                          image_links=None)
    assert "That value is its raw cross-validated value. Expected on new data " \
           "(bootstrap bias-corrected): **1087**." in note(1130, False)
    assert "optimistic" not in note(1130, False)
    assert "so optimistic" in note(1000, True)


def test_study_note_before_any_completed_trial():
    """Check that the study note says so when no trial completed yet."""
    body = study_note(
        n_rows=5,
        n_columns=1,
        class_counts={0: 5, 1: 0},
        objective="AP",
        fp_cost=None,
        fn_cost=None,
        best=None,
        image_links=None,
    )
    assert "No trial has completed yet." in body
    assert "ratio is undefined" in body
    assert "Cost of a false positive" not in body
    assert "## Figures" not in body


def test_notes_round_trip_through_get_note(demo_study: DemoStudy):
    """Check that the notes saved by the attach_* wrappers are what get_note returns."""
    study = optuna.load_study(study_name=STUDY_NAME, storage=demo_study.storage)
    assert "![Cost curve](/artifacts/" in get_note(study)
    for trial in study.get_trials():
        live = optuna.Trial(study, trial._trial_id)
        assert get_note(live) == demo_study.notes[trial.number]
    # A long note is split over several attributes by optuna-dashboard.
    long_body = "\n".join(f"line {i} " + "x" * 80 for i in range(100))
    assert attach_study_note(study, long_body)
    assert get_note(study) == long_body


def test_trial_note_can_be_saved_after_the_trial_finished(tmp_path: Path):
    """Check that a finished trial takes a note; a FrozenTrial needs its study."""
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "j.journal")))
    study = optuna.create_study(storage=storage, study_name="s")
    trial = study.ask()
    study.tell(trial, 1.0)
    assert attach_trial_note(trial, "written after tell")
    assert get_note(trial) == "written after tell"
    assert attach_trial_note(study.trials[0], "frozen") is False
    assert get_note(trial) == "written after tell"
    # With its study, a FrozenTrial (what study callbacks get) works too.
    assert attach_trial_note(study.trials[0], "from a callback", study=study)
    assert get_note(trial) == "from a callback"
    assert study.trials[0].state == optuna.trial.TrialState.COMPLETE


def test_attach_note_never_raises_on_storage_failure(caplog):
    """Check that a failing storage gives a warning and False, not an exception."""

    class Broken(optuna.storages.InMemoryStorage):
        def set_study_system_attr(self, *args, **kwargs):
            raise OSError("disk full")

    study = optuna.create_study(storage=Broken())
    trial = study.ask()
    with caplog.at_level(logging.WARNING, logger="autoimb.explain.notes"):
        assert attach_study_note(study, "hello") is False
        assert attach_trial_note(trial, "hello") is False
    messages = [r.getMessage() for r in caplog.records]
    assert any("OSError: disk full" in m and "study" in m for m in messages)
    assert any("trial #0" in m for m in messages)


def test_attach_figures_uploads_pngs_served_by_url(demo_study: DemoStudy):
    """Check that uploaded figures are PNG artifacts listed on their trial and study."""
    study = demo_study.study
    metas = optuna.artifacts.get_all_artifact_meta(study)
    assert [m.artifact_id for m in metas] == [demo_study.study_figures["cost_curve"]]
    assert metas[0].filename == "cost_curve.png"
    assert metas[0].mimetype == "image/png"
    frozen = study.trials[0]
    (meta,) = optuna.artifacts.get_all_artifact_meta(frozen, storage=demo_study.storage)
    assert meta.artifact_id == demo_study.figures[0]["pr_curve"]
    with demo_study.artifact_store.open_reader(meta.artifact_id) as fh:
        assert fh.read(8) == PNG_MAGIC


def test_attach_figures_on_finished_trial_warns_and_skips(tmp_path: Path, caplog):
    """Check that a finished trial's figures are skipped with a warning, not
    raised, and leave no file in the artifact store (optuna 5.1 writes the file
    before it refuses the trial's attribute)."""
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "j.journal")))
    store = default_artifact_store(str(tmp_path / "j.journal"))
    study = optuna.create_study(storage=storage, study_name="s")
    trial = study.ask()
    study.tell(trial, 1.0)
    fig = plot_precision_recall(np.array([0, 1]), np.array([0.3, 0.6]))
    with caplog.at_level(logging.WARNING, logger="autoimb.explain.notes"):
        assert attach_figures(trial, {"pr": fig}, store) == {}
    assert "trial 0 has already finished" in caplog.text
    assert os.listdir(tmp_path / "j.journal.artifacts") == []
    with pytest.raises(TypeError, match="FrozenTrial"):
        attach_figures(study.trials[0], {"pr": fig}, store)
    with pytest.raises(TypeError, match=r"figures\['pr'\] is a str"):
        attach_figures(study, {"pr": "not a figure"}, store)


def test_artifact_locations(tmp_path: Path):
    """Check that artifact folders go next to journal and sqlite files, else refused."""
    journal = tmp_path / "runs" / "a.journal"
    journal.parent.mkdir()
    store = default_artifact_store(str(journal))
    assert (tmp_path / "runs" / "a.journal.artifacts").is_dir()
    assert isinstance(store, optuna.artifacts.FileSystemArtifactStore)
    assert (
        artifact_dir_for(f"sqlite:///{tmp_path}/x.db") == f"{tmp_path}/x.db.artifacts"
    )
    with pytest.raises(AutoImbError, match=r"postgresql://u@h/db.*artifact folder"):
        default_artifact_store("postgresql://u@h/db")
    with pytest.raises(AutoImbError, match="not a local file"):
        artifact_dir_for("sqlite:///:memory:")


def test_artifact_url_matches_the_dashboard_routes(demo_study: DemoStudy):
    """Check that artifact_url builds the /artifacts/ paths optuna-dashboard serves."""
    study = demo_study.study
    trial = optuna.Trial(study, study.trials[1]._trial_id)
    sid, tid = study._study_id, study.trials[1]._trial_id
    assert artifact_url(study, "ab") == f"/artifacts/{sid}/ab"
    assert artifact_url(trial, "ab") == f"/artifacts/{sid}/{tid}/ab"
    with pytest.raises(TypeError, match="got FrozenTrial"):
        artifact_url(study.trials[1], "ab")


# ----------------------------------------------------------------- dashboard


def test_dashboard_command_is_a_valid_shell_command():
    """Check that the printed command quotes paths so a shell splits it right."""
    assert dashboard_command("autoimb.journal") == "autoimb dashboard autoimb.journal"
    cmd = dashboard_command("/tmp/my runs/a b.journal", artifact_dir="/tmp/x y")
    assert shlex.split(cmd) == [
        "autoimb",
        "dashboard",
        "/tmp/my runs/a b.journal",
        "--artifact-dir",
        "/tmp/x y",
    ]
    url = "postgresql://user:pw@127.0.0.1/db?sslmode=require&x=1"
    assert shlex.split(dashboard_command(url)) == ["autoimb", "dashboard", url]
    with pytest.raises(AutoImbError, match="storage=''"):
        dashboard_command("")


def test_dashboard_server_serves_the_study_notes_and_artifacts(demo_study: DemoStudy):
    """Check that DashboardServer serves study, notes and PNGs, then frees the port."""
    server = DashboardServer(
        demo_study.storage,
        artifact_store=demo_study.artifact_store,
        study_name=STUDY_NAME,
    )
    with pytest.raises(AutoImbError, match="call start"):
        _ = server.url
    with server:
        assert server.running
        sid = demo_study.study._study_id
        assert server.url.startswith("http://127.0.0.1:")
        assert server.url.endswith(f"/dashboard/studies/{sid}")
        base = server.url.split("/dashboard")[0]
        port = int(base.rsplit(":", 1)[1])

        summaries = _get_json(base + "/api/studies")["study_summaries"]
        assert [s["study_name"] for s in summaries] == [STUDY_NAME]
        assert summaries[0]["study_id"] == sid

        detail = _get_json(f"{base}/api/studies/{sid}")
        assert [t["state"] for t in detail["trials"]] == [
            "Complete",
            "Complete",
            "Pruned",
        ]
        assert [t["note"]["body"] for t in detail["trials"]] == [
            demo_study.notes[i] for i in range(3)
        ]
        assert "## Best trial so far" in detail["note"]["body"]
        assert _get_json(base + "/api/meta")["artifact_is_available"] is True

        trial0 = detail["trials"][0]
        (art,) = trial0["artifacts"]
        status, headers, body = _get(
            f"{base}/artifacts/{sid}/{trial0['trial_id']}/{art['artifact_id']}"
        )
        assert status == 200
        assert headers["Content-Type"] == "image/png"
        assert body[:8] == PNG_MAGIC
        study_art = demo_study.study_figures["cost_curve"]
        _, _, body = _get(base + artifact_url(demo_study.study, study_art))
        assert body[:8] == PNG_MAGIC

        html = _get(server.url)[2].decode()
        assert "bundle.js" in html

        # A trial added while serving shows up (the server reads the storage).
        trial = demo_study.study.ask()
        demo_study.study.tell(trial, 0.9)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            n = len(_get_json(f"{base}/api/studies/{sid}")["trials"])
            if n == 4:
                break
            time.sleep(0.5)
        assert n == 4
    assert not server.running
    with pytest.raises(urllib.error.URLError):
        _get(base + "/api/studies", timeout=2)
    # No listener is left on the port (closed connections may sit in
    # TIME_WAIT, which SO_REUSEADDR ignores), and stop() is idempotent.
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(1)
    server.stop()


def test_dashboard_server_from_journal_path_uses_default_artifacts(
    demo_study: DemoStudy,
):
    """Check that a journal path gets JournalStorage and its artifact folder."""
    with DashboardServer(str(demo_study.path)) as server:
        base = server.url.split("/dashboard")[0]
        assert server.url == base + "/dashboard/"
        assert _get_json(base + "/api/meta")["artifact_is_available"] is True
        sid = demo_study.study._study_id
        trial0 = _get_json(f"{base}/api/studies/{sid}")["trials"][0]
        art = trial0["artifacts"][0]["artifact_id"]
        _, _, body = _get(f"{base}/artifacts/{sid}/{trial0['trial_id']}/{art}")
        assert body[:8] == PNG_MAGIC


def test_dashboard_server_port_in_use_names_the_port_and_fix(demo_study: DemoStudy):
    """Check that a busy port raises AutoImbError naming the port and port=None."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        server = DashboardServer(demo_study.storage, port=port)
        with pytest.raises(AutoImbError, match=rf"127\.0\.0\.1:{port}.*port=None"):
            server.start()
        assert not server.running
    with pytest.raises(AutoImbError, match="port=70000"):
        DashboardServer(demo_study.storage, port=70000).start()


@pytest.mark.timeout(60)  # a regression would serve forever
def test_run_dashboard_times_out_without_a_study(tmp_path: Path):
    """Check that run_dashboard gives up with a clear error, creating no file."""
    path = tmp_path / "none.journal"
    start = time.monotonic()
    with pytest.raises(
        AutoImbError, match=r"^No such file: .*none\.journal.* after waiting 0\.6 s"
    ):
        run_dashboard(str(path), wait_for_study=0.6)
    assert 0.5 < time.monotonic() - start < 10
    assert not path.exists()
    path.write_bytes(b"")  # the file, without a study
    with pytest.raises(
        AutoImbError, match=r"No study in .*none\.journal.* after 0\.6 s"
    ):
        run_dashboard(str(path), wait_for_study=0.6)


@pytest.mark.timeout(60)  # a regression would serve forever
@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_dashboard_on_a_missing_file_creates_nothing(tmp_path: Path, capsys, kind):
    """Check that the dashboard says "No such file" at once for a missing journal
    or SQLite file (at once too when its folder does not exist, whatever the
    wait), and that neither it nor DashboardServer creates the file."""
    path = tmp_path / ("study.journal" if kind == "journal" else "study.db")
    storage = str(path) if kind == "journal" else f"sqlite:///{path}"
    missing = "^" + re.escape(f"No such file: {str(path)!r}")
    with pytest.raises(AutoImbError, match=missing):
        DashboardServer(storage).start()
    with pytest.raises(AutoImbError, match=missing):
        run_dashboard(storage, wait_for_study=0)
    start = time.monotonic()
    with pytest.raises(AutoImbError, match="does not exist either"):
        run_dashboard(storage.replace("study.", "nowhere/study."), wait_for_study=60)
    assert time.monotonic() - start < 10
    with pytest.raises(AutoImbError, match=r"after waiting 0\.5 s"):
        run_dashboard(storage, wait_for_study=0.5)
    err = capsys.readouterr().err
    assert err.startswith(f"No such file yet: {str(path)!r}; waiting up to 0.5 s")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.timeout(60)  # a regression would serve forever
def test_run_dashboard_names_the_studies_when_the_name_is_wrong(demo_study: DemoStudy):
    """Check that an unknown study_name lists the studies the storage holds."""
    with pytest.raises(
        AutoImbError, match=r"No study named 'nope'.*\['autoimb-test'\]"
    ):
        run_dashboard(str(demo_study.path), study_name="nope", wait_for_study=0)


def _reader(stream, lines: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        lines.put(line)
    stream.close()


def _wait_line(lines: queue.Queue, needle: str, timeout: float, seen: list[str]) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"{needle!r} not printed within {timeout} s; got {seen!r}")


@pytest.mark.timeout(60)  # a regression would serve forever
def test_run_dashboard_waits_for_a_study_created_after_it_starts(tmp_path: Path):
    """Check that run_dashboard (subprocess) waits for a later study, then serves it."""
    path = tmp_path / "later.journal"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO), env.get("PYTHONPATH")])
    )
    env["PYTHONUNBUFFERED"] = "1"
    code = (
        "import sys\n"
        "from autoimb.explain.dashboard import run_dashboard\n"
        "run_dashboard(sys.argv[1], wait_for_study=60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # CI may start us with SIGINT ignored; the child needs it to stop.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        _wait_line(lines, "No such file yet: ", 60, seen)
        assert f"{str(path)!r}; waiting up to 60 s for it to appear" in seen[-1]
        time.sleep(1.0)
        assert proc.poll() is None, seen
        assert not any("serving" in line for line in seen)
        assert not path.exists()  # the waiting dashboard did not create the file

        storage = JournalStorage(JournalFileBackend(str(path)))
        study = optuna.create_study(storage=storage, study_name="late")
        study.tell(study.ask(), 0.5)

        line = _wait_line(lines, "serving http://127.0.0.1:", 30, seen)
        url = line.split("serving ", 1)[1].split()[0]
        base = url.split("/dashboard")[0]
        summaries = _get_json(base + "/api/studies")["study_summaries"]
        assert [s["study_name"] for s in summaries] == ["late"]
        assert _get_json(base + "/api/meta")["artifact_is_available"] is True
        assert (tmp_path / "later.journal.artifacts").is_dir()

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        _wait_line(lines, "stopped", 5, seen)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
