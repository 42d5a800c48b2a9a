"""Reading a data file into a pandas table: CSV (comma, semicolon, tab or bar) or Parquet.

What is read, and how:

- **Parquet** is recognised by its content (the ``PAR1`` magic bytes), whatever the file's name.
- **Text** tables in UTF-8 (with or without a byte-order mark), UTF-16 with a byte-order mark,
  Windows-1252 or Latin-1. The separator is the one of ``, ; TAB |`` that the header line holds
  most often; a semicolon-separated file whose numbers use a decimal comma (``1,5``) is read with
  ``decimal=","``.
- The group column, when named, is read as text, so ids such as ``007`` keep their zeros, and only
  an empty field counts as a missing label (a group called ``NA`` stays ``"NA"``). In the other
  columns the usual spellings of missing (empty, ``NA``, ``NaN``, ``null``, ...) are missing.
- The rows are indexed by their **line number in the file** (index name ``"line"``) when that can be
  told for sure, else by their position among the data rows counted from 1 (index name
  ``"data row"``), so that error messages point at a place the user can find.

Anything else ends in a ``ValueError`` that names the file and says what was found: an empty file,
a header without rows, a binary file (a spreadsheet, an archive, an image, a saved fit, ...),
columns with the same name, or rows with the wrong number of fields.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["MISSING_SPELLINGS", "read_table", "text_format"]

_DELIMITERS = (",", ";", "\t", "|")
_SPACE = np.frombuffer(b" \t\r\x0b\x0c", dtype=np.uint8)
_HEAD_BYTES = 1 << 16
#: Spellings that mean "missing" in value columns (pandas's defaults).
MISSING_SPELLINGS = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)  # fmt: skip
#: Leading bytes of file kinds people pass by mistake, and what to call them.
_MAGIC = (
    (b"PK\x03\x04", "a zip archive (an Excel .xlsx or OpenDocument spreadsheet?); save it as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old-style Excel .xls workbook; save it as CSV"),
    (b"\x1f\x8b", "gzip-compressed; decompress it first"),
    (b"BZh", "bzip2-compressed; decompress it first"),
    (b"\xfd7zXZ", "xz-compressed; decompress it first"),
    (b"\x89HDF", "an HDF5 / netCDF file (a saved fit?), not a table"),
    (b"CDF\x01", "a netCDF file, not a table"),
    (b"%PDF", "a PDF document, not a table"),
    (b"\x89PNG", "a PNG image, not a table"),
    (b"\xff\xd8\xff", "a JPEG image, not a table"),
    (b"SQLite format 3", "an SQLite database, not a table"),
    (b"\x80\x04", "a Python pickle, which hbm never loads"),
    (b"\x80\x05", "a Python pickle, which hbm never loads"),
)


def read_table(path: str | Path, *, group: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Read ``path`` (CSV-like text or Parquet) into a DataFrame.

    Parameters
    ----------
    path : str or Path
        The data file.
    group : str or sequence of str, optional
        The group column(s): read as text, with only empty fields counted as missing.

    Returns
    -------
    pandas.DataFrame
        Indexed by line number in the file (``"line"``) or data-row number (``"data row"``).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is empty, holds only a header, is binary, has repeated column names or cannot
        be read as a table; the message names the file and what was found.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "t.csv").write_text("school;score\\n007;1,5\\n008;2\\n")
    >>> table = read_table(folder / "t.csv", group="school")
    >>> table["school"].tolist(), table["score"].tolist(), table.index.tolist()
    (['007', '008'], [1.5, 2.0], [2, 3])
    """
    path = Path(path)
    name = repr(str(path))
    if not path.exists():
        raise FileNotFoundError(f"The data file {name} does not exist.")
    if path.is_dir():
        raise ValueError(f"The data path {name} is a folder; expected a CSV or Parquet file.")
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    if head.startswith(b"PAR1"):
        return _read_parquet(path, name)
    encoding, delimiter, decimal, columns = text_format(path)
    na_values = {column: list(MISSING_SPELLINGS) for column in columns}
    groups = [group] if isinstance(group, str) else list(group or [])
    text_columns = {name: str for name in groups if name in columns}
    for name in text_columns:
        na_values[name] = [""]
    options = dict(
        sep=delimiter,
        decimal=decimal,
        keep_default_na=False,
        na_values=na_values,
        dtype=text_columns or None,
    )
    try:
        try:
            table = pd.read_csv(path, encoding=encoding, **options)  # type: ignore[call-overload]
        except UnicodeDecodeError:
            # The first 64 KiB were UTF-8 but a later byte is not: the file is a one-byte encoding.
            encoding = "cp1252" if _decodes(path, "cp1252") else "latin-1"
            table = pd.read_csv(path, encoding=encoding, **options)  # type: ignore[call-overload]
    except pd.errors.ParserError as error:
        raise ValueError(
            f"The data file {name} could not be read as a table: {_parser(error)}"
        ) from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"The data file {name} is empty.") from None
    if table.empty:
        raise ValueError(
            f"The data file {name} has a header ({', '.join(map(repr, columns))}) but no data rows."
        )
    table.index = _line_index(path, len(table), encoding)
    return table


