"""``hbm batch --cluster``: specs fitted on the workers of a real local Dask cluster.

The cluster is started by the test (two worker processes under nannies). One worker is killed
with SIGKILL while it fits a spec: the scheduler runs that spec again on a worker, every spec
finishes, the finished results are intact and a rerun skips them all, as with ``--jobs``.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from hbm.cli import main
from hbm.workflow.batch import run_batch

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]


def specs(folder: Path, count: int, draws: int) -> list[Path]:
    paths = []
    for i in range(count):
        path = folder / f"spec{i}.toml"
        path.write_text(
            f'data = "{ROOT / "data" / "schools.csv"}"\ngroup = "school"\nvalue = "score"\n'
            f'parametrization = "centered"\n'
            f"[sampling]\ndraws = {draws}\ntune = {draws}\nchains = 2\nseed = {i + 1}\n"
        )
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local:
        yield local


@pytest.mark.slow
def test_specs_run_on_the_workers_and_a_rerun_skips_them(cluster, tmp_path, capsys):
    paths = [str(p) for p in specs(tmp_path, 2, 100)]
    out = tmp_path / "out"
    argv = ["batch", *paths, "--cluster", cluster.scheduler_address, "--out", str(out)]
    assert main(argv) == 0
    assert "hbm: batch 2 done, 0 skipped, 0 failed" in capsys.readouterr().out
    assert all((out / f"spec{i}" / "fit.nc").is_file() for i in range(2))
    assert main(argv) == 0
    assert "hbm: batch 0 done, 2 skipped, 0 failed" in capsys.readouterr().out


@pytest.mark.slow
def test_a_worker_killed_mid_fit_loses_nothing_finished(cluster, tmp_path):
    paths = specs(tmp_path, 3, 1500)
    out = tmp_path / "out"
    rows: list = []
    runner = threading.Thread(
        target=lambda: rows.extend(
            run_batch(paths, out, progress=None, cluster=cluster.scheduler_address)
        )
    )
    runner.start()
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
        deadline = time.monotonic() + 120
        busy = {}
        while not busy and time.monotonic() < deadline:  # a worker in the middle of a fit
            busy = {w: s for w, s in client.processing().items() if s}
            time.sleep(0.2)
        assert busy, "no worker started a fit"
        worker = next(iter(busy))
        time.sleep(2.0)  # well inside the fit (compiling or sampling)
        pid = client.run(os.getpid, workers=[worker])[worker]
        os.kill(pid, signal.SIGKILL)
    runner.join(timeout=600)
    assert not runner.is_alive()
    assert [r["status"] for r in rows] == ["done", "done", "done"], rows
    for i in range(3):
        assert (out / f"spec{i}" / "batch.json").is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".spec")]  # no leftovers
    again = run_batch(paths, out, progress=None, cluster=cluster.scheduler_address)
    assert [r["status"] for r in again] == ["skipped"] * 3


def test_a_cluster_that_does_not_answer_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    start = time.perf_counter()
    paths = [str(p) for p in specs(tmp_path, 1, 100)]
    assert main(["batch", *paths, "--cluster", "tcp://127.0.0.1:9", "--out", str(out)]) == 2
    assert time.perf_counter() - start < 15
    err = capsys.readouterr().err
    assert err.startswith("hbm: error: The cluster at 'tcp://127.0.0.1:9' did not answer within")
    assert not out.exists()
    assert main(["batch", *paths, "--cluster", "x", "--jobs", "2", "--out", str(out)]) == 2
    assert "Give --jobs or --cluster, not both" in capsys.readouterr().err
