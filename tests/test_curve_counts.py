"""Count outcomes for curves (Poisson and negative binomial, log link on the curve): the model's
log density and the stored log likelihood against scipy, the bundled epidemic set end to end on
the command line, LOO / compare of curve fits, bad input, and (slow) recovery of a simulated
field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import hbm
from hbm.cli import main
from hbm.data.curve_data import curve_data
from hbm.model.curve_build import COUNT_LIKELIHOOD, build_curve
from hbm.model.curve_priors import curve_default_priors
from hbm.model.curve_terms import CurveSpec

ROOT = Path(__file__).resolve().parents[1]
EPIDEMIC = ("--curve", "logistic", "--group", "country", "--time", "day", "--value", "cases")
TINY = pd.DataFrame(
    {
        "g": ["a"] * 4 + ["b"] * 3,
        "t": [0, 10, 20, 30, 0, 10, 20],
        "y": [3, 40, 180, 260, 1, 15, 90],
    }
)


def _scipy_counts(family, y, mu, alpha=None):
    if family == "poisson":
        return stats.poisson(mu).logpmf(y)
    return stats.nbinom(alpha, alpha / (alpha + mu)).logpmf(y)


@pytest.mark.parametrize("family", ["poisson", "negbinomial"])
def test_count_curve_potential_matches_scipy(family):
    """The model's likelihood term at a point is scipy's log pmf summed over the rows, less the
    ``-log y!`` no parameter touches (closed form: exact to 1e-9)."""
    data = curve_data(TINY, group="g", time="t", value="y")
    spec = CurveSpec("logistic", ("asym", "xmid"), {}, family)
    priors = curve_default_priors(data, spec.shape, spec.free, spec.varying, family)
    assert ("alpha" in priors) == (family == "negbinomial") and "sigma" not in priors
    model = build_curve(data, spec, priors, "noncentered")
    potential = next(p for p in model.potentials if p.name == COUNT_LIKELIHOOD)
    outputs = [potential, model["beta"], model["u_g"]]
    if family == "negbinomial":
        outputs.append(model["alpha"])
    point = model.initial_point()
    rng = np.random.default_rng(0)
    point = {k: v + 0.3 * rng.standard_normal(np.shape(v)) for k, v in point.items()}
    outputs = model.replace_rvs_by_values(outputs)
    function = model.compile_fn(outputs, inputs=model.value_vars, point_fn=False)
    values = function(*[point[v.name] for v in model.value_vars])
    value, beta, u = values[:3]
    alpha = float(values[3]) if family == "negbinomial" else None
    asym = np.exp(beta[0] + u[data.codes, 0])  # pooled on the log scale for counts
    xmid = beta[1] + u[data.codes, 1]
    mu = asym / (1 + np.exp((xmid - data.t) / np.exp(beta[2])))
    expected = _scipy_counts(family, data.y, mu, alpha).sum() + special.gammaln(data.y + 1).sum()
    assert np.isclose(float(value), expected, rtol=1e-9)


def test_log_curves_keep_their_digits_where_the_curve_underflows():
    p = {"asym": 50.0, "xmid": 0.0, "scal": 1.0}
    from hbm.model.curves import CURVES

    t = np.array([-900.0, -5.0, 0.0, 30.0])
    log = CURVES["logistic"].log_evaluate(t, p)
    assert np.isfinite(log).all() and np.isclose(log[0], np.log(50.0) - 900.0)
    for name, params in [
        ("logistic", p),
        ("gompertz", p),
        ("exponential", {"qi": 80.0, "di": 0.05}),
        ("arps", {"qi": 80.0, "di": 0.05, "b": 0.7}),
        ("harmonic", {"qi": 80.0, "di": 0.05}),
        ("linear", {"intercept": 5.0, "slope": 0.5}),
    ]:
        t = np.array([0.0, 1.0, 3.0, 10.0])
        assert np.allclose(
            CURVES[name].log_evaluate(t, params), np.log(CURVES[name].evaluate(t, params))
        ), name


@pytest.fixture(scope="module")
def epidemic_fits(tmp_path_factory):
    """The bundled epidemic set fitted on the command line with small draws: negative binomial
    and normal (the same data)."""
    folder = tmp_path_factory.mktemp("epidemics")
    small = ["--draws", "100", "--tune", "200", "--chains", "2", "--seed", "5", "--quiet"]
    for family in ("negbinomial", "normal"):
        code = main(
            ["curve", str(ROOT / "data" / "epidemics.csv"), *EPIDEMIC,
             "--varying", "asym,xmid", "--family", family, *small,
             "--out", str(folder / family)]
        )  # fmt: skip
        assert code == 0
    return folder


def test_cli_epidemic_negbinomial_end_to_end(epidemic_fits, capsys):
    out = epidemic_fits / "negbinomial"
    summary = pd.read_csv(out / "summary.csv")
    names = summary["param"].tolist()
    # counts: the expected count must be positive, so asym is pooled on the log scale
    assert names[:3] == ["beta[log_asym]", "beta[xmid]", "beta[log_scal]"]
    expected = {"sd_country[log_asym]", "sd_country[xmid]", "alpha", "u_country[C01, log_asym]"}
    assert expected <= set(names)
    assert "sigma" not in names
    diagnostics = json.loads((out / "diagnostics.json").read_text())
    assert diagnostics["family"] == "negbinomial" and diagnostics["link"] == "log"
    report = (out / "report.md").read_text()
    assert "Family negbinomial, link log" in report
    fit = hbm.load(out / "fit.nc")
    assert fit.description.family == "negbinomial" and fit.description.link == "log"
    assert json.loads(fit.idata.attrs["hbm_run"])["link"] == "log"
    # the stored rows' log likelihood is scipy's negative binomial at each draw's curve
    ll = fit.idata["log_likelihood"]["y"].values
    post = fit.idata["posterior"]
    data = fit.data
    for chain, draw in [(0, 0), (1, 77)]:
        beta = post["beta"].values[chain, draw]
        u = post["u_country"].values[chain, draw]
        alpha = float(post["alpha"].values[chain, draw])
        asym, xmid = np.exp(beta[0] + u[data.codes, 0]), beta[1] + u[data.codes, 1]
        mu = asym / (1 + np.exp((xmid - data.t) / np.exp(beta[2])))
        expected = _scipy_counts("negbinomial", data.y, mu, alpha)
        np.testing.assert_allclose(ll[chain, draw], expected, rtol=1e-9)
    groups = fit.idata["log_likelihood"]["y_group"].values
    np.testing.assert_allclose(groups[0, 0], np.bincount(data.codes, weights=ll[0, 0]), rtol=1e-12)


def test_cli_prints_family_link_and_parametrization(tmp_path, capsys):
    path = tmp_path / "tiny.csv"
    TINY.to_csv(path, index=False)
    code = main(
        ["curve", str(path), "--curve", "logistic", "--group", "g", "--time", "t", "--value",
         "y", "--varying", "asym", "--family", "poisson", "--draws", "40", "--tune", "60",
         "--chains", "1", "--seed", "1", "--out", str(tmp_path / "out")]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    assert "hbm: family poisson, link log: logistic curve = the expected count mu" in printed
    assert "hbm: parametrization " in printed
    assert "alpha" not in pd.read_csv(tmp_path / "out" / "summary.csv")["param"].tolist()


def test_compare_normal_and_negbinomial_on_the_epidemic_set(epidemic_fits, capsys):
    folder = epidemic_fits
    assert main(["compare", str(folder / "negbinomial"), str(folder / "normal")]) == 0
    printed = capsys.readouterr().out
    assert "rows" in printed
    fits = {f: hbm.load(folder / f / "fit.nc") for f in ("negbinomial", "normal")}
    table = hbm.compare(fits).table
    # the counts' spread grows with the count (negative binomial, alpha 60): normal is worse
    assert table.index[0] == "negbinomial"
    groups = fits["negbinomial"].loo("groups")
    assert "no exact marginal" in groups.method and "conditional" in groups.method


def test_compare_of_curve_fits_refuses_different_data(epidemic_fits):
    fit = hbm.load(epidemic_fits / "normal" / "fit.nc")
    table = hbm.datasets.load("epidemics")
    table.loc[3, "cases"] += 1
    other = hbm.fit_curve(
        table, curve="logistic", group="country", time="day", value="cases",
        varying=["asym"], draws=30, tune=50, chains=1, random_seed=1, progressbar=False,
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"^Cannot compare: .* same groups and rows but differ"):
        hbm.compare({"a": fit, "b": other})


def test_orange_logistic_against_gompertz_loo_by_rows_and_groups():
    table = hbm.datasets.load("orange")
    options = dict(
        group="Tree", time="age", value="circumference", varying=["asym"], draws=150,
        tune=250, chains=2, random_seed=4, progressbar=False,
    )  # fmt: skip
    fits = {c: hbm.fit_curve(table, curve=c, **options) for c in ("logistic", "gompertz")}
    rows = fits["logistic"].loo()
    assert rows.unit == "rows" and rows.n_units == 35
    # each row's log likelihood is the normal density at the draw's curve (closed form)
    ll = fits["logistic"].idata["log_likelihood"]["y"].values[0, 3]
    post = fits["logistic"].idata["posterior"]
    data = fits["logistic"].data
    beta, u = post["beta"].values[0, 3], post["u_Tree"].values[0, 3, :, 0]
    mu = (beta[0] + u[data.codes]) / (1 + np.exp((beta[1] - data.t) / np.exp(beta[2])))
    sigma = float(post["sigma"].values[0, 3])
    np.testing.assert_allclose(ll, stats.norm(mu, sigma).logpdf(data.y), rtol=1e-9)
    comparison = hbm.compare(fits)
    assert set(comparison.table.index) == {"logistic", "gompertz"}
    by_groups = hbm.compare(fits, unit="groups")
    assert "no exact marginal" in str(by_groups)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            [3, 40, 180.5, 260, 1, 15, 90],
            "The counts 'y' must be whole numbers >= 0; line 4 holds 180.5.",
        ),
        (
            [3, 40, 180, -2, 1, 15, 90],
            "The counts 'y' must be whole numbers >= 0; line 5 holds -2.",
        ),
    ],
)
def test_bad_counts_are_one_line_and_write_nothing(tmp_path, capsys, value, message):
    path = tmp_path / "bad.csv"
    TINY.assign(y=value).to_csv(path, index=False)
    code = main(
        ["curve", str(path), "--curve", "logistic", "--group", "g", "--time", "t", "--value",
         "y", "--varying", "asym", "--family", "negbinomial", "--quiet",
         "--out", str(tmp_path / "out")]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("hbm: error: ")
    assert message in err, err
    assert not (tmp_path / "out").exists()


def test_unknown_family_lists_the_curve_families():
    with pytest.raises(ValueError, match=r"'normal', 'poisson', 'negbinomial'; got 'binomial'"):
        hbm.fit_curve(
            TINY, curve="logistic", group="g", time="t", value="y", varying=["asym"],
            family="binomial",
        )  # fmt: skip


@pytest.mark.slow
def test_recovery_of_a_simulated_negative_binomial_field():
    """25 groups of logistic counts, negative binomial (alpha 20): the population values and
    alpha within 3 posterior sds (plus 3 MCSE) of the truth, 0 divergences."""
    rng = np.random.default_rng(2026)
    truth = {"asym": 800.0, "xmid": 40.0, "scal": 8.0, "sd_log_asym": 0.2, "alpha": 20.0}
    rows = []
    for j in range(25):
        asym = truth["asym"] * np.exp(truth["sd_log_asym"] * rng.standard_normal())
        t = np.arange(0, 7 * rng.integers(6, 14), 7, dtype=float)
        mu = asym / (1 + np.exp((truth["xmid"] - t) / truth["scal"]))
        y = rng.negative_binomial(truth["alpha"], truth["alpha"] / (truth["alpha"] + mu))
        rows.append(pd.DataFrame({"g": f"g{j}", "t": t, "y": y}))
    fit = hbm.fit_curve(
        pd.concat(rows), curve="logistic", group="g", time="t", value="y", varying=["asym"],
        family="negbinomial", draws=500, tune=700, chains=2, random_seed=11, progressbar=False,
    )  # fmt: skip
    assert fit.diagnosis.divergences == 0
    summary = fit.summary().set_index("param")
    for name, value in [
        ("beta[log_asym]", np.log(truth["asym"])),
        ("beta[xmid]", truth["xmid"]),
        ("beta[log_scal]", np.log(truth["scal"])),
        ("alpha", truth["alpha"]),
        ("sd_g[log_asym]", truth["sd_log_asym"]),
    ]:
        row = summary.loc[name]
        tolerance = 3 * row["sd"] + 3 * row["mcse_mean"]
        assert abs(row["mean"] - value) < tolerance, (name, row["mean"], value, tolerance)


@pytest.mark.slow
def test_recovery_of_a_simulated_poisson_field():
    """20 groups of logistic Poisson counts (6 to 13 weekly points), asym and xmid varying
    (independent: true correlation 0), fitted with the defaults (priors, ``auto``) and 2 x 400
    draws: every population parameter within 3 posterior sds plus 3 MCSE of the truth (the sd:
    a calibrated posterior's mean is that close with probability ~0.997 per parameter; the MCSE:
    the draws' own error of the mean), 0 divergences."""
    rng = np.random.default_rng(2027)
    truth = {"asym": 600.0, "xmid": 45.0, "scal": 9.0, "sd_log_asym": 0.3, "sd_xmid": 8.0}
    rows = []
    for j in range(20):
        asym = truth["asym"] * np.exp(truth["sd_log_asym"] * rng.standard_normal())
        xmid = truth["xmid"] + truth["sd_xmid"] * rng.standard_normal()
        t = np.arange(0, 7 * rng.integers(6, 14), 7, dtype=float)
        mu = asym / (1 + np.exp((xmid - t) / truth["scal"]))
        rows.append(pd.DataFrame({"g": f"g{j}", "t": t, "y": rng.poisson(mu)}))
    fit = hbm.fit_curve(
        pd.concat(rows), curve="logistic", group="g", time="t", value="y",
        varying=["asym", "xmid"], family="poisson", draws=400, tune=500, chains=2,
        random_seed=12, progressbar=False,
    )  # fmt: skip
    assert fit.diagnosis.divergences == 0
    summary = fit.summary().set_index("param")
    expected = {
        "beta[log_asym]": np.log(truth["asym"]),
        "beta[xmid]": truth["xmid"],
        "beta[log_scal]": np.log(truth["scal"]),
        "sd_g[log_asym]": truth["sd_log_asym"],
        "sd_g[xmid]": truth["sd_xmid"],
        "corr_g[log_asym, xmid]": 0.0,
    }
    population = [p for p in summary.index if not p.startswith("u_g")]
    assert sorted(population) == sorted(expected)  # every population parameter is checked
    for name, value in expected.items():
        row = summary.loc[name]
        tolerance = 3 * row["sd"] + 3 * row["mcse_mean"]
        assert abs(row["mean"] - value) < tolerance, (name, row["mean"], value, tolerance)


def test_epidemic_generator_writes_counts():
    table = hbm.datasets.load("epidemics")
    assert table["cases"].dtype.kind == "i" and (table["cases"] >= 0).all()
    assert re.search("negative binomial", (ROOT / "data" / "make_epidemics.py").read_text())
