"""Tests of autoimb.storage: locations, journal repair, database retries, studies."""

import inspect
import json
import re
import sqlite3
import threading
import time
import warnings

import optuna
import pytest
import sqlalchemy.exc
from optuna.storages import JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState
from sklearn.datasets import make_classification

import autoimb
from autoimb import _optuna_compat
from autoimb.exceptions import (
    AutoImbError,
    AutoImbWarning,
    StorageUnavailableError,
    StudyMismatchError,
)
from autoimb.search.job import JOB_KEY
from autoimb.storage import databases as _databases
from autoimb.storage import studies as _studies
from autoimb.storage.databases import ResilientRDBStorage
from autoimb.storage.journal import repair_journal
from autoimb.storage.location import StorageLocation, local_file, resolve_storage
from autoimb.storage.studies import FINGERPRINT_KEY, check_study_matches, open_study

optuna.logging.set_verbosity(optuna.logging.WARNING)


# -- locations ------------------------------------------------------------------


@pytest.mark.parametrize(("given", "kind", "text", "local"), [
    (None, "journal", "autoimb.journal", "autoimb.journal"),
    ("memory", "memory", None, None),
    (":memory:", "memory", None, None),
    ("runs/a.journal", "journal", "runs/a.journal", "runs/a.journal"),
    ("sqlite:///runs/a.db", "database", "sqlite:///runs/a.db", "runs/a.db"),
    ("sqlite:////abs/a.db?timeout=5", "database", "sqlite:////abs/a.db?timeout=5",
     "/abs/a.db"),
    ("sqlite:///:memory:", "database", "sqlite:///:memory:", None),
    ("postgresql://u:pw@h/db", "database", "postgresql://u:pw@h/db", None),
    ("redis://localhost:6379", "redis", "redis://localhost:6379", None),
])
def test_locations_are_parsed_in_one_place(given, kind, text, local):
    """Check that each kind of location is told apart, with its local file."""
    location = StorageLocation.parse(given)
    assert (location.kind, location.text, location.local_file) == (kind, text, local)
    assert local_file(given) == local


def test_location_of_a_storage_object_and_a_path_object(tmp_path):
    """Check that a storage object is kept as is and a path object is a journal."""
    storage = optuna.storages.InMemoryStorage()
    location = StorageLocation.parse(storage)
    assert location.kind == "object" and location.open() is storage
    assert location.shown == "InMemoryStorage"
    assert StorageLocation.parse(tmp_path / "x.journal").text == str(
        tmp_path / "x.journal")


def test_shown_location_hides_the_password():
    """Check that messages never show a database password."""
    assert StorageLocation.parse("postgresql://me:s3cret@db:5432/x").shown == \
        "postgresql://me:***@db:5432/x"


@pytest.mark.parametrize("given", [3, "", "  "])
def test_bad_locations_are_refused(given):
    """Check that what is not a location is refused with the accepted forms."""
    with pytest.raises(AutoImbError, match=r"pass None .*'memory', a database URL"):
        StorageLocation.parse(given)


@pytest.mark.parametrize("given", ["missing.journal", "sqlite:///missing.db"])
def test_reading_a_missing_file_creates_nothing(tmp_path, monkeypatch, given):
    """Check that opening a journal or SQLite file to read it (dashboard, report)
    refuses a missing file with ``No such file: PATH`` instead of creating it."""
    monkeypatch.chdir(tmp_path)
    location = StorageLocation.parse(given)
    with pytest.raises(AutoImbError, match=r"^No such file: 'missing\.(journal|db)'"):
        location.open(for_search=False).get_all_studies()
    assert list(tmp_path.iterdir()) == []
    assert location.missing_file == location.local_file
    assert location.open_to_read() is None
    with pytest.raises(AutoImbError, match="No such file"):
        location.require_file()
    assert list(tmp_path.iterdir()) == []


