"""Engines: where the rows are reduced to per-cell statistics (the flow's first step).

An engine reduces a source (a CSV or Parquet file, or a glob of them) given the grouping columns
and a list of named numeric column expressions (:mod:`hbm.data.engines.request`) to the count,
mean vector and centred co-moment matrix of every cell (:class:`hbm.data.comoments.CellMoments`):

- ``pandas`` (:mod:`~hbm.data.engines.pandas_engine`): each file read whole; the reference, and
  what hbm has always done;
- ``duckdb`` (:mod:`~hbm.data.engines.duckdb_engine`): embedded and out of core, the SQL of
  :mod:`~hbm.data.engines.sql` with a memory limit (``pip install 'hbm[duckdb]'``);
- ``dask`` (:mod:`~hbm.data.engines.dask_engine`): partitions reduced on ``dask.distributed``
  workers, a local cluster or an existing one (``pip install 'hbm[dask]'``).

``auto`` (the default) is pandas for a source up to
:attr:`~hbm.core.defaults.Defaults.engine_switch_bytes` (200 MiB) and DuckDB above it when
DuckDB is installed (:func:`choose_engine` says which ran and why). Every engine gives the same
statistics: counts identical, means and co-moments equal to rounding (``tests/test_engines.py``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

from hbm.core.defaults import DEFAULTS
from hbm.data.engines.request import Column, Reduced, Request
from hbm.data.engines.sources import is_url, resolve_source

__all__ = [
    "ENGINES",
    "Column",
    "Reduced",
    "Request",
    "check_engine",
    "choose_engine",
    "probe",
    "run",
]

#: Engine name -> (the module it needs, the extra that installs it).
ENGINES: dict[str, tuple[str | None, str | None]] = {
    "pandas": (None, None),
    "duckdb": ("duckdb", "duckdb"),
    "dask": ("distributed", "dask"),
}


def check_engine(engine: str) -> None:
    """A ValueError for an unknown engine, or one whose package is not installed (saying how to
    install it)."""
    if engine not in ("auto", *ENGINES):
        raise ValueError(
            f"The 'engine' option must be one of 'auto', {', '.join(map(repr, ENGINES))}; "
            f"got {engine!r}."
        )
    if engine == "auto":
        return
    module, extra = ENGINES[engine]
    if module is not None and importlib.util.find_spec(module) is None:
        raise ValueError(
            f"The {engine} engine is not installed; install it with: pip install 'hbm[{extra}]'."
        )


def choose_engine(source: str, engine: str = DEFAULTS.engine) -> tuple[str, str]:
    """The engine to run for ``source``, and why (a sentence for the console and the report).

    >>> choose_engine("data/schools.csv")
    ('pandas', 'auto: the data (0.0 MB) are below 200 MB, read whole with pandas')
    """
    check_engine(engine)
    if is_url(source) and engine != "dask":
        raise ValueError(
            f"The data {source!r} is a URL: only the dask engine's workers read URLs "
            "(--engine dask, with fsspec's reader for it on the workers); copy it to a file for "
            "the other engines."
        )
    if engine != "auto":
        return engine, "asked for"
    found = resolve_source(source)
    size = f"{found.bytes / 2**20:.1f} MB"
    limit = f"{DEFAULTS.engine_switch_bytes / 2**20:.0f} MB"
    if found.bytes <= DEFAULTS.engine_switch_bytes:
        return "pandas", f"auto: the data ({size}) are below {limit}, read whole with pandas"
    if importlib.util.find_spec("duckdb") is None:
        return "pandas", (
            f"auto: the data ({size}) are above {limit}, but DuckDB is not installed, so they "
            "are read whole with pandas (pip install 'hbm[duckdb]' reduces them out of core)"
        )
    return "duckdb", f"auto: the data ({size}) are above {limit}, reduced out of core by DuckDB"


def run(
    request: Request,
    engine: str,
    *,
    cluster: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Reduced:
    """Run ``request`` on ``engine`` (``pandas``, ``duckdb`` or ``dask``; see :func:`choose_engine`
    for ``auto``). ``cluster`` is the Dask scheduler's address."""
    check_engine(engine)
    if engine == "auto":
        engine, _ = choose_engine(request.source)
    if cluster is not None and engine != "dask":
        raise ValueError(f"A cluster address is for the dask engine; got engine {engine!r}.")
    if engine == "duckdb":
        from hbm.data.engines.duckdb_engine import reduce_duckdb

        return reduce_duckdb(request, progress=progress)
    if engine == "dask":
        from hbm.data.engines.dask_engine import reduce_dask

        return reduce_dask(request, cluster=cluster, progress=progress)
    from hbm.data.engines.pandas_engine import reduce_pandas

    return reduce_pandas(request)


def probe(
    source: str,
    engine: str,
    columns: list[str],
    groups: tuple[str, ...],
    distinct: set[str],
    *,
    cluster: str | None = None,
) -> dict[str, dict[str, Any]]:
    """The records of ``columns`` of ``source`` (kind, levels or range), read by ``engine``
    (see :mod:`hbm.data.engines.probe`).

    ``groups`` are the grouping columns (read as text, as the reduction reads them);
    ``distinct`` the columns whose levels the formula needs even when numeric.
    """
    if not columns:
        return {}
    from hbm.data.engines.probe import finish, probe_files

    if engine == "duckdb":
        from hbm.data.engines.duckdb_probe import probe_duckdb

        return finish(probe_duckdb(source, columns, groups, distinct), distinct)
    if engine == "dask":
        from hbm.data.engines.dask_engine import probe_dask

        return finish(probe_dask(source, columns, groups, distinct, cluster), distinct)
    return finish(probe_files(source, columns, groups, distinct), distinct)
