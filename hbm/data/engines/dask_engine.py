"""The Dask engine: partitions reduced on ``dask.distributed`` workers, merged where hbm runs.

Each worker reads its partitions of the files (CSV blocks or Parquet row groups) with pandas and
reduces them exactly as the pandas engine reduces a table (:mod:`hbm.data.engines.frames`: the
same checks, the centred two-pass chunks with their low parts). Only the per-cell moments travel
back; they are merged here by label with Chan's update, in partition order, so the same files give
the same numbers, bit for bit, however many workers ran. Dask's own group-by ``var`` (the naive
``sum(x^2) - sum(x)^2/n``) is never used.

Without a cluster address a local cluster of worker processes is started for the reduction and
stopped after it; ``cluster="tcp://host:8786"`` (or the scheduler address in
``DASK_SCHEDULER_ADDRESS``) uses an existing one, whose workers must reach the files by the same
path (a shared file system, or a URL that fsspec can read).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from hbm.core.defaults import DEFAULTS
from hbm.data.comoments import CellMoments
from hbm.data.engines.frames import reduce_frame
from hbm.data.engines.request import Reduced, Request
from hbm.data.engines.sources import Source, is_url, resolve_source
from hbm.data.tables import MISSING_SPELLINGS, text_format

__all__ = ["connect", "probe_dask", "reduce_dask", "reduce_partition"]

#: Size of a CSV partition (Parquet partitions are row groups).
BLOCK_SIZE = "64MB"


def connect(address: str | None, *, workers: int | None = None) -> tuple[Any, Any]:
    """A ``distributed.Client`` and the local cluster it started (``None`` for an address).

    An address that does not answer within :attr:`~hbm.core.defaults.Defaults.cluster_timeout`
    seconds is a ValueError that says so.
    """
    from distributed import Client, LocalCluster

    address = address or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    if address is None:
        count = workers or max(1, min(2, os.cpu_count() or 1))
        cluster = LocalCluster(
            n_workers=count, threads_per_worker=1, processes=True, dashboard_address=None
        )
        return Client(cluster, set_as_default=False), cluster
    timeout = DEFAULTS.cluster_timeout
    try:
        return Client(address, timeout=timeout, set_as_default=False), None
    except (OSError, TimeoutError, ValueError) as error:
        why = " ".join(str(error).split()) or type(error).__name__
        raise ValueError(
            f"The cluster at {address!r} did not answer within {timeout:g} s ({why}); check the "
            "scheduler's address and that it is running."
        ) from None


def reduce_partition(table: Any, request: Request) -> dict[str, Any]:
    """One partition's moments as plain data (what travels back from a worker)."""
    part = reduce_frame(table, request)
    return {
        "keys": part.keys,
        "n": part.moments.n,
        "mean": part.moments.mean,
        "comoment": part.moments.comoment,
        "low": part.moments.low,
        "minimum": part.minimum,
        "maximum": part.maximum,
        "rows": part.rows,
        "dropped": part.dropped,
    }


def probe_dask(
    source: str,
    columns: list[str],
    groups: tuple[str, ...],
    distinct: set[str],
    cluster: str | None,
) -> dict[str, Any]:
    """:func:`hbm.data.engines.probe.probe_frame` of every partition, on the workers, merged."""
    import dask

    from hbm.data.engines.probe import merge, probe_frame
    from hbm.data.engines.request import Column

    found = resolve_source(source)
    reading = Request(source, groups, tuple(Column.plain(c) for c in columns))
    client, local = connect(cluster)
    try:
        parts = _frame(found, reading).to_delayed()
        futures = client.compute([dask.delayed(probe_frame)(p, columns, distinct) for p in parts])
        return merge([_result(future, i) for i, future in enumerate(futures)])
    finally:
        client.close()
        if local is not None:
            local.close()


