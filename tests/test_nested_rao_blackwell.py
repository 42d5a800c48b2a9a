"""Rao-Blackwellized nested group estimates against a dense reference and against the draws.

- :func:`nested_rao_blackwell` against a dense reference: per draw, the joint Gaussian posterior
  of every effect of every level given the draw's ``beta``, ``sigma`` and ``Sigma_l``, built
  from the rows with ``numpy.linalg`` (precision ``Z'Z / s2 + Sigma^-1``, mean ``Q^-1 Z' (y - X
  beta) / s2``), its marginal means and variances read off and averaged over the draws (the law
  of total variance). Three levels (districts with a varying slope > schools > classes; and
  with the slope varying by school too, two terms below the outermost level), so the chain
  recursion is tested below the second level; for the groups' own effects and for their
  coefficients (population + ancestors' same terms + own), with blocks of outermost groups and
  tiles of draws as small as they go. The same numbers to 1e-9 relative (only rounding differs).
- On a real nested fit (6 districts with a varying slope > 63 schools, 2 x 500 draws, every
  level's exact draws held), the summary's RB means and sds agree with the exact draws' (ArviZ)
  within 4.5 of the draws' MCSE (a 4.5-sigma band: over 83 rows a false alarm has probability
  ~6e-4 under normality, and the RB and draws estimates share the hyperparameter draws, so
  their difference is smaller than the draws' error alone); the same for the coefficients'
  table (population + ancestors' + own effects) against its draws. RB's MCSE per effective draw
  is smaller for every row (the law of total variance: ``var_s(m) <= var(u)``); the MCSE the
  summary *reports* uses the smallest ESS of the sampled hyperparameters (as for one factor), a
  conservative choice: it is smaller than the draws' MCSE for every school, but not for the
  districts' intercepts, whose conditional means move with ``beta`` almost as much as their
  draws do (here RB 0.030 against the draws' 0.020, at ESS 276 against their own ~750).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from hbm.core.names import BETA, SIGMA, corr_name, sd_name
from hbm.data.nesting import nesting_of
from hbm.model.design import build_model_data
from hbm.model.families import normal_nested_rao_blackwell as module
from hbm.model.families.normal_nested_rao_blackwell import (
    coefficient_selector,
    nested_rao_blackwell,
)
from hbm.model.formula import parse_formula

FORMULA = "y ~ x + (1 + x | d) + (1 | d:s) + (1 | d:s:c)"
#: ``x`` varies by district and by school: a school's coefficient of ``x`` adds both.
SLOPES = "y ~ x + (1 + x | d) + (1 + x | d:s) + (1 | d:s:c)"


def _table() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for d in range(3):
        shift, slope = rng.normal(0, 1), rng.normal(0, 0.5)
        for s in range(int(rng.integers(2, 4))):
            school = rng.normal(0, 0.7)
            for c in range(int(rng.integers(1, 4))):
                room = rng.normal(0, 0.4)
                for _ in range(int(rng.integers(1, 4))):
                    x = rng.normal(1.0, 1.0)
                    y = 2 + shift + school + room + (0.8 + slope) * x + rng.normal(0, 0.6)
                    rows.append((f"d{d}", f"s{s}", f"c{c}", x, y))
    return pd.DataFrame(rows, columns=["d", "s", "c", "x", "y"])


def _posterior(nesting, n_draws: int, rng: np.random.Generator) -> xr.Dataset:
    """Hyperparameter draws spread like a posterior's: every level's sds (a correlation where
    a level has two terms), ``beta`` and ``sigma``."""
    dims = ("chain", "draw")
    scales = {"d": 1.0, "d:s": 0.7, "d:s:c": 0.4}
    variables = {
        BETA: (
            (*dims, "term"),
            np.column_stack([rng.normal(2, 0.3, n_draws), rng.normal(0.8, 0.1, n_draws)])[None],
        ),
        SIGMA: (dims, rng.gamma(30, 0.6 / 30, (1, n_draws))),
    }
    for f in nesting.factors:
        sd = rng.gamma(20, scales[f.name] / 20, (n_draws, f.n_terms)) * [1, 0.5][: f.n_terms]
        variables[sd_name(f.name)] = ((*dims, f"{f.name}_term"), sd[None])
        if f.n_terms == 2:
            pair = rng.uniform(-0.6, 0.6, (1, n_draws, 1))
            variables[corr_name(f.name)] = ((*dims, f"{f.name}_pair"), pair)
    return xr.Dataset(variables, coords={"chain": [0], "draw": np.arange(n_draws)})


def _dense(frame, data, nesting, posterior):
    """Per draw, the joint posterior's marginal means and variances of every level's own effects
    and of its coefficients; returns their averages (mean, variance, spread) per level."""
    factors = nesting.factors
    columns = {"Intercept": np.ones(len(frame)), "x": frame.x.to_numpy()}
    keys = [frame.d, frame.d + ":" + frame.s, frame.d + ":" + frame.s + ":" + frame.c]
    starts = np.cumsum([0] + [f.n_groups * f.n_terms for f in factors])
    z = np.zeros((len(frame), starts[-1]))
    for lv, f in enumerate(factors):
        where = pd.Index(f.labels).get_indexer(keys[lv])
        for t, term in enumerate(f.terms):
            z[np.arange(len(frame)), starts[lv] + where * f.n_terms + t] = columns[term]
    x = np.column_stack([columns[t] for t in data.population])
    y = frame.y.to_numpy()
    beta = posterior[BETA].values.reshape(-1, 2)
    sigma = posterior[SIGMA].values.reshape(-1)
    n_draws = sigma.size
    covariances = []  # per level, Sigma_l per draw (S, q, q)
    for f in factors:
        sd = posterior[sd_name(f.name)].values.reshape(n_draws, f.n_terms)
        corr = np.broadcast_to(np.eye(f.n_terms), (n_draws, f.n_terms, f.n_terms)).copy()
        if f.n_terms == 2:
            corr[:, 0, 1] = corr[:, 1, 0] = posterior[corr_name(f.name)].values.reshape(-1)
        covariances.append(sd[:, :, None] * corr * sd[:, None, :])
    # coefficient maps: each level's (J_l q_l) x (all effects) sum of own and ancestors' terms
    maps = []
    for lv, f in enumerate(factors):
        m = np.zeros((f.n_groups * f.n_terms, starts[-1]))
        for j in range(f.n_groups):
            for t, term in enumerate(f.terms):
                g = j
                for up in range(lv, -1, -1):
                    if term in factors[up].terms:
                        m[
                            j * f.n_terms + t,
                            starts[up] + g * factors[up].n_terms + factors[up].terms.index(term),
                        ] = 1.0
                    if up:
                        g = nesting.parents[up][g]
        maps.append(m)
    own_means, own_vars, coef_means, coef_vars = ([] for _ in range(4))
    for s in range(n_draws):
        prior = np.zeros((starts[-1], starts[-1]))
        for lv, f in enumerate(factors):
            precision = np.linalg.inv(covariances[lv][s])
            for j in range(f.n_groups):
                block = slice(starts[lv] + j * f.n_terms, starts[lv] + (j + 1) * f.n_terms)
                prior[block, block] = precision
        s2 = sigma[s] ** 2
        cov = np.linalg.inv(z.T @ z / s2 + prior)
        mean = cov @ z.T @ (y - x @ beta[s]) / s2
        own_means.append(mean)
        own_vars.append(np.diag(cov))
        offset = np.concatenate(
            [
                np.tile([beta[s][data.population.index(t)] for t in f.terms], f.n_groups)
                for f in factors
            ]
        )
        big = np.vstack(maps)
        coef_means.append(big @ mean + offset)
        coef_vars.append(np.einsum("ij,jk,ik->i", big, cov, big))
    out = {}
    for kind, means, variances, bounds in (
        ("own", own_means, own_vars, starts),
        ("coef", coef_means, coef_vars, starts),
    ):
        means, variances = np.array(means), np.array(variances)
        for lv, f in enumerate(factors):
            part = slice(bounds[lv], bounds[lv + 1])
            shape = (f.n_groups, f.n_terms)
            m = means[:, part]
            w = variances[:, part] + (m - m.mean(0)) ** 2
            out[kind, lv] = (
                m.mean(0).reshape(shape),
                (variances[:, part].mean(0) + m.var(0)).reshape(shape),
                m.var(0).reshape(shape),
                w.var(0).reshape(shape),
            )
    return out


@pytest.mark.parametrize(
    ("formula", "small_blocks"), [(FORMULA, False), (FORMULA, True), (SLOPES, False)]
)
def test_nested_moments_equal_a_dense_joint_posterior_per_draw(formula, small_blocks, monkeypatch):
    if small_blocks:  # one district per block, one draw per tile
        monkeypatch.setattr(module, "GROUP_BLOCK", 1)
        monkeypatch.setattr(module, "BLOCK_VALUES", 1)
    frame = _table()
    data = build_model_data(frame, parse_formula(formula))
    nesting = nesting_of(data)
    assert nesting is not None and nesting.names == ("d", "d:s", "d:s:c")
    n_draws = 150  # more than two tiles of 64 draws
    posterior = _posterior(nesting, n_draws, np.random.default_rng(7))
    reference = _dense(frame, data, nesting, posterior)
    own = nested_rao_blackwell(posterior, data, nesting)
    beta = posterior[BETA].values.reshape(-1, 2)
    coefficients = nested_rao_blackwell(
        posterior,
        data,
        nesting,
        selectors=[coefficient_selector(nesting, lv) for lv in range(3)],
        offsets=[
            np.column_stack([beta[:, data.population.index(t)] for t in f.terms])
            for f in nesting.factors
        ],
    )
    for kind, moments in (("own", own), ("coef", coefficients)):
        for lv in range(3):
            mean, variance, spread, spread_w = reference[kind, lv]
            got = moments[lv]
            np.testing.assert_allclose(got.mean, mean, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(got.variance, variance, rtol=1e-9)
            np.testing.assert_allclose(got.spread, spread, rtol=1e-7, atol=1e-14)
            np.testing.assert_allclose(got.spread_w, spread_w, rtol=1e-7, atol=1e-14)


def test_only_the_levels_asked_for_are_returned():
    frame = _table()
    data = build_model_data(frame, parse_formula(FORMULA))
    nesting = nesting_of(data)
    posterior = _posterior(nesting, 20, np.random.default_rng(2))
    every = nested_rao_blackwell(posterior, data, nesting)
    middle = nested_rao_blackwell(posterior, data, nesting, [1])
    assert list(middle) == [1]
    np.testing.assert_array_equal(middle[1].mean, every[1].mean)
    np.testing.assert_array_equal(middle[1].variance, every[1].variance)


def test_a_nested_fits_summary_and_coefficients_agree_with_the_draws_within_mcse():
    """A small nested fit holds every level's exact draws, so the draws-based mean, sd and MCSE
    (ArviZ's, :func:`posterior_summary`) can be set beside the RB rows of the summary, and the
    coefficients' table beside its draws' (ancestors' same terms added per draw)."""
    import hbm
    from hbm.analysis.effects import coefficient_draws, group_coefficients
    from hbm.diagnostics.convergence import summary_frame
    from hbm.results.fit_summary import DRAWS, METHOD, RAO_BLACKWELL, hyper_ess
    from hbm.results.summary import posterior_summary

    fit = hbm.fit(
        _table_for_fit(),
        formula="y ~ x + (1 + x | d) + (1 | d:s)",
        parametrization="marginal",
        random_seed=2,
        draws=500,
        tune=300,
        chains=2,
        progressbar=False,
    )
    result = fit.result
    assert {"u_d", "u_d:s"} <= set(result.idata["posterior"].data_vars)  # held: small
    summary = fit.summary()
    effects = summary["param"].str.startswith("u_")
    assert set(summary.loc[effects, METHOD]) == {RAO_BLACKWELL}
    assert set(summary.loc[~effects, METHOD]) == {DRAWS}
    rows = summary[effects].reset_index(drop=True)
    assert rows["r_hat"].isna().all() and rows["ess_bulk"].isna().all()
    draws = posterior_summary(result.idata, parameters=result.parameters)
    draws = draws[draws["param"].str.startswith("u_")].reset_index(drop=True)
    assert list(draws["param"]) == list(rows["param"]) and len(rows) > 60
    assert np.all(np.abs(rows["mean"] - draws["mean"]) < 4.5 * draws["mcse_mean"])
    assert np.all(np.abs(rows["sd"] - draws["sd"]) < 4.5 * draws["mcse_sd"])
    # Per effective draw RB's error is smaller for every row (law of total variance): at the
    # draws' own ESS its MCSE is below theirs.
    ess_draws = (draws["sd"] / draws["mcse_mean"]) ** 2
    ess = hyper_ess(summary, result.parameters)
    assert np.all(rows["mcse_mean"] * np.sqrt(ess / ess_draws) < draws["mcse_mean"])
    # As reported (at the smallest hyperparameter ESS), smaller for every school; a district's
    # intercept tracks beta, so there its conditional means vary nearly as much as its draws and
    # the conservative ESS can make the reported RB MCSE the larger (see the module docstring).
    schools = rows["param"].str.startswith("u_d:s[")
    assert schools.sum() > 60
    assert np.all(rows.loc[schools, "mcse_mean"] < draws.loc[schools, "mcse_mean"])
    for column in ("eti94_lb", "eti94_ub"):  # quantiles of the same exact draws
        np.testing.assert_allclose(rows[column], draws[column], rtol=1e-9)

    chains = result.idata["posterior"].sizes["chain"]
    for factor in result.model_data.factors:
        table = group_coefficients(result, factor.name)
        values = coefficient_draws(result, factor)  # (S, J, q)
        dataset = xr.Dataset(
            {"c": (("chain", "draw", "g", "t"), values.reshape(chains, -1, *values.shape[1:]))}
        )
        reference = summary_frame(dataset, ["c"])
        assert np.all(
            np.abs(table["mean"] - reference["mean"].to_numpy())
            < 4.5 * reference["mcse_mean"].to_numpy()
        )
        assert np.all(
            np.abs(table["sd"] - reference["sd"].to_numpy()) < 4.5 * reference["mcse_sd"].to_numpy()
        )
        np.testing.assert_allclose(table["eti94_lb"], reference["eti94_lb"], rtol=1e-9)


def _table_for_fit() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    rows = []
    for d in range(6):
        shift, slope = rng.normal(0, 1), rng.normal(0, 0.4)
        for s in range(int(rng.integers(8, 14))):
            school = rng.normal(0, 0.6)
            for _ in range(int(rng.integers(1, 6))):
                x = rng.normal(1.0, 1.0)
                y = 3 + shift + school + (0.7 + slope) * x + rng.normal(0, 0.8)
                rows.append((f"d{d}", f"s{s}", x, y))
    return pd.DataFrame(rows, columns=["d", "s", "x", "y"])