def text_format(path: str | Path) -> tuple[str, str, str, list[str]]:
    """How a text table is written: ``(encoding, delimiter, decimal, header columns)``.

    Read from the first 64 KiB, as :func:`read_table` reads it (also for engines that read the
    file themselves). Raises ``ValueError`` naming the file for a binary, empty or misnamed
    file, or repeated column names.
    """
    path = Path(path)
    name = repr(str(path))
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    if path.suffix.lower() in (".parquet", ".pq"):
        raise ValueError(f"The data file {name} is named like Parquet but is not a Parquet file.")
    encoding, text = _decode_head(head, name)
    if not text.strip():
        raise ValueError(f"The data file {name} is empty.")
    header_line = next(line for line in text.splitlines() if line.strip())
    delimiter = max(_DELIMITERS, key=header_line.count)
    columns = next(csv.reader([header_line], delimiter=delimiter))
    _check_header(columns, name)
    body = text.split("\n", 1)[1] if "\n" in text else ""
    decimal = "," if delimiter == ";" and _decimal_comma(body) else "."
    return encoding, delimiter, decimal, columns


def _read_parquet(path: Path, name: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        names = [str(n) for n in pq.read_schema(path).names]
    except Exception as error:  # any reader failure is reported the same way
        raise ValueError(
            f"The data file {name} could not be read as Parquet ({type(error).__name__}: {error})."
        ) from None
    _check_header([n for n in names if not n.startswith("__index_level_")], name)
    try:
        table = pd.read_parquet(path)
    except Exception as error:  # any reader failure is reported the same way
        raise ValueError(
            f"The data file {name} could not be read as Parquet ({type(error).__name__}: {error})."
        ) from None
    if table.empty:
        raise ValueError(
            f"The data file {name} has columns ({', '.join(map(repr, map(str, table.columns)))}) "
            "but no data rows."
        )
    if table.index.name is None and isinstance(table.index, pd.RangeIndex):
        table.index = pd.RangeIndex(1, len(table) + 1, name="data row")
    return table


def _decode_head(head: bytes, name: str) -> tuple[str, str]:
    """The encoding of a text file and its first bytes decoded; binary files raise."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise ValueError(f"The data file {name} is {what}.")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", head.decode("utf-16", errors="replace")
    if b"\x00" in head:
        raise ValueError(
            f"The data file {name} is binary (it holds NUL bytes), not a CSV text or Parquet file."
        )
    try:
        # A multi-byte character may be cut at the end of the head: not final.
        return "utf-8-sig", codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError:
        pass
    try:
        return "cp1252", head.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1", head.decode("latin-1")


def _decodes(path: Path, encoding: str) -> bool:
    try:
        with path.open(encoding=encoding) as handle:
            for _ in handle:
                pass
    except UnicodeDecodeError:
        return False
    return True


def _check_header(columns: list[str], name: str) -> None:
    seen: dict[str, list[int]] = {}
    for position, column in enumerate(columns, start=1):
        seen.setdefault(column, []).append(position)
    repeated = {column: where for column, where in seen.items() if len(where) > 1}
    if repeated:
        column, where = next(iter(repeated.items()))
        raise ValueError(
            f"The data file {name} has {len(where)} columns named {column!r} (columns "
            f"{', '.join(map(str, where))}); every column needs its own name."
        )


def _decimal_comma(body: str) -> bool:
    """True when numbers in a semicolon-separated text are written with a decimal comma."""
    return bool(re.search(r"(?:^|;)\s*-?\d+,\d+\s*(?:;|$)", body, flags=re.MULTILINE)) and not (
        re.search(r"(?:^|;)\s*-?\d*\.\d+\s*(?:;|$)", body, flags=re.MULTILINE)
    )


def _parser(error: Exception) -> str:
    """A pandas parser error in plain words."""
    text = str(error).strip()
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if found:
        expected, line, saw = found.groups()
        return f"line {line} has {saw} fields but the header has {expected}."
    return text.removeprefix("Error tokenizing data. C error: ").rstrip(".") + "."


def _line_index(path: Path, rows: int, encoding: str) -> pd.Index:
    """Line numbers of the data rows when they can be told for sure, else 1, 2, ... .

    Vectorized over the bytes (a million rows: ~0.1 s). A field in quotes may hold a line break
    (a line with an odd number of quotes), and a lone carriage return ends a line for pandas but
    not here: in those cases only the count of rows is certain.
    """
    fallback = pd.RangeIndex(1, rows + 1, name="data row")
    if encoding == "utf-16":
        return fallback
    raw = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    ends = np.flatnonzero(raw == ord("\n"))
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [raw.size]))
    if np.any(raw == ord('"')):
        quotes = np.searchsorted(ends, np.flatnonzero(raw == ord('"')))  # line of each quote
        if np.any(np.bincount(quotes, minlength=starts.size) % 2):
            return fallback
    returns = np.flatnonzero(raw == ord("\r"))
    if returns.size and np.any(raw[np.minimum(returns + 1, raw.size - 1)] != ord("\n")):
        return fallback
    blank = stops - starts == 0
    for line in np.flatnonzero(~blank & np.isin(raw[np.minimum(starts, raw.size - 1)], _SPACE)):
        blank[line] = not bytes(raw[starts[line] : stops[line]]).strip()  # rare: spaces first
    lines = np.flatnonzero(~blank) + 1
    if lines.size != rows + 1:
        return fallback
    return pd.Index(lines[1:], name="line")
