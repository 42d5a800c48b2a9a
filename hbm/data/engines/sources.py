"""A reduction's source: one file or a glob of files, all CSV or all Parquet.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "a.csv").write_text("g,y\\n1,2\\n")
>>> found = resolve_source(str(folder / "*.csv"))
>>> found.kind, len(found.files), found.bytes
('csv', 1, 8)
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Source", "is_glob", "is_url", "resolve_source"]

_GLOB = set("*?[")


def is_url(text: str) -> bool:
    """Whether ``text`` is a URL (``s3://bucket/x.parquet``, ``hdfs://...``): for Dask's workers."""
    return "://" in text and not text.startswith("file://")


def is_glob(text: str) -> bool:
    """Whether ``text`` is a pattern (``*``, ``?`` or ``[``) rather than one path."""
    return any(c in _GLOB for c in text)


@dataclass(frozen=True)
class Source:
    """The files a source names, their kind (``csv`` or ``parquet``) and total size."""

    text: str
    files: tuple[str, ...]
    kind: str
    bytes: int


def resolve_source(source: str | Path) -> Source:
    """The files of a path or glob; errors name the path and what was found.

    Raises
    ------
    FileNotFoundError
        A path that does not exist, or a glob that matches no file.
    ValueError
        A folder, or files of different kinds (CSV and Parquet) under one glob.
    """
    text = str(source)
    if is_url(text):  # read by the cluster's workers (fsspec): nothing to check here
        kind = "parquet" if text.rstrip("/*").lower().endswith((".parquet", ".pq")) else "csv"
        return Source(text=text, files=(text,), kind=kind, bytes=0)
    if is_glob(text):
        files = sorted(p for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not files:
            raise FileNotFoundError(f"The pattern {text!r} matches no file.")
    else:
        path = Path(text)
        if not path.exists():
            raise FileNotFoundError(f"The data file {text!r} does not exist.")
        if path.is_dir():
            raise ValueError(
                f"The data path {text!r} is a folder; give a file or a pattern such as "
                f"'{text.rstrip('/')}/*.parquet'."
            )
        files = [text]
    kinds = {file: _kind(file) for file in files}
    if len(set(kinds.values())) > 1:
        csv = next(f for f, k in kinds.items() if k == "csv")
        parquet = next(f for f, k in kinds.items() if k == "parquet")
        raise ValueError(
            f"The pattern {text!r} matches both Parquet ({parquet!r}) and text ({csv!r}) files; "
            "a reduction reads one kind."
        )
    size = sum(Path(f).stat().st_size for f in files)
    return Source(text=text, files=tuple(files), kind=next(iter(kinds.values())), bytes=size)


def _kind(file: str) -> str:
    with open(file, "rb") as handle:
        return "parquet" if handle.read(4) == b"PAR1" else "csv"
