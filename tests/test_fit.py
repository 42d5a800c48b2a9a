"""hbm.fit / Fit: the Python API end to end, with short chains (fast)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import hbm

FAST = {"draws": 200, "tune": 200, "chains": 2, "progressbar": False}


@pytest.fixture(scope="module")
def schools_fit():
    return hbm.fit(
        hbm.datasets.load("schools"), group="school", value="score", random_seed=1, **FAST
    )


def test_summary_and_idata(schools_fit):
    summary = schools_fit.summary()
    labels = list(schools_fit.data.labels)
    assert summary["param"].tolist() == ["mu", "tau", "sigma"] + [f"theta[{s}]" for s in labels]
    for column in ("mean", "sd", "ess_bulk", "ess_tail", "r_hat", "mcse_mean"):
        assert column in summary.columns
    posterior = schools_fit.idata["posterior"]
    assert posterior["theta"].dims == ("chain", "draw", "school")
    assert list(posterior["school"].values) == labels
    assert posterior.sizes["chain"] == 2
    # auto may refit once with more draws (see hbm/refit.py); the diagnosis says what ran.
    assert posterior.sizes["draw"] == schools_fit.diagnosis.draws >= 200
    assert "group_data" in schools_fit.idata.children


def test_what_ran_is_recorded(schools_fit):
    attrs = schools_fit.idata.attrs
    assert attrs["sampler"] == "nutpie" and attrs["random_seed"] == 1
    assert attrs["parametrization"] == "marginal"
    run = json.loads(attrs["hbm_run"])
    assert "theta can be integrated out exactly" in run["parametrization_reason"]
    assert {"pymc", "nutpie", "arviz", "hbm", "python"} <= set(run["versions"])
    spec = hbm.FitSpec.from_json(attrs["hbm_spec"])
    assert spec.random_seed == 1 and spec.priors["tau"].startswith("halfnormal(")
    assert schools_fit.diagnosis.parametrization == "marginal"


def test_a_seed_is_chosen_and_recorded_when_none_is_given(eight_schools):
    fit = hbm.fit(eight_schools, group="school", value="effect", se="stderr", **FAST)
    seed = fit.spec.random_seed
    assert isinstance(seed, int) and fit.idata.attrs["random_seed"] == seed
    again = hbm.fit(
        eight_schools, group="school", value="effect", se="stderr", random_seed=seed, **FAST
    )
    assert np.array_equal(
        fit.idata.posterior["theta"].values, again.idata.posterior["theta"].values
    )


def test_same_seed_same_summary_other_seed_other_draws(eight_schools):
    args = {"group": "school", "value": "effect", "se": "stderr", **FAST}
    first = hbm.fit(eight_schools, random_seed=7, **args).summary()
    second = hbm.fit(eight_schools, random_seed=7, **args).summary()
    assert first.equals(second)
    third = hbm.fit(eight_schools, random_seed=8, **args).summary()
    assert not np.array_equal(first["mean"].to_numpy(), third["mean"].to_numpy())


@pytest.mark.parametrize("parametrization", ["centered", "noncentered"])
def test_other_parametrizations_give_the_same_names(small_rows, parametrization):
    fit = hbm.fit(
        small_rows, group="group", value="y", parametrization=parametrization, random_seed=2, **FAST
    )
    assert fit.parametrization == parametrization
    assert fit.summary()["param"].tolist()[:3] == ["mu", "tau", "sigma"]


def test_rows_likelihood_and_pymc_sampler(small_rows):
    fit = hbm.fit(
        small_rows,
        group="group",
        value="y",
        likelihood="rows",
        sampler="pymc",
        random_seed=3,
        **FAST,
    )
    assert fit.parametrization == "noncentered"  # auto with per-row likelihood
    assert fit.idata.attrs["sampler"] == "pymc"
    assert fit.diagnosis.sampler == "pymc"
    assert fit.idata["posterior"]["theta"].dims == ("chain", "draw", "group")


def test_seed_preset_fixes_tau(schools_fit):
    fit = hbm.fit(
        hbm.datasets.load("schools"),
        group="school",
        value="score",
        priors="seed",
        random_seed=4,
        **FAST,
    )
    assert fit.prior_summary().set_index("parameter").loc["tau", "prior"] == "1"
    assert np.all(fit.idata.posterior["tau"].values == 1.0)
    tau = fit.summary().set_index("param").loc["tau"]  # no RuntimeWarning for a constant
    assert (tau["mean"], tau["sd"]) == (1.0, 0.0) and np.isnan(tau["r_hat"])
    assert fit.prior_summary().set_index("parameter").loc["mu", "prior"] == "normal(60, 2.236)"


def test_progress_and_prior_table_are_printed(eight_schools, capsys):
    hbm.fit(
        eight_schools,
        group="school",
        value="effect",
        se="stderr",
        random_seed=1,
        draws=100,
        tune=100,
        chains=1,
    )
    out = capsys.readouterr().out
    assert "hbm: priors" in out and "halfnormal(" in out and "default" in out
    assert "hbm: parametrization marginal" in out
    hbm.fit(eight_schools, group="school", value="effect", se="stderr", random_seed=1, **FAST)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"parametrization": "centred"}, "'parametrization' option must be one of 'auto'"),
        ({"sampler": "stan"}, "'sampler' option must be one of 'nutpie', 'pymc'; got 'stan'"),
        ({"draws": 0}, "'draws' option must be a positive integer; got 0"),
        ({"chains": 2.5}, "'chains' option must be a positive integer; got 2.5"),
        ({"random_seed": -1}, "'random_seed' option must be an integer >= 0"),
        ({"target_accept": 1.2}, "'target_accept' option must be a number between 0 and 1"),
        ({"priors": {"tau": "normal(0, 1)"}}, "prior for 'tau' must be positive-valued"),
    ],
)
def test_bad_options(eight_schools, kwargs, message):
    with pytest.raises(ValueError, match=message):
        hbm.fit(eight_schools, group="school", value="effect", se="stderr", **kwargs)


def test_fit_stays_a_function_after_submodules_are_imported():
    # A submodule named like a package attribute would replace it on import (hbm.fit the function
    # vs a module hbm/fit.py): the modules are named so that this cannot happen.
    code = (
        "import hbm, hbm.api, hbm.workflow.fit, hbm.cli, hbm.results.io, hbm.reporting.outputs\n"
        "assert callable(hbm.fit) and callable(hbm.load), (hbm.fit, hbm.load)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr


def test_repr_and_lazy_import():
    assert "fit" in hbm.__all__ and "datasets" in dir(hbm)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        hbm.nope  # noqa: B018


@pytest.mark.parametrize("parametrization", ["centered", "marginal"])
def test_fit_holds_the_data_in_the_users_units_only(parametrization):
    """The model's shared data (standardized, scaled by sqrt(n_j)) stay out of the DataTree."""
    fit = hbm.fit(
        hbm.datasets.load("schools"),
        group="school",
        value="score",
        parametrization=parametrization,
        random_seed=2,
        **FAST,
    )
    assert "constant_data" not in fit.idata.children
    observed = fit.idata["observed_data"]
    np.testing.assert_array_equal(observed["ybar"].values, fit.data.mean)
    assert float(observed["ss_within"]) == fit.data.ss_within
