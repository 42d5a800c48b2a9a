"""``hbm reduce`` and ``hbm fit STATS.parquet``: the statistics file, the fit from it, bad input.

A fit from ``hbm reduce``'s file equals the direct fit on the same engine with the same seed, draw
for draw: the file holds the reduction's float64 numbers exactly and the groups in the same order.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import hbm
from hbm.cli import main
from hbm.data import engines
from hbm.data.stats_file import read_stats

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--draws", "150", "--tune", "150", "--chains", "2", "--seed", "3", "--quiet"]

pytest.importorskip("duckdb")


@pytest.fixture
def scores(tmp_path):
    table = pd.read_csv(ROOT / "data" / "schools.csv", dtype={"school": str})
    path = tmp_path / "scores.parquet"
    table.to_parquet(path)
    return path


def posterior(folder: Path) -> dict[str, np.ndarray]:
    with xr.open_datatree(folder / "fit.nc") as tree:
        return {name: tree["posterior"][name].values for name in ("mu", "tau", "sigma", "theta")}


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_a_fit_from_the_statistics_equals_the_direct_fit(tmp_path, scores, engine, capsys):
    stats = tmp_path / "stats.parquet"
    common = ["--group", "school", "--value", "score", "--engine", engine]
    assert main(["reduce", str(scores), *common, "--out", str(stats)]) == 0
    assert "wrote" in capsys.readouterr().out
    table, info, model = read_stats(stats)
    assert list(table.columns) == ["school", "n", "mean", "ss"]
    assert info["engine"] == engine and info["rows"] == 2008
    assert hbm.ModelDescription.from_json(model).formula == "score ~ 1 + (1 | school)"

    assert main(["fit", str(stats), *FAST, "--out", str(tmp_path / "from_stats")]) == 0
    direct = [str(scores), *common, *FAST, "--out", str(tmp_path / "direct")]
    assert main(["fit", *direct]) == 0
    a, b = posterior(tmp_path / "from_stats"), posterior(tmp_path / "direct")
    for name in a:
        assert np.array_equal(a[name], b[name]), name
    assert (tmp_path / "from_stats" / "groups.csv").is_file()


def test_python_reduce_and_fit_from_statistics(scores):
    stats = hbm.reduce(scores, group="school", value="score", engine="duckdb")
    assert stats.data.order == "sorted" and stats.provenance["engine"] == "duckdb"
    fit = hbm.fit(stats, draws=100, tune=100, chains=2, random_seed=1, progressbar=False)
    assert fit.run_info["reduction"]["engine"] == "duckdb"
    assert fit.data.n_rows == 2008


def test_the_default_engine_is_stated_and_switches_above_the_size(
    tmp_path, scores, monkeypatch, capsys
):
    stats = tmp_path / "s.parquet"
    assert (
        main(["reduce", str(scores), "--group", "school", "--value", "score", "--out", str(stats)])
        == 0
    )
    assert "with pandas (auto: the data (0.0 MB) are below 200 MB" in capsys.readouterr().out
    import dataclasses

    monkeypatch.setattr(
        engines, "DEFAULTS", dataclasses.replace(engines.DEFAULTS, engine_switch_bytes=10)
    )
    assert (
        main(["reduce", str(scores), "--group", "school", "--value", "score", "--out", str(stats)])
        == 0
    )
    said = capsys.readouterr().out
    assert "with duckdb (auto: the data (0.0 MB) are above 0 MB, reduced out of core" in said
    assert "groups in sorted order" in said


def error(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("hbm: error: ") and err.count("\n") == 1, err
    return err


def test_bad_input_is_one_line_and_writes_nothing(tmp_path, scores, capsys, monkeypatch):
    out = tmp_path / "stats.parquet"
    base = ["--group", "school", "--value", "score", "--out", str(out)]
    assert "pattern" in error(["reduce", str(tmp_path / "none" / "*.parquet"), *base], capsys)
    assert "matches no file" in error(["reduce", str(tmp_path / "x*.csv"), *base], capsys)
    bad = [
        "reduce",
        str(scores),
        "--group",
        "school",
        "--value",
        "mark",
        "--engine",
        "duckdb",
        "--out",
        str(out),
    ]
    assert "no column 'mark'" in error(bad, capsys)
    monkeypatch.setitem(engines.ENGINES, "dask", ("no_such_module_hbm", "dask"))
    message = error(["reduce", str(scores), *base, "--engine", "dask"], capsys)
    assert "The dask engine is not installed; install it with: pip install 'hbm[dask]'" in message
    assert not out.exists()

    assert main(["reduce", str(scores), *base, "--quiet"]) == 0
    folder = tmp_path / "fit"
    message = error(["fit", str(out), "--value", "grade", "--out", str(folder)], capsys)
    assert "--value 'grade' does not match it (it was reduced with --value 'score')" in message
    message = error(["fit", str(out), "--engine", "duckdb", "--out", str(folder)], capsys)
    assert "holds statistics already reduced; --engine cannot be given" in message
    message = error(["fit", str(out), "--likelihood", "rows", "--out", str(folder)], capsys)
    assert "--likelihood rows needs the table's rows" in message
    message = error(
        [
            "reduce",
            str(scores),
            "--formula",
            "score ~ x + (1 | school)",
            "--out",
            str(tmp_path / "f.parquet"),
        ],
        capsys,
    )
    assert "no column 'x'" in message
    assert not folder.exists() and not (tmp_path / "f.parquet").exists()


def test_the_seed_formula_reduces_like_group_and_value(tmp_path, scores):
    a = hbm.reduce(scores, formula="score ~ 1 + (1 | school)")
    b = hbm.reduce(scores, group="school", value="score")
    assert a.data.labels == b.data.labels and np.array_equal(a.data.ss, b.data.ss)


def test_a_cluster_that_does_not_answer(tmp_path, scores, capsys):
    pytest.importorskip("distributed")
    message = error(
        [
            "reduce",
            str(scores),
            "--group",
            "school",
            "--value",
            "score",
            "--engine",
            "dask",
            "--cluster",
            "tcp://127.0.0.1:9",
            "--out",
            str(tmp_path / "s.parquet"),
        ],
        capsys,
    )
    assert "did not answer within 5 s" in message


def test_long_reductions_report_progress(tmp_path, monkeypatch):
    from hbm.data.engines import duckdb_engine

    rng = np.random.default_rng(4)
    big = pd.DataFrame(
        {"g": rng.integers(0, 500, 2_000_000).astype(str), "y": rng.normal(size=2_000_000)}
    )
    path = tmp_path / "big.csv"
    big.to_csv(path, index=False)
    monkeypatch.setattr(duckdb_engine, "PROGRESS_EVERY", 0.02)
    lines: list[str] = []
    hbm.reduce(path, group="g", value="y", engine="duckdb", progress=lines.append)
    assert lines and all(line.startswith(f"hbm: reading {path}: ") for line in lines)
    assert "MB/s)" in lines[-1]
    shutil.rmtree(tmp_path)