def test_missing_file_message_names_nearby_study_files(tmp_path, monkeypatch):
    """Check that a mistyped path (or a study's name given as the path) is told,
    with the study files of its folder and the closest of them."""
    monkeypatch.chdir(tmp_path)
    for name in ("thyroid.journal", "autoimb.journal", "notes.txt"):
        (tmp_path / name).write_text("")
    message = StorageLocation.parse("thy").missing_file_message()
    assert message.startswith("No such file: 'thy'. Check the path")
    assert "the study's name is given apart" in message
    assert "Did you mean 'thyroid.journal'?" in message
    assert "Study files in this folder: 'autoimb.journal', 'thyroid.journal'." \
        in message
    message = StorageLocation.parse("sqlite:///thyroid.journl").missing_file_message(
        waited=2)
    assert message.startswith("No such file: 'thyroid.journl' (storage "
                              "'sqlite:///thyroid.journl') after waiting 2 s.")
    assert "given apart" not in message
    message = StorageLocation.parse(str(tmp_path / "none" / "a.journal")) \
        .missing_file_message()
    assert message.endswith("'none' does not exist either. Check the path.".replace(
        "'none'", repr(str(tmp_path / "none"))))


def test_an_sqlite_file_without_tables_is_read_without_creating_them(tmp_path):
    """Check that a reader finds no study in an SQLite file whose tables are not
    there yet (a fit is creating it), and writes nothing to it."""
    path = tmp_path / "study.db"
    sqlite3.connect(path).close()
    location = StorageLocation.parse(f"sqlite:///{path}")
    assert location.open_to_read() is None
    with sqlite3.connect(path) as connection:
        assert connection.execute("select name from sqlite_master").fetchall() == []
    optuna.create_study(storage=location.text, study_name="made")
    storage = location.open_to_read()
    assert [s.study_name for s in storage.get_all_studies()] == ["made"]
    storage.engine.dispose()


def test_environment_sets_heartbeat_grace_and_retry(tmp_path, monkeypatch):
    """Check that the documented environment variables reach the database
    storage, and that a bad value is refused naming the variable."""
    url = f"sqlite:///{tmp_path}/a.db"
    storage, location = resolve_storage(url)
    assert location == url
    assert isinstance(storage, ResilientRDBStorage)
    assert (storage.heartbeat_interval, storage.grace_period,
            storage.retry_seconds) == (30, 90, 60)
    assert storage.engine_kwargs["pool_pre_ping"] is True
    monkeypatch.setenv("AUTOIMB_HEARTBEAT_SECONDS", "2")
    monkeypatch.setenv("AUTOIMB_STORAGE_RETRY_SECONDS", "5")
    storage, _ = resolve_storage(url)
    assert (storage.heartbeat_interval, storage.grace_period,
            storage.retry_seconds) == (2, 6, 5)
    monkeypatch.setenv("AUTOIMB_HEARTBEAT_GRACE_SECONDS", "1.5")
    with pytest.raises(AutoImbError, match=r"AUTOIMB_HEARTBEAT_GRACE_SECONDS='1.5' "
                                           r"is not a positive whole number"):
        resolve_storage(url)


# -- journal files ----------------------------------------------------------------


def _small_journal(path, n_trials=3):
    storage = JournalStorage(JournalFileBackend(str(path)))
    study = optuna.create_study(storage=storage, study_name="s")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=n_trials)
    return {t.number: t.value for t in study.trials}


def _read_study(path):
    study = optuna.load_study(study_name="s", storage=JournalStorage(
        JournalFileBackend(str(path))))
    return {t.number: t.value for t in study.trials}


