"""PSIS-LOO by rows and by groups: the log likelihood behind it, agreement with arviz-stats on the
same draws, what fit.nc stores, Pareto k, thinning and refusals."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import xarray as xr
from scipy import stats

import hbm
from hbm.analysis import log_likelihood as loglik_module
from hbm.analysis import loo_blocks as loo_blocks_module
from hbm.analysis.log_likelihood import LOG_LIKELIHOOD
from hbm.analysis.loo import loo
from hbm.core.defaults import DEFAULTS
from hbm.results.fit_result import DerivedCache
from tests.conftest import simulate_rows

QUICK = dict(draws=500, tune=500, chains=2, random_seed=3, progressbar=False)


@pytest.fixture(scope="module")
def rows_fit():
    """Rows kept (likelihood='rows'): both units available."""
    table = simulate_rows(sizes=(2, 5, 8, 12, 20, 3), mu=10, tau=2, sigma=3, seed=11)
    return hbm.fit(table, group="group", value="y", likelihood="rows", **QUICK), table


@pytest.fixture(scope="module")
def schools_fit():
    return hbm.fit(hbm.datasets.load("schools"), group="school", value="score", random_seed=1,
                   progressbar=False)  # fmt: skip


@pytest.mark.filterwarnings("ignore:Estimated shape parameter of Pareto")  # arviz's, on its call
def test_rows_loo_equals_arviz_stats_on_the_same_draws(rows_fit):
    """The rows' log likelihood written independently (scipy, from the raw table) and handed to
    arviz_stats.loo with its defaults gives the same numbers as fit.loo(unit="rows") (1e-9: the
    same PSIS on the same values; only the log likelihood's arithmetic differs)."""
    import arviz_stats

    fit, table = rows_fit
    posterior = fit.idata["posterior"].to_dataset()
    codes = np.array([fit.data.labels.index(g) for g in table["group"]])
    theta = posterior["theta"].values[..., codes]
    sigma = posterior["sigma"].values[..., None]
    reference = stats.norm.logpdf(table["y"].to_numpy(), loc=theta, scale=sigma)
    tree = xr.DataTree.from_dict(
        {
            "posterior": posterior,
            "log_likelihood": xr.Dataset({"y": (("chain", "draw", "obs"), reference)}),
        }
    )
    expected = arviz_stats.loo(tree, pointwise=True)
    got = fit.loo("rows")
    assert got.unit == "rows" and got.n_units == len(table)
    np.testing.assert_allclose(
        [got.elpd, got.se, got.p_loo], [expected.elpd, expected.se, expected.p], rtol=1e-9
    )
    np.testing.assert_allclose(got.elpd_i, expected.elpd_i.values, rtol=1e-9)
    np.testing.assert_allclose(got.pareto_k, expected.pareto_k.values, rtol=1e-9, atol=1e-12)
    assert fit.loo() is got  # rows is the default unit where the rows were kept; cached


def test_groups_log_likelihood_is_each_groups_rows_jointly_with_theta_integrated_out(rows_fit):
    """y_group[s, j] = log N(rows of group j | mu 1, sigma^2 I + tau^2 1 1^T) at draw s: a dense
    multivariate normal (scipy) against the stored values, for every group at a few draws."""
    fit, table = rows_fit
    stored = fit.idata[LOG_LIKELIHOOD]["y_group"].values
    posterior = fit.idata["posterior"]
    for chain, draw in [(0, 0), (1, 77), (0, 499)]:
        mu, tau, sigma = (float(posterior[n].values[chain, draw]) for n in ("mu", "tau", "sigma"))
        for j, label in enumerate(fit.data.labels):
            rows = table.loc[table["group"] == label, "y"].to_numpy()
            cov = sigma**2 * np.eye(len(rows)) + tau**2
            dense = stats.multivariate_normal(np.full(len(rows), mu), cov).logpdf(rows)
            assert stored[chain, draw, j] == pytest.approx(dense, rel=1e-10)


def test_fit_nc_carries_the_log_likelihood_that_arviz_reads_directly(tmp_path, eight_schools):
    import arviz_stats

    fit = hbm.fit(eight_schools, group="school", value="effect", se="stderr", **QUICK)
    path = fit.save(tmp_path / "fit.nc")
    tree = xr.open_datatree(path, engine="h5netcdf")
    assert list(tree[LOG_LIKELIHOOD].data_vars) == ["y_group"]  # one variable: no var_name
    direct = arviz_stats.loo(tree, pointwise=True)
    ours = hbm.load(path).loo()
    assert ours.unit == "groups"
    np.testing.assert_allclose([ours.elpd, ours.se, ours.p_loo], [direct.elpd, direct.se, direct.p])
    np.testing.assert_allclose(ours.elpd_i, direct.elpd_i.values)


def test_integrated_groups_have_small_k_where_conditional_sums_have_k_above_1(schools_fit):
    """schools.csv (30 groups of 2 to 300 rows): with theta integrated out every Pareto k is good;
    the per-group sums given theta's draws put k above good_k for most groups of 20 rows or more
    (15 of 19 with this seed), above 1 for some, and their ELPD is too optimistic."""
    integrated = schools_fit.loo("groups")
    conditional = schools_fit.loo("groups", integrate=False)
    assert integrated.k_counts()["good"] == 30
    assert conditional.k_counts()["very bad"] >= 1
    big = schools_fit.data.n >= 20
    assert np.mean(conditional.pareto_k[big] > conditional.good_k) > 0.6
    assert conditional.elpd > integrated.elpd
    advice = " ".join(conditional.advice())
    assert "integrated out" in advice and "refit=True" in advice
    assert integrated.advice() == [
        "All 30 Pareto k are at most 0.70: the PSIS estimate is reliable."
    ]


def test_rows_unit_is_refused_without_rows_and_for_summaries(schools_fit, eight_schools):
    with pytest.raises(ValueError, match=r"needs the rows.*unit='groups'.*likelihood='rows'"):
        schools_fit.loo("rows")
    summaries = hbm.fit(eight_schools, group="school", value="effect", se="stderr", **QUICK)
    with pytest.raises(ValueError, match=r"one estimate per group: leaving one out is leaving"):
        summaries.loo("rows")
    with pytest.raises(ValueError, match=r"'unit' option must be one of 'groups', 'rows'"):
        summaries.loo("row")


def test_rows_beyond_the_values_limit_are_thinned_then_refused(monkeypatch, rows_fit):
    """The limits are read from DEFAULTS: 50 rows x S draws past 20,000 values use one draw in
    k = ceil(50 S / 20,000); asking for more draws than that leaves refuses, naming the size."""
    fit, _ = rows_fit
    chains, draws = fit.idata["posterior"].sizes["chain"], fit.idata["posterior"].sizes["draw"]
    step = -(-chains * draws * 50 // 20_000)
    kept = chains * -(-draws // step)
    assert step > 1
    small = dataclasses.replace(DEFAULTS, loo_max_values=20_000, loo_min_draws=kept)
    monkeypatch.setattr(loglik_module, "DEFAULTS", small)
    tree = fit.idata.copy()
    del tree[LOG_LIKELIHOOD]  # not stored: computed when asked
    thin = hbm.Fit(dataclasses.replace(fit.result, idata=tree, cache=DerivedCache()))
    result = thin.loo("rows")
    assert result.n_draws == kept
    assert f"one draw in {step} ({kept:,} of {chains * draws:,})" in result.method
    monkeypatch.setattr(
        loglik_module, "DEFAULTS", dataclasses.replace(small, loo_min_draws=kept + 1)
    )
    fresh = hbm.Fit(dataclasses.replace(thin.result, cache=DerivedCache()))
    with pytest.raises(ValueError, match=r"refused for 50 rows.*Leave groups out instead"):
        fresh.loo("rows")


def test_high_k_groups_are_named_and_refitted_when_asked(eight_schools):
    """A ninth school with an estimate far from the rest is highly influential: its k is high,
    the advice names it, and refit=True replaces its PSIS estimate by a refit without it."""
    table = eight_schools.copy()
    table.loc[len(table)] = {"school": "Outlier", "effect": 150.0, "stderr": 4.0}
    fit = hbm.fit(table, group="school", value="effect", se="stderr", **QUICK)
    psis = fit.loo()
    high = psis.high_k()
    assert "Outlier" in high.index
    assert "'Outlier'" in psis.advice()[0] and "refit=True" in " ".join(psis.advice())
    refitted = fit.loo(refit=True)
    assert set(refitted.refitted) == set(high.index)
    assert refitted.high_k().empty and "refitted exactly" in refitted.method
    j = fit.data.labels.index("Outlier")
    assert refitted.elpd_i[j] < psis.elpd_i[j]  # PSIS was too optimistic about it
    with pytest.raises(ValueError, match=r"'refit' option must be False, True or 'all'"):
        fit.loo(refit="some")


def test_a_tree_without_a_stored_log_likelihood_computes_it_from_the_draws(eight_schools):
    fit = hbm.fit(eight_schools, group="school", value="effect", se="stderr", **QUICK)
    stored = fit.loo()
    tree = fit.idata.copy()
    del tree[LOG_LIKELIHOOD]
    recomputed = loo(tree)
    np.testing.assert_array_equal(recomputed.elpd_i, stored.elpd_i)


def test_a_large_fit_leaves_groups_out_a_block_at_a_time(monkeypatch, tmp_path, eight_schools):
    """Within 10M values a fit holds (and fit.nc stores) its groups' log likelihood; past the
    limit (here 100 values) it stores none, and LOO makes it a block of groups at a time
    (here one group per block) with the same result, group for group, as the whole array."""
    small = hbm.fit(eight_schools, group="school", value="effect", se="stderr", **QUICK)
    assert LOG_LIKELIHOOD in small.idata.children
    limited = dataclasses.replace(DEFAULTS, loo_max_values=100)
    monkeypatch.setattr(loglik_module, "DEFAULTS", limited)
    monkeypatch.setattr(loo_blocks_module, "DEFAULTS", limited)
    large = hbm.fit(eight_schools, group="school", value="effect", se="stderr", **QUICK)
    assert LOG_LIKELIHOOD not in large.idata.children
    path = large.save(tmp_path / "large.nc")
    assert LOG_LIKELIHOOD not in xr.open_datatree(path, engine="h5netcdf").children
    blocked, whole = hbm.load(path).loo(), small.loo()
    assert "a block of groups at a time" in blocked.method
    # PSIS smooths each group's column on its own: the same numbers whichever way they are cut
    np.testing.assert_allclose(blocked.elpd_i, whole.elpd_i, rtol=1e-12, atol=0)
    np.testing.assert_allclose(blocked.pareto_k, whole.pareto_k, rtol=1e-12, atol=0)
    assert blocked.elpd == pytest.approx(whole.elpd, rel=1e-12)
    assert blocked.se == pytest.approx(whole.se, rel=1e-12)


def test_a_saved_rows_fit_past_the_limit_says_why_it_cannot_leave_rows_out(
    monkeypatch, tmp_path, rows_fit
):
    fit, _ = rows_fit
    monkeypatch.setattr(loglik_module, "DEFAULTS", dataclasses.replace(DEFAULTS, loo_max_values=10))
    tree = fit.idata.copy()
    del tree[LOG_LIKELIHOOD]
    again = hbm.Fit(dataclasses.replace(fit.result, idata=tree, cache=DerivedCache()))
    loaded = hbm.load(again.save(tmp_path / "fit.nc"))
    with pytest.raises(ValueError, match=r"made with likelihood='rows', but .* x 50 rows is more"):
        loaded.loo("rows")
    assert loaded.loo().unit == "groups"
