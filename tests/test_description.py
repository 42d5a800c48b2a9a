"""The model description and the record a fit carries: stored, hashed, read back, rebuilt."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

import hbm
from hbm.data.grouped import grouped_data
from hbm.model.build import rebuild
from hbm.model.description import GroupTerm, ModelDescription

FAST = {"draws": 120, "tune": 120, "chains": 2, "random_seed": 3, "progressbar": False}


@pytest.fixture(scope="module")
def schools_fit():
    return hbm.fit(hbm.datasets.load("schools"), group="school", value="score", **FAST)


def test_the_shorthand_is_the_seed_model_and_round_trips():
    d = ModelDescription.for_groups(group="log.school", value="y", priors={"tau": "1"})
    assert d.formula == "y ~ 1 + (1 | `log.school`)"
    assert d.is_seed_model and d.groups == (GroupTerm("log.school", (("Intercept",),), (True,)),)
    again = ModelDescription.from_json(d.to_json())
    assert again == d and again.hash == d.hash
    slopes = ModelDescription(
        response="Reaction", groups=(GroupTerm("Subject", (("Intercept", "Days"),)),)
    )
    assert not slopes.is_seed_model and slopes.hash != d.hash
    assert ModelDescription.from_json(slopes.to_json()).groups[0].terms == ("Intercept", "Days")
    with pytest.raises(ValueError, match="not in the layout 'hbm-model/1'"):
        ModelDescription.from_json(json.dumps({"response": "y"}))
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['colour'\]"):
        ModelDescription.from_json(json.dumps({**d.to_dict(), "colour": "red"}))


def test_a_fit_records_its_description_hash_and_parameter_table(schools_fit):
    attrs = schools_fit.idata.attrs
    description = ModelDescription.from_json(attrs["hbm_model"])
    assert description == schools_fit.description
    assert attrs["hbm_model_hash"] == description.hash
    assert description.priors == schools_fit.spec.priors  # the priors as used, defaults filled in
    table = json.loads(attrs["hbm_parameters"])
    assert [p["name"] for p in table] == ["mu", "tau", "sigma", "theta"]
    assert {p["name"]: p["role"] for p in table}["theta"] == "group_effect"


def test_load_checks_the_hash_and_rebuilds_the_model(schools_fit, tmp_path):
    path = schools_fit.save(tmp_path / "fit.nc")
    loaded = hbm.load(path)
    assert loaded.description == schools_fit.description
    assert loaded.parameters == schools_fit.parameters
    # The model rebuilt from the stored description has the original's log density.
    data = loaded.data
    built = rebuild(loaded.description, data, loaded.parametrization)
    original = hbm.build_model(
        grouped_data(hbm.datasets.load("schools"), group="school", value="score"),
        dict(schools_fit.description.priors),
        parametrization="marginal",
    )
    point = {"mu": 60.0, "tau_log__": np.log(12.0), "sigma_log__": np.log(13.0)}
    assert built.model.compile_logp()(point) == pytest.approx(
        original.model.compile_logp()(point), rel=1e-12
    )
    tree = xr.open_datatree(path, engine="h5netcdf").load()
    tampered = json.loads(tree.attrs["hbm_model"])
    tampered["response"] = "other"
    tree.attrs["hbm_model"] = json.dumps(tampered, sort_keys=True, separators=(",", ":"))
    tree.to_netcdf(tmp_path / "tampered.nc", engine="h5netcdf")
    with pytest.raises(ValueError, match="does not match its hash"):
        hbm.load(tmp_path / "tampered.nc")


def test_a_fit_saved_before_descriptions_reads_as_the_seed_model(schools_fit, tmp_path):
    """Layout hbm-fit/1 had no description and no parameter table: both are made on load."""
    path = schools_fit.save(tmp_path / "fit.nc")
    tree = xr.open_datatree(path, engine="h5netcdf").load()
    for name in ("hbm_model", "hbm_model_hash", "hbm_parameters"):
        del tree.attrs[name]
    tree.attrs["hbm_format"] = "hbm-fit/1"
    tree.to_netcdf(tmp_path / "old.nc", engine="h5netcdf")
    old = hbm.load(tmp_path / "old.nc")
    assert old.description == schools_fit.description
    assert old.parameters.names() == ["mu", "tau", "sigma", "theta"]
    assert old.summary().equals(schools_fit.summary())
