"""Log densities of the outcome families against scipy, per row, per cell and in the PyMC model.

- Per row: each family's ``log_likelihood + row_constant`` equals scipy's ``logpmf`` /
  ``logpdf`` (to 1e-10).
- Per cell (binomial, Poisson: the exact reduction): the cells' log likelihood, constants
  included, equals the sum of the rows' scipy log densities (to 1e-8 relative).
- In the model: the likelihood potential of a built model (both forms, rows and cells) equals the
  scipy sum over rows of the linear predictor the model computes from its own draws of ``beta``
  and the effects, up to the constant the potential leaves out (the same at every point).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from hbm.model.families import get_family
from hbm.model.formula import parse_formula
from hbm.model.outcome_build import LIKELIHOOD, build_outcome
from hbm.model.outcome_design import build_outcome_data
from hbm.model.outcome_priors import resolve_outcome_priors

RNG = np.random.default_rng(20261205)


def _scipy(family: str, y, w, eta, params):
    if family == "binomial":
        return stats.binom(w.astype(int), special.expit(eta)).logpmf(y)
    if family == "poisson":
        return stats.poisson(w * np.exp(eta)).logpmf(y)
    if family == "negbinomial":
        alpha = params["alpha"]
        mu = w * np.exp(eta)
        return stats.nbinom(alpha, alpha / (alpha + mu)).logpmf(y)
    return stats.t(params["nu"], eta, params["sigma"]).logpdf(y)


def _rows(family: str, n: int = 300):
    eta = RNG.normal(-0.5, 1.2, n)
    w = RNG.integers(1, 9, n).astype(float) if family == "binomial" else RNG.uniform(0.2, 4, n)
    params = {"alpha": 1.7, "sigma": 1.3, "nu": 3.5}
    if family == "binomial":
        y = RNG.binomial(w.astype(int), special.expit(eta)).astype(float)
    elif family == "poisson":
        y = RNG.poisson(w * np.exp(eta)).astype(float)
    elif family == "negbinomial":
        mu = w * np.exp(eta)
        y = RNG.poisson(RNG.gamma(1.7, mu / 1.7)).astype(float)
    else:
        w = np.ones(n)
        y = eta + 1.3 * RNG.standard_t(3.5, n)
    return y, w, eta, params


@pytest.mark.parametrize("family", ["binomial", "poisson", "negbinomial", "studentt"])
def test_row_log_density_equals_scipy(family):
    module = get_family(family)
    y, w, eta, params = _rows(family)
    got = module.log_likelihood(y, w, eta, params) + module.row_constant(y, w)
    np.testing.assert_allclose(got, _scipy(family, y, w, eta, params), rtol=0, atol=1e-10)


@pytest.mark.parametrize("family", ["binomial", "poisson", "negbinomial", "studentt"])
def test_pytensor_log_density_equals_numpy(family):
    import pytensor
    import pytensor.tensor as pt

    module = get_family(family)
    y, w, eta, params = _rows(family, 50)
    symbols = {name: pt.dscalar(name) for name in params}
    vectors = [pt.dvector(n) for n in ("y", "w", "eta")]
    graph = module.logp(*vectors, {k: v for k, v in symbols.items()})
    inputs = [*vectors, *[symbols[k] for k in params if k in {p.name for p in module.PARAMETERS}]]
    fn = pytensor.function(inputs, graph, on_unused_input="ignore")
    used = [params[k] for k in params if k in {p.name for p in module.PARAMETERS}]
    np.testing.assert_allclose(
        fn(y, w, eta, *used), module.log_likelihood(y, w, eta, params), rtol=1e-12, atol=1e-10
    )


def _table(family: str, n_groups: int = 8, per_group: int = 30) -> pd.DataFrame:
    g = np.repeat(np.arange(n_groups), per_group)
    k = RNG.choice(["a", "b", "c"], g.size)
    exposure = RNG.uniform(0.5, 3, g.size)
    eta = -0.3 + RNG.normal(0, 0.6, n_groups)[g] + np.where(k == "b", 0.4, 0.0)
    table = pd.DataFrame({"g": [f"G{j}" for j in g], "k": k, "exposure": exposure})
    if family == "binomial":
        table["trials"] = RNG.integers(1, 4, g.size)
        table["y"] = RNG.binomial(table["trials"], special.expit(eta))
    else:
        table["y"] = RNG.poisson(exposure * np.exp(eta))
    return table


@pytest.mark.parametrize(
    ("family", "formula"),
    [
        ("binomial", "p(y, trials) ~ C(k) + (1 | g)"),
        ("poisson", "y ~ C(k) + offset(np.log(exposure)) + (1 | g)"),
    ],
)
def test_cells_log_density_equals_the_rows_scipy_sum(family, formula):
    table = _table(family)
    parsed = parse_formula(formula)
    cells = build_outcome_data(table, parsed, family).outcome
    rows = build_outcome_data(table, parsed, family, reduce=False).outcome
    assert cells.form == "cells" and rows.form == "rows" and cells.n_units < rows.n_units
    module = get_family(family)
    beta = np.array([-0.2, 0.5, -0.3])
    u = RNG.normal(0, 0.5, 8)

    def eta(units):
        return units.design[:, :3] @ beta + u[units.codes[:, 0]] + units.offset

    by_cells = module.log_likelihood(cells.y, cells.weight, eta(cells), {}) + cells.constant
    scipy_rows = _scipy(family, rows.y, rows.weight, eta(rows), {})
    assert by_cells.sum() == pytest.approx(scipy_rows.sum(), rel=1e-10)
    # and per cell: each cell's value is its rows' sum
    per_cell = np.bincount(cells.row_unit, weights=scipy_rows, minlength=cells.n_units)
    np.testing.assert_allclose(by_cells, per_cell, rtol=1e-9, atol=1e-9)


def _model_point_check(data, forms):
    priors = resolve_outcome_priors(data, None)
    model = build_outcome(data, priors, forms).model
    potential = next(p for p in model.potentials if p.name == LIKELIHOOD)
    family = get_family(data.outcome.family)
    extra = [model[p.name] for p in family.PARAMETERS]
    outputs = [potential, model["beta"], model["u_g"], *extra]
    import pytensor

    values = model.value_vars
    graph = model.replace_rvs_by_values(outputs)
    compiled = pytensor.function(values, graph, mode="FAST_COMPILE", on_unused_input="ignore")

    def fn(point):
        return compiled(*[point[v.name] for v in values])

    shapes = model.eval_rv_shapes()
    differences = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        point = {v.name: rng.normal(0, 0.5, shapes[v.name]) for v in model.value_vars}
        value, beta, u, *rest = fn(point)
        params = {p.name: float(v) for p, v in zip(family.PARAMETERS, rest, strict=True)}
        rows = data.outcome
        eta = rows.design[:, : len(data.population)] @ beta + u[rows.codes[:, 0], 0] + rows.offset
        reference = _scipy(family.NAME, *_raw(rows), eta, params).sum()
        differences.append(float(value) - reference)
    # the potential drops the data-only constant: the same at every point
    assert np.ptp(differences) < 1e-7 * max(1.0, abs(differences[0]))


def _raw(units):
    return units.y, units.weight


@pytest.mark.parametrize("family", ["binomial", "poisson", "negbinomial", "studentt"])
@pytest.mark.parametrize("form", ["centered", "noncentered"])
def test_model_likelihood_equals_scipy_up_to_a_constant(family, form):
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(6), 12)
    x = rng.normal(size=g.size)
    table = pd.DataFrame({"g": [f"G{j}" for j in g], "x": x})
    eta = 0.2 + 0.4 * x + rng.normal(0, 0.5, 6)[g]
    if family == "binomial":
        table["y"] = rng.binomial(1, special.expit(eta))
    elif family == "studentt":
        table["y"] = eta + rng.standard_t(4, g.size)
    else:
        table["y"] = rng.poisson(np.exp(eta))
    data = build_outcome_data(table, parse_formula("y ~ x + (1 | g)"), family)
    _model_point_check(data, {"g": form})


@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_model_likelihood_of_cells_equals_scipy_over_rows(family):
    table = _table(family, n_groups=5, per_group=20)
    formula = (
        "p(y, trials) ~ C(k) + (1 | g)"
        if family == "binomial"
        else "y ~ C(k) + offset(np.log(exposure)) + (1 | g)"
    )
    data = build_outcome_data(table, parse_formula(formula), family)
    assert data.outcome.form == "cells"
    _model_point_check(data, {"g": "centered"})
