"""Reading and writing data tables: formats, round trips and clear errors."""

import gzip

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from autoimb import AutoImbError
from autoimb.deploy.io import SUPPORTED_FORMATS, read_table, table_format, write_table


@pytest.fixture
def frame():
    """Numeric, integer, string and boolean columns with missing values."""
    return pd.DataFrame({
        "amount": [1.5, np.nan, -3.25, 1e6],
        "count": [1, 2, 3, 4],
        "city": ["Oslo", None, "Lyon", "Åre, north"],
        "flag": [True, False, True, False],
        "target": [0, 1, 0, 0],
    })


def test_parquet_round_trip(tmp_path, frame):
    """Check that a frame written as Parquet reads back identical, dtypes included,
    without its index."""
    rows = frame.iloc[[3, 1, 0]]  # an index that is not 0..n-1
    path = write_table(rows, tmp_path / "data.parquet")
    assert path == str(tmp_path / "data.parquet")
    back = read_table(path)
    assert_frame_equal(back, rows.reset_index(drop=True))
    assert back["count"].dtype == np.int64
    assert back["flag"].dtype == bool
    assert back["city"].isna().tolist() == [False, True, False]


@pytest.mark.parametrize("name", ["data.csv", "data.csv.gz", "data.tsv", "data.tsv.gz",
                                  "DATA.CSV", "data.pq"])
def test_text_and_parquet_round_trip(tmp_path, frame, name):
    """Check that every supported extension round-trips values and missing cells."""
    path = tmp_path / name
    write_table(frame, path)
    back = read_table(path)
    assert list(back.columns) == list(frame.columns)
    assert len(back) == len(frame)
    np.testing.assert_allclose(back["amount"], frame["amount"])
    assert back["city"].isna().tolist() == [False, True, False, False]
    assert back["city"].iloc[3] == "Åre, north"
    assert back["target"].tolist() == [0, 1, 0, 0]


def test_gzip_and_tab_separation_are_real(tmp_path, frame):
    """Check that .csv.gz is gzip-compressed and .tsv is tab-separated."""
    write_table(frame, tmp_path / "a.csv.gz")
    with gzip.open(tmp_path / "a.csv.gz", "rt", encoding="utf-8") as handle:
        assert handle.readline().strip() == "amount,count,city,flag,target"
    write_table(frame, tmp_path / "a.tsv")
    header = (tmp_path / "a.tsv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split("\t") == list(frame.columns)


def test_empty_fields_read_as_missing(tmp_path):
    """Check that empty CSV fields become NaN and the index is not written."""
    (tmp_path / "m.csv").write_text("x,c,y\n1,,0\n,b,1\n", encoding="utf-8")
    back = read_table(tmp_path / "m.csv")
    assert back.shape == (2, 3)
    assert back["x"].isna().tolist() == [False, True]
    assert back["c"].isna().tolist() == [True, False]
    write_table(back, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text().splitlines()[0] == "x,c,y"


@pytest.mark.parametrize(("name", "expected"), [
    ("a.csv", "csv"), ("a.CSV.GZ", "csv"), ("a.csv.bz2", "csv"),
    ("dir.v2/a.tsv", "tsv"), ("a.tab", "tsv"), ("a.parquet", "parquet"),
    ("a.pq", "parquet"),
])
def test_table_format_from_extension(name, expected):
    """Check that the format follows the extension, compression suffixes aside."""
    assert table_format(name) == expected


@pytest.mark.parametrize("name", ["data.xlsx", "data", "data.json", "data.parquet.gz",
                                  "data.gz"])
def test_unknown_extension_is_refused(tmp_path, name, frame):
    """Check that an unknown extension names the path and the supported formats."""
    path = tmp_path / name
    path.write_text("x,y\n1,0\n", encoding="utf-8")
    for action in (lambda: read_table(path), lambda: write_table(frame, path)):
        with pytest.raises(AutoImbError, match="unknown file type") as info:
            action()
        message = str(info.value)
        assert repr(str(path)) in message
        assert all(fmt in message for fmt in SUPPORTED_FORMATS)


def test_missing_file_and_folder(tmp_path):
    """Check that a missing file or a folder is refused with its path."""
    with pytest.raises(AutoImbError, match="does not exist") as info:
        read_table(tmp_path / "nope.csv")
    assert "nope.csv" in str(info.value)
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(AutoImbError, match="is a folder"):
        read_table(tmp_path / "folder.csv")


@pytest.mark.parametrize(("name", "content", "kind"), [
    ("bad.csv.gz", b"this is not gzip", "CSV"),
    ("bad.parquet", b"PAR1 definitely not parquet", "Parquet"),
    ("bad.csv", b"a,b\n1,2\n3,4,5,6\n", "CSV"),
    ("bad.tsv", b"\xff\xfe\x00garbage\x00\x81", "TSV"),
])
def test_corrupt_content_is_refused(tmp_path, name, content, kind):
    """Check that content that does not parse raises AutoImbError, not the parser's."""
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AutoImbError) as info:
        read_table(path)
    message = str(info.value)
    assert message.startswith(f"Cannot read {str(path)!r} as {kind}")
    assert "Supported formats" in message
    assert "\n" not in message


def test_empty_file_is_refused(tmp_path):
    """Check that an empty CSV file gives a one-line 'empty' error."""
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(AutoImbError, match="the file is empty"):
        read_table(tmp_path / "empty.csv")


def test_write_into_missing_folder(tmp_path, frame):
    """Check that writing into a folder that does not exist names that folder."""
    with pytest.raises(AutoImbError, match="does not exist") as info:
        write_table(frame, tmp_path / "nope" / "out.csv")
    assert str(tmp_path / "nope") in str(info.value)