def _half_of_last_record(path):
    last = path.read_bytes().rstrip(b"\n").rsplit(b"\n", 1)[-1]
    return last[: len(last) // 2]


def test_fit_repairs_a_journal_whose_last_record_was_cut(tmp_path, monkeypatch):
    """Check that after half a record is appended to autoimb.journal (a kill or a
    power loss mid-write), the next fit warns, repairs the file keeping a backup
    of the original, keeps every trial, and runs; without the repair it failed
    with a bare JSONDecodeError."""
    monkeypatch.chdir(tmp_path)
    X, y = make_classification(n_samples=300, weights=[0.9], random_state=0)
    options = {"search_space": "fast", "cv": 2, "random_state": 0,
               "show_progress_bar": False}
    first = autoimb.fit(X, y, n_trials=2, **options)
    journal = tmp_path / "autoimb.journal"
    before = journal.read_bytes()
    cut = _half_of_last_record(journal)
    with journal.open("ab") as f:
        f.write(cut)
    with pytest.warns(AutoImbWarning, match=r"held a record cut short \(\d+ bytes.*"
                                            r"repaired the file.*saved as "
                                            r"'autoimb\.journal\.\d{8}-\d{6}\.bak'"):
        second = autoimb.fit(X, y, n_trials=3, **options)
    backups = list(tmp_path.glob("autoimb.journal.*.bak"))
    assert len(backups) == 1
    assert backups[0].read_bytes() == before + cut
    assert journal.read_bytes().startswith(before)
    assert [json.loads(line) for line in journal.read_bytes().splitlines()]
    assert second.study_name_ == first.study_name_
    kept = {t.number: t.value for t in first.study_.trials}
    assert {t.number: t.value for t in second.study_.trials
            if t.number in kept} == kept
    assert len(second.results_) >= 3


def test_repair_keeps_a_record_written_after_a_cut_one(tmp_path):
    """Check that a line holding a cut record followed by a complete one (what
    appending after a cut record produced) keeps the complete record, so a file
    already broken that way opens again with all its trials."""
    path = tmp_path / "s.journal"
    _small_journal(path, n_trials=2)
    intact = path.read_bytes()
    lines = intact.splitlines(keepends=True)
    cut = lines[-3][: len(lines[-3]) // 3]
    path.write_bytes(b"".join(lines[:-2]) + cut + b"".join(lines[-2:]))
    with pytest.raises(ValueError):  # what Optuna alone does with it
        _read_study(path)
    with pytest.warns(AutoImbWarning, match=r"1 of them had been written on the same"):
        repair_journal(str(path))
    assert path.read_bytes() == intact
    assert len(_read_study(path)) == 2
    repair_journal(str(path))  # intact now: nothing to do, no new backup
    assert len(list(tmp_path.glob("*.bak"))) == 1


def test_cut_first_record_leaves_an_empty_journal(tmp_path):
    """Check that a journal holding only the start of its first record is
    emptied, and a study can then be created in it."""
    path = tmp_path / "s.journal"
    path.write_bytes(b'{"op_code":0,"worker_id":"ab')
    with pytest.warns(AutoImbWarning, match="cut short"):
        storage, _ = resolve_storage(str(path))
    assert path.read_bytes() == b""
    optuna.create_study(storage=storage, study_name="s")


def test_intact_journal_is_left_alone(tmp_path):
    """Check that an intact journal is not rewritten nor backed up, silently."""
    path = tmp_path / "s.journal"
    _small_journal(path)
    before = path.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        repair_journal(str(path))
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("*.bak"))


def test_sqlite_file_given_as_a_journal_is_refused_untouched(tmp_path):
    """Check that an SQLite file passed as a journal path is not "repaired" but
    refused, naming the URL to pass."""
    path = tmp_path / "study.db"
    with sqlite3.connect(path) as db:
        db.execute("create table t (x)")
        db.execute("insert into t values ('a\nb')")
    before = path.read_bytes()
    with pytest.raises(AutoImbError, match=r"not an Optuna journal.*SQLite database: "
                                           rf"pass storage='sqlite:///{path}'"):
        resolve_storage(str(path))
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("*.bak"))


def test_damage_before_complete_records_is_refused(tmp_path):
    """Check that a line that is no record, followed by complete records, is not
    cut (it would lose them) but refused with its line number."""
    path = tmp_path / "s.journal"
    _small_journal(path)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = b"garbage\n"
    path.write_bytes(b"".join(lines))
    with pytest.raises(AutoImbError, match=r"damaged at line 3 \(b'garbage\\n'\)"):
        repair_journal(str(path))


# -- database retries -------------------------------------------------------------


