"""Faults: Ctrl-C, a killed process, a full disk or a read-only folder never leave a result folder
that looks complete, and an error names the path.

The kill tests run real processes: ``hbm fit`` interrupted while NUTS runs, and a writer killed
half-way through writing the result files (a helper process that loads a saved fit and blocks inside
``Fit.save`` after writing part of ``fit.nc``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hbm
from hbm.cli import main
from hbm.reporting.outputs import _tag, check_output_dir, write_outputs

fit_table = hbm.fit

FAST = {"draws": 100, "tune": 100, "chains": 2, "random_seed": 1, "progressbar": False}


def _default_sigint() -> None:  # pragma: no cover - runs in the child before exec
    # A parent started in the background may ignore SIGINT, and children inherit that: restore it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def saved_fit(tmp_path_factory) -> Path:
    table = hbm.datasets.load("schools")
    fit = fit_table(table, group="school", value="score", **FAST)
    return fit.save(tmp_path_factory.mktemp("saved") / "fit.nc")


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- interrupted sampling -------------------------------------------------------------------------


def test_a_sampler_that_returns_after_ctrl_c_is_an_interrupt_not_a_result(monkeypatch):
    """nutpie and PyMC catch Ctrl-C and return the draws so far; hbm must not take them."""
    import pymc as pm

    from hbm.data.grouped import grouped_data
    from hbm.inference.config import SampleConfig
    from hbm.inference.sampling import sample
    from hbm.model.build import build_model

    data = grouped_data(hbm.datasets.load("schools"), group="school", value="score")
    model = build_model(data).model
    real = pm.sample

    def cut_short(**kwargs):
        return real(**{**kwargs, "draws": 20})  # what the samplers hand back after Ctrl-C

    monkeypatch.setattr(pm, "sample", cut_short)
    # PyMC's own sampler goes through pm.sample on every branch (the nutpie path may not); the
    # real Ctrl-C test below covers nutpie.
    config = SampleConfig(
        draws=50, tune=50, chains=2, random_seed=1, progressbar=False, sampler="pymc"
    )
    with pytest.raises(KeyboardInterrupt, match="sampling was interrupted after 20 of 50 draws"):
        sample(model, config)


def _slow_table(folder: Path) -> Path:
    """200,000 rows fitted row by row: NUTS then runs for minutes, long enough to interrupt."""
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 20, 200_000)
    table = pd.DataFrame({"school": [f"s{c}" for c in codes], "score": rng.normal(codes / 10, 1)})
    table.to_csv(folder / "many.csv", index=False)
    return folder / "many.csv"


def _start_fit(data: Path, out: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "hbm.cli", "fit", str(data), "--group", "school"),
            *("--value", "score", "--likelihood", "rows", "--draws", "2000", "--tune", "2000"),
            *("--chains", "2", "--seed", "1", "--out", str(out)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=_default_sigint,
    )
    assert process.stdout is not None
    for line in process.stdout:  # the last line hbm prints before NUTS starts
        if line.startswith("hbm: sampler "):
            return process
    process.kill()
    raise AssertionError(f"hbm fit ended before sampling: {process.communicate()[1]}")


@pytest.mark.slow
def test_ctrl_c_while_sampling_exits_130_and_writes_nothing(tmp_path):
    data, out = _slow_table(tmp_path), tmp_path / "results"
    # The model compiles after the announcement; wait longer each time until the interrupt lands
    # inside NUTS (the message then says how far it got).
    for delay in (8, 20, 45):
        process = _start_fit(data, out)
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
        assert process.returncode == 130, err
        last = err.strip().splitlines()[-1]
        assert last.startswith("hbm: interrupted") and last.endswith(
            "; no result folder was written."
        )
        assert _listing(tmp_path) == ["many.csv"]  # no DIR, no hidden leftovers
        if "sampling was interrupted after" in last:
            break
    else:
        pytest.fail("the interrupt never reached NUTS (the model compiled for > 45 s)")


@pytest.mark.slow
def test_sigkill_while_sampling_leaves_no_folder(tmp_path):
    data, out = _slow_table(tmp_path), tmp_path / "results"
    process = _start_fit(data, out)
    time.sleep(10)
    process.kill()
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert _listing(tmp_path) == ["many.csv"]


# --- killed while writing -------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys, time
    import hbm.reporting.outputs as outputs
    from hbm.results.io import load_result

    def stuck_save(result, path, **options):
        path.write_bytes(b"\\x89HDF half a file")
        print("writing", flush=True)
        time.sleep(600)

    fit = load_result(sys.argv[1])
    outputs.save_result = stuck_save
    outputs.write_outputs(fit, sys.argv[2])
    """
)


