"""Nested grouping factors with every effect integrated out, against dense computations.

Three levels (districts > schools > classes) with a correlated intercept and slope at the
outermost and innermost levels and an intercept between: every row's vector is
``y ~ N(X beta, sigma^2 I + sum_l Z_l (I kron Sigma_l) Z_l')``. The level-by-level algebra
(numpy), the Op (its numpy ``perform`` and its numba kernel, in the PyMC model) and each
district's log density (leave-one-district-out) must equal scipy's dense multivariate normal to
1e-10 relative (float64 rounding of sums of a few hundred terms), also with an intercept of 1e6.
The Op's gradient must equal finite differences (central, step 1e-6: agreement to 1e-6
relative), and the exact draws of every level's effects must be the dense Gaussian conditional:
their mean (zero noise) and the covariance of the linear map from the noise to the draws equal
``M^-1 Z'r / sigma^2`` and ``M^-1`` with ``M = Z'Z / sigma^2 + Lambda`` to 1e-10.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import stats

from hbm.data.nesting import nesting_of
from hbm.model.design import build_model_data
from hbm.model.families.normal_nested import nested_statistics
from hbm.model.families.normal_nested_algebra import sample_effects, upward
from hbm.model.families.normal_nested_conditional import nested_root_log_likelihood
from hbm.model.families.normal_nested_op import NestedMarginal, nested_marginal_numpy, pack_levels
from hbm.model.formula import parse_formula
from hbm.model.linear_build import build_linear, choose_linear
from hbm.model.linear_priors import resolve_linear_priors

FORMULA = "y ~ x + (1 + x | d) + (1 | d:s) + (1 + x | d:s:c)"
BETA = np.array([4.0, 0.3])
SIGMA = 0.8
COVARIANCES = {
    "d": np.array([[1.0, 0.3], [0.3, 0.5]]),
    "d:s": np.array([[0.7]]),
    "d:s:c": np.array([[0.6, -0.1], [-0.1, 0.4]]),
}

#: Other shapes of chains: one term at the innermost level (the kernel's scalar path) below a
#: correlated pair, and intercepts at three levels.
OTHER_FORMULAS = {
    "y ~ x + (1 + x | d) + (1 | d:s)": {"d": COVARIANCES["d"], "d:s": COVARIANCES["d:s"]},
    "y ~ x + (1 | d/s/c)": {
        "d": np.array([[0.9]]),
        "d:s": np.array([[0.5]]),
        "d:s:c": np.array([[0.3]]),
    },
}


def table(intercept: float = 0.0, seed: int = 3) -> pd.DataFrame:
    """Three districts of 1 to 3 schools of 1 to 2 classes of 1 to 4 rows (labels repeat)."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(3):
        for s in range(rng.integers(1, 4)):
            for c in range(rng.integers(1, 3)):
                for _ in range(rng.integers(1, 5)):
                    x = rng.normal(1.0, 1.0)
                    rows.append((f"d{d}", f"s{s}", f"c{c}", x, intercept + 4 + x + rng.normal()))
    return pd.DataFrame(rows, columns=["d", "s", "c", "x", "y"])


