"""Centered curve groups sampled in their own frames (``hbm.model.curve_frames``): the map leaves
the posterior as it was (the log density moves by a constant only), each frame's centre is the
group's own fit, its shear the slope of that fit in the shared terms, and a fit records it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hbm.data.curve_data import curve_data
from hbm.model.curve_build import build_curve, centered_frames, pooled_start
from hbm.model.curve_frames import group_frames, row_precision
from hbm.model.curve_priors import curve_default_priors
from hbm.model.curve_terms import CurveSpec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "data"))
from make_wells import make_wells  # noqa: E402

#: A between-group prior scale so wide that a frame's centre is the group's least-squares fit
#: (its pull is below 1e-10 of the rows' information).
WIDE = 1e6


@pytest.fixture(scope="module")
def wells():
    table, _ = make_wells(6, seed=11, history=(20, 60))
    data = curve_data(table, group="well", time="month", value="rate")
    spec = CurveSpec("arps", ("qi", "di"))
    priors = curve_default_priors(data, spec.shape, spec.free, spec.varying)
    return data, spec, priors, pooled_start(data, spec, priors)


def test_frames_change_the_log_density_by_a_constant_only(wells):
    """At random points of the frame model, the plain centered model's log density at the mapped
    group parameters differs from the frame model's by the same number (the map's constant
    log Jacobian): the same posterior, to 1e-8."""
    data, spec, priors, start = wells
    everyone = np.ones(data.n_groups, bool)
    frames = centered_frames(data, spec, priors, start, everyone)
    assert frames is not None and frames.fitted.all() and frames.shared == ("logit_b",)
    plain = build_curve(data, spec, priors, "centered", start, everyone)
    framed = build_curve(data, spec, priors, "centered", start, everyone, frames)
    logp_plain, logp_framed = plain.compile_logp(), framed.compile_logp()
    rng = np.random.default_rng(0)
    base = framed.initial_point()
    gaps = []
    for _ in range(5):
        point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in base.items()}
        zeta, beta = point["u_well_c"], point["beta"]
        moved = beta[spec.free_terms.index("logit_b")] - frames.shared_start[0]
        theta = frames.centre + np.einsum("jab,jb->ja", frames.scale, zeta)
        theta = theta + frames.shear[:, :, 0] * moved
        gaps.append(logp_framed(point) - logp_plain({**point, "u_well_c": theta}))
    assert np.ptp(gaps) < 1e-8, gaps


B0 = 0.8  # Arps's b of the exact rows below, and the frames' shared start
LOGIT_B0 = float(np.log(B0 / (2 - B0)))


@pytest.fixture(scope="module")
def exact_wells():
    """Six wells on exact Arps curves (b = 0.8, no noise), 20 to 45 months each."""
    qi = np.array([80.0, 150.0, 300.0, 500.0, 900.0, 1500.0])
    di = np.array([0.02, 0.05, 0.08, 0.12, 0.2, 0.3])
    months = [20, 25, 30, 35, 40, 45]
    parts = []
    for j, (q, d, m) in enumerate(zip(qi, di, months, strict=True)):
        t = np.arange(m, dtype=float)
        parts.append(
            pd.DataFrame({"well": f"W{j}", "month": t, "rate": q / (1 + B0 * d * t) ** (1 / B0)})
        )
    data = curve_data(pd.concat(parts), group="well", time="month", value="rate")
    return data, np.log(np.c_[qi, di])


def _own_fit(data, spec, j, b_term):
    """Well ``j``'s least-squares (log qi, log di) with logit_b at ``b_term`` (scipy)."""
    from scipy.optimize import least_squares

    rows = data.codes == j
    t, y = data.t[rows], data.y[rows]

    def residuals(x):
        natural = {"qi": np.exp(x[0]), "di": np.exp(x[1]), "b": 2 / (1 + np.exp(-b_term))}
        return spec.shape.evaluate(t, natural) - y

    return least_squares(residuals, [5.0, -2.5], xtol=1e-15, ftol=1e-15, gtol=1e-15).x


