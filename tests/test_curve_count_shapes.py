"""Which curves can be an expected count: a count family (log link) needs a curve that stays
positive. The line cannot (refused, one line, CLI and API); the asymptotic curve can once its
``asym`` and ``r0`` are pooled on the log scale, for times >= 0 (earlier times refused); the
model's and the stored log likelihood against scipy; a fit whose counts fall towards zero."""

from __future__ import annotations

import json

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
from hbm.model.curves import CURVES, count_curves


def _falling_counts(seed: int = 3, groups: int = 6) -> pd.DataFrame:
    """Counts that fall from ~40 towards ~1 per group: a normal-scale asym would go below zero."""
    rng = np.random.default_rng(seed)
    rows = []
    for j in range(groups):
        t = np.arange(0.0, 16.0)
        r0 = 40.0 * np.exp(0.2 * rng.standard_normal())
        mu = 1.0 + (r0 - 1.0) * np.exp(-0.15 * t)
        rows.append(pd.DataFrame({"g": f"g{j}", "t": t, "y": rng.poisson(mu)}))
    return pd.concat(rows, ignore_index=True)


LINE_MESSAGE = (
    "The 'linear' curve cannot be the expected count of the '{family}' family: intercept + "
    "slope * t can reach zero or below, which an expected count cannot; use a curve positive by "
    "construction ('exponential', 'arps', 'harmonic', 'logistic', 'gompertz', 'asymptotic'), or "
    "the 'normal' family."
)


def test_which_curves_can_be_counts_and_on_which_scales():
    assert count_curves() == ("exponential", "arps", "harmonic", "logistic", "gompertz",
                              "asymptotic")  # fmt: skip
    assert CurveSpec("asymptotic", ("asym",), {}, "poisson").free_terms == (
        "log_asym",
        "log_r0",
        "lrc",
    )
    # the normal family keeps the natural scales (fits of normal data are unchanged)
    assert CurveSpec("asymptotic", ("asym",)).free_terms == ("asym", "r0", "lrc")
    assert CurveSpec("linear", ("slope",)).free_terms == ("intercept", "slope")
    with pytest.raises(ValueError, match="'linear' curve cannot be an expected count"):
        CURVES["linear"].for_link("log")


@pytest.mark.parametrize("family", ["poisson", "negbinomial"])
def test_api_refuses_a_line_for_counts(family):
    with pytest.raises(ValueError) as error:
        hbm.fit_curve(
            _falling_counts(), curve="linear", group="g", time="t", value="y",
            varying=["intercept"], family=family,
        )  # fmt: skip
    assert str(error.value) == LINE_MESSAGE.format(family=family)


