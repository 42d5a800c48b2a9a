"""Saved fits: netCDF and zarr round trips, readable by xarray, never pickled, clear errors."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import hbm.data.datasets
from hbm.api import fit
from hbm.api import load as load_fit
from hbm.cli import main
from hbm.results.io import FORMAT

SMALL = {"draws": 150, "tune": 150, "chains": 2, "progressbar": False}


@pytest.fixture(scope="module")
def rows_fit():
    table = hbm.datasets.load("schools")
    return fit(table, group="school", value="score", random_seed=11, missing="error", **SMALL)


@pytest.fixture(scope="module")
def summaries_fit():
    table = hbm.datasets.load("eight_schools")
    priors = {"mu": "normal(0, 5)", "tau": "halfcauchy(5)"}
    return fit(
        table, group="school", value="effect", se="stderr", priors=priors, random_seed=3, **SMALL
    )


def assert_same_fit(a, b):
    pd.testing.assert_frame_equal(a.summary(), b.summary(), check_exact=True)
    assert a.spec == b.spec
    assert a.data.describe() == b.data.describe()
    assert a.data.labels == b.data.labels
    for name in ("n", "mean", "ss"):
        np.testing.assert_array_equal(getattr(a.data, name), getattr(b.data, name))
    assert a.diagnosis == b.diagnosis
    assert a.priors == b.priors
    assert (a.parametrization, a.reason) == (b.parametrization, b.reason)
    for name in a.idata["posterior"].data_vars:
        np.testing.assert_array_equal(
            a.idata["posterior"][name].values, b.idata["posterior"][name].values
        )


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
@pytest.mark.parametrize("which", ["rows_fit", "summaries_fit"])
def test_round_trip_is_identical(request, tmp_path, which, suffix):
    original = request.getfixturevalue(which)
    path = original.save(tmp_path / f"fit{suffix}")
    loaded = load_fit(path)
    assert_same_fit(original, loaded)
    # and a loaded fit saves and loads again to the same thing
    again = load_fit(loaded.save(tmp_path / f"again{suffix}"))
    assert_same_fit(original, again)


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_plain_xarray_reads_the_file(summaries_fit, tmp_path, suffix):
    path = summaries_fit.save(tmp_path / f"fit{suffix}")
    tree = xr.open_datatree(path)
    assert {"posterior", "sample_stats", "group_data"} <= set(tree.children)
    assert tree.attrs["hbm_format"] == FORMAT
    spec = json.loads(tree.attrs["hbm_spec"])
    assert spec["group"] == "school" and spec["random_seed"] == 3
    assert json.loads(tree.attrs["hbm_run"])["versions"]["hbm"]
    np.testing.assert_array_equal(
        tree["posterior"]["mu"].values, summaries_fit.idata["posterior"]["mu"].values
    )
    tree.close()


def test_loading_never_unpickles(summaries_fit, tmp_path, monkeypatch):
    path = summaries_fit.save(tmp_path / "fit.nc")

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    assert_same_fit(summaries_fit, load_fit(path))


def test_dropped_row_count_survives(tmp_path):
    table = hbm.datasets.load("eight_schools")
    table.loc[len(table)] = ["I", np.nan, 10.0]
    result = fit(
        table, group="school", value="effect", se="stderr", missing="drop", random_seed=1, **SMALL
    )
    assert result.data.dropped == 1
    assert load_fit(result.save(tmp_path / "f.nc")).data.describe()["dropped_missing"] == 1


def test_save_replaces_an_existing_file_and_leaves_no_temporaries(summaries_fit, tmp_path):
    path = tmp_path / "fit.nc"
    path.write_bytes(b"old")
    summaries_fit.save(path)
    summaries_fit.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["fit.nc"]
    assert_same_fit(summaries_fit, load_fit(path))


def test_save_refuses_folders_and_missing_parents(summaries_fit, tmp_path):
    with pytest.raises(ValueError, match="it is a folder"):
        summaries_fit.save(tmp_path)
    foreign = tmp_path / "other.zarr"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a fit saved by hbm"):
        summaries_fit.save(foreign)
    assert (foreign / "keep.txt").read_text() == "mine"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        summaries_fit.save(tmp_path / "no" / "fit.nc")


def test_corrupt_and_foreign_files_give_clear_errors(summaries_fit, tmp_path):
    good = summaries_fit.save(tmp_path / "fit.nc")
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(ValueError, match="is not a readable netCDF file"):
        load_fit(truncated)
    text = tmp_path / "notes.nc"
    text.write_text("hello")
    with pytest.raises(ValueError, match="is not a readable netCDF file"):
        load_fit(text)
    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"a": ("x", [1.0, 2.0])}).to_netcdf(foreign, engine="h5netcdf")
    with pytest.raises(ValueError, match="readable but is not a fit saved by hbm"):
        load_fit(foreign)
    with pytest.raises(FileNotFoundError, match="No saved fit"):
        load_fit(tmp_path / "missing.nc")
    with pytest.raises(ValueError, match="is a folder but not a zarr store"):
        load_fit(tmp_path)


def _tamper(src, dst, **attrs):
    tree = xr.open_datatree(src).load()
    tree.attrs.update(attrs)
    tree.to_netcdf(dst, engine="h5netcdf")
    return dst


def test_damaged_or_newer_fit_files(summaries_fit, tmp_path):
    good = summaries_fit.save(tmp_path / "fit.nc")
    damaged = _tamper(good, tmp_path / "damaged.nc", hbm_spec="{not json")
    with pytest.raises(
        ValueError, match=r"damaged or incomplete \(ValueError: The fit spec is not valid JSON"
    ):
        load_fit(damaged)
    unknown = _tamper(
        good, tmp_path / "unknown.nc", hbm_spec=json.dumps({"group": "g", "value": "y", "x": 1})
    )
    with pytest.raises(ValueError, match=r"damaged or incomplete.*unknown key"):
        load_fit(unknown)
    newer = _tamper(good, tmp_path / "newer.nc", hbm_format="hbm-fit/99")
    with pytest.raises(ValueError, match="layout 'hbm-fit/99'"):
        load_fit(newer)


def test_zarr_store_replaced_in_place(summaries_fit, rows_fit, tmp_path):
    path = tmp_path / "fit.zarr"
    rows_fit.save(path)
    summaries_fit.save(path)
    assert_same_fit(summaries_fit, load_fit(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.zarr"]
    shutil.rmtree(path / "posterior")
    with pytest.raises(ValueError, match="draws of 'mu' are missing or not finite"):
        load_fit(path)


def test_cli_report_rebuilds_the_result_folder(rows_fit, tmp_path, capsys):
    path = rows_fit.save(tmp_path / "fit.nc")
    out = tmp_path / "report"
    assert main(["report", str(path), "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"summary.csv", "diagnostics.json", "fit.nc", "report.html", "shrinkage.png"} <= names
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "summary.csv"),
        rows_fit.summary().reset_index(drop=True),
        check_exact=False,
        rtol=1e-12,
    )
    assert (
        json.loads((out / "diagnostics.json").read_text())["verdict"] == rows_fit.diagnosis.verdict
    )
    assert "hbm report" in (out / "report.html").read_text()


def test_cli_report_bad_file(tmp_path, capsys):
    bad = tmp_path / "x.nc"
    bad.write_text("nope")
    assert main(["report", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hbm: error: ") and "not a readable netCDF file" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
