"""What the speed benches share: run one fit in a fresh process, time it, read its ESS and memory.

A bench script is both the parent and the worker: the parent runs ``script --worker METHOD
--data CSV --draws .. --tune .. --chains ..`` through :func:`measure` (wall and CPU time, peak
memory of the whole process tree, the load when it started), and the worker prints one JSON line
made by :func:`fit_measurements` (fit seconds, min bulk ESS, ESS per second, divergences, max
R-hat). ``hbm`` command-line runs go through :func:`cli_row` (CSV to report, the fit's
``diagnostics.json`` read back, its folder removed).

Used by ``bench/run.py``, ``formula.py``, ``levels.py``, ``outcome_speed.py``, ``curves.py``
and ``outcome_examples.py``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: The fields of :func:`measure` a row reports, in the order they appear.
MEASURED = ("wall_s", "peak_rss_mb", "load_1min")
MEASURED_WITH_CPU = ("wall_s", "cpu_s", "peak_rss_mb", "load_1min")


# --------------------------------------------------------------------------------------------
# worker side
# --------------------------------------------------------------------------------------------


def sampling(draws: int, tune: int, chains: int, seed: int) -> dict[str, object]:
    """The sampling keywords ``hbm.fit``, ``pm.sample`` and Bambi's ``fit`` share."""
    return {
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "random_seed": seed,
        "progressbar": False,
    }


def pymc_sampling(draws: int, tune: int, chains: int, seed: int) -> dict[str, object]:
    """``pm.sample``'s keywords for the hand-written models: nutpie, no convergence checks."""
    return {
        **sampling(draws, tune, chains, seed),
        "nuts_sampler": "nutpie",
        "compute_convergence_checks": False,
    }


def fit_measurements(
    parts: Iterable[Any], seconds: float, idata: Any, sampler: str, *, digits: int = 2
) -> dict[str, object]:
    """A worker's result: min bulk ESS and max R-hat over ``parts`` (each ``(chain, draw, ...)``).

    Every part is flattened to ``(k, chain, draw)`` so that every scalar it holds counts once;
    ``digits`` rounds the ESS per second of ``seconds``.
    """
    from hbm.diagnostics.convergence import convergence_statistics

    rows = []
    for values in parts:
        values = np.asarray(values, dtype=float)
        rows.append(np.moveaxis(values.reshape(*values.shape[:2], -1), -1, 0))
    stats = convergence_statistics(np.concatenate(rows), only=("ess_bulk", "r_hat"))
    min_ess = float(np.nanmin(stats["ess_bulk"]))
    return {
        "sampler": sampler,
        "fit_s": round(seconds, 2),
        "min_ess_bulk": round(min_ess, 1),
        "ess_per_s": round(min_ess / seconds, digits),
        "divergences": int(idata["sample_stats"]["diverging"].values.sum()),
        "max_r_hat": round(float(np.nanmax(stats["r_hat"])), 4),
    }


# --------------------------------------------------------------------------------------------
# parent side
# --------------------------------------------------------------------------------------------


def add_fit_options(
    parser: argparse.ArgumentParser,
    *,
    draws: int,
    tune: int,
    chains: int,
    timeout: float,
    timeout_help: str | None = None,
) -> None:
    """``--draws --tune --chains --timeout --out`` and the worker's hidden ``--worker --data``."""
    parser.add_argument("--draws", type=int, default=draws)
    parser.add_argument("--tune", type=int, default=tune)
    parser.add_argument("--chains", type=int, default=chains)
    parser.add_argument("--timeout", type=float, default=timeout, help=timeout_help)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)


def run_worker(args: argparse.Namespace, worker: Callable[..., dict[str, object]]) -> bool:
    """In a worker process (``--worker`` given), fit and print the measurements as one JSON line;
    whether it was one."""
    if not args.worker:
        return False
    print(json.dumps(worker(args.worker, args.data, args.draws, args.tune, args.chains)))
    return True


def worker_command(script: Path, method: str, path: Path, args: Any) -> list[str]:
    """``python script --worker method --data path --draws .. --tune .. --chains ..``."""
    return [
        sys.executable,
        str(script),
        "--worker",
        method,
        "--data",
        str(path),
        *sampling_options(args),
    ]