def dense_parts(
    frame: pd.DataFrame, data, nesting, covariances=COVARIANCES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``X``, the stacked ``Z`` (every level's columns, groups in the factors' order) and the
    block diagonal prior covariance of all effects, outermost level first."""
    n = len(frame)
    x = np.column_stack([np.ones(n), frame.x])
    keys = {
        "d": frame.d,
        "d:s": frame.d + ":" + frame.s,
        "d:s:c": frame.d + ":" + frame.s + ":" + frame.c,
    }
    blocks, covs = [], []
    for factor in nesting.factors:
        codes = pd.Index(factor.labels).get_indexer(keys[factor.name])
        columns = [x[:, 0] if t == "Intercept" else x[:, 1] for t in factor.terms]
        z = np.zeros((n, factor.n_groups * factor.n_terms))
        for j, column in enumerate(columns):
            z[np.arange(n), codes * factor.n_terms + j] = column
        blocks.append(z)
        covs.append(np.kron(np.eye(factor.n_groups), covariances[factor.name]))
    size = sum(c.shape[0] for c in covs)
    prior = np.zeros((size, size))
    start = 0
    for c in covs:
        prior[start : start + c.shape[0], start : start + c.shape[0]] = c
        start += c.shape[0]
    return x, np.hstack(blocks), prior


def dense_log_likelihood(frame, data, nesting, beta, rows=None, covariances=COVARIANCES) -> float:
    x, z, prior = dense_parts(frame, data, nesting, covariances)
    keep = np.ones(len(frame), dtype=bool) if rows is None else rows
    cov = SIGMA**2 * np.eye(keep.sum()) + z[keep] @ prior @ z[keep].T
    residual = frame.y.to_numpy()[keep].astype(np.longdouble) - x[keep].astype(np.longdouble) @ beta
    return float(
        stats.multivariate_normal.logpdf(residual.astype(float), np.zeros(keep.sum()), cov)
    )


def prepared(intercept: float = 0.0):
    frame = table(intercept)
    data = build_model_data(frame, parse_formula(FORMULA))
    nesting = nesting_of(data)
    return frame, data, nesting


def coefficients(data, stats_, beta) -> np.ndarray:
    """The residuals' coefficients over ``W`` with the shift on the constant column."""
    a = np.zeros(len(data.columns))
    a[: len(beta)] = -beta
    a[-1] = 1.0
    constant = int(np.flatnonzero(stats_["constant"])[0])
    a[constant] += a @ stats_["shift"]
    return a


def algebra_log_likelihood(data, nesting, beta) -> float:
    stats_ = nested_statistics(data, nesting)
    levels = stats_["levels"]
    a = coefficients(data, stats_, beta)
    covs = [COVARIANCES[f.name] for f in nesting.factors]
    up = upward(levels, a[None], np.array([SIGMA**2]), [np.linalg.inv(c)[None] for c in covs])
    big_a = sum(v.sum() for v in up.log_det)
    big_b = sum(v.sum() for v in up.quad)
    n = data.n_rows
    effects = sum(f.n_groups * f.n_terms for f in nesting.factors)
    log_det_sigma = sum(
        f.n_groups * np.linalg.slogdet(c)[1] for f, c in zip(nesting.factors, covs, strict=True)
    )
    return float(
        -0.5 * n * np.log(2 * np.pi)
        - n * np.log(SIGMA)
        - 0.5 * log_det_sigma
        + 0.5 * effects * np.log(SIGMA**2)
        - 0.5 * (a @ stats_["gram"] @ a - big_b) / SIGMA**2
        - 0.5 * big_a
    )


def test_the_factors_form_a_chain_outermost_first():
    _, data, nesting = prepared()
    assert nesting.names == ("d", "d:s", "d:s:c")
    assert choose_linear(data)[0] == "marginal"
    assert "nested (d (3) > d:s" in choose_linear(data)[1]


def test_level_by_level_algebra_equals_the_dense_multivariate_normal():
    frame, data, nesting = prepared()
    got = algebra_log_likelihood(data, nesting, BETA)
    assert got == pytest.approx(dense_log_likelihood(frame, data, nesting, BETA), rel=1e-10)


@pytest.mark.parametrize("intercept", [0.0, 1e6])
def test_each_district_equals_the_dense_normal_of_its_rows(intercept):
    frame, data, nesting = prepared(intercept)
    beta = BETA + np.array([intercept, 0.0])
    covs = [COVARIANCES[f.name][None] for f in nesting.factors]
    got = nested_root_log_likelihood(data, nesting, beta[None], np.array([SIGMA]), covs)[0]
    expected = [
        dense_log_likelihood(frame, data, nesting, beta, (frame.d == label).to_numpy())
        for label in nesting.factors[0].labels
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def _point(model, centred, covariances=COVARIANCES):
    """Value variables for the constrained parameters (the correlated blocks by arctanh)."""
    point = {"beta_centred": centred, "sigma_log__": np.log(SIGMA)}
    for name, cov in covariances.items():
        sd = np.sqrt(np.diag(cov))
        point[f"sd_{name}_log__"] = np.log(sd)
        if cov.shape[0] == 2:
            point[f"corr_{name}_raw"] = np.array([np.arctanh(cov[0, 1] / (sd[0] * sd[1]))])
    return {v.name: point[v.name] for v in model.value_vars}


@pytest.mark.parametrize("mode", ["FAST_RUN", "NUMBA"])  # numpy (perform) and nutpie's backend
@pytest.mark.parametrize("intercept", [0.0, 1e6])
def test_the_model_marginal_term_equals_the_dense_multivariate_normal(intercept, mode):
    frame, data, nesting = prepared(intercept)
    _check_model_term(frame, data, nesting, intercept, mode, COVARIANCES)


@pytest.mark.parametrize("formula", list(OTHER_FORMULAS))
def test_other_chains_in_the_model_equal_the_dense_multivariate_normal(formula):
    frame = table()
    data = build_model_data(frame, parse_formula(formula))
    _check_model_term(frame, data, nesting_of(data), 0.0, "NUMBA", OTHER_FORMULAS[formula])


def _check_model_term(frame, data, nesting, intercept, mode, covariances):
    centred = np.array([intercept + 5.0, 0.3])
    model = build_linear(data, resolve_linear_priors(data, None), "marginal").model
    potential = next(p for p in model.potentials if p.name == "y_marginal")
    term = model.logp(vars=[potential], jacobian=False)
    function = pytensor.function(model.value_vars, term, on_unused_input="ignore", mode=mode)
    value = float(function(**_point(model, centred, covariances)))
    means = data.column_summary()[0][:2].astype(np.longdouble)
    beta = centred.astype(np.longdouble)
    beta[0] = beta[0] - means[1] * beta[1]
    expected = dense_log_likelihood(frame, data, nesting, beta, covariances=covariances)
    assert value == pytest.approx(expected, rel=1e-10)


def _op_inputs(formula=FORMULA, covariances=None):
    covariances = covariances or COVARIANCES
    data = build_model_data(table(), parse_formula(formula))
    nesting = nesting_of(data)
    stats_ = nested_statistics(data, nesting)
    flat, structure = pack_levels(stats_["levels"])
    a = coefficients(data, stats_, BETA)
    lams = np.concatenate([np.linalg.inv(covariances[f.name]).ravel() for f in nesting.factors])
    return flat, structure, a, lams, stats_["levels"].qs, len(data.columns)


@pytest.mark.parametrize("formula", [FORMULA, *OTHER_FORMULAS])
def test_numba_kernel_equals_numpy(formula):
    flat, structure, a, lams, qs, k = _op_inputs(formula, OTHER_FORMULAS.get(formula))
    inputs = pt.dvector(), pt.lvector(), pt.dvector(), pt.dscalar(), pt.dvector()
    outputs = NestedMarginal(qs, k)(*inputs)
    kernel = pytensor.function(list(inputs), outputs, mode="NUMBA")
    got = kernel(flat, structure, a, SIGMA**2, lams)
    expected = nested_marginal_numpy(flat, structure, a, SIGMA**2, lams, qs, k)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)


def test_the_gradient_equals_finite_differences():
    flat, structure, a, lams, qs, k = _op_inputs()
    outputs = nested_marginal_numpy(flat, structure, a, SIGMA**2, lams, qs, k)

    def both(a_, s2_, lams_):
        values = nested_marginal_numpy(flat, structure, a_, s2_, lams_, qs, k)
        return np.array([values[0], values[1]])

    step = 1e-6
    d_s2 = (both(a, SIGMA**2 + step, lams) - both(a, SIGMA**2 - step, lams)) / (2 * step)
    np.testing.assert_allclose(d_s2, [outputs[2], outputs[5]], rtol=1e-6)
    for i in range(a.size):
        up, down = a.copy(), a.copy()
        up[i] += step
        down[i] -= step
        numeric = (both(up, SIGMA**2, lams) - both(down, SIGMA**2, lams))[1] / (2 * step)
        assert numeric == pytest.approx(outputs[4][i], rel=1e-6, abs=1e-7)
    # Lambda enters through its lower triangle; a symmetric parametrization moves both halves
    offset = 0
    for q in qs:
        for i in range(q):
            for j in range(i + 1):
                up, down = lams.copy(), lams.copy()
                for where in {offset + i * q + j, offset + j * q + i}:
                    up[where] += step
                    down[where] -= step
                numeric = (both(a, SIGMA**2, up) - both(a, SIGMA**2, down)) / (2 * step)
                analytic = [
                    sum(outputs[n][w] for w in {offset + i * q + j, offset + j * q + i})
                    for n in (3, 6)
                ]
                np.testing.assert_allclose(numeric, analytic, rtol=1e-6, atol=1e-7)
        offset += q * q


def test_exact_draws_are_the_dense_gaussian_conditional():
    frame, data, nesting = prepared()
    stats_ = nested_statistics(data, nesting)
    levels = stats_["levels"]
    a = coefficients(data, stats_, BETA)
    lams = [np.linalg.inv(COVARIANCES[f.name])[None] for f in nesting.factors]
    s2 = np.array([SIGMA**2])
    up = upward(levels, a[None], s2, lams)
    sizes = [(f.n_groups, f.n_terms) for f in nesting.factors]
    total = sum(j * q for j, q in sizes)

    def draw(vector):
        noise, start = [], 0
        for j, q in sizes:
            noise.append(vector[start : start + j * q].reshape(1, j, q))
            start += j * q
        return np.concatenate([u.reshape(-1) for u in sample_effects(levels, up, s2, noise)])

    mean = draw(np.zeros(total))
    mapping = np.column_stack([draw(np.eye(total)[i]) - mean for i in range(total)])
    x, z, prior = dense_parts(frame, data, nesting)
    precision = z.T @ z / SIGMA**2 + np.linalg.inv(prior)
    residual = frame.y.to_numpy() - x @ BETA
    np.testing.assert_allclose(
        mean, np.linalg.solve(precision, z.T @ residual / SIGMA**2), rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(
        mapping @ mapping.T, np.linalg.inv(precision), rtol=1e-10, atol=1e-12
    )


def test_marginal_is_refused_for_crossed_factors():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"r": np.tile(["a", "b", "c"], 4), "i": np.repeat(["p", "q", "s", "t"], 3)}
    ).assign(y=rng.normal(size=12))
    data = build_model_data(frame, parse_formula("y ~ 1 + (1 | r) + (1 | i)"))
    chosen, reason = choose_linear(data)
    assert chosen == "noncentered"
    assert "i is crossed with r" in reason and "sit in more than one r group" in reason
    with pytest.raises(ValueError, match="needs one grouping factor or nested ones"):
        build_linear(data, resolve_linear_priors(data, None), "marginal")