def test_every_database_call_of_cached_storage_is_retried():
    """Check that the retried methods cover every call Optuna's _CachedStorage
    (which create_study puts around an RDBStorage) makes to it, public or not."""
    source = inspect.getsource(optuna.storages._CachedStorage)
    calls = set(re.findall(r"self\._backend\.(\w+)\(", source))
    retried = set(vars(ResilientRDBStorage))
    assert calls <= retried, calls - retried
    assert set(_optuna_compat.rdb_storage_calls()) <= retried
    assert {"record_heartbeat", "_get_stale_trial_ids", "create_new_trial",
            "set_trial_state_values", "get_all_trials"} <= retried


def _lost(message="connection refused"):
    error = sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception(message))
    internal = optuna.exceptions.StorageInternalError("during the commit")
    internal.__cause__ = error
    return internal


@pytest.fixture
def database(tmp_path, monkeypatch):
    """A ResilientRDBStorage on SQLite with a short retry and no real sleeping."""
    monkeypatch.setenv("AUTOIMB_STORAGE_RETRY_SECONDS", "3")
    clock = {"now": 0.0}
    monkeypatch.setattr(_databases.time, "monotonic", lambda: clock["now"])

    def sleep(seconds):
        clock["now"] += seconds

    monkeypatch.setattr(_databases.time, "sleep", sleep)
    storage, _ = resolve_storage(f"sqlite:///{tmp_path}/a.db")
    study = optuna.create_study(storage=storage, study_name="s")
    return storage, study, clock


def test_lost_connection_is_retried_until_the_database_answers(database,
                                                                monkeypatch, caplog):
    """Check that calls failing with a lost connection are retried with growing
    waits, and that the search's study then goes on."""
    storage, study, clock = database
    original = RDBStorage.get_all_studies
    failures = iter(range(3))

    def flaky(self):
        if next(failures, None) is not None:
            raise _lost()
        return original(self)

    monkeypatch.setattr(RDBStorage, "get_all_studies", flaky)
    with caplog.at_level("WARNING", logger="autoimb.storage.databases"):
        assert [s.study_name for s in storage.get_all_studies()] == ["s"]
    assert 0.8 * 1.75 <= clock["now"] <= 1.2 * 1.75  # 0.25 + 0.5 + 1 s, +-20%
    assert "Lost the connection to the study storage sqlite:///" in caplog.text
    assert "Reconnected" in caplog.text
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert len(study.trials) == 2


def test_lost_connection_seen_through_a_pending_rollback_is_retried(database,
                                                                    monkeypatch):
    """Check that a lost connection is recognised behind the PendingRollbackError
    that RDBStorage._get_trials raises when its fallback query reuses the session
    whose connection dropped (this crashed a worker during a database restart)."""
    _, study, clock = database
    original = RDBStorage._get_trials
    failures = iter(range(1))

    def fallback_fails(self, *args, **kwargs):
        if next(failures, None) is None:
            return original(self, *args, **kwargs)
        try:
            raise sqlalchemy.exc.OperationalError("SELECT", {}, Exception("closed"))
        except sqlalchemy.exc.OperationalError:
            try:
                raise sqlalchemy.exc.PendingRollbackError("Can't reconnect until "
                                                          "invalid transaction is "
                                                          "rolled back")
            except sqlalchemy.exc.PendingRollbackError as error:
                raise optuna.exceptions.StorageInternalError("commit") from error

    monkeypatch.setattr(RDBStorage, "_get_trials", fallback_fails)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert len(study.trials) == 1
    assert clock["now"] > 0


def test_database_down_too_long_raises_once_then_fails_fast(database, monkeypatch):
    """Check that past the retry time, StorageUnavailableError names the storage
    and how to resume; later calls fail at once until one succeeds."""
    storage, _, clock = database
    calls = []

    def down(self, *args, **kwargs):
        calls.append(clock["now"])
        raise _lost("could not connect to server")

    monkeypatch.setattr(RDBStorage, "get_all_studies", down)
    with pytest.raises(StorageUnavailableError,
                       match=r"The study storage sqlite:///.*a\.db did not answer for "
                             r"3 s \(Exception: could not connect to server\)\. "
                             r"Finished trials are safe.*run the same command"):
        storage.get_all_studies()
    assert 3 <= clock["now"] < 4
    n = len(calls)
    with pytest.raises(StorageUnavailableError):
        storage.get_all_studies()
    assert len(calls) == n + 1  # one attempt, no more waiting


