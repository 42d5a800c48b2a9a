"""Each builder's log density against scipy, at fixed parameter values.

The model log density (``jacobian=False``: densities of the constrained parameters) must equal the
log priors plus the log likelihood of the data written row by row with scipy:

- ``likelihood="rows"`` and the summaries form: exactly (constant 0);
- ``likelihood="sufficient"``: up to the constant ``C`` below, which involves only the data;
- ``noncentered``: in ``(mu, tau, theta_z)`` coordinates, ``theta = mu + tau * theta_z`` has
  Jacobian ``tau^J``, so its density is the centered one plus ``J log tau``;
- ``marginal``: the likelihood of the rows with ``theta`` integrated out, which for group ``j`` is
  the multivariate normal ``N(mu 1, sigma^2 I + tau^2 1 1')`` of its rows, plus the same ``C``.

With ``a = (N - J) / 2`` and ``SS`` the pooled within-group sum of squares, the sufficient-statistic
likelihood minus the row-by-row likelihood is
``C = a log(pi) + 1/2 sum_j log n_j - lgamma(a) + (a - 1) log(SS)``.

Tolerance: PyMC 6.4 evaluates the normal log density's ``-log(sqrt(2 pi))`` with a constant that is
off by 3.39e-8 (measured: ``pm.Normal`` minus ``scipy.stats.norm.logpdf`` is -3.388e-8 at every
value), and its Gamma log density is off by a constant that depends only on the shape (6.6e-7 at
shape 11.5, from its log-gamma function). Both are constants too, so each check asserts (1) the
difference model - scipy is the same at every parameter point to 1e-9, and (2) it equals the stated
constant within 1e-7 per normal term plus 1e-6 for the within-group Gamma term.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

from hbm.data.grouped import grouped_data
from hbm.model.build import centered, marginal, noncentered
from hbm.model.families.normal import resolve_priors

PRIORS = {"mu": "normal(8, 20)", "tau": "halfcauchy(4)", "sigma": "halfnormal(6)"}
POINTS = [(10.0, 2.0, 3.0), (-3.0, 0.4, 7.5), (25.0, 9.0, 0.8)]


def log_priors(mu, tau, sigma=None):
    out = stats.norm.logpdf(mu, 8, 20) + stats.halfcauchy.logpdf(tau, scale=4)
    if sigma is not None:
        out += stats.halfnorm.logpdf(sigma, scale=6)
    return out


def model_logp(model, mu, tau, sigma=None, theta=None):
    """Log density with the free variables set from constrained values."""
    point = {}
    for var in model.value_vars:
        name = var.name
        if name == "mu":
            point[name] = np.asarray(mu)
        elif name.startswith("tau"):
            point[name] = np.log(tau) if name.endswith("_log__") else np.asarray(tau)
        elif name.startswith("sigma"):
            point[name] = np.log(sigma) if name.endswith("_log__") else np.asarray(sigma)
        elif name == "theta":
            point[name] = np.asarray(theta)
        elif name == "theta_z":
            point[name] = (np.asarray(theta) - mu) / tau
        else:  # pragma: no cover - a new variable would need a line here
            raise AssertionError(f"unexpected variable {name}")
    return float(model.compile_logp(jacobian=False)(point))


def sufficient_constant(data):
    a = (data.n_rows - data.n_groups) / 2
    return (
        a * math.log(math.pi)
        + 0.5 * np.log(data.n).sum()
        - special.gammaln(a)
        + (a - 1) * math.log(data.ss_within)
    )


def theta_for(data, shift):
    return data.mean + shift * np.linspace(-1, 1, data.n_groups)


def assert_constant_offset(got, expected, constant, normal_terms, gamma_terms=0):
    """``got - expected`` is one constant over all points, equal to ``constant`` (see docstring)."""
    offsets = np.asarray(got) - np.asarray(expected)
    assert np.ptp(offsets) < 1e-9, f"offset varies with the parameters: {offsets}"
    tolerance = 1e-7 * normal_terms + 1e-6 * gamma_terms
    assert offsets.mean() == pytest.approx(constant, abs=tolerance)


@pytest.mark.parametrize("builder", [centered, noncentered])
def test_rows_form_centered_and_noncentered(small_rows, builder):
    data = grouped_data(small_rows, group="group", value="y", keep_rows=True)
    priors = resolve_priors(data, PRIORS)
    by_rows = builder(data, priors, likelihood="rows")
    by_stats = builder(data, priors)
    codes, y = data.codes, data.values
    expected, rows, sufficient = [], [], []
    for mu, tau, sigma in POINTS:
        theta = theta_for(data, tau)
        value = (
            log_priors(mu, tau, sigma)
            + stats.norm.logpdf(theta, mu, tau).sum()
            + stats.norm.logpdf(y, theta[codes], sigma).sum()
        )
        if builder is noncentered:
            value += data.n_groups * math.log(tau)
        expected.append(value)
        rows.append(model_logp(by_rows, mu, tau, sigma, theta))
        sufficient.append(model_logp(by_stats, mu, tau, sigma, theta))
    normal_terms = 1 + 2 * data.n_groups + data.n_rows
    assert_constant_offset(rows, expected, 0.0, normal_terms)
    assert_constant_offset(sufficient, expected, sufficient_constant(data), normal_terms, 1)


def test_rows_form_marginal(small_rows):
    data = grouped_data(small_rows, group="group", value="y")
    model = marginal(data, resolve_priors(data, PRIORS))
    assert sorted(v.name for v in model.free_RVs) == ["mu", "sigma", "tau"]
    groups = [g["y"].to_numpy() for _, g in small_rows.groupby("group", sort=False)]
    expected, got = [], []
    for mu, tau, sigma in POINTS:
        rows_loglik = sum(
            stats.multivariate_normal.logpdf(
                y, np.full(len(y), mu), sigma**2 * np.eye(len(y)) + tau**2
            )
            for y in groups
        )
        expected.append(log_priors(mu, tau, sigma) + rows_loglik)
        got.append(model_logp(model, mu, tau, sigma))
    assert_constant_offset(got, expected, sufficient_constant(data), 1 + data.n_groups, 1)


def test_summaries_form_all_builders(eight_schools):
    data = grouped_data(eight_schools, group="school", value="effect", se="stderr")
    priors = resolve_priors(data, {k: v for k, v in PRIORS.items() if k != "sigma"})
    y, se = data.mean, data.stderr
    models = {b.__name__: b(data, priors) for b in (centered, noncentered, marginal)}
    got: dict[str, list[float]] = {name: [] for name in models}
    expected: dict[str, list[float]] = {name: [] for name in models}
    for mu, tau, _ in POINTS:
        theta = theta_for(data, tau)
        value = (
            log_priors(mu, tau)
            + stats.norm.logpdf(theta, mu, tau).sum()
            + stats.norm.logpdf(y, theta, se).sum()
        )
        expected["centered"].append(value)
        expected["noncentered"].append(value + data.n_groups * math.log(tau))
        expected["marginal"].append(
            log_priors(mu, tau) + stats.norm.logpdf(y, mu, np.sqrt(tau**2 + se**2)).sum()
        )
        for name, model in models.items():
            got[name].append(model_logp(model, mu, tau, theta=theta))
    for name in models:
        assert_constant_offset(got[name], expected[name], 0.0, 1 + 2 * data.n_groups)


def test_same_names_and_dims_in_every_variant(small_rows):
    data = grouped_data(small_rows, group="group", value="y")
    for builder in (centered, noncentered):
        model = builder(data)
        assert {"mu", "tau", "sigma", "theta"} <= set(model.named_vars)
        assert model.named_vars_to_dims["theta"] == ("group",)
        assert list(model.coords["group"]) == list(data.labels)
    assert {"mu", "tau", "sigma"} <= set(marginal(data).named_vars)


def test_fixed_parameter_is_a_constant(small_rows):
    data = grouped_data(small_rows, group="group", value="y")
    model = centered(data, "seed")
    assert "tau" not in {v.name for v in model.free_RVs}
    assert "tau" in model.named_vars  # still present (a Deterministic), so downstream code works


def test_builder_errors(small_rows, eight_schools):
    data = grouped_data(small_rows, group="group", value="y")
    with pytest.raises(ValueError, match="keep_rows=True"):
        centered(data, likelihood="rows")
    with pytest.raises(ValueError, match="marginal one is always written with the sufficient"):
        marginal(data, likelihood="rows")
    with pytest.raises(ValueError, match="one of 'sufficient', 'rows'; got 'row'"):
        centered(data, likelihood="row")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="GroupedData"):
        centered(small_rows)  # type: ignore[arg-type]
    summaries = grouped_data(eight_schools, group="school", value="effect", se="stderr")
    with pytest.raises(ValueError, match="nothing to sample"):
        marginal(summaries, {"mu": 0, "tau": 1})
