"""Fits of the outcome families end to end, quickly: names, rates, league, funnel, checks, LOO,
compare, predictions, save and load, the CLI and its result folder (few draws: these check the
plumbing; tests/test_outcome_statistics.py checks the numbers)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import special

import hbm
from hbm.cli import main

FAST = {"draws": 200, "tune": 300, "chains": 2, "progressbar": False}


@pytest.fixture(scope="module")
def surgical():
    return hbm.fit(
        hbm.datasets.load("surgical"),
        "p(deaths, operations) ~ 1 + (1 | hospital)",
        family="binomial",
        random_seed=1,
        **FAST,
    )


def _counts(seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(12), 15)
    x = rng.normal(size=g.size)
    exposure = rng.uniform(0.5, 2.0, g.size)
    mu = exposure * np.exp(0.3 + 0.4 * x + rng.normal(0, 0.5, 12)[g])
    return pd.DataFrame(
        {
            "region": [f"R{j:02d}" for j in g],
            "x": x,
            "exposure": exposure,
            "deaths": rng.poisson(rng.gamma(3.0, mu / 3.0)),
        }
    )


@pytest.fixture(scope="module")
def counts():
    table = _counts()
    formula = "deaths ~ x + offset(np.log(exposure)) + (1 | region)"
    return {
        family: hbm.fit(table, formula, family=family, random_seed=3, **FAST)
        for family in ("poisson", "negbinomial")
    }


def test_names_link_and_description(surgical):
    params = surgical.summary()["param"].tolist()
    assert params[:2] == ["beta[Intercept]", "sd_hospital[Intercept]"]
    assert "u_hospital[A, Intercept]" in params and "sigma" not in params
    assert (surgical.description.family, surgical.description.link) == ("binomial", "logit")
    assert "binomial" in repr(surgical)
    assert surgical.run_info["forms"] == {"hospital": surgical.parametrization}
    assert "hospital:" in surgical.reason and "information" in surgical.reason


def test_rate_table_is_a_league_table(surgical):
    table = surgical.rates(higher_is_better=False)
    assert list(table.index) == list("ABCDEFGHIJKL")
    assert table["raw"].tolist() == pytest.approx(
        hbm.datasets.load("surgical")["deaths"] / hbm.datasets.load("surgical")["operations"]
    )
    assert table["p_best"].sum() == pytest.approx(1.0)
    assert table["p_top_quarter"].sum() == pytest.approx(3.0)  # ceil(12 / 4) ranks
    assert np.all((table["eti94_lb"] <= table["mean"]) & (table["mean"] <= table["eti94_ub"]))
    assert np.all((table["rank_lb"] <= table["rank"]) & (table["rank"] <= table["rank_ub"]))
    # partial pooling: every posterior rate lies between its raw rate and the population rate
    between = (table["mean"] - table["raw"]) * (table["mean"] - table["population"]) <= 1e-12
    assert between.all()
    assert surgical.shrinkage(higher_is_better=False).equals(table)


def test_funnel_and_checks(surgical):
    funnel = surgical.funnel()
    assert not funnel.ratio and funnel.kind == "binomial"
    assert funnel.target == pytest.approx(208 / 2814)
    assert set(funnel.table["outside_95"]) <= {-1, 0, 1}
    for plot in (
        surgical.plot_institutional_funnel,
        surgical.plot_league,
        surgical.plot_shrinkage,
        surgical.plot_ppc,
        surgical.plot_calibration,
    ):
        assert plot().axes
    with pytest.raises(ValueError, match="rootogram shows how often each count"):
        surgical.plot_rootogram()


def test_counts_fit_rootogram_and_compare(counts):
    poisson, negbinomial = counts["poisson"], counts["negbinomial"]
    assert "alpha" in negbinomial.summary()["param"].tolist()
    assert negbinomial.plot_rootogram().axes and poisson.funnel().ratio
    compared = hbm.compare({"poisson": poisson, "negbinomial": negbinomial})
    assert set(compared.table.index) == {"poisson", "negbinomial"}
    rows = poisson.loo("rows")
    assert rows.n_units == 180 and "each row left out" in rows.method
    groups = poisson.loo("groups")
    assert groups.n_units == 12 and "conditional on the drawn effects" in groups.method


def test_compare_refuses_different_exposures(counts):
    table = _counts()
    table["exposure"] *= 2
    other = hbm.fit(
        table,
        "deaths ~ x + offset(np.log(exposure)) + (1 | region)",
        family="poisson",
        random_seed=3,
        **FAST,
    )
    with pytest.raises(ValueError, match="different trials or exposures"):
        hbm.compare({"a": counts["poisson"], "b": other})


def test_predictions_for_known_and_new_groups(surgical):
    new = pd.DataFrame({"hospital": ["A", "new"], "operations": [100, 100]})
    tree = surgical.predict(new, random_seed=4)["predictions"]
    assert tree["new_hospital"].values.tolist() == [False, True]
    expected = tree["expected"].values
    assert np.all((expected > 0) & (expected < 1))
    assert np.all((tree["y"].values >= 0) & (tree["y"].values <= 100))
    # a known group's predicted probability follows its posterior rate
    rate = surgical.rates().loc["A", "mean"]
    assert expected[..., 0].mean() == pytest.approx(rate, rel=1e-9)
    again = surgical.predict(new, random_seed=4)["predictions"]
    assert np.array_equal(again["y"].values, tree["y"].values)


def test_save_and_load(surgical, tmp_path):
    path = surgical.save(tmp_path / "fit.nc")
    back = hbm.load(path)
    assert back.description == surgical.description
    assert back.data.outcome.y.tolist() == surgical.data.outcome.y.tolist()
    pd.testing.assert_frame_equal(back.rates(), surgical.rates())
    assert back.loo("groups").elpd == pytest.approx(surgical.loo("groups").elpd)


def test_separation_warns_and_stays_finite():
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(10), 8)
    treated = np.tile([0, 1], 40)
    y = np.where(treated == 1, 0, rng.binomial(1, 0.4, g.size))
    table = pd.DataFrame({"g": [f"G{j}" for j in g], "treated": treated, "y": y})
    fit = hbm.fit(table, "y ~ treated + (1 | g)", family="binomial", random_seed=1, **FAST)
    advice = " ".join(fit.diagnose().advice)
    assert "every row with treated = 1 has no successes" in advice
    assert fit.diagnose().verdict in ("warn", "fail")
    assert np.isfinite(fit.summary().set_index("param").loc["beta[treated]", "mean"])


def test_binary_rows_and_sparse_groups():
    rng = np.random.default_rng(6)
    sizes = rng.integers(1, 4, 60)
    g = np.repeat(np.arange(60), sizes)
    y = rng.binomial(1, special.expit(-2.0 + rng.normal(0, 0.7, 60)[g]))
    table = pd.DataFrame({"school": [f"S{j}" for j in g], "passed": y})
    fit = hbm.fit(table, "passed ~ 1 + (1 | school)", family="binomial", random_seed=2, **FAST)
    assert fit.parametrization == "noncentered"
    assert fit.data.outcome.form == "cells" and fit.data.outcome.n_units == 60


def test_cli_end_to_end(tmp_path, capsys):
    data = tmp_path / "surgical.csv"
    hbm.datasets.load("surgical").to_csv(data, index=False)
    out = tmp_path / "out"
    code = main(
        [
            "fit", str(data), "--formula", "p(deaths, operations) ~ 1 + (1 | hospital)",
            "--family", "binomial", "--draws", "200", "--tune", "300", "--chains", "2",
            "--seed", "1", "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "family binomial, link logit" in printed and "priors (link scale)" in printed
    names = {p.name for p in out.iterdir()}
    assert {
        "summary.csv",
        "groups.csv",
        "rates.csv",
        "funnel.png",
        "report.html",
        "fit.nc",
    } <= names
    diagnostics = json.loads((out / "diagnostics.json").read_text())
    assert diagnostics["divergences"] == 0
    html = (out / "report.html").read_text()
    assert "Funnel plot" in html and "League table" in html and "binomial" in html
    rates = pd.read_csv(out / "rates.csv")
    assert list(rates["hospital"]) == list("ABCDEFGHIJKL")
    new = tmp_path / "new.csv"
    pd.DataFrame({"hospital": ["B", "Z"], "operations": [50, 50]}).to_csv(new, index=False)
    assert main(["predict", str(out / "fit.nc"), "--data", str(new), "--seed", "1"]) == 0
    assert "expected" in capsys.readouterr().out


def test_auto_refits_once_with_safer_settings():
    """A first run that is too short and too bold (tune 60, target_accept 0.6) is judged and
    sampled once more with safer settings; the record keeps both runs and why."""
    rng = np.random.default_rng(7)
    sizes = rng.integers(1, 4, 40)
    g = np.repeat(np.arange(40), sizes)
    y = rng.binomial(1, special.expit(-1.5 + rng.normal(0, 1.0, 40)[g]))
    table = pd.DataFrame({"g": [f"G{j}" for j in g], "y": y})
    fit = hbm.fit(table, "y ~ 1 + (1 | g)", family="binomial", draws=100, tune=60, chains=2,
                  target_accept=0.6, random_seed=4, progressbar=False)  # fmt: skip
    first, second = fit.diagnose().attempts
    assert first["refit_because"] and second["refit_because"] is None
    a, b = first["settings"], second["settings"]
    assert b["tune"] > a["tune"] and (b["draws"] > a["draws"] or b["target_accept"] > 0.6)
    assert json.loads(fit.idata.attrs["hbm_run"])["attempts"] == 2
