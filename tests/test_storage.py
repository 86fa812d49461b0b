"""Tests of autoimb._storage: storage locations."""

import optuna
import pytest

from autoimb import _storage
from autoimb._storage import StorageLocation
from autoimb.exceptions import AutoImbError

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
