"""Tests of autoimb._storage: storage locations, journal repair."""

import json
import sqlite3
import warnings

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from sklearn.datasets import make_classification

import autoimb
from autoimb import _storage
from autoimb._storage import (
    StorageLocation,
    repair_journal,
    resolve_storage,
)
from autoimb.exceptions import AutoImbError, AutoImbWarning

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
    assert _storage.local_file(given) == local


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
