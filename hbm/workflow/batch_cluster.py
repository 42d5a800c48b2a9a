"""``hbm batch --cluster ADDRESS``: the specs fitted on ``dask.distributed`` workers.

Each spec is one task, :func:`hbm.workflow.batch.fit_task`, run on a worker: it fits the spec and
writes its result folder atomically (a hidden staging folder, then one rename), exactly as with
``--jobs``, so the batch folder must be on a file system the workers share with this machine.
Only plain dicts and paths travel (Dask serialises them; no fit is ever pickled).

Faults: a worker that dies mid-fit (killed, crashed, out of memory) loses only its unfinished
spec; the scheduler runs that spec again on another worker, and after the scheduler's allowed
failures (``distributed.scheduler.allowed-failures``, 3 by default) it is recorded as failed with
the cause, while the others go on, as ``--jobs`` does. Finished specs are in their folders already
and a rerun skips them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from hbm.data.engines import check_engine
from hbm.data.engines.dask_engine import connect

__all__ = ["check_cluster", "execute_on_cluster"]

Task = tuple[int, dict[str, str]]


def check_cluster(address: str) -> Any:
    """A client of the scheduler at ``address`` (a ValueError within a few seconds if it does not
    answer, or if dask.distributed is not installed)."""
    check_engine("dask")
    client, _ = connect(address)
    return client


def execute_on_cluster(
    tasks: list[Task],
    client: Any,
    fit_task: Callable[[dict[str, str]], dict[str, Any]],
    failed_row: Callable[[str, str], dict[str, Any]],
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Run ``fit_task`` for every task on the cluster, yielding ``(index, row)`` as each ends."""
    from distributed import as_completed
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    futures = {
        client.submit(fit_task, task, key=f"hbm-batch-{i}-{task['spec']}", pure=False): (i, task)
        for i, task in tasks
    }
    try:
        for future in as_completed(futures, loop=client.loop):
            i, task = futures[future]
            try:
                row = future.result()
            except KilledWorker:
                row = failed_row(
                    task["spec"],
                    "a worker died (killed, crashed or out of memory) each time it fitted this "
                    "spec, as many times as the scheduler allows",
                )
            except FutureCancelledError as error:
                text = " ".join(str(error).split()) or type(error).__name__
                row = failed_row(task["spec"], f"the cluster lost the task ({text})")
            except Exception as error:  # e.g. a worker without hbm: recorded, the batch goes on
                text = " ".join(str(error).split()) or type(error).__name__
                row = failed_row(
                    task["spec"],
                    f"the worker could not run the fit ({type(error).__name__}: {text}); every "
                    "worker needs hbm installed and the batch folder at the same path",
                )
            yield i, row
    except BaseException:
        client.cancel(list(futures))
        raise
    finally:
        client.close()