def sampling_options(args: Any) -> list[str]:
    """``--draws .. --tune .. --chains ..`` from the parsed arguments."""
    return ["--draws", str(args.draws), "--tune", str(args.tune), "--chains", str(args.chains)]


def fit_row(
    command: list[str],
    timeout: float,
    head: dict[str, object],
    fields: Sequence[str] = MEASURED,
) -> dict[str, object]:
    """Run worker ``command``: ``head``, the measured ``fields``, its JSON line and status."""
    run = measure(command, timeout)
    row = {**head, **{name: run[name] for name in fields}}
    if run["timed_out"]:
        return {**row, "status": f"timeout ({timeout:.0f} s)"}
    if run["returncode"] != 0:
        return {**row, "status": "error", "note": last_line(run["stderr"])}
    return {**row, **json.loads(run["stdout"].strip().splitlines()[-1]), "status": "ok"}


def cli_row(
    command: list[str],
    args: Any,
    head: dict[str, object],
    read: Sequence[str] | Callable[[dict], dict[str, object]],
    *,
    prefix: str,
    fields: Sequence[str] = MEASURED,
) -> dict[str, object]:
    """Run ``command`` (``hbm fit ...``) with ``--seed 1 --quiet``, the sampling options of
    ``args`` and ``--out`` a fresh folder, within ``args.timeout``: ``head``, the measured
    ``fields``, ``status``, then the ``read`` entries of its ``diagnostics.json`` (names, or a
    function of the whole record); the folder is removed."""
    out = Path(tempfile.mkdtemp(prefix=prefix)) / "result"
    options = ["--seed", "1", "--quiet", *sampling_options(args), "--out", str(out)]
    run = measure([*command, *options], args.timeout)
    row: dict[str, object] = {**head, **{name: run[name] for name in fields}}
    if run["returncode"] == 0:
        diagnostics = json.loads((out / "diagnostics.json").read_text())
        row["status"] = "ok"
        row.update(read(diagnostics) if callable(read) else {k: diagnostics[k] for k in read})
    else:
        row["status"] = "error: " + last_line(run["stderr"])
    shutil.rmtree(out.parent, ignore_errors=True)
    return row


def hbm_executable() -> str:
    """The ``hbm`` command installed beside this Python."""
    return str(Path(sys.executable).with_name("hbm"))


def last_line(text: str) -> str:
    """The last line of a process's stderr (its error), at most 200 characters."""
    return (text.strip().splitlines() or ["?"])[-1][:200]


def tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and all its descendants, from /proc (0 where unavailable)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            status = (entry / "status").read_text()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(stat.rsplit(")", 1)[1].split()[1])
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss[pid] = int(line.split()[1])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sum(rss.get(pid, 0) for pid in tree) / 1024


def measure(command: list[str], timeout: float, env: dict[str, str] | None = None) -> dict:
    """Run ``command``; its wall time, peak memory, exit status and stdout."""
    load = os.getloadavg()[0]
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    peak = [0.0]
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss_mb(process.pid))
            done.wait(0.25)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    output: dict[str, str] = {}

    def read(name: str, stream) -> None:
        output[name] = stream.read()

    readers = [
        threading.Thread(target=read, args=(name, stream), daemon=True)
        for name, stream in (("out", process.stdout), ("err", process.stderr))
    ]
    for reader in readers:
        reader.start()
    timed_out = False
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - start > timeout:
            timed_out = True
            os.killpg(process.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(process.pid, 0)
            break
        time.sleep(0.05)
    wall = time.perf_counter() - start
    done.set()
    poller.join()
    for reader in readers:
        reader.join(timeout=5)
    process.returncode = os.waitstatus_to_exitcode(status)
    return {
        "wall_s": round(wall, 2),
        # CPU seconds of the command (and its waited-for children): less sensitive than wall
        # time to other work on a shared machine
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(max(peak[0], usage.ru_maxrss / 1024), 0),
        "returncode": process.returncode,
        "timed_out": timed_out,
        "stdout": output.get("out", ""),
        "stderr": output.get("err", ""),
        "load_1min": round(load, 2),
    }


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def machine() -> str:
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024**2:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs{memory}"