def test_refused_request_is_not_retried(database, monkeypatch):
    """Check that an error about the request itself is raised at once."""
    storage, study, clock = database
    study.optimize(lambda t: 1.0, n_trials=1)
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        storage.set_trial_state_values(study.trials[0]._trial_id, TrialState.FAIL)
    assert clock["now"] == 0


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed")
def test_finishing_a_trial_whose_answer_was_lost_succeeds(database, monkeypatch):
    """Check that when the server commits a trial's end but the connection drops
    before it answers, the retry sees the trial finished as asked and succeeds
    instead of raising UpdateFinishedTrialError."""
    storage, study, _ = database
    trial = study.ask()
    original = RDBStorage.set_trial_state_values
    answers = []

    def commit_then_drop(self, trial_id, state, values=None):
        result = original(self, trial_id, state, values)
        if not answers:
            answers.append(result)
            raise _lost("server closed the connection unexpectedly")
        return result

    monkeypatch.setattr(RDBStorage, "set_trial_state_values", commit_then_drop)
    assert storage.set_trial_state_values(trial._trial_id, TrialState.COMPLETE,
                                          [0.5]) is True
    assert study.trials[0].state == TrialState.COMPLETE
    assert study.trials[0].value == 0.5


# -- opening one study from two processes ------------------------------------------


def _journal_storage(tmp_path):
    return JournalStorage(JournalFileBackend(str(tmp_path / "study.log")))


def test_only_the_process_that_creates_a_study_takes_it_for_new(tmp_path):
    storage = _journal_storage(tmp_path)
    first, created_first = open_study(storage, study_name="s", direction="minimize")
    second, created_second = open_study(storage, study_name="s",
                                        direction="minimize")
    assert (created_first, created_second) == (True, False)
    assert first._study_id == second._study_id


def test_a_study_created_at_once_by_another_process_is_waited_for(tmp_path):
    """The loser of the race must not set the study up a second time (it would
    queue the recipes twice): it waits for the creator's job record, then finds
    the study tagged for the same data."""
    storage = _journal_storage(tmp_path)
    creator, _ = open_study(storage, study_name="s", direction="minimize")
    config = {"objective": "cost"}
    assert check_study_matches(creator, fingerprint="abc", config=config,
                               created=True, ready_key=JOB_KEY)
    loser, created = open_study(storage, study_name="s", direction="minimize")

    def finish_setup():
        time.sleep(0.5)
        creator.set_user_attr(FINGERPRINT_KEY, "abc")
        creator.set_user_attr(JOB_KEY, {"ready": True})

    thread = threading.Thread(target=finish_setup)
    thread.start()
    start = time.monotonic()
    new = check_study_matches(loser, fingerprint="abc", config=config,
                              created=created, ready_key=JOB_KEY)
    thread.join()
    assert new is False
    assert time.monotonic() - start >= 0.4
    assert loser.user_attrs[JOB_KEY] == {"ready": True}


def test_an_empty_study_made_by_hand_is_taken_over_after_a_short_wait(
        tmp_path, monkeypatch):
    monkeypatch.setattr(_studies, "_SETTINGS_WAIT", 0.3)
    storage = _journal_storage(tmp_path)
    optuna.create_study(storage=storage, study_name="s")
    study, created = open_study(storage, study_name="s", direction="minimize")
    assert not created
    assert check_study_matches(study, fingerprint="abc", config={"a": 1},
                               created=created)
    assert study.user_attrs["autoimb.config"] == {"a": 1}


def test_a_study_with_foreign_trials_is_refused_at_once(tmp_path):
    storage = _journal_storage(tmp_path)
    optuna.create_study(storage=storage, study_name="s").optimize(
        lambda trial: trial.suggest_float("x", 0, 1), n_trials=1)
    study, created = open_study(storage, study_name="s", direction="minimize")
    start = time.monotonic()
    with pytest.raises(StudyMismatchError, match="1 trials that autoimb did not"):
        check_study_matches(study, fingerprint="abc", config={}, created=created)
    assert time.monotonic() - start < 1