@pytest.mark.parametrize(
    ("table", "options", "message"),
    [
        (
            _falling_counts(),
            ("--curve", "linear", "--varying", "intercept,slope", "--family", "poisson"),
            LINE_MESSAGE.format(family="poisson"),
        ),
        (
            _falling_counts().assign(t=lambda d: d["t"] - 2.0),
            ("--curve", "asymptotic", "--varying", "r0", "--family", "negbinomial"),
            "The time column 't' must be >= 0 for the 'asymptotic' curve with the 'negbinomial' "
            "family (its expected count asym + (r0 - asym) * exp(-exp(lrc) * t) stays positive "
            "from t = 0 on); line 2 holds -2 (12 such time(s) in all).",
        ),
        (
            _falling_counts(),
            (
                "--curve",
                "asymptotic",
                "--varying",
                "r0",
                "--fixed",
                "asym=-1",
                "--family",
                "poisson",
            ),
            "The curve parameter 'asym' must be a positive number; got -1.0.",
        ),
    ],
)
def test_cli_refuses_counts_a_curve_cannot_hold(tmp_path, capsys, table, options, message):
    path = tmp_path / "counts.csv"
    table.to_csv(path, index=False)
    code = main(
        ["curve", str(path), "--group", "g", "--time", "t", "--value", "y", *options,
         "--quiet", "--out", str(tmp_path / "out")]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("hbm: error: ")
    assert err == f"hbm: error: {message}\n"
    assert not (tmp_path / "out").exists()


def test_log_asymptotic_keeps_its_digits():
    """``log f`` of the asymptotic curve is the log of its closed form for t >= 0 (1e-12), and
    stays exact at t = 0 when asym dwarfs r0, where ``asym + (r0 - asym)`` rounds to 0."""
    curve = CURVES["asymptotic"]
    t = np.array([0.0, 0.5, 3.0, 40.0])
    p = {"asym": 3.0, "r0": 50.0, "lrc": -2.0}
    expected = np.log(3.0 + 47.0 * np.exp(-np.exp(-2.0) * t))
    np.testing.assert_allclose(curve.log_evaluate(t, p), expected, rtol=1e-12)
    huge = {"asym": 1e20, "r0": 1.0, "lrc": -2.0}
    assert curve.log_evaluate(np.array([0.0]), huge)[0] == 0.0
    with np.errstate(divide="ignore"):
        assert np.log(curve.evaluate(np.array([0.0]), huge))[0] == -np.inf


@pytest.mark.parametrize("family", ["poisson", "negbinomial"])
def test_asymptotic_count_potential_matches_scipy(family):
    """The model's count likelihood at a random point is scipy's log pmf summed over the rows,
    less the ``-log y!`` no parameter touches (closed form: 1e-9)."""
    data = curve_data(_falling_counts(), group="g", time="t", value="y")
    spec = CurveSpec("asymptotic", ("asym", "r0"), {}, family)
    priors = curve_default_priors(data, spec.shape, spec.free, spec.varying, family)
    model = build_curve(data, spec, priors, "noncentered")
    potential = next(p for p in model.potentials if p.name == COUNT_LIKELIHOOD)
    outputs = [potential, model["beta"], model["u_g"]]
    if family == "negbinomial":
        outputs.append(model["alpha"])
    rng = np.random.default_rng(0)
    start = model.initial_point()
    point = {k: v + 0.3 * rng.standard_normal(np.shape(v)) for k, v in start.items()}
    function = model.compile_fn(
        model.replace_rvs_by_values(outputs), inputs=model.value_vars, point_fn=False
    )
    values = function(*[point[v.name] for v in model.value_vars])
    value, beta, u = values[:3]
    asym = np.exp(beta[0] + u[data.codes, 0])
    r0 = np.exp(beta[1] + u[data.codes, 1])
    mu = asym + (r0 - asym) * np.exp(-np.exp(beta[2]) * data.t)
    if family == "poisson":
        expected = stats.poisson(mu).logpmf(data.y).sum()
    else:
        alpha = float(values[3])
        expected = stats.nbinom(alpha, alpha / (alpha + mu)).logpmf(data.y).sum()
    assert np.isfinite(float(value))
    assert np.isclose(float(value), expected + special.gammaln(data.y + 1).sum(), rtol=1e-9)


def test_cli_fits_asymptotic_counts_falling_towards_zero(tmp_path, capsys):
    """Counts falling from ~40 to ~1: on the log scale the asymptote stays positive, so the fit
    has 0 divergences (the identity scale gave hundreds: a weakly pinned asym went negative), and
    the stored rows' log likelihood is scipy's Poisson at a draw's curves (1e-9)."""
    path = tmp_path / "counts.csv"
    _falling_counts().to_csv(path, index=False)
    code = main(
        ["curve", str(path), "--curve", "asymptotic", "--group", "g", "--time", "t", "--value",
         "y", "--varying", "asym,r0", "--family", "poisson", "--draws", "150", "--tune", "250",
         "--chains", "2", "--seed", "3", "--quiet", "--out", str(tmp_path / "out")]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    names = pd.read_csv(tmp_path / "out" / "summary.csv")["param"].tolist()
    assert names[:3] == ["beta[log_asym]", "beta[log_r0]", "beta[lrc]"]
    assert {"sd_g[log_asym]", "sd_g[log_r0]", "u_g[g0, log_r0]"} <= set(names)
    diagnostics = json.loads((tmp_path / "out" / "diagnostics.json").read_text())
    assert diagnostics["link"] == "log" and diagnostics["divergences"] == 0, diagnostics
    fit = hbm.load(tmp_path / "out" / "fit.nc")
    post, data = fit.idata["posterior"], fit.data
    beta, u = post["beta"].values[1, 40], post["u_g"].values[1, 40]
    asym, r0 = np.exp(beta[0] + u[data.codes, 0]), np.exp(beta[1] + u[data.codes, 1])
    mu = asym + (r0 - asym) * np.exp(-np.exp(beta[2]) * data.t)
    np.testing.assert_allclose(
        fit.idata["log_likelihood"]["y"].values[1, 40],
        stats.poisson(mu).logpmf(data.y),
        rtol=1e-9,
    )
    population = pd.read_csv(tmp_path / "out" / "population.csv").set_index("parameter")
    assert population.loc["asym", "median"] > 0
