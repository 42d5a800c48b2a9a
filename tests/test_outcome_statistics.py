"""The outcome families' numbers, with default settings (slow).

- BUGS "Surgical" (MultiBUGS Examples, the random-effects model's published posterior): every
  hospital's posterior mortality within 0.35 of its published sd. Tolerance: both Monte Carlo
  errors (about 0.03 sd here) and the priors' difference (BUGS: tau ~ Gamma(0.001, 0.001) on the
  precision; hbm: sd ~ halfnormal(1)), which moves the means by about 0.15 sd.
- 0 divergences with default settings on cbpp (lme4's data), on sparse binomial data (groups of
  1-3 trials, rare events) and on count data with covariates.
- The cells and the rows give the same posterior (binomial from 0/1 rows): means within 5
  combined Monte Carlo standard errors.
- Recovery: the simulating values lie within the 99.5% posterior interval, every family.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special

import hbm

pytestmark = pytest.mark.slow

#: MultiBUGS Examples, "Surgical: Institutional ranking", results for the random effects model
#: (MultiBUGS/MultiBUGS-txt, Examples/Surgical.odc.cp): posterior mean and sd of p[1..12].
BUGS_MEAN = [0.05298, 0.1031, 0.07048, 0.05918, 0.05152, 0.06895, 0.0668, 0.1231, 0.0698, 0.0784,
             0.1023, 0.06838]  # fmt: skip
BUGS_SD = [0.01956, 0.02177, 0.01747, 0.007908, 0.01327, 0.01471, 0.01597, 0.0223, 0.01451,
           0.01988, 0.01762, 0.01174]  # fmt: skip

#: lme4's cbpp (Rdatasets, csv/lme4/cbpp.csv): herd, incidence, size, period.
CBPP = """1 2 14 1;1 3 12 2;1 4 9 3;1 0 5 4;2 3 22 1;2 1 18 2;2 1 21 3;3 8 22 1;3 2 16 2;3 0 16 3;
3 2 20 4;4 2 10 1;4 0 10 2;4 2 9 3;4 0 6 4;5 5 18 1;5 0 25 2;5 0 24 3;5 1 4 4;6 3 17 1;6 0 17 2;
6 0 18 3;6 1 20 4;7 8 16 1;7 1 10 2;7 3 9 3;7 0 5 4;8 12 34 1;9 2 9 1;9 0 6 2;9 0 8 3;9 0 6 4;
10 1 22 1;10 1 22 2;10 0 18 3;10 2 22 4;11 0 25 1;11 5 27 2;11 3 22 3;11 1 22 4;12 2 10 1;
12 1 8 2;12 0 6 3;12 0 5 4;13 1 21 1;13 2 24 2;13 0 19 3;13 0 23 4;14 11 19 1;14 0 2 2;14 0 3 3;
14 0 2 4;15 1 19 1;15 1 15 2;15 1 15 3;15 0 15 4"""


def cbpp() -> pd.DataFrame:
    rows = [row.split() for row in CBPP.replace("\n", "").split(";")]
    table = pd.DataFrame(rows, columns=["herd", "incidence", "size", "period"])
    return table.astype({"incidence": int, "size": int, "period": int})


def _clean(fit) -> None:
    d = fit.diagnose()
    assert d.divergences == 0, d.advice
    assert d.max_r_hat <= 1.01 and d.min_ess_bulk >= 400


def test_surgical_matches_the_published_bugs_posterior():
    fit = hbm.fit(
        hbm.datasets.load("surgical"),
        "p(deaths, operations) ~ 1 + (1 | hospital)",
        family="binomial",
        random_seed=1,
        progressbar=False,
    )
    _clean(fit)
    table = fit.rates(higher_is_better=False)
    z = (table["mean"].to_numpy() - np.array(BUGS_MEAN)) / np.array(BUGS_SD)
    assert np.abs(z).max() < 0.35, z
    # BUGS: hospitals H and K are the only ones whose rank intervals exclude the median rank
    assert table.loc["H", "rank_lb"] >= 7 and table.loc["K", "rank_lb"] >= 7


def test_cbpp_has_no_divergences_by_default():
    fit = hbm.fit(
        cbpp(),
        "p(incidence, size) ~ C(period) + (1 | herd)",
        family="binomial",
        random_seed=1,
        progressbar=False,
    )
    _clean(fit)
    assert fit.diagnose().attempts[0]["divergences"] == 0  # no refit was needed


def test_sparse_binomial_has_no_divergences_by_default():
    rng = np.random.default_rng(11)
    sizes = rng.integers(1, 4, 300)
    g = np.repeat(np.arange(300), sizes)
    y = rng.binomial(1, special.expit(-3.0 + rng.normal(0, 0.8, 300)[g]))
    table = pd.DataFrame({"school": [f"S{j}" for j in g], "passed": y})
    assert (table.groupby("school")["passed"].sum() <= 1).mean() > 0.9  # 0 or 1 events
    fit = hbm.fit(table, "passed ~ 1 + (1 | school)", family="binomial", random_seed=1,
                  progressbar=False)  # fmt: skip
    assert fit.parametrization == "noncentered"
    _clean(fit)


def test_counts_with_covariates_have_no_divergences_by_default():
    rng = np.random.default_rng(12)
    g = np.repeat(np.arange(40), 30)
    x1, x2 = rng.normal(size=g.size), rng.normal(size=g.size)
    exposure = rng.uniform(0.5, 2, g.size)
    mu = exposure * np.exp(0.2 + 0.3 * x1 - 0.2 * x2 + rng.normal(0, 0.4, 40)[g])
    table = pd.DataFrame({"g": g.astype(str), "x1": x1, "x2": x2, "e": exposure,
                          "y": rng.poisson(mu)})  # fmt: skip
    fit = hbm.fit(table, "y ~ x1 + x2 + offset(np.log(e)) + (1 | g)", family="poisson",
                  random_seed=1, progressbar=False)  # fmt: skip
    _clean(fit)


def test_cells_and_rows_give_the_same_posterior():
    rng = np.random.default_rng(13)
    g = np.repeat(np.arange(30), rng.integers(5, 40, 30))
    y = rng.binomial(1, special.expit(-1.0 + rng.normal(0, 0.6, 30)[g]))
    table = pd.DataFrame({"g": [f"G{j:02d}" for j in g], "y": y})
    fits = [
        hbm.fit(table, "y ~ 1 + (1 | g)", family="binomial", likelihood=likelihood,
                parametrization="noncentered", random_seed=seed, progressbar=False)
        for likelihood, seed in (("sufficient", 1), ("rows", 2))
    ]  # fmt: skip
    assert fits[0].data.outcome.form == "cells" and fits[1].data.outcome.form == "rows"
    a, b = (f.summary().set_index("param") for f in fits)
    names = ["beta[Intercept]", "sd_g[Intercept]", "u_g[G00, Intercept]", "u_g[G07, Intercept]"]
    for name in names:
        mcse = np.hypot(a.loc[name, "mcse_mean"], b.loc[name, "mcse_mean"])
        assert abs(a.loc[name, "mean"] - b.loc[name, "mean"]) < 5 * mcse, name


def _simulate(family: str, rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, float]]:
    truth = {"beta[Intercept]": 0.4, "beta[x]": -0.5, "sd_g[Intercept]": 0.6}
    g = np.repeat(np.arange(50), 40)
    x = rng.normal(size=g.size)
    eta = truth["beta[Intercept]"] + truth["beta[x]"] * x
    eta = eta + rng.normal(0, truth["sd_g[Intercept]"], 50)[g]
    table = pd.DataFrame({"g": g.astype(str), "x": x})
    if family == "binomial":
        table["y"] = rng.binomial(1, special.expit(eta))
    elif family == "poisson":
        table["y"] = rng.poisson(np.exp(eta))
    elif family == "negbinomial":
        truth["alpha"] = 3.0
        table["y"] = rng.poisson(rng.gamma(3.0, np.exp(eta) / 3.0))
    else:
        truth |= {"sigma": 0.7, "nu": 4.0}
        table["y"] = eta + 0.7 * rng.standard_t(4.0, g.size)
    return table, truth


@pytest.mark.parametrize("family", ["binomial", "poisson", "negbinomial", "studentt"])
def test_recovery(family):
    table, truth = _simulate(family, np.random.default_rng(14))
    fit = hbm.fit(table, "y ~ x + (1 | g)", family=family, random_seed=1, progressbar=False)
    _clean(fit)
    draws = fit.idata["posterior"]
    for name, value in truth.items():
        base, _, term = name.partition("[")
        values = draws[base]
        if term:
            values = values.sel({values.dims[-1]: term.rstrip("]")})
        low, high = np.quantile(values.values, [0.0025, 0.9975])
        assert low <= value <= high, (name, value, low, high)


def test_separated_data_have_no_divergences_by_default():
    """Complete separation (every treated row a failure): the priors keep beta finite, the fit
    warns, and the default settings sample it without divergences."""
    rng = np.random.default_rng(15)
    g = np.repeat(np.arange(20), 10)
    treated = np.tile([0, 1], 100)
    y = np.where(treated == 1, 0, rng.binomial(1, 0.4, g.size))
    table = pd.DataFrame({"g": [f"G{j}" for j in g], "treated": treated, "y": y})
    fit = hbm.fit(table, "y ~ treated + (1 | g)", family="binomial", random_seed=1,
                  progressbar=False)  # fmt: skip
    d = fit.diagnose()
    assert d.divergences == 0 and d.max_r_hat <= 1.01, d.advice
    assert d.verdict == "warn" and "every row with treated = 1 has no successes" in d.advice[0]
    row = fit.summary().set_index("param").loc["beta[treated]"]
    assert np.isfinite(row["mean"]) and row["mean"] < -1 and np.isfinite(row["sd"])
