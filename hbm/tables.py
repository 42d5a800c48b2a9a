"""Reading a data file into a pandas table: CSV (comma, semicolon or tab) or Parquet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["read_table"]

_DELIMITERS = (",", ";", "\t")


def read_table(path: str | Path, *, group: str | None = None) -> pd.DataFrame:
    """Read ``path`` (``.csv``, ``.tsv``, ``.txt`` or ``.parquet``) into a DataFrame.

    The group column, when named, is read as text so that ids such as ``007`` keep their zeros.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is empty or cannot be read as a table.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"The data file {str(path)!r} does not exist.")
    if path.is_dir():
        raise ValueError(f"The data path {str(path)!r} is a folder; expected a CSV or Parquet file.")
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            return pd.read_parquet(path)
        except Exception as error:  # noqa: BLE001 - any reader failure is reported the same way
            raise ValueError(f"{str(path)!r} could not be read as Parquet: {error}.") from None
    with path.open("rb") as handle:
        head = handle.read(65536)
    if not head.strip():
        raise ValueError(f"The data file {str(path)!r} is empty.")
    if b"\x00" in head:
        raise ValueError(f"The data file {str(path)!r} is binary, not a CSV table.")
    encoding = "utf-8-sig"
    try:
        text = head.decode(encoding)
    except UnicodeDecodeError:
        encoding = "latin-1"
        text = head.decode(encoding)
    first_line = text.splitlines()[0]
    delimiter = max(_DELIMITERS, key=first_line.count)
    try:
        return pd.read_csv(
            path,
            sep=delimiter,
            encoding=encoding,
            dtype={group: str} if group else None,
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ValueError(f"{str(path)!r} could not be read as a table: {error}.") from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"The data file {str(path)!r} has no columns.") from None