def _result(future: Any, index: int) -> dict[str, Any]:
    """A partition's moments; a failure that is not about the data (a worker without hbm, a
    file the worker cannot reach) becomes a ValueError that says where and what."""
    try:
        return future.result()
    except (ValueError, TypeError):
        raise
    except Exception as error:
        text = " ".join(str(error).split()) or type(error).__name__
        raise ValueError(
            f"A Dask worker failed on partition {index} ({type(error).__name__}: {text}); every "
            "worker needs hbm installed and the data at the same path."
        ) from None


def _frame(source: Source, request: Request) -> Any:
    import dask.dataframe as dd

    columns = list(request.source_columns)
    if source.kind == "parquet":
        return dd.read_parquet(list(source.files), columns=columns)
    encoding, delimiter, decimal = "utf-8", ",", "."
    if not is_url(source.files[0]):  # a local text file: read as read_table reads it
        encoding, delimiter, decimal, header = text_format(source.files[0])
        if [c for c in columns if c not in header]:  # dask would say it in its own words
            import pandas as pd

            from hbm.data.columns import check_columns

            check_columns(pd.DataFrame(columns=header), columns)
    na_values = {c: list(MISSING_SPELLINGS) for c in columns}
    for g in request.groups:
        na_values[g] = [""]
    return dd.read_csv(
        list(source.files),
        sep=delimiter,
        decimal=decimal,
        encoding=encoding,
        usecols=columns,
        dtype={g: str for g in request.groups},
        keep_default_na=False,
        na_values=na_values,
        blocksize=BLOCK_SIZE,
    )


def reduce_dask(
    request: Request,
    *,
    cluster: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Reduced:
    """Reduce ``request.source`` on a Dask cluster (see the module docstring)."""
    import dask
    from distributed import as_completed

    start = time.perf_counter()
    source = resolve_source(request.source)
    client, local = connect(cluster)
    try:
        parts = _frame(source, request).to_delayed()
        tasks = [dask.delayed(reduce_partition)(part, request) for part in parts]
        futures = client.compute(tasks)
        order = {future.key: i for i, future in enumerate(futures)}
        results: list[dict[str, Any] | None] = [None] * len(futures)
        rows, last = 0, time.perf_counter()
        for future in as_completed(futures, loop=client.loop):
            result = _result(future, order[future.key])
            results[order[future.key]] = result
            rows += result["rows"] + result["dropped"]
            if progress is not None and time.perf_counter() - last > 2.0:
                last = time.perf_counter()
                seconds = last - start
                progress(
                    f"hbm: dask reduced {sum(r is not None for r in results)} of {len(futures)} "
                    f"partitions ({rows / 1e6:.1f}M rows, {rows / seconds / 1e6:.1f}M rows/s)"
                )
        workers = len(client.scheduler_info().get("workers", {}))
    finally:
        client.close()
        if local is not None:
            local.close()
    done = [r for r in results if r is not None]
    pieces = [
        (r["keys"], CellMoments(n=r["n"], mean=r["mean"], comoment=r["comoment"], low=r["low"]))
        for r in done
        if r["rows"]
    ]
    total = sum(r["rows"] for r in done)
    dropped = sum(r["dropped"] for r in done)
    if not pieces:
        raise ValueError(
            f"The table has no rows with data after dropping {dropped} row(s) with missing values."
        )
    keys, moments = CellMoments.merge_labelled(pieces)
    where = f"cluster {cluster}" if local is None else "a local cluster"
    return Reduced(
        keys=[tuple(k) for k in keys],
        moments=moments,
        columns=tuple(c.name for c in request.columns),
        minimum=np.min([r["minimum"] for r in done], axis=0),
        maximum=np.max([r["maximum"] for r in done], axis=0),
        rows=total,
        dropped=dropped,
        engine="dask",
        detail=f"Dask {dask.__version__}, {len(done)} partitions on {workers} worker(s) of {where}",
        order="first-seen",
        seconds=time.perf_counter() - start,
    )
