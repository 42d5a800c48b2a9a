"""Statistics files: a reduction written as Parquet, with what it is in the file's metadata.

``hbm reduce`` writes one row per cell (for the seed model: the group column, ``n``, ``mean``,
``ss``) and two metadata entries: ``hbm_stats`` (JSON: the layout, the grouping and value columns,
the engine, the source, the rows read and dropped, the order of the groups) and ``hbm_model`` (the
model description's JSON, kept here as text: the data layer does not read models). A file is
recognised as statistics by its metadata, whatever its name.

>>> import tempfile, pathlib, pandas as pd
>>> path = pathlib.Path(tempfile.mkdtemp()) / "stats.parquet"
>>> table = pd.DataFrame({"g": ["a", "b"], "n": [2, 3], "mean": [1.0, 2.0], "ss": [0.5, 1.5]})
>>> _ = write_stats(path, table, {"groups": ["g"]}, model="{}")
>>> back, info, model = read_stats(path)
>>> back["n"].tolist(), info["groups"], info["format"]
([2, 3], ['g'], 'hbm-stats/1')
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from hbm.core.files import atomic_write

__all__ = ["FORMAT", "is_stats_file", "read_stats", "write_stats"]

FORMAT = "hbm-stats/1"
_STATS, _MODEL = b"hbm_stats", b"hbm_model"


def write_stats(path: str | Path, table: pd.DataFrame, info: dict[str, Any], *, model: str) -> Path:
    """Write ``table`` to ``path`` (atomically) with ``info`` and the ``model`` JSON as metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = pa.Table.from_pandas(table, preserve_index=False)
    metadata = dict(arrow.schema.metadata or {})
    metadata[_STATS] = json.dumps({"format": FORMAT, **info}, sort_keys=True).encode()
    metadata[_MODEL] = model.encode()
    arrow = arrow.replace_schema_metadata(metadata)
    return atomic_write(Path(path), lambda tmp: pq.write_table(arrow, tmp))


def is_stats_file(path: str | Path) -> bool:
    """Whether ``path`` is a Parquet file written by :func:`write_stats`."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            if handle.read(4) != b"PAR1":
                return False
        import pyarrow.parquet as pq

        metadata = pq.read_schema(path).metadata or {}
    except (OSError, ValueError):
        return False
    except Exception:  # a damaged Parquet file: the reader says so later
        return False
    return _STATS in metadata


def read_stats(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any], str]:
    """The table, the ``hbm_stats`` record and the model JSON of a statistics file."""
    import pyarrow.parquet as pq

    name = repr(str(path))
    try:
        arrow = pq.read_table(path)
    except Exception as error:  # any reader failure is reported the same way
        raise ValueError(
            f"The statistics file {name} could not be read ({type(error).__name__}: {error})."
        ) from None
    metadata = arrow.schema.metadata or {}
    if _STATS not in metadata or _MODEL not in metadata:
        raise ValueError(f"The file {name} is not a statistics file written by hbm reduce.")
    try:
        info = json.loads(metadata[_STATS])
    except ValueError:
        raise ValueError(f"The statistics file {name} has damaged metadata.") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise ValueError(
            f"The statistics file {name} is in the layout {info.get('format')!r}; this hbm "
            f"reads {FORMAT!r}."
        )
    return arrow.to_pandas(), info, metadata[_MODEL].decode()
