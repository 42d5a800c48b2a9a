"""``hbm batch``: result folders, index, failures, skipping by content hash, atomic results."""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from pathlib import Path

import pytest

import hbm.reporting.outputs
import hbm.workflow.batch
from hbm.cli import main
from hbm.workflow.batch import LOCK, RECORD, run_batch
from hbm.workflow.batch_index import INDEX_COLUMNS

ROOT = Path(__file__).resolve().parents[1]

SAMPLING = "[sampling]\ndraws = 150\ntune = 150\nchains = 2\nseed = {seed}\n"


def spec(folder: Path, name: str, body: str, seed: int = 1) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(body + SAMPLING.format(seed=seed), encoding="utf-8")
    return path


@pytest.fixture
def specs(tmp_path):
    """Two good specs (summaries and rows form) and two broken ones, in tmp_path/models."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(ROOT / "data" / "eight_schools.csv", data)
    (data / "tiny.csv").write_text(
        "school,score\n"
        + "".join(f"{g},{v}\n" for g, v in zip("aabbbcc", [1, 3, 4, 6, 5, 2, 9], strict=True))
    )
    models = tmp_path / "models"
    models.mkdir()
    eight = (
        'data = "../data/eight_schools.csv"\ngroup = "school"\nvalue = "effect"\nse = "stderr"\n'
    )
    return {
        "eight": spec(models, "eight", eight),
        "tiny": spec(
            models, "tiny", 'data = "../data/tiny.csv"\ngroup = "school"\nvalue = "score"\n'
        ),
        "badcol": spec(
            models, "badcol", 'data = "../data/tiny.csv"\ngroup = "school"\nvalue = "<script>x"\n'
        ),
        "badkey": spec(models, "badkey", eight + 'colour = "red"\n'),
    }


def read_index(out: Path) -> list[dict[str, str]]:
    with (out / "index.csv").open() as file:
        return list(csv.DictReader(file))


def visible(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if not p.name.startswith("."))


def test_batch_records_failures_and_goes_on(specs, tmp_path, capsys):
    out = tmp_path / "out"
    paths = [str(specs[k]) for k in ("eight", "badcol", "tiny", "badkey")]
    assert main(["batch", *paths, "--out", str(out)]) == 1
    lines = capsys.readouterr().out.splitlines()
    progress = [line for line in lines if line.startswith("[")]
    assert [line.split("]")[0] + "]" for line in progress] == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    assert "badkey: FAILED" in progress[0]  # a spec that cannot be read fails before any fit
    assert lines[-1].startswith("hbm: batch 2 done, 0 skipped, 2 failed")

    rows = read_index(out)
    assert list(rows[0]) == list(INDEX_COLUMNS)
    assert [r["name"] for r in rows] == ["eight", "badcol", "tiny", "badkey"]  # order given
    status = {r["name"]: r for r in rows}
    assert status["eight"]["status"] == status["tiny"]["status"] == "done"
    assert status["eight"]["verdict"] in ("ok", "warn", "fail")
    assert float(status["eight"]["seconds"]) > 0 and status["eight"]["random_seed"] == "1"
    assert status["badcol"]["status"] == "failed"
    assert "no column '<script>x'" in status["badcol"]["error"]
    assert status["badkey"]["status"] == "failed"
    assert "unknown key(s) 'colour'" in status["badkey"]["error"]
    assert visible(out) == ["eight", "index.csv", "index.html", "tiny"]
    for name in ("eight", "tiny"):
        files = {p.name for p in (out / name).iterdir()}
        assert {"summary.csv", "diagnostics.json", "fit.nc", "report.html", RECORD} <= files
    assert not (out / LOCK).exists()

    html = (out / "index.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;x" in html
    assert 'href="eight/report.html"' in html


def test_rerun_skips_everything_then_refits_only_what_changed(specs, tmp_path, capsys):
    out = tmp_path / "out"
    good = [specs["eight"], specs["tiny"]]
    assert run_batch(good, out, progress=None)[0]["status"] == "done"
    fit_file = out / "tiny" / "fit.nc"
    stamp = fit_file.stat().st_mtime_ns

    start = time.perf_counter()
    rows = run_batch(good, out, progress=None)
    elapsed = time.perf_counter() - start
    assert [r["status"] for r in rows] == ["skipped", "skipped"]
    assert elapsed < 5.0  # no model is built: hashing two small files and reading two records
    assert fit_file.stat().st_mtime_ns == stamp
    assert rows[0]["verdict"] in ("ok", "warn", "fail") and rows[0]["random_seed"] == 1

    # a new seed changes only that spec's hash; comments do not change it
    spec(specs["eight"].parent, "eight", specs["eight"].read_text().split("[sampling]")[0], seed=2)
    text = specs["tiny"].read_text()
    specs["tiny"].write_text("# just a comment\n" + text)
    lines: list[str] = []
    rows = run_batch(good, out, progress=lines.append)
    assert [r["status"] for r in rows] == ["done", "skipped"]
    assert rows[0]["random_seed"] == 2
    assert json.loads((out / "eight" / RECORD).read_text())["random_seed"] == 2
    assert any("eight: done" in line and "(spec changed)" in line for line in lines)

    # a changed data file refits the spec that reads it
    data = tmp_path / "data" / "tiny.csv"
    data.write_text(data.read_text() + "c,7\n")
    lines.clear()
    rows = run_batch(good, out, progress=lines.append)
    assert [r["status"] for r in rows] == ["skipped", "done"]
    assert any("(data file changed)" in line for line in lines)


def test_failed_specs_are_retried_and_exit_zero_when_fixed(specs, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["batch", str(specs["badcol"]), "--out", str(out), "--quiet"]) == 1
    assert capsys.readouterr().out == ""
    specs["badcol"].write_text(specs["badcol"].read_text().replace("<script>x", "score"))
    assert main(["batch", str(specs["badcol"]), "--out", str(out), "--quiet"]) == 0
    assert read_index(out)[0]["status"] == "done"


def test_interrupted_batch_leaves_nothing_that_looks_finished(specs, tmp_path, monkeypatch):
    out = tmp_path / "out"
    run_batch([specs["tiny"]], out, progress=None)
    old_record = (out / "tiny" / RECORD).read_text()
    spec(specs["tiny"].parent, "tiny", specs["tiny"].read_text().split("[sampling]")[0], seed=9)
    real = hbm.reporting.outputs.write_outputs

    def write_then_interrupt(fit, folder):
        real(fit, folder)  # the complete folder exists in the staging area ...
        raise KeyboardInterrupt  # ... when Ctrl-C arrives, before batch.json and the rename

    monkeypatch.setattr(hbm.workflow.batch, "write_outputs", write_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_batch([specs["eight"], specs["tiny"]], out, progress=None)
    # eight never appears; tiny keeps its previous, finished result untouched
    assert visible(out) == ["index.csv", "index.html", "tiny"]
    assert (out / "tiny" / RECORD).read_text() == old_record
    assert not (out / LOCK).exists()
    assert [p.name for p in out.iterdir() if "batch-tmp" in p.name] == []
    rows = read_index(out)
    assert {r["status"] for r in rows} == {"failed"}
    assert rows[0]["error"] == "interrupted before it finished"

    monkeypatch.setattr(hbm.workflow.batch, "write_outputs", real)
    rows = run_batch([specs["eight"], specs["tiny"]], out, progress=None)
    assert [r["status"] for r in rows] == ["done", "done"]
    assert rows[1]["random_seed"] == 9


def test_killed_batch_leftovers_are_not_results_and_are_cleaned(specs, tmp_path):
    out = tmp_path / "out"
    run_batch([specs["eight"]], out, progress=None)
    # What a batch killed mid-write leaves: a staging folder and a stale lock of a dead process.
    staging = out / ".tiny.batch-tmp-abc123" / "tiny"
    shutil.copytree(out / "eight", staging)
    (out / LOCK).write_text("999999999")
    rows = run_batch([specs["eight"], specs["tiny"]], out, progress=None)
    assert [r["status"] for r in rows] == ["skipped", "done"]
    assert sorted(p.name for p in out.iterdir()) == [
        ".hbm-batch",
        "eight",
        "index.csv",
        "index.html",
        "tiny",
    ]


def test_result_without_record_is_refit(specs, tmp_path):
    out = tmp_path / "out"
    run_batch([specs["eight"]], out, progress=None)
    (out / "eight" / RECORD).unlink()  # e.g. written by `hbm fit`, or an older hbm
    assert run_batch([specs["eight"]], out, progress=None)[0]["status"] == "done"


def test_refuses_live_lock_foreign_folder_and_clashing_names(specs, tmp_path):
    out = tmp_path / "out"
    run_batch([specs["badkey"]], out, progress=None)
    (out / LOCK).write_text(str(os.getppid()))  # a live process
    with pytest.raises(ValueError, match=r"Another hbm batch .* is writing"):
        run_batch([specs["badkey"]], out, progress=None)
    (out / LOCK).unlink()

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    with pytest.raises(ValueError, match="holds files hbm batch did not write"):
        run_batch([specs["eight"]], foreign, progress=None)
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]

    other = tmp_path / "elsewhere"
    other.mkdir()
    shutil.copy(specs["eight"], other / "eight.toml")
    with pytest.raises(ValueError, match=r"different file names.*'eight'"):
        run_batch([specs["eight"], other / "eight.toml"], tmp_path / "new", progress=None)
    with pytest.raises(ValueError, match="at least one spec"):
        run_batch([], tmp_path / "new", progress=None)
    with pytest.raises(ValueError, match="'jobs' option"):
        run_batch([specs["eight"]], tmp_path / "new", jobs=0, progress=None)
    assert not (tmp_path / "new").exists()


def test_cli_usage_errors_exit_2(specs, tmp_path, capsys):
    file = tmp_path / "file"
    file.write_text("x")
    assert main(["batch", str(specs["eight"]), "--out", str(file)]) == 2
    assert capsys.readouterr().err.startswith("hbm: error: --out")
    assert main(["batch", str(specs["eight"]), "--out", str(tmp_path / "o"), "--jobs", "0"]) == 2
    assert "'--jobs' option must be a positive integer" in capsys.readouterr().err


def test_fit_a_spec_from_the_cli(specs, tmp_path, capsys):
    out = tmp_path / "one"
    assert main(["fit", str(specs["eight"]), "--out", str(out), "--quiet"]) == 0
    assert (out / "fit.nc").is_file() and (out / "report.html").is_file()
    assert json.loads((out / "diagnostics.json").read_text())["random_seed"] == 1
    assert main(["fit", str(specs["eight"]), "--draws", "10", "--out", str(tmp_path / "x")]) == 2
    assert "--draws cannot be given too" in capsys.readouterr().err
    assert main(["fit", str(specs["badkey"]), "--out", str(tmp_path / "x")]) == 2
    assert "unknown key(s) 'colour'" in capsys.readouterr().err
    assert main(["fit", "table.csv", "--out", str(tmp_path / "x")]) == 2
    assert "required: --group, --value" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_parallel_jobs_match_sequential_bit_for_bit(specs, tmp_path):
    paths = [specs["eight"], specs["tiny"], specs["badcol"]]
    sequential = run_batch(paths, tmp_path / "seq", progress=None)
    parallel = run_batch(paths, tmp_path / "par", jobs=2, progress=None)
    assert [r["status"] for r in parallel] == ["done", "done", "failed"]
    for a, b in zip(sequential, parallel, strict=True):
        assert a["content_hash"] == b["content_hash"]
    for name in ("eight", "tiny"):
        assert (tmp_path / "seq" / name / "summary.csv").read_bytes() == (
            tmp_path / "par" / name / "summary.csv"
        ).read_bytes()
