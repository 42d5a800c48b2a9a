"""hbm.compare and `hbm compare`: the true model first, the table and its files, and every refusal
(one line; the CLI exits 2 and writes nothing)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import hbm
from hbm.analysis.compare import COLUMNS
from hbm.analysis.data_key import DataKey, difference
from hbm.cli import main
from tests.conftest import simulate_rows

QUICK = dict(draws=500, tune=500, chains=2, random_seed=5, progressbar=False)


@pytest.fixture(scope="module")
def simulated():
    """12 groups of 20 rows from the hierarchical model with tau = 3, sigma = 5: partial pooling
    is the true model; tau fixed near 0 (complete pooling) and at 30 (almost no pooling) are
    not."""
    table = simulate_rows(sizes=(20,) * 12, mu=50, tau=3, sigma=5, seed=21)
    options = dict(group="group", value="y", **QUICK)
    return table, {
        "true": hbm.fit(table, **options),
        "complete": hbm.fit(table, priors={"tau": 0.01}, **options),
        "tau 30": hbm.fit(table, priors={"tau": 30}, **options),
    }


def test_compare_ranks_the_simulated_true_model_first(simulated):
    """By leave-one-group-out ELPD the true model beats complete pooling by more than 2 se of the
    difference, and is not worse than the nearly unpooled model (which predicts new groups from
    a population sd ten times too wide)."""
    _, fits = simulated
    ranked = hbm.compare(fits)
    table = ranked.table
    assert list(table.columns) == COLUMNS and ranked.unit == "groups"
    assert table.index[0] == "true" and ranked.best == "true"
    assert -table.loc["complete", "elpd_diff"] > 2 * table.loc["complete", "dse"]
    assert table.loc["tau 30", "elpd_diff"] < 0
    assert table["rank"].tolist() == [0, 1, 2] and np.isclose(table["weight"].sum(), 1.0)
    assert "Left out: groups (PSIS-LOGO" in ranked.notes()[0]


def test_compare_refuses_one_model_different_data_and_different_units(simulated, eight_schools):
    table, fits = simulated
    with pytest.raises(ValueError, match=r"at least two models; got 1 \('true'\)"):
        hbm.compare({"true": fits["true"]})
    other = hbm.fit(eight_schools, group="school", value="effect", se="stderr", **QUICK)
    with pytest.raises(ValueError, match=r"'true' and 'eight' model different responses"):
        hbm.compare({"true": fits["true"], "eight": other})
    fewer = hbm.fit(table[table["group"] != "g3"], group="group", value="y", **QUICK)
    with pytest.raises(ValueError, match=r"different groups \(12 and 11 'group' groups; 'g3' is"):
        hbm.compare({"true": fits["true"], "fewer": fewer})
    rows = hbm.fit(table.iloc[1:], group="group", value="y", **QUICK)
    with pytest.raises(ValueError, match=r"different rows \(240 and 239; group 'g0' has 20 and 19"):
        hbm.compare({"true": fits["true"], "rows": rows})
    moved = table.assign(y=table["y"] + np.where(table.index == 5, 1.0, 0.0))
    changed = hbm.fit(moved, group="group", value="y", **QUICK)
    with pytest.raises(ValueError, match=r"same groups and rows but different values \(group 'g0"):
        hbm.compare({"true": fits["true"], "changed": changed})
    kept = hbm.fit(table, group="group", value="y", likelihood="rows", **QUICK)
    by_rows, by_groups = kept.loo("rows"), fits["true"].loo("groups")
    with pytest.raises(ValueError, match=r"leave out different units \('a' leaves out rows, 'b'"):
        hbm.compare({"a": by_rows, "b": by_groups})
    # Rows kept in one fit only: both are compared by groups, and the table says so.
    assert hbm.compare({"rows kept": kept, "reduced": fits["true"]}).unit == "groups"
    with pytest.raises(ValueError, match=r"needs the rows, and this fit kept only"):
        hbm.compare({"rows kept": kept, "reduced": fits["true"]}, unit="rows")
    with pytest.raises(TypeError, match=r"takes a mapping of names to fits"):
        hbm.compare([fits["true"], fits["complete"]])  # type: ignore[arg-type]


def test_difference_names_what_differs():
    base = DataKey("score", "school", "rows", ("a", "b"), (2, 3), (1.0, 2.0), (4.0, 5.0), "r1")
    assert difference("p", base, "q", base, rows=True) is None
    reordered = DataKey("score", "school", "rows", ("b", "a"), (3, 2), (2.0, 1.0), (5.0, 4.0))
    assert "different orders" in difference("p", base, "q", reordered, rows=False)
    rows = DataKey("score", "school", "rows", ("a", "b"), (2, 3), (1.0, 2.0), (4.0, 5.0), "r2")
    assert difference("p", base, "q", rows, rows=False) is None
    assert "cannot be paired" in difference("p", base, "q", rows, rows=True)
    # Another model's reduction of the same rows rounds differently: still the same data.
    rounded = DataKey(
        "score", "school", "rows", ("a", "b"), (2, 3), (1.0 + 2e-16, 2.0), (4.0, 5.0 - 4e-15), "r1"
    )
    assert difference("p", base, "q", rounded, rows=True) is None
    moved = DataKey("score", "school", "rows", ("a", "b"), (2, 3), (1.0, 2.5), (4.0, 5.0), "r1")
    assert "group 'b': mean 2 and 2.5" in difference("p", base, "q", moved, rows=False)


@pytest.fixture(scope="module")
def saved(simulated, tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved")
    _, fits = simulated
    from hbm.reporting.outputs import write_outputs

    write_outputs(fits["true"], folder / "true")
    fits["complete"].save(folder / "complete.nc")
    return folder


def test_cli_compare_prints_the_table_and_writes_csv_and_png(saved, capsys):
    out = saved / "ranked.csv"
    assert (
        main(["compare", str(saved / "true"), str(saved / "complete.nc"), "--out", str(out)]) == 0
    )
    printed = capsys.readouterr().out
    assert printed.index("true") < printed.index("complete")
    table = pd.read_csv(out, index_col="model")
    assert table.index.tolist() == ["true", "complete"] and set(table["unit"]) == {"groups"}
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _without_log_likelihood(source, target):
    tree = xr.open_datatree(source, engine="h5netcdf").load()
    del tree["log_likelihood"]
    tree.to_netcdf(target, engine="h5netcdf")
    return target


CLI_CASES = [
    ("one fit", ["true"], r"^hbm compare needs at least two fits; got 1 \('.*true'\)$"),
    ("the same fit twice", ["true", "true/fit.nc"], r"the fit '.*true' is given more than once$"),
    ("a folder without fit.nc", ["true", "empty"], r"is a folder without a fit\.nc"),
    ("a missing file", ["true", "nope.nc"], r"^No saved fit at '.*nope\.nc'\.$"),
    ("not an hbm fit", ["true", "plain.nc"], r"is readable but is not a fit saved by hbm\.$"),
    ("not netCDF at all", ["true", "notes.txt"], r"is not a readable netCDF file"),
    (
        "no log likelihood",
        ["true", "old.nc"],
        r"was saved without a log likelihood .*`hbm report .*old\.nc --out DIR` .* or refit\.$",
    ),
    ("different data", ["true", "eight.nc"], r"^Cannot compare: .* model different responses"),
    ("--out not csv", ["true", "complete.nc", "--out", "x.txt"], r"--out must name a \.csv file"),
    ("--unit rows", ["true", "complete.nc", "--unit", "rows"], r"needs the rows"),
    ("--unit bad", ["true", "complete.nc", "--unit", "row"], r"invalid choice: 'row'"),
]


@pytest.mark.parametrize(("case", "arguments", "pattern"), CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_compare_bad_input_is_one_line_exit_2_and_writes_nothing(
    saved, tmp_path, capsys, eight_schools, case, arguments, pattern
):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("not a fit")
    xr.Dataset({"a": ("x", [1.0])}).to_netcdf(tmp_path / "plain.nc", engine="h5netcdf")
    _without_log_likelihood(saved / "complete.nc", tmp_path / "old.nc")
    hbm.fit(eight_schools, group="school", value="effect", se="stderr", **QUICK).save(
        tmp_path / "eight.nc"
    )
    (tmp_path / "true").symlink_to(saved / "true")
    (tmp_path / "complete.nc").symlink_to(saved / "complete.nc")
    before = sorted(p.name for p in tmp_path.iterdir())
    status = main(["compare", *(str(tmp_path / a) if not a.startswith("-") and i not in _values(
        arguments) else a for i, a in enumerate(arguments))])  # fmt: skip
    captured = capsys.readouterr()
    assert status == 2, case
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("hbm: error: "), captured.err
    assert re.search(pattern, lines[0].removeprefix("hbm: error: ")), lines[0]
    assert captured.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def _values(arguments: list[str]) -> set[int]:
    """Positions of option values (after --out / --unit): passed as given, not as paths."""
    return {i + 1 for i, a in enumerate(arguments) if a in ("--out", "--unit")}