def test_centre_is_the_groups_fit_and_shear_its_slope_in_the_shared_term(exact_wells):
    """On exact curves at the shared start's b, each centre is the well's true (log qi, log di)
    (to 1e-6); the residuals are zero there, so the Gauss–Newton information is the exact Hessian
    and the shear is the slope of the well's least-squares fit in logit_b (scipy's fits at
    logit_b +- 1e-4, central difference: to 1e-3 relative); the scale is lower triangular with a
    positive diagonal."""
    data, truth = exact_wells
    spec = CurveSpec("arps", ("qi", "di"))
    start = {"log_qi": 5.0, "log_di": -2.5, "logit_b": LOGIT_B0}
    everyone = np.ones(data.n_groups, bool)
    frames = group_frames(data, spec, start, {"log_qi": WIDE, "log_di": WIDE}, everyone)
    assert frames.fitted.all()
    np.testing.assert_allclose(frames.centre, truth, atol=1e-6)
    h = 1e-4
    for j in range(data.n_groups):
        up = _own_fit(data, spec, j, LOGIT_B0 + h)
        down = _own_fit(data, spec, j, LOGIT_B0 - h)
        np.testing.assert_allclose(frames.shear[j, :, 0], (up - down) / (2 * h), rtol=1e-3)
    assert np.all(np.diagonal(frames.scale, axis1=1, axis2=2) > 0)
    assert np.allclose(np.triu(frames.scale, 1), 0.0)


def test_count_frames_solve_the_poisson_score_equations():
    """With a count family the rows are reweighted at the group's fit (IRLS), so the centre of a
    wide-prior frame solves the Poisson score equations: sum over rows of (y - mu) d log mu /
    d theta = 0, to 1e-6 of the counts' total."""
    rng = np.random.default_rng(4)
    t = np.tile(np.arange(25.0), 3)
    qi = np.repeat([40.0, 200.0, 900.0], 25)
    di = np.repeat([0.05, 0.1, 0.15], 25)
    y = rng.poisson(qi * np.exp(-di * t)).astype(float)
    table = pd.DataFrame({"g": np.repeat(["a", "b", "c"], 25), "t": t, "y": y})
    data = curve_data(table, group="g", time="t", value="y")
    spec = CurveSpec("exponential", ("qi", "di"), family="poisson")
    start = {"log_qi": np.log(100.0), "log_di": np.log(0.1)}
    frames = group_frames(data, spec, start, {"log_qi": WIDE, "log_di": WIDE}, np.ones(3, bool))
    for j in range(3):
        rows = data.codes == j
        log_qi, log_di = frames.centre[j]
        mu = np.exp(log_qi - np.exp(log_di) * data.t[rows])
        residual = data.y[rows] - mu
        score = [residual.sum(), (residual * -np.exp(log_di) * data.t[rows]).sum()]
        assert np.all(np.abs(score) < 1e-6 * data.y[rows].sum()), (j, score)


def test_row_precision_of_the_families():
    """Normal: one precision from successive differences (sd 2 here, to 10%); Poisson: 1 / mu."""
    rng = np.random.default_rng(1)
    y = rng.normal(0.0, 2.0, 4000)
    codes = np.repeat(np.arange(40), 100)
    normal = row_precision("normal", y, codes, y)
    assert np.ptp(normal) == 0 and abs(normal[0] ** -0.5 - 2.0) < 0.2
    mu = np.array([1.0, 4.0, 10.0])
    np.testing.assert_allclose(row_precision("poisson", mu, np.zeros(3, int), mu), 1 / mu)


def test_a_fit_records_its_frames(wells):
    """``hbm_run`` says how many centered groups were sampled in their frames, how many from a
    finite fit of its rows, and which shared terms were taken out."""
    import hbm

    table, _ = make_wells(6, seed=11, history=(20, 60))
    fit = hbm.fit_curve(
        table,
        curve="arps",
        group="well",
        time="month",
        value="rate",
        varying=["qi", "di"],
        parametrization="centered",
        draws=50,
        tune=50,
        chains=1,
        random_seed=2,
        progressbar=False,
    )
    assert fit.run_info["group_frames"] == {"groups": 6, "fitted": 6, "shared": ["logit_b"]}
