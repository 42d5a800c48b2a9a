"""The curve library against closed forms, its transforms, and the checks of a curve model's
options and rows (no sampling)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hbm.data.curve_data import curve_data
from hbm.model.curve_priors import curve_default_priors, resolve_curve_priors
from hbm.model.curve_terms import CurveSpec, curve_parameter_table
from hbm.model.curves import CURVES, get_curve

T = np.array([0.0, 0.5, 3.0, 17.0, 120.0])


def closed_form(name: str, t: float, p: dict[str, float]) -> float:
    """Each curve written out by hand, one time at a time, with math (not numpy)."""
    if name == "linear":
        return p["intercept"] + p["slope"] * t
    if name == "exponential":
        return p["qi"] * math.exp(-p["di"] * t)
    if name == "arps":
        return p["qi"] / (1 + p["b"] * p["di"] * t) ** (1 / p["b"])
    if name == "harmonic":
        return p["qi"] / (1 + p["di"] * t)
    if name == "logistic":
        return p["asym"] / (1 + math.exp((p["xmid"] - t) / p["scal"]))
    if name == "gompertz":
        return p["asym"] * math.exp(-math.exp(-(t - p["xmid"]) / p["scal"]))
    return p["asym"] + (p["r0"] - p["asym"]) * math.exp(-math.exp(p["lrc"]) * t)


PARAMS = {
    "linear": {"intercept": 3.0, "slope": -0.2},
    "exponential": {"qi": 800.0, "di": 0.07},
    "arps": {"qi": 800.0, "di": 0.1, "b": 0.7},
    "harmonic": {"qi": 800.0, "di": 0.1},
    "logistic": {"asym": 191.0, "xmid": 40.0, "scal": 12.0},
    "gompertz": {"asym": 191.0, "xmid": 40.0, "scal": 12.0},
    "asymptotic": {"asym": 10.0, "r0": -2.0, "lrc": -3.0},
}


@pytest.mark.parametrize("name", list(CURVES))
def test_curve_matches_its_closed_form_in_numpy_and_pytensor(name):
    import pytensor.tensor as pt

    curve = CURVES[name]
    assert set(curve.names) == set(PARAMS[name])
    expected = np.array([closed_form(name, float(t), PARAMS[name]) for t in T])
    np.testing.assert_allclose(curve.evaluate(T, PARAMS[name]), expected, rtol=1e-12)
    params = {k: pt.as_tensor(np.float64(v)) for k, v in PARAMS[name].items()}
    symbolic = curve.evaluate(pt.as_tensor(T), params, pt)
    np.testing.assert_allclose(symbolic.eval(), expected, rtol=1e-12)


def test_landmarks_of_the_curves():
    logistic, gompertz = CURVES["logistic"], CURVES["gompertz"]
    p = PARAMS["logistic"]
    assert logistic.evaluate(p["xmid"], p) == pytest.approx(p["asym"] / 2, rel=1e-14)
    assert gompertz.evaluate(p["xmid"], p) == pytest.approx(p["asym"] / math.e, rel=1e-14)
    a = PARAMS["asymptotic"]
    assert CURVES["asymptotic"].evaluate(0.0, a) == pytest.approx(a["r0"])
    assert CURVES["asymptotic"].evaluate(1e6, a) == pytest.approx(a["asym"])
    # Arps: b = 1 is the harmonic decline, b -> 0 the exponential one.
    arps, h = CURVES["arps"], PARAMS["harmonic"]
    np.testing.assert_allclose(arps.evaluate(T, {**h, "b": 1.0}), CURVES["harmonic"].evaluate(T, h))
    np.testing.assert_allclose(
        arps.evaluate(T, {**h, "b": 1e-9}), CURVES["exponential"].evaluate(T, h), rtol=1e-6
    )


def test_arps_cumulative_matches_its_closed_form():
    """The forecast's trapezoid total against Arps's cumulative production formula
    Np(t) = qi / ((1 - b) di) (1 - (1 + b di t)^((b - 1) / b)); tolerance: the trapezoid rule's
    error on 2,401 points (relative 1e-5)."""
    p = PARAMS["arps"]
    horizon = 360.0
    t = np.linspace(0, horizon, 2401)
    total = np.trapezoid(CURVES["arps"].evaluate(t, p), t)
    b, di, qi = p["b"], p["di"], p["qi"]
    exact = qi / ((1 - b) * di) * (1 - (1 + b * di * horizon) ** ((b - 1) / b))
    assert total == pytest.approx(exact, rel=1e-5)


def test_pooled_scales_and_transforms():
    arps = CURVES["arps"]
    assert arps.terms == ("log_qi", "log_di", "logit_b")
    for p, value in zip(arps.parameters, (800.0, 0.1, 1.7), strict=True):
        assert p.to_natural(p.to_pooled(value)) == pytest.approx(value, rel=1e-12)
    assert CURVES["logistic"].terms == ("asym", "xmid", "log_scal")
    with pytest.raises(ValueError, match=r"'b' must be a number in \(0, 2\]; got 2.5"):
        arps.parameter("b").check_natural(2.5)
    with pytest.raises(ValueError, match="'qi' must be a positive number"):
        arps.parameter("qi").check_natural(-1.0)


def test_unknown_curve_lists_them():
    with pytest.raises(
        ValueError, match="must be one of 'linear', 'exponential', 'arps'.*'spline'"
    ):
        get_curve("spline")


def test_curve_spec_checks_its_options():
    with pytest.raises(
        ValueError, match="has no parameter 'k'; its parameters are 'qi', 'di', 'b'"
    ):
        CurveSpec("arps", ("qi", "k"))
    with pytest.raises(ValueError, match=r"'b' must be a number in \(0, 2\]; got 0.0"):
        CurveSpec("arps", ("qi",), {"b": 0.0})
    with pytest.raises(ValueError, match="both vary by group and be fixed"):
        CurveSpec("arps", ("qi", "b"), {"b": 1.0})
    with pytest.raises(ValueError, match="'family' option of a curve model must be one of"):
        CurveSpec("arps", ("qi",), family="gaussian")
    spec = CurveSpec("arps", ("log_di", "qi"), {"b": 2.0})
    assert spec.varying == ("di", "qi") and spec.varying_terms == ("log_qi", "log_di")
    assert CurveSpec.from_dict(spec.to_dict()) == spec


def test_parameter_table_names_follow_the_design():
    spec = CurveSpec("logistic", ("asym",))
    table = curve_parameter_table(spec, "Tree", "noncentered")
    assert table.names() == ["beta", "sd_Tree", "sigma", "u_Tree", "u_Tree_z"]
    assert table["u_Tree"].dims == ("Tree", "Tree_term")
    assert "corr_Tree" in curve_parameter_table(
        CurveSpec("logistic", ("asym", "xmid")), "Tree", "centered"
    )


def rows() -> pd.DataFrame:
    return pd.DataFrame(
        {"well": ["a"] * 4 + ["b"], "month": [3, 0, 1, 2, 0], "rate": [50.0, 90, 75, 61, 120]}
    )


def test_curve_data_sorts_rows_and_names_bad_columns():
    data = curve_data(rows(), group="well", time="month", value="rate")
    assert data.t.tolist() == [0, 1, 2, 3, 0] and data.y.tolist() == [90, 75, 61, 50, 120]
    bad = rows().assign(month=["x", 0, 1, 2, 0])
    with pytest.raises(
        ValueError, match="The time column 'month' must hold numbers; row index 0 holds 'x'"
    ):
        curve_data(bad, group="well", time="month", value="rate")
    dates = rows().assign(month=pd.to_datetime(["2020-01-01"] * 5))
    with pytest.raises(ValueError, match="The time column 'month' holds dates or times"):
        curve_data(dates, group="well", time="month", value="rate")
    with pytest.raises(ValueError, match="The column 'rate' has a missing value"):
        curve_data(
            rows().assign(rate=[1, np.nan, 1, 1, 1]), group="well", time="month", value="rate"
        )


def test_default_priors_follow_the_data_scale_and_read_user_text():
    data = curve_data(rows(), group="well", time="month", value="rate")
    spec = CurveSpec("arps", ("qi", "di"))
    priors = curve_default_priors(data, spec.shape, spec.free, spec.varying)
    assert list(priors) == [
        "beta[log_qi]", "beta[log_di]", "beta[logit_b]",
        "sd_well[log_qi]", "sd_well[log_di]", "corr_well", "sigma",
    ]  # fmt: skip
    # log qi centred on the median first rate (105), log di on 1 / the median span (1.5 months)
    assert priors["beta[log_qi]"].params[0] == pytest.approx(math.log(105), abs=1e-3)
    assert priors["beta[log_di]"].params[0] == pytest.approx(math.log(1 / 1.5), abs=1e-3)
    resolved = resolve_curve_priors(priors, "well", {"sd_well": "halfnormal(0.5)"})
    assert resolved["sd_well[log_di]"].text() == "halfnormal(0.5)"
    with pytest.raises(ValueError, match="no parameter 'sd_Tree' to put a prior on"):
        resolve_curve_priors(priors, "well", {"sd_Tree": "halfnormal(1)"})


@pytest.mark.parametrize("parametrization", ["centered", "noncentered", "partial"])
def test_each_parametrization_builds_with_a_mixed_mask(parametrization):
    """``partial`` samples the marked groups centered and the others non-centered; the explicit
    forms ignore the mask. The model's log density is finite at its starting point."""
    from hbm.model.curve_build import build_curve, pooled_start

    data = curve_data(rows(), group="well", time="month", value="rate")
    spec = CurveSpec("arps", ("qi", "di"), {"b": 1.0})
    priors = curve_default_priors(data, spec.shape, spec.free, spec.varying)
    start = pooled_start(data, spec, priors)
    model = build_curve(data, spec, priors, parametrization, start, np.array([True, False]))
    names = {v.name for v in model.free_RVs}
    assert ("u_well_c" in names) == (parametrization != "noncentered")
    assert ("u_well_z" in names) == (parametrization != "centered")
    point = model.initial_point()
    assert np.isfinite(model.compile_logp()(point))
    assert model["u_well"].type.ndim == 2