def _start_writer(saved: Path, out: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(saved), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "writing\n", process.communicate()[1]
    return process


def test_sigkill_while_writing_leaves_only_a_hidden_temp_folder_cleaned_next_time(
    tmp_path, saved_fit
):
    out = tmp_path / "results"
    process = _start_writer(saved_fit, out)
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".results.tmp-")]
    assert len(leftovers) == 1 and (leftovers[0] / "summary.csv").exists()  # mid-write
    process.kill()
    process.communicate(timeout=60)
    assert not out.exists()  # nothing that looks like a result
    assert [p.name for p in tmp_path.iterdir()] == [leftovers[0].name]
    assert leftovers[0].name.startswith(f".results.tmp-{_tag().split('-')[0]}-{process.pid}-")

    write_outputs(hbm.load(saved_fit), out)  # the next run removes the dead run's leftovers
    assert _listing(tmp_path) == ["results"]
    contract = {"diagnostics.json", "fit.nc", "report.html", "shrinkage.png", "summary.csv"}
    assert contract <= set(_listing(out))


def test_ctrl_c_while_writing_removes_the_temp_folder_at_once(tmp_path, saved_fit):
    process = _start_writer(saved_fit, tmp_path / "results")
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode != 0 and "KeyboardInterrupt" in err
    assert _listing(tmp_path) == []


def test_leftovers_of_live_processes_stay_and_an_orphaned_old_result_comes_back(tmp_path):
    out = tmp_path / "results"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    dead_pid = int(dead.stdout)
    host = _tag().split("-")[0]
    old = tmp_path / f".results.old-{host}-{dead_pid}"
    old.mkdir()
    (old / "diagnostics.json").write_text("{}")
    live = tmp_path / f".results.tmp-{host}-{os.getpid()}-abc"
    other_host = tmp_path / f".results.tmp-00000000-{dead_pid}-abc"
    dead_tmp = tmp_path / f".results.tmp-{host}-{dead_pid}-xyz"
    for folder in (live, other_host, dead_tmp):
        folder.mkdir()
    check_output_dir(out)
    assert (out / "diagnostics.json").exists()  # killed between the two renames: restored
    assert _listing(tmp_path) == sorted([live.name, other_host.name, "results"])


# --- disk full, no permission ---------------------------------------------------------------------

FULL_DISK = textwrap.dedent(
    """
    import errno, resource, signal, sys
    from hbm.api import load as load_fit
    from hbm.reporting.outputs import write_outputs

    fit = load_fit(sys.argv[1])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write then fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
    try:
        write_outputs(fit, sys.argv[2])
    except OSError as error:
        print(error.errno == errno.EFBIG, error.filename, error.strerror, sep="|")
    """
)


def test_a_failing_write_names_the_result_path_and_leaves_nothing(tmp_path, saved_fit):
    out = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(saved_fit), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    is_efbig, filename, reason = done.stdout.strip().split("|")
    assert is_efbig == "True", done.stdout + done.stderr
    assert Path(filename).parent == out  # e.g. results/shrinkage.png, not the hidden temp path
    assert reason.startswith("could not write the results (File too large")
    assert _listing(tmp_path) == []


@contextlib.contextmanager
def _read_only(folder: Path):
    """Make ``folder`` unwritable even for root: chmod for users, the immutable flag for root."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(folder)], check=False).returncode:
        pytest.skip("running as root without a working 'chattr +i': no way to deny a write here")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(folder)], check=True)


def test_a_read_only_folder_is_named_before_any_work(tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_text("school,score\na,1\na,2\nb,3\nb,5\n")
    locked = tmp_path / "locked"
    locked.mkdir()
    with _read_only(locked):
        out = str(locked / "results")
        status = main(["fit", str(data), "--group", "school", "--value", "score", "--out", out])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("hbm: error: cannot write in this folder (")
    assert err.endswith(f": {str(locked)!r} (nothing was written).\n")
    assert _listing(locked) == []


def test_a_system_folder_is_named_too(tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_text("school,score\na,1\na,2\nb,3\nb,5\n")
    if not Path("/sys/kernel").is_dir():  # pragma: no cover - not Linux
        pytest.skip("no sysfs at /sys on this system")
    status = main(["fit", str(data), "--group", "school", "--value", "score", "--out", "/sys/r"])
    err = capsys.readouterr().err
    # The reason depends on the host (EPERM, EACCES or EROFS); the folder is always named.
    assert status == 2 and err.startswith("hbm: error: cannot write in this folder ("), err
    assert err.endswith("'/sys' (nothing was written).\n"), err
