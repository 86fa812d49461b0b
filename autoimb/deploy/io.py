"""Read and write data tables for the command line: CSV, TSV and Parquet.

The format follows the file name: ``.csv`` and ``.tsv``, optionally compressed
(``.gz``, ``.bz2``, ``.xz``, ``.zip``), and ``.parquet`` (or ``.pq``). Every
failure, a missing file, an unknown extension, content that does not parse,
is raised as :class:`~autoimb.AutoImbError` with the path and the supported
formats, so that the command line can print it on one line.

Examples
--------
>>> import os, tempfile
>>> import pandas as pd
>>> from autoimb.deploy.io import read_table, table_format, write_table
>>> folder = tempfile.mkdtemp()
>>> frame = pd.DataFrame({"x": [0.5, 1.5], "city": ["Oslo", None], "y": [0, 1]})
>>> path = write_table(frame, os.path.join(folder, "data.csv.gz"))
>>> read_table(path).equals(frame)
True
>>> table_format("data.xlsx")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
autoimb.exceptions.AutoImbError: Cannot read 'data.xlsx': unknown file type '.xlsx'. ...
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from autoimb.exceptions import AutoImbError

__all__ = ["SUPPORTED_FORMATS", "read_table", "table_format", "write_table"]

SUPPORTED_FORMATS = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".parquet")
_COMPRESSIONS = (".gz", ".bz2", ".xz", ".zip")
_TEXT = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_PARQUET = (".parquet", ".pq")
_NAMES = {"csv": "CSV", "tsv": "TSV", "parquet": "Parquet"}


def _supported() -> str:
    return (", ".join(SUPPORTED_FORMATS)
            + " (text files may also end in .bz2, .xz, .zip)")


def table_format(path) -> str:
    """Return ``"csv"``, ``"tsv"`` or ``"parquet"`` from the file name of ``path``.

    Raises :class:`~autoimb.AutoImbError` for any other extension.

    Examples
    --------
    >>> table_format("scores.csv.gz"), table_format("a.TSV"), table_format("b.parquet")
    ('csv', 'tsv', 'parquet')
    """
    name = Path(os.fspath(path)).name.lower()
    for compression in _COMPRESSIONS:
        if name.endswith(compression):
            name = name[: -len(compression)]
            break
    else:
        for suffix in _PARQUET:
            if name.endswith(suffix):
                return "parquet"
    for suffix, sep in _TEXT.items():
        if name.endswith(suffix):
            return "csv" if sep == "," else "tsv"
    raise AutoImbError(
        f"Cannot read {os.fspath(path)!r}: unknown file type "
        f"{''.join(Path(os.fspath(path)).suffixes) or '(no extension)'!r}. "
        f"Supported formats: {_supported()}.")


def read_table(path) -> pd.DataFrame:
    """Read a CSV, TSV or Parquet file into a DataFrame.

    Parameters
    ----------
    path : str or path-like
        ``.csv``, ``.tsv`` (optionally ``.gz``, ``.bz2``, ``.xz``, ``.zip``
        compressed) or ``.parquet``. Text files are read with
        ``pd.read_csv(low_memory=False)``: empty fields become NaN.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    AutoImbError
        If the file is missing, has an unknown extension, or does not parse.
    """
    text = os.fspath(path)
    if not os.path.exists(text):
        raise AutoImbError(f"Data file {text!r} does not exist.")
    if os.path.isdir(text):
        raise AutoImbError(f"Data file {text!r} is a folder; pass the path of a file.")
    kind = table_format(text)
    try:
        if kind == "parquet":
            return pd.read_parquet(text)
        return pd.read_csv(text, sep="," if kind == "csv" else "\t", low_memory=False)
    except pd.errors.EmptyDataError as exc:
        raise AutoImbError(
            f"Cannot read {text!r} as {_NAMES[kind]}: the file is empty.") from exc
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # parsers raise many types: ParserError, OSError, ...
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if len(reason) > 200:
            reason = reason[:200] + " ..."
        raise AutoImbError(
            f"Cannot read {text!r} as {_NAMES[kind]} ({type(exc).__name__}: {reason}); "
            f"it may be corrupted or in another format. Supported formats: "
            f"{_supported()}.") from exc


def write_table(df: pd.DataFrame, path) -> str:
    """Write ``df`` (without its index) as CSV, TSV or Parquet after the extension.

    Returns the path written. Raises :class:`~autoimb.AutoImbError` for an unknown
    extension or a folder that does not exist.
    """
    text = os.fspath(path)
    kind = table_format(text)
    folder = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(folder):
        raise AutoImbError(
            f"Cannot write {text!r}: the folder {folder!r} does not exist.")
    try:
        if kind == "parquet":
            df.to_parquet(text, index=False)
        else:
            df.to_csv(text, sep="," if kind == "csv" else "\t", index=False)
    except OSError as exc:
        raise AutoImbError(f"Cannot write {text!r}: {exc.strerror or exc}.") from exc
    return text