def _dead_worker() -> str:
    """``host:pid`` of a process of this machine that has exited."""
    import socket
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return f"{socket.gethostname()}:{process.pid}"


def test_a_trial_whose_process_died_is_retried_once(tmp_path):
    """Check that a trial left running by a process that died is failed and its
    parameters queued again, but a retry whose process died too is failed
    without being queued again (else parameters that need more memory than
    the machine has would kill every rerun), saying so."""
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "s.journal")))
    study = optuna.create_study(storage=storage, study_name="dies")
    space = {"x": optuna.distributions.FloatDistribution(0, 1)}
    first = study.ask(space)
    first.set_user_attr("worker", _dead_worker())
    assert _studies.fail_dead_workers_trials(study) == [0]
    queued = [t for t in study.get_trials() if t.state == TrialState.WAITING]
    assert [t.user_attrs["retry_of"] for t in queued] == [0]

    retry = study.ask(space)  # the queued retry, by a process that dies too
    assert retry.number == 1 and retry.params == first.params
    retry.set_user_attr("worker", _dead_worker())
    assert _studies.fail_dead_workers_trials(study) == [1]
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.FAIL]
    assert trials[1].user_attrs["error"].endswith(
        "died while running this trial, as one did running the same parameters in "
        "trial 0: not queued again (they may need more memory than this machine has)")


def test_a_trial_stopped_by_the_search_itself_is_not_a_death(tmp_path):
    """Check that a trial whose worker the search killed itself at its end
    (``stopped``) says so and is queued again without counting as a death: its
    retry's death is then the first, and the retry is queued again; a death
    further back in the chain of retries still counts."""
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "s.journal")))
    study = optuna.create_study(storage=storage, study_name="stopped")
    space = {"x": optuna.distributions.FloatDistribution(0, 1)}
    stopped = study.ask(space)
    worker = _dead_worker()
    stopped.set_user_attr("worker", worker)
    pid = int(worker.rsplit(":", 1)[1])
    assert _studies.fail_dead_workers_trials(study, stopped=[pid]) == [0]
    assert study.get_trials()[0].user_attrs["error"] == (
        f"worker {worker} was stopped at the end of the search while running this "
        "trial")
    retry = study.ask(space)
    retry.set_user_attr("worker", _dead_worker())
    assert _studies.fail_dead_workers_trials(study) == [1]
    assert [t.user_attrs.get("retry_of") for t in study.get_trials()
            if t.state == TrialState.WAITING] == [1]
    again = study.ask(space)  # retries trial 1, which died
    again.set_user_attr("worker", _dead_worker())
    assert _studies.fail_dead_workers_trials(study) == [2]
    assert "as one did running the same parameters in trial 1" in \
        study.get_trials()[2].user_attrs["error"]
    assert not [t for t in study.get_trials() if t.state == TrialState.WAITING]


@pytest.mark.parametrize(("module", "install"), [
    ("psycopg2", "pip install psycopg2-binary"),
    ("psycopg", "pip install 'autoimb[postgres]'"),
])
def test_a_missing_database_driver_is_named_with_its_install_command(
        monkeypatch, capsys, module, install):
    """Check that `autoimb worker --storage postgresql://...` without the
    driver installed says in one line which driver is missing and how to
    install it, without Optuna's "Please install appropriate one.." before it
    (issue 39). The import failure is simulated where SQLAlchemy would raise it."""
    import sqlalchemy.engine

    from autoimb.cli import main

    def no_driver(url, **kwargs):
        raise ModuleNotFoundError(f"No module named {module!r}", name=module)

    monkeypatch.setattr(sqlalchemy.engine, "create_engine", no_driver)
    status = main(["worker", "--storage", "postgresql://me:secret@db.example/x",
                   "--study", "s", "--wait", "0", "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2
    expected = ("autoimb: error: Cannot open the study storage "
                "'postgresql://me:***@db.example/x': its database driver "
                f"{module!r} is not installed. Install it: {install}\n")
    assert err == expected
    # the dashboard reads the database: it says so at once rather than waiting
    assert main(["dashboard", "postgresql://me:secret@db.example/x"]) == 2
    assert capsys.readouterr().err == expected
