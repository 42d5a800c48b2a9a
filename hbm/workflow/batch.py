"""``hbm batch``: fit many model specs, one result folder each, with an index; reruns skip work.

    hbm batch models/*.toml --out out/batch [--jobs N | --cluster tcp://scheduler:8786]

- Each spec's results go to ``DIR/<spec file stem>/``: the files of ``hbm fit`` plus
  ``batch.json`` (the content hash and what ran).
- ``DIR/index.csv`` and ``DIR/index.html`` list every spec of the run: ``spec``, ``name``,
  ``status`` (``done``, ``failed`` or ``skipped``), ``verdict``, ``seconds``, ``error``, ...
- A spec that fails (bad spec, missing file, bad column, sampler error) is recorded with its cause
  and the others go on; :func:`run_batch` returns the rows and the CLI exits with 1 if any failed.
- **Skipping.** A spec is skipped when ``DIR/<stem>/batch.json`` holds the same content hash: the
  SHA-256 of the spec's settings as parsed (so comments, layout and the folder it lives in do not
  matter), the data file's bytes and the hbm version. Failed specs are always retried.
- **Atomic results.** A result is written into a hidden temporary folder in ``DIR``, completed
  with ``batch.json`` and only then renamed to ``DIR/<stem>``: an interrupted batch (Ctrl-C, a
  killed process) never leaves a folder that looks finished. Leftover temporary folders are
  removed by the next batch. One batch at a time may write to a ``DIR`` (a lock file says so).
- ``jobs > 1`` fits specs in separate processes (``spawn``); ``cluster=ADDRESS`` on the workers
  of a Dask cluster (:mod:`hbm.workflow.batch_cluster`). Only plain dicts and paths cross between
  processes, never a fit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hbm.core.files import process_alive
from hbm.core.version import __version__
from hbm.reporting.outputs import check_output_dir, write_outputs
from hbm.workflow.batch_cluster import check_cluster, execute_on_cluster
from hbm.workflow.batch_index import INDEX_COLUMNS, progress_line, write_index
from hbm.workflow.specs import fit_spec, read_spec

__all__ = ["INDEX_COLUMNS", "content_hash", "run_batch"]

MARKER = ".hbm-batch"
LOCK = ".hbm-batch.lock"
RECORD = "batch.json"
_TMP, _OLD = ".batch-tmp-", ".batch-old-"

Row = dict[str, Any]


def content_hash(spec: Any) -> tuple[str, dict[str, str]]:
    """The hash that decides whether a finished result is still current, and its parts.

    Parameters
    ----------
    spec : hbm.workflow.specs.ModelSpec

    Returns
    -------
    digest : str
        SHA-256 (hex) of the parts.
    parts : dict
        ``spec`` (SHA-256 of the parsed settings as canonical JSON), ``data`` (SHA-256 of the data
        file's bytes) and ``hbm`` (the version).
    """
    settings = json.dumps(spec.settings(), sort_keys=True, separators=(",", ":"))
    parts = {
        "spec": hashlib.sha256(settings.encode()).hexdigest(),
        "data": _file_sha256(Path(spec.data)),
        "hbm": __version__,
    }
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    return digest, parts


def run_batch(
    specs: Sequence[str | Path],
    out: str | Path,
    *,
    jobs: int = 1,
    progress: Callable[[str], None] | None = print,
    cluster: str | None = None,
) -> list[Row]:
    """Fit every spec into ``out/<stem>/`` and write ``out/index.csv`` and ``out/index.html``.

    Parameters
    ----------
    specs : sequence of paths
        Model spec files (TOML, see :func:`hbm.workflow.specs.read_spec`); their stems must
        differ.
    out : path
        The batch folder; created if needed. It must be new, empty or a batch folder of hbm.
    jobs : int
        Specs fitted at the same time, each in its own process when more than 1.
    progress : callable, optional
        Receives one line per spec as it finishes, e.g. ``[3/7] schools: done in 4.2 s ...``.
    cluster : str, optional
        A Dask scheduler's address: fit the specs on its workers
        (:mod:`hbm.workflow.batch_cluster`), instead of ``jobs`` local processes.

    Returns
    -------
    list of dict
        One row per spec, in the order given, with the columns :data:`INDEX_COLUMNS`.

    Raises
    ------
    ValueError
        For no specs, repeated stems, a bad ``jobs``, an ``out`` that is a file or holds files
        hbm did not write, or an ``out`` another batch is writing to. Nothing is written then.

    Examples
    --------
    >>> rows = run_batch(["models/schools.toml"], "out/batch")  # doctest: +SKIP
    >>> rows[0]["status"]  # doctest: +SKIP
    'done'
    """
    paths = [Path(p) for p in specs]
    _check_arguments(paths, jobs)
    if cluster is not None and jobs != 1:
        raise ValueError("Give --jobs or --cluster, not both: the cluster's workers run the fits.")
    client = check_cluster(cluster) if cluster is not None else None
    out = _prepare_folder(Path(out))
    say = progress or (lambda line: None)
    rows: list[Row | None] = [None] * len(paths)
    finished = 0

    def record(i: int, row: Row) -> None:
        nonlocal finished
        finished += 1
        rows[i] = row
        say(progress_line(finished, len(paths), row, out))

    with _lock(out):
        _remove_leftovers(out)
        tasks: list[tuple[int, dict[str, str]]] = []
        for i, path in enumerate(paths):
            planned = _plan(path, out)
            if "status" in planned:
                record(i, planned)
            else:
                tasks.append((i, planned))
        if client is not None:
            running = execute_on_cluster(tasks, client, fit_task, _failed)
        else:
            running = _execute(tasks, jobs)
        try:
            for i, row in running:
                record(i, row)
        except KeyboardInterrupt:
            for i, path in enumerate(paths):
                if rows[i] is None:
                    rows[i] = _row(path, "failed", error="interrupted before it finished")
            write_index(out, [r for r in rows if r is not None])
            raise
        write_index(out, [r for r in rows if r is not None])
        _remove_leftovers(out)  # staging folders of worker processes that died
    return [r for r in rows if r is not None]


def _check_arguments(paths: list[Path], jobs: int) -> None:
    if not paths:
        raise ValueError("hbm batch needs at least one spec file.")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"The 'jobs' option must be a positive integer; got {jobs!r}.")
    stems: dict[str, list[str]] = {}
    for path in paths:
        stems.setdefault(path.stem, []).append(str(path))
    clashes = {stem: given for stem, given in stems.items() if len(given) > 1}
    if clashes:
        stem, given = next(iter(clashes.items()))
        raise ValueError(
            f"Specs must have different file names: each one's results go to DIR/<stem>/, and "
            f"{', '.join(map(repr, given))} would all write to {stem!r}."
        )


def _prepare_folder(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} is an existing file; expected a folder.")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise ValueError(
            f"--out {str(out)!r} is a folder that holds files hbm batch did not write; "
            "choose a new or empty folder (nothing was changed)."
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("hbm batch folder: index.csv, index.html and one folder per spec\n")
    return out


@contextlib.contextmanager
def _lock(out: Path) -> Iterator[None]:
    """Hold ``out/.hbm-batch.lock`` (with this process's id) while the batch runs."""
    lock = out / LOCK
    for _ in range(2):
        try:
            handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _lock_owner(lock)
            if owner is not None and process_alive(owner):
                raise ValueError(
                    f"Another hbm batch (process {owner}) is writing to {str(out)!r}; wait for "
                    f"it to finish, or remove {str(lock)!r} if that process is gone."
                ) from None
            lock.unlink(missing_ok=True)  # left by a batch that was killed
            continue
        with os.fdopen(handle, "w") as file:
            file.write(str(os.getpid()))
        break
    else:  # pragma: no cover - another batch took the stale lock in between
        raise ValueError(f"Another hbm batch is writing to {str(out)!r}.")
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _lock_owner(lock: Path) -> int | None:
    try:
        return int(lock.read_text().strip())
    except (OSError, ValueError):
        return None


def _remove_leftovers(out: Path) -> None:
    for entry in out.iterdir():
        if entry.name.startswith(".") and (_TMP in entry.name or _OLD in entry.name):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _plan(path: Path, out: Path) -> Row | dict[str, str]:
    """A finished row (failed to read, or skipped as unchanged), or the task of fitting it."""
    start = time.perf_counter()
    try:
        spec = read_spec(path)
        digest, parts = content_hash(spec)
    except Exception as error:  # every cause is recorded; the batch goes on
        return _row(path, "failed", error=_message(error), seconds=time.perf_counter() - start)
    record = _read_record(out / spec.name)
    if record is not None and record.get("content_hash") == digest:
        kept = {k: record[k] for k in INDEX_COLUMNS[3:] if k in record}
        kept.update(error="", folder=spec.name, seconds=time.perf_counter() - start)
        return _row(path, "skipped", **kept)
    task = {"spec": str(path), "out": str(out), "why": "new"}
    if record is not None and isinstance(record.get("parts"), dict):
        changed = [k for k, v in parts.items() if record["parts"].get(k) != v]
        names = {"spec": "spec", "data": "data file", "hbm": "hbm version"}
        task["why"] = " and ".join(names[k] for k in changed) + " changed" if changed else "new"
    return task


def _read_record(folder: Path) -> dict[str, Any] | None:
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("status") != "done":
        return None
    if not all((folder / name).is_file() for name in ("diagnostics.json", "fit.nc")):
        return None
    return record


def _execute(tasks: list[tuple[int, dict[str, str]]], jobs: int) -> Iterator[tuple[int, Row]]:
    """Run the fitting tasks, yielding ``(index, row)`` as each finishes.

    With ``jobs > 1`` the tasks run in a pool of spawned processes. If a worker process dies
    (killed, crashed, out of memory) the pool breaks and every task it left unfinished is retried
    once in a fresh pool; a task unfinished when a pool breaks a second time is recorded as failed.
    """
    if jobs == 1 or len(tasks) <= 1:
        for i, task in tasks:
            yield i, fit_task(task)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    pending, attempt = tasks, 1
    while pending:
        pool = ProcessPoolExecutor(
            max_workers=min(jobs, len(pending)), mp_context=multiprocessing.get_context("spawn")
        )
        broken: list[tuple[int, dict[str, str]]] = []
        try:
            futures = {pool.submit(fit_task, task): (i, task) for i, task in pending}
            for future in as_completed(futures):
                i, task = futures[future]
                try:
                    row = future.result()
                except BrokenProcessPool:
                    if attempt == 1:
                        broken.append((i, task))
                        continue
                    row = _row(
                        task["spec"],
                        "failed",
                        error="a worker process died (killed, crashed or out of memory) twice "
                        "while it was unfinished",
                    )
                yield i, row
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        pending, attempt = sorted(broken, key=lambda item: item[0]), attempt + 1


def fit_task(task: dict[str, str]) -> Row:
    """Fit one spec into ``<out>/<stem>/`` atomically and return its index row (a plain dict).

    Runs in a worker process when ``jobs > 1``: it takes and returns only plain data.
    """
    path, out = Path(task["spec"]), Path(task["out"])
    start = time.perf_counter()
    staging: Path | None = None
    try:
        spec = read_spec(path)
        # Hashed before the data are read: if the file changes meanwhile, the stored hash is the
        # old one and the next batch refits, never the other way round.
        digest, parts = content_hash(spec)
        target = check_output_dir(out / spec.name)
        result = fit_spec(spec)
        staging = Path(tempfile.mkdtemp(prefix=f".{spec.name}{_TMP}", dir=out))
        folder = write_outputs(result, staging / spec.name)
        d = result.diagnosed
        row = _row(
            path,
            "done",
            verdict=d.verdict,
            seconds=time.perf_counter() - start,
            folder=spec.name,
            divergences=d.divergences,
            max_r_hat=d.max_r_hat,
            min_ess_bulk=d.min_ess_bulk,
            random_seed=result.spec.random_seed,
            content_hash=digest,
        )
        record = {**row, "parts": parts, "finished_at": datetime.now(UTC).isoformat()}
        (folder / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        _swap_in(folder, target, staging)
        return {**row, "why": task.get("why", "")}
    except Exception as error:  # every cause is recorded; the batch goes on
        return _row(path, "failed", error=_message(error), seconds=time.perf_counter() - start)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _swap_in(folder: Path, target: Path, staging: Path) -> None:
    """Rename the finished ``folder`` to ``target``; an older result is moved aside first."""
    if target.exists():
        os.replace(target, staging / f"{_OLD}{os.getpid()}")
    os.replace(folder, target)


def _failed(spec: str, error: str) -> Row:
    return _row(spec, "failed", error=error)


def _row(path: str | Path, status: str, **values: Any) -> Row:
    row: Row = dict.fromkeys(INDEX_COLUMNS, "")
    row.update(values, spec=str(path), name=Path(path).stem, status=status)
    if isinstance(row["seconds"], float):
        row["seconds"] = round(row["seconds"], 3)
    return row


def _message(error: BaseException) -> str:
    text = " ".join(str(error).split())
    if isinstance(error, ValueError | TypeError | FileNotFoundError | PermissionError):
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _file_sha256(path: Path) -> str:
    if not path.is_file():
        raise FileNotFoundError(f"The data file {str(path)!r} does not exist.")
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
