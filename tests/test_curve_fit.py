"""Curve fits: names per DESIGN.md, the prior table, save/load, forecasts, the result folder,
bad input on the command line, and (slow) the Orange trees against nlme and recovery of a
simulated field of wells."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hbm
from hbm.analysis.curve_predict import NEW_GROUP, POPULATION, curve_draws
from hbm.cli import main

ROOT = Path(__file__).resolve().parents[1]
FAST = {"draws": 100, "tune": 150, "chains": 2, "progressbar": False}


@pytest.fixture(scope="module")
def orange_fit():
    return hbm.fit_curve(
        hbm.datasets.load("orange"),
        curve="logistic",
        group="Tree",
        time="age",
        value="circumference",
        varying=["asym"],
        random_seed=3,
        **FAST,
    )


def test_names_priors_and_record(orange_fit):
    names = orange_fit.summary()["param"].tolist()
    assert names[:5] == ["beta[asym]", "beta[xmid]", "beta[log_scal]", "sd_Tree[asym]", "sigma"]
    assert names[5:] == [f"u_Tree[{t}, asym]" for t in "12345"]
    priors = orange_fit.prior_summary().set_index("parameter")["prior"]
    # data-scaled defaults: asym around the median of the trees' largest values (177), xmid at
    # the middle of the ages (850) with the range (1464) as sd, log scal at log(range / 4)
    assert priors["beta[asym]"] == "normal(177, 141.7)"
    assert priors["beta[xmid]"] == "normal(850, 1464)"
    assert priors["beta[log_scal]"] == "normal(5.903, 1.5)"
    curve = orange_fit.description.curve
    assert curve == {
        "curve": "logistic", "varying": ["asym"], "fixed": {}, "family": "normal", "time": "age"
    }  # fmt: skip
    assert orange_fit.parametrization in ("centered", "partial", "noncentered")
    assert "nonlinear" in orange_fit.reason


def test_same_seed_same_draws_and_save_load(orange_fit, tmp_path):
    again = hbm.fit_curve(
        hbm.datasets.load("orange"),
        curve="logistic",
        group="Tree",
        time="age",
        value="circumference",
        varying=["asym"],
        random_seed=3,
        **FAST,
    )
    a = orange_fit.idata["posterior"]["u_Tree"].values
    np.testing.assert_array_equal(a, again.idata["posterior"]["u_Tree"].values)
    loaded = hbm.load(orange_fit.save(tmp_path / "orange.nc"))
    assert loaded.description == orange_fit.description
    assert loaded.data.labels == orange_fit.data.labels
    np.testing.assert_array_equal(loaded.data.y, orange_fit.data.y)
    pd.testing.assert_frame_equal(
        hbm.curves.curve_forecast(loaded, 2000), hbm.curves.curve_forecast(orange_fit, 2000)
    )


def test_curve_draws_population_and_new_group(orange_fit):
    times = np.array([118.0, 1582.0])
    _, draws = curve_draws(orange_fit, times, ["1", POPULATION, NEW_GROUP], max_draws=10**6)
    post = orange_fit.idata["posterior"]
    assert draws.shape == (post.sizes["chain"] * post.sizes["draw"], 3, 2)
    beta = post["beta"].values.reshape(-1, 3)
    # the population curve by hand: asym / (1 + exp((xmid - t) / exp(log_scal)))
    by_hand = beta[:, 0] / (1 + np.exp((beta[:, 1] - 1582.0) / np.exp(beta[:, 2])))
    np.testing.assert_allclose(draws[:, 1, 1], by_hand, rtol=1e-12)
    # a new tree's curve spreads more than the population's (it carries sd_Tree)
    assert draws[:, 2, 1].std() > 1.5 * draws[:, 1, 1].std()


def test_forecast_totals(orange_fit):
    table = orange_fit.forecast(1582.0)
    assert table["group"].tolist() == [*"12345", POPULATION, NEW_GROUP]
    assert (table["total_lower"] <= table["total_mean"]).all()
    assert (table["total_mean"] <= table["total_upper"]).all()
    # a tree's curve total lies between the area under its smallest and largest values
    data = orange_fit.data
    for label in "12345":
        _, y = data.rows_of(label)
        total = table.set_index("group").loc[label, "total_mean"]
        assert y.min() * 1582 < total < y.max() * 1582


def test_forecast_in_blocks_of_groups_equals_all_at_once(orange_fit, monkeypatch):
    """A forecast draws its curves a block of groups at a time: with blocks of one group the
    table is the same as with every group at once (the same draws, bit for bit)."""
    from hbm.analysis import curve_predict

    whole = orange_fit.forecast(1582.0, limit=50.0)
    monkeypatch.setattr(curve_predict, "FORECAST_BLOCK_VALUES", 1)
    pd.testing.assert_frame_equal(orange_fit.forecast(1582.0, limit=50.0), whole)


def test_result_folder(orange_fit, tmp_path):
    out = hbm.curves.write_curve_outputs(orange_fit, tmp_path / "orange", horizon=2500)
    files = {p.name for p in out.iterdir()}
    assert {
        "summary.csv", "priors.csv", "population.csv", "groups.csv", "forecast.csv",
        "diagnostics.json", "fit.nc", "report.html", "report.md", "curves.png", "forecast.png",
    } <= files  # fmt: skip
    diagnostics = json.loads((out / "diagnostics.json").read_text())
    assert {"divergences", "max_r_hat", "min_ess_bulk", "verdict", "parametrization"} <= set(
        diagnostics
    )
    population = pd.read_csv(out / "population.csv").set_index("parameter")
    assert population.loc["scal", "pooled_scale"] == "log"
    assert "hbm curve fit" in (out / "report.md").read_text()
    # `hbm report` rebuilds the folder from the saved fit
    assert main(["report", str(out / "fit.nc"), "--out", str(tmp_path / "again")]) == 0
    again = pd.read_csv(tmp_path / "again" / "forecast.csv")
    assert again["group"].tolist()[-2:] == [POPULATION, NEW_GROUP]


def run_cli(tmp_path, capsys, table: pd.DataFrame, *options: str) -> tuple[int, str]:
    path = tmp_path / "data.csv"
    table.to_csv(path, index=False)
    code = main(["curve", str(path), *options, "--quiet", "--out", str(tmp_path / "out")])
    return code, capsys.readouterr().err


WELLS = pd.DataFrame(
    {"well": ["a"] * 4 + ["b"] * 3, "month": [0, 1, 2, 3, 0, 1, 2], "rate": [9, 8, 7, 6, 5, 4, 3]}
)
ARPS = ("--curve", "arps", "--group", "well", "--time", "month", "--value", "rate")


@pytest.mark.parametrize(
    ("table", "options", "message"),
    [
        (WELLS, ("--curve", "spline"), "must be one of 'linear', 'exponential', 'arps'"),
        (WELLS, ("--varying", "qi,k"), "no parameter 'k'; its parameters are 'qi', 'di', 'b'"),
        (WELLS, ("--varying", "qi", "--fixed", "b=3"), r"'b' must be a number in \(0, 2\]"),
        (WELLS.assign(month=["x"] * 7), ("--varying", "qi"), "time column 'month' must hold"),
        (WELLS.assign(rate=[9, -8, 7, 6, 5, 4, 3]), ("--varying", "qi"), "must not be negative"),
        (WELLS, ("--varying", "qi", "--prior", "sd_x=halfnormal(1)"), "no parameter 'sd_x'"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, table, options, message):
    first = [o for o in ARPS if not (options[0] == "--curve" and o == "arps")]
    if options[0] == "--curve":
        first = [o for o in first if o != "--curve"]
        options = (*options, "--varying", "qi")
    code, err = run_cli(tmp_path, capsys, table, *first, *options)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("hbm: error: ")
    import re

    assert re.search(message, err), err
    assert not (tmp_path / "out").exists()


def test_cli_fits_and_says_a_single_point_group_is_pooled(tmp_path, capsys):
    table = pd.concat([WELLS, pd.DataFrame({"well": ["c"], "month": [0], "rate": [7.0]})])
    path = tmp_path / "wells.csv"
    table.to_csv(path, index=False)
    code = main(
        ["curve", str(path), *ARPS, "--varying", "qi", "--draws", "50", "--tune", "100",
         "--chains", "1", "--seed", "2", "--out", str(tmp_path / "out")]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "1 well group(s) have a single point ('c'): fitted" in out
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert "u_well[c, log_qi]" in summary["param"].tolist()


@pytest.mark.slow
def test_orange_against_the_published_nlme_fit():
    """Pinheiro and Bates (2000), nlme on Orange with Asym random: Asym 191.05, xmid 722.56,
    scal 344.16, sd(Asym) 31.48, residual sd 7.846 (maximum likelihood). With default priors
    the posterior means lie within one posterior sd of each (the posterior of sd(Asym) from 5
    trees is wide and skewed: its mean sits above the ML estimate, within one sd)."""
    fit = hbm.fit_curve(
        hbm.datasets.load("orange"),
        curve="logistic",
        group="Tree",
        time="age",
        value="circumference",
        varying=["asym"],
        random_seed=1,
        progressbar=False,
    )
    assert fit.diagnosis.divergences == 0
    table = fit.summary().set_index("param")
    published = {
        "beta[asym]": 191.05,
        "beta[xmid]": 722.56,
        "beta[log_scal]": np.log(344.16),
        "sd_Tree[asym]": 31.48,
        "sigma": 7.846,
    }
    for name, value in published.items():
        mean, sd = table.loc[name, "mean"], table.loc[name, "sd"]
        assert abs(mean - value) < sd, (name, mean, sd, value)


@pytest.mark.slow
def test_recovery_on_a_simulated_field_of_wells():
    """40 wells of make_wells.py's field (3 to 120 months): the population's log qi, log di, b,
    the between-well sds and sigma are recovered within 3 posterior sds of the truth (the
    posterior sd dominates the error; MCSE is checked to be below a tenth of it)."""
    sys.path.insert(0, str(ROOT / "data"))
    from make_wells import DI, QI, SD_LOG_DI, SD_LOG_QI, SIGMA, B, make_wells

    table, _ = make_wells(40, seed=7)
    fit = hbm.fit_curve(
        table,
        curve="arps",
        group="well",
        time="month",
        value="rate",
        varying=["qi", "di"],
        draws=500,
        tune=700,
        chains=2,
        random_seed=5,
        progressbar=False,
    )
    assert fit.diagnosis.divergences == 0
    summary = fit.summary().set_index("param")
    truth = {
        "beta[log_qi]": np.log(QI),
        "beta[log_di]": np.log(DI),
        "beta[logit_b]": np.log(B / (2 - B)),
        "sd_well[log_qi]": SD_LOG_QI,
        "sd_well[log_di]": SD_LOG_DI,
        "sigma": SIGMA,
    }
    for name, value in truth.items():
        row = summary.loc[name]
        assert abs(row["mean"] - value) < 3 * row["sd"], (name, row["mean"], row["sd"], value)
        assert row["mcse_mean"] < 0.1 * row["sd"], name
