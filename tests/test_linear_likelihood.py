"""A formula model's log densities against dense multivariate normal computations (scipy).

For one grouping factor each group's rows are ``y_j ~ N(X_j beta, sigma^2 I + Z_j Sigma Z_j')``
with the effects integrated out: the numpy marginal (``marginal_group_log_likelihood``) and the
PyMC model's marginal term must equal scipy's multivariate normal of every group's rows, and the
form given the effects must equal the sum of scipy's normal log densities of the rows. Tolerance
1e-10 relative (float64 rounding of sums of a few hundred terms), also with an intercept of 1e6,
where the raw ``y'y`` form of the same formula is off by about 1e-3.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytensor
import pytest
from scipy import stats

from hbm.model.design import build_model_data
from hbm.model.families.normal_cells_conditional import (
    covariance_draws,
    group_statistics,
    marginal_group_log_likelihood,
)
from hbm.model.formula import parse_formula
from hbm.model.linear_build import build_linear
from hbm.model.linear_priors import resolve_linear_priors

FORMULA = "y ~ x1 + x2 + (1 + x1 | g)"
BETA = np.array([3.0, 1.5, -0.7])
SD, CORR, SIGMA = np.array([1.2, 0.6]), 0.35, 0.9


def table(intercept: float = 0.0, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 7, size=9)
    g = np.repeat([f"g{j}" for j in range(len(sizes))], sizes)
    x1, x2 = rng.normal(2, 1.5, g.size), rng.normal(0, 1, g.size)
    u = rng.normal(0, 1, (len(sizes), 2))[np.repeat(np.arange(len(sizes)), sizes)]
    y = intercept + BETA[0] + BETA[1] * x1 + BETA[2] * x2 + u[:, 0] + u[:, 1] * x1
    return pd.DataFrame({"y": y + rng.normal(0, SIGMA, g.size), "x1": x1, "x2": x2, "g": g})


def covariance() -> np.ndarray:
    corr = np.array([[1.0, CORR], [CORR, 1.0]])
    return SD[:, None] * corr * SD[None, :]


def dense(frame: pd.DataFrame, beta: np.ndarray) -> np.ndarray:
    """Each group's log density with its effects integrated out, dense.

    The residuals ``y - X beta`` are formed in extended precision (``beta`` may be given as long
    doubles), so values near 1e6 cost the reference no digits.
    """
    out = []
    for _, rows in frame.groupby("g", sort=False):
        x = np.column_stack([np.ones(len(rows)), rows.x1, rows.x2])
        z = x[:, :2]
        cov = SIGMA**2 * np.eye(len(rows)) + z @ covariance() @ z.T
        wide = rows.y.to_numpy().astype(np.longdouble) - x.astype(np.longdouble) @ beta
        out.append(stats.multivariate_normal.logpdf(wide.astype(float), np.zeros(len(rows)), cov))
    return np.array(out)


@pytest.mark.parametrize("intercept", [0.0, 1e6])
def test_numpy_marginal_equals_the_dense_multivariate_normal(intercept):
    frame = table(intercept)
    data = build_model_data(frame, parse_formula(FORMULA))
    beta = BETA + np.array([intercept, 0, 0])
    got = marginal_group_log_likelihood(data, beta[None], np.array([SIGMA]), covariance()[None])[0]
    np.testing.assert_allclose(got, dense(frame, beta), rtol=1e-10)
    if intercept:  # the raw form of the same quantity loses digits here (what the issue warns of)
        stats_ = group_statistics(data, data.factors[0])
        raw_yy = stats_["comoment"][:, -1, -1] + stats_["n"] * stats_["mean"][:, -1] ** 2
        centred_yy = stats_["comoment"][:, -1, -1]
        assert np.max(np.abs(raw_yy - stats_["n"] * stats_["mean"][:, -1] ** 2 - centred_yy)) > 1e-6


def _point(model, data, centred, values):
    """Value variables of ``model`` for the constrained parameters given (the coefficients with
    the intercept at the covariates' means)."""
    corr_raw = np.array([np.arctanh(CORR)])
    point = {
        "beta_centred": centred,
        "sd_g_log__": np.log(SD),
        "corr_g_raw": corr_raw,
        "sigma_log__": np.log(SIGMA),
    }
    point.update(values)
    return {v.name: point[v.name] for v in model.value_vars}


def _potential(model, name, mode=None):
    potential = next(p for p in model.potentials if p.name == name)
    term = model.logp(vars=[potential], jacobian=False)
    return pytensor.function(model.value_vars, term, on_unused_input="ignore", mode=mode)


def _raw(data, centred):
    """The formula's coefficients from the centred ones, in extended precision."""
    means = data.column_summary()[0][: len(data.population)].astype(np.longdouble)
    means[0] = 0
    beta = centred.astype(np.longdouble)
    beta[0] = beta[0] - (means * beta).sum()
    return beta


@pytest.mark.parametrize("mode", ["FAST_RUN", "NUMBA"])  # numpy (perform) and nutpie's backend
@pytest.mark.parametrize("intercept", [0.0, 1e6])
def test_the_model_marginal_term_equals_the_dense_multivariate_normal(intercept, mode):
    frame = table(intercept)
    data = build_model_data(frame, parse_formula(FORMULA))
    centred = BETA + np.array([intercept + 4.0, 0, 0])
    model = build_linear(data, resolve_linear_priors(data, None), "marginal").model
    value = _potential(model, "y_marginal", mode)(**_point(model, data, centred, {}))
    assert float(value) == pytest.approx(dense(frame, _raw(data, centred)).sum(), rel=1e-10)


def test_the_model_given_effects_equals_the_rows():
    frame = table()
    data = build_model_data(frame, parse_formula(FORMULA))
    rng = np.random.default_rng(1)
    u = rng.normal(0, 1, (data.factors[0].n_groups, 2))
    model = build_linear(data, resolve_linear_priors(data, None), "noncentered").model
    factor = np.linalg.cholesky(covariance())
    z = np.linalg.solve(factor, u.T).T
    value = _potential(model, "y_given_effects")(**_point(model, data, BETA, {"u_g_z": z}))
    beta = _raw(data, BETA).astype(float)
    codes = pd.factorize(frame.g)[0]
    mean = beta[0] + beta[1] * frame.x1 + beta[2] * frame.x2 + u[codes, 0] + u[codes, 1] * frame.x1
    expected = stats.norm.logpdf(frame.y, mean, SIGMA).sum()
    assert float(value) == pytest.approx(expected, rel=1e-10)


def test_covariance_draws_rebuild_sigma_from_sds_and_correlations():
    import xarray as xr

    data = build_model_data(table(), parse_formula(FORMULA))
    posterior = xr.Dataset(
        {
            "sd_g": (("chain", "draw", "g_term"), SD[None, None]),
            "corr_g": (("chain", "draw", "g_pair"), np.array([[[CORR]]])),
        }
    )
    np.testing.assert_allclose(covariance_draws(posterior, data.factors[0])[0], covariance())


def test_exact_effect_draws_have_the_closed_form_conditional():
    """u_j | beta, sigma, Sigma, y ~ N(M^-1 Z'r / sigma^2, M^-1), M = Z'Z / sigma^2 + Sigma^-1.

    20,000 draws at one point: each mean within 4.5 standard errors (sd / sqrt(20,000)), each
    covariance entry within 4% of the closed form's scale.
    """
    import xarray as xr

    from hbm.model.families.normal_cells_conditional import draw_effects

    frame = table()
    data = build_model_data(frame, parse_formula(FORMULA))
    draws = 20_000
    dims = ("chain", "draw")
    posterior = xr.Dataset(
        {
            "beta": ((*dims, "term"), np.broadcast_to(BETA, (1, draws, 3))),
            "sd_g": ((*dims, "g_term"), np.broadcast_to(SD, (1, draws, 2))),
            "corr_g": ((*dims, "g_pair"), np.full((1, draws, 1), CORR)),
            "sigma": (dims, np.full((1, draws), SIGMA)),
        },
        coords={"chain": [0], "draw": np.arange(draws)},
    )
    u = draw_effects(posterior, data, random_seed=3).values[0]  # (S, J, 2)
    for j, (_, rows) in enumerate(frame.groupby("g", sort=False)):
        x = np.column_stack([np.ones(len(rows)), rows.x1, rows.x2])
        z = x[:, :2]
        precision = z.T @ z / SIGMA**2 + np.linalg.inv(covariance())
        cov = np.linalg.inv(precision)
        mean = cov @ z.T @ (rows.y.to_numpy() - x @ BETA) / SIGMA**2
        se = np.sqrt(np.diag(cov) / draws)
        assert np.all(np.abs(u[:, j].mean(axis=0) - mean) < 4.5 * se)
        scale = np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
        assert np.all(np.abs(np.cov(u[:, j].T) - cov) < 0.04 * scale)
    again = draw_effects(posterior, data, random_seed=3).values[0]
    assert np.array_equal(u, again)  # the same seed, the same draws


@pytest.mark.parametrize("q", [1, 2, 3])
def test_group_marginal_op_numba_equals_numpy_and_its_gradient_equals_finite_differences(q):
    """The Op's value in numba equals numpy's to 1e-12; its gradient (through a symmetric
    Lambda, as the model builds it) matches central finite differences (PyTensor's verify_grad,
    tolerance 1e-6 relative, well above the differences' O(h^2) error)."""
    import pytensor.tensor as pt

    from hbm.model.families.normal_marginal_op import GroupMarginal, pack_groups

    rng = np.random.default_rng(q)
    k, n_groups = 4, 7
    z = [rng.normal(size=(int(n), q)) for n in rng.integers(1, 6, n_groups)]
    w = [rng.normal(size=(len(zj), k)) for zj in z]
    packed = pack_groups(
        np.stack([zj.T @ wj for zj, wj in zip(z, w, strict=True)]),
        np.stack([zj.T @ zj for zj in z]),
    )
    root = rng.normal(size=(q, q)) + 2 * np.eye(q)
    values = [rng.normal(size=k), np.array(0.7), root @ root.T]
    a, s2, lam = pt.dvector(), pt.dscalar(), pt.dmatrix()
    outputs = GroupMarginal(q, k)(packed, a, s2, lam)[:2]
    numpy_fn = pytensor.function([a, s2, lam], outputs, mode="FAST_RUN")
    numba_fn = pytensor.function([a, s2, lam], outputs, mode="NUMBA")
    np.testing.assert_allclose(numba_fn(*values), numpy_fn(*values), rtol=1e-12)

    def objective(a_, s2_, half):
        log_det, quad = GroupMarginal(q, k)(packed, a_, s2_, half + half.T)[:2]
        return log_det + 0.3 * quad

    half = np.tril(values[2]) - 0.5 * np.diag(np.diag(values[2]))  # half + half' = Lambda
    for mode in ("FAST_RUN", "NUMBA"):
        pytensor.gradient.verify_grad(
            objective, [values[0], values[1], half], rng=rng, abs_tol=1e-6, rel_tol=1e-6, mode=mode
        )


@pytest.mark.parametrize("q", [1, 2])
def test_group_marginal_unrolled_kernels_equal_the_general_loop_bit_for_bit(q):
    """The q = 1 and q = 2 kernels (local scalars) make the general loop's operations in the same
    order: every output is equal exactly, inside the support and at a point outside it."""
    import numba

    from hbm.model.families.normal_marginal_kernels import marginal_kernel
    from hbm.model.families.normal_marginal_op import pack_groups

    rng = np.random.default_rng(10 + q)
    k, n_groups = 5, 40
    z = [rng.normal(size=(int(n), q)) for n in rng.integers(1, 9, n_groups)]
    w = [rng.normal(size=(len(zj), k)) for zj in z]
    stats = pack_groups(
        np.stack([zj.T @ wj for zj, wj in zip(z, w, strict=True)]),
        np.stack([zj.T @ zj for zj in z]),
    )
    unrolled = numba.njit(marginal_kernel(q, k))
    general = numba.njit(marginal_kernel(q, k, general=True))
    a = rng.normal(size=k)
    inside = np.array([[1.3, 0.4], [0.4, 0.9]])[:q, :q]
    outside = np.diag([-50.0, 1.0])[:q, :q]  # sigma^2 Lambda makes some P_j indefinite
    for s2, lam in [(0.7, inside), (2.1, outside)]:
        args = (stats, a, np.array(s2), lam)
        for mine, theirs in zip(unrolled(*args), general(*args), strict=True):
            assert np.array_equal(mine, theirs)
    assert np.isinf(unrolled(stats, a, np.array(2.1), outside)[0])
