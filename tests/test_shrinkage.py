"""The shrinkage table, the ICC, the pooling comparison and the posterior predictive check.

Exact checks run on DataTrees with chosen draws (no sampling) against independent computations
(scipy ranks, loops, the rows themselves); one statistical check fits eight schools with ``tau``
fixed, where the posterior is Gaussian in closed form.
"""

from __future__ import annotations

import math

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

import hbm
import hbm.analysis.ppc
from hbm.analysis.draws import quarter_size
from hbm.analysis.ppc import posterior_predictive
from hbm.analysis.shrinkage import icc, pooling_comparison, shrinkage_table
from hbm.data.grouped import grouped_data
from hbm.results.tree import as_result
from tests._fit_trees import fit_tree

LABELS = ["Ashford", "Brook", "Cedar", "Dale", "Eden", "Fern", "Glen"]


@pytest.fixture(scope="module")
def rows_tree() -> xr.DataTree:
    rng = np.random.default_rng(11)
    chains, draws, n_groups = 3, 400, len(LABELS)
    return fit_tree(
        rng.normal(loc=np.arange(n_groups) * 0.3, scale=1.0, size=(chains, draws, n_groups)),
        mu=rng.normal(size=(chains, draws)),
        tau=rng.gamma(4.0, 0.5, size=(chains, draws)),
        sigma=rng.gamma(9.0, 0.4, size=(chains, draws)),
        labels=LABELS,
        n=np.array([1, 2, 3, 5, 8, 13, 40]),
        mean=np.linspace(-1.0, 2.0, n_groups),
        ss=np.array([0.0, 1.0, 4.0, 9.0, 20.0, 30.0, 100.0]),
    )


def _theta(tree: xr.DataTree) -> np.ndarray:
    return tree["posterior"]["theta"].values.reshape(-1, len(LABELS))


def test_ranks_and_league_probabilities_match_scipy_ranks(rows_tree):
    table = shrinkage_table(rows_tree)
    theta = _theta(rows_tree)
    ranks = np.vstack([stats.rankdata(-row) for row in theta])  # independent: scipy, 1 = highest
    k = quarter_size(len(LABELS))
    assert k == 2  # ceil(7 / 4)
    np.testing.assert_allclose(table["rank"], ranks.mean(axis=0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(table["p_best"], (ranks == 1).mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(table["p_top_quarter"], (ranks <= k).mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(table["p_bottom_quarter"], (ranks > 7 - k).mean(axis=0), atol=1e-12)
    # Every draw has exactly one best group and k groups in each quarter.
    assert table["p_best"].sum() == pytest.approx(1.0, abs=1e-12)
    assert table["p_top_quarter"].sum() == pytest.approx(k, abs=1e-12)
    assert table["p_bottom_quarter"].sum() == pytest.approx(k, abs=1e-12)
    lo, hi = np.quantile(ranks, [0.03, 0.97], axis=0, method="inverted_cdf")
    assert table["rank_lb"].tolist() == lo.astype(int).tolist()
    assert table["rank_ub"].tolist() == hi.astype(int).tolist()
    assert table.index.name == "school" and table.index.tolist() == LABELS


def test_edits_to_a_returned_table_never_reach_the_cached_one(rows_tree):
    """The cached tables are handed out as copy-on-write copies (no second copy of 200,000
    rows): a caller's edits must still leave the next caller's table as computed."""
    result = as_result(rows_tree)
    for get in (result.summary, lambda: shrinkage_table(result)):
        first = get()
        before = first.copy(deep=True)
        column = first.select_dtypes("number").columns[0]
        first.loc[first.index[0], column] = -1.0e9
        first["added"] = 1.0
        pd.testing.assert_frame_equal(get(), before)


def test_lower_is_better_reverses_the_ranks(rows_tree):
    up = shrinkage_table(rows_tree)
    down = shrinkage_table(rows_tree, higher_is_better=False)
    np.testing.assert_allclose(up["rank"] + down["rank"], len(LABELS) + 1, atol=1e-12)
    np.testing.assert_allclose(
        down["p_best"], (np.argmin(_theta(rows_tree), axis=1)[:, None] == np.arange(7)).mean(axis=0)
    )


def test_posterior_moments_and_pooling_factor_match_loops(rows_tree):
    table = shrinkage_table(rows_tree, ci_prob=0.9)
    theta = _theta(rows_tree)
    post = rows_tree["posterior"]
    tau = post["tau"].values.ravel()
    sigma = post["sigma"].values.ravel()
    n = rows_tree["group_data"]["n"].values
    for j, label in enumerate(LABELS):
        lam = [(s**2 / n[j]) / (s**2 / n[j] + t**2) for s, t in zip(sigma, tau, strict=True)]
        assert table.loc[label, "pooling"] == pytest.approx(np.mean(lam), rel=1e-12)
        assert table.loc[label, "mean"] == pytest.approx(theta[:, j].mean(), rel=1e-12)
        assert table.loc[label, "sd"] == pytest.approx(theta[:, j].std(ddof=1), rel=1e-12)
        lo, hi = np.percentile(theta[:, j], [5, 95])
        assert table.loc[label, "eti90_lb"] == pytest.approx(lo)
        assert table.loc[label, "eti90_ub"] == pytest.approx(hi)
    # Bigger groups are pooled less (same draws of sigma, tau for all groups).
    assert np.all(np.diff(table["pooling"].to_numpy()) < 0)
    assert table["shift"].to_numpy() == pytest.approx(
        (table["mean"] - table["raw_mean"]).to_numpy()
    )


def test_icc_matches_its_definition(rows_tree):
    post = rows_tree["posterior"]
    values = (post["tau"] ** 2 / (post["tau"] ** 2 + post["sigma"] ** 2)).values.ravel()
    result = icc(rows_tree)
    assert result.name == "icc"
    assert result["mean"] == pytest.approx(values.mean(), rel=1e-12)
    assert result["eti94_lb"] == pytest.approx(np.quantile(values, 0.03))
    assert result["eti94_ub"] == pytest.approx(np.quantile(values, 0.97))
    assert 0 < result["eti94_lb"] < result["mean"] < result["eti94_ub"] < 1


def test_icc_is_refused_for_summaries_with_the_reason():
    tree = _summaries_tree()
    with pytest.raises(ValueError, match=r"summaries form \(se='se'\).*rows form only"):
        icc(tree)
    table = shrinkage_table(tree)
    assert "se" in table.columns and "n" not in table.columns
    # Summaries: lambda_j = se_j^2 / (se_j^2 + tau^2), averaged over the draws of tau.
    tau = tree["posterior"]["tau"].values.ravel()
    se = tree["group_data"]["se"].values
    expected = [np.mean(s**2 / (s**2 + tau**2)) for s in se]
    np.testing.assert_allclose(table["pooling"], expected, rtol=1e-12)


def _summaries_tree() -> xr.DataTree:
    rng = np.random.default_rng(3)
    return fit_tree(
        rng.normal(size=(2, 300, 4)),
        mu=rng.normal(size=(2, 300)),
        tau=rng.gamma(2.0, 2.0, size=(2, 300)),
        labels=["a", "b", "c", "d"],
        mean=np.array([28.0, 8.0, -3.0, 7.0]),
        se=np.array([15.0, 10.0, 16.0, 11.0]),
        value="effect",
    )


def test_pooling_comparison_rows_against_the_rows_themselves():
    table = pd.DataFrame(
        {"school": list("aaabbbbcc"), "score": [1.0, 2.0, 6.0, 4.0, 4.5, 5.0, 9.0, 7.0, 8.0]}
    )
    data = grouped_data(table, group="school", value="score")
    rng = np.random.default_rng(0)
    tree = fit_tree(
        rng.normal(size=(2, 100, 3)),
        mu=rng.normal(size=(2, 100)),
        tau=np.ones((2, 100)),
        sigma=np.ones((2, 100)),
        labels=list(data.labels),
        n=data.n,
        mean=data.mean,
        ss=data.ss,
    )
    out = pooling_comparison(tree)
    z = stats.norm.ppf(0.97)
    y = table["score"]
    within = table.groupby("school")["score"].transform("mean")
    pooled_sd = math.sqrt(((y - within) ** 2).sum() / (len(y) - 3))
    counts = table.groupby("school")["score"].count()
    means = table.groupby("school")["score"].mean()
    for label in "abc":
        half = z * pooled_sd / math.sqrt(counts[label])
        assert out.loc[label, "no_mean"] == pytest.approx(means[label])
        assert out.loc[label, "no_ub"] - out.loc[label, "no_lb"] == pytest.approx(2 * half)
    assert out["complete_mean"].tolist() == pytest.approx([y.mean()] * 3)
    half = z * y.std(ddof=1) / math.sqrt(len(y))
    assert out["complete_ub"].iloc[0] - out["complete_lb"].iloc[0] == pytest.approx(2 * half)


def test_pooling_comparison_summaries_is_precision_weighted():
    tree = _summaries_tree()
    out = pooling_comparison(tree)
    y, se = np.array([28.0, 8.0, -3.0, 7.0]), np.array([15.0, 10.0, 16.0, 11.0])
    w = 1 / se**2
    assert out["complete_mean"].iloc[0] == pytest.approx(np.sum(w * y) / w.sum())
    z = stats.norm.ppf(0.97)
    np.testing.assert_allclose(out["no_ub"] - out["no_lb"], 2 * z * se)


def test_bad_sources_and_options_are_named():
    with pytest.raises(TypeError, match=r"an hbm Fit or a fit's xarray\.DataTree; got dict"):
        shrinkage_table({})
    bare = xr.DataTree.from_dict({"posterior": xr.Dataset({"mu": (("chain", "draw"), [[0.0]])})})
    with pytest.raises(ValueError, match="lacks the 'group_data' group and the 'hbm_spec'"):
        as_result(bare)
    with pytest.raises(ValueError, match="'ci_prob' option must be a number between 0 and 1"):
        shrinkage_table(_summaries_tree(), ci_prob=94)


def test_ppc_from_sufficient_statistics_matches_simulated_rows(rows_tree):
    """The replicated within-group sds (chi-square) match sds of simulated rows.

    Tolerance: the mean of 1200 replicated sds has a standard error of sd/sqrt(1200); the
    difference of two such means must lie within 4.5 combined standard errors.
    """
    check = posterior_predictive(rows_tree)
    sigma = rows_tree["posterior"]["sigma"].values.ravel()
    theta = _theta(rows_tree)
    n = rows_tree["group_data"]["n"].values
    rng = np.random.default_rng(99)
    for j in range(1, len(LABELS)):
        rows = theta[:, j, None] + sigma[:, None] * rng.standard_normal((len(sigma), n[j]))
        brute_sd, brute_mean = rows.std(axis=1, ddof=1), rows.mean(axis=1)
        for ours, brute in ((check.rep_sd[:, j], brute_sd), (check.rep_mean[:, j], brute_mean)):
            se = math.sqrt((ours.var() + brute.var()) / len(brute))
            assert abs(ours.mean() - brute.mean()) < 4.5 * se
            assert ours.std() == pytest.approx(brute.std(), rel=0.15)
    assert np.isnan(check.rep_sd[:, 0]).all() and np.isnan(check.observed_sd[0])


def test_ppc_is_reproducible_and_its_p_values_are_probabilities(rows_tree):
    first, again = posterior_predictive(rows_tree), posterior_predictive(rows_tree)
    np.testing.assert_array_equal(first.rep_mean, again.rep_mean)
    other = posterior_predictive(rows_tree, random_seed=8)
    assert not np.array_equal(first.rep_mean, other.rep_mean)
    stats_ = first.statistics()
    assert set(stats_) == {"sd of group means", "sd of within-group sds"}
    assert all(0 <= s["p_value"] <= 1 for s in stats_.values())
    lb, ub = first.intervals("mean")
    assert np.all(lb < ub)
    assert set(first.outside("mean")) <= set(LABELS)
    summaries = posterior_predictive(_summaries_tree())
    assert summaries.rep_sd is None and set(summaries.statistics()) == {"sd of group means"}
    with pytest.raises(ValueError, match="rows form only"):
        summaries.intervals("sd")


def test_ppc_new_groups_match_two_stage_simulation(rows_tree):
    """``new_mean ~ Normal(mu, sqrt(tau^2 + s^2))`` in one draw equals ``theta_new ~ Normal(mu,
    tau)`` then ``Normal(theta_new, s)``: means within 4.5 standard errors, sds within 15%."""
    check = posterior_predictive(rows_tree)
    post = rows_tree["posterior"]
    mu, tau, sigma = (post[name].values.ravel() for name in ("mu", "tau", "sigma"))
    n = rows_tree["group_data"]["n"].values
    rng = np.random.default_rng(5)
    theta_new = mu[:, None] + tau[:, None] * rng.standard_normal((mu.size, n.size))
    brute = theta_new + sigma[:, None] / np.sqrt(n) * rng.standard_normal(theta_new.shape)
    for ours, other in zip(check.new_mean.T, brute.T, strict=True):
        se = math.sqrt((ours.var() + other.var()) / mu.size)
        assert abs(ours.mean() - other.mean()) < 4.5 * se
        assert ours.std() == pytest.approx(other.std(), rel=0.15)


def test_ppc_of_many_groups_thins_the_draws_evenly(rows_tree, monkeypatch):
    """Past the size limit every k-th draw is replicated, and said so; the replicates still sit
    on their own draws: (rep - theta) / s is standard normal (sd within 10% over 2,800 values)."""
    full = posterior_predictive(rows_tree, random_seed=3)
    assert not full.thinned and full.rep_mean.shape[0] == 1200
    assert full.describe_draws() == "One replicate per posterior draw (1,200)."
    monkeypatch.setattr(hbm.analysis.ppc, "MAX_REPLICATED_VALUES", 1200 * len(LABELS) // 3)
    thin = posterior_predictive(rows_tree, random_seed=3)
    assert thin.thinned and thin.rep_mean.shape == (400, len(LABELS))
    assert thin.n_posterior_draws == 1200 and thin.draw_step == 3
    assert thin.rep_sd.shape == (400, len(LABELS))
    assert "thinned to one draw in 3 (400 of 1,200)" in thin.describe_draws()
    sigma = rows_tree["posterior"]["sigma"].values.ravel()[::3]
    n = rows_tree["group_data"]["n"].values
    z = (thin.rep_mean - _theta(rows_tree)[::3]) / (sigma[:, None] / np.sqrt(n))
    assert z.std() == pytest.approx(1.0, rel=0.1)


def test_eight_schools_with_tau_fixed_matches_the_closed_form():
    """With tau fixed and mu ~ Normal(m0, s0), the posterior is Gaussian in closed form.

    mu | y ~ Normal(M, 1/sqrt(P)), P = 1/s0² + sum w_j, w_j = 1/(tau² + se_j²);
    theta_j | y has mean lambda_j M + (1 - lambda_j) y_j and variance
    (1 - lambda_j) se_j² + lambda_j² / P, with lambda_j = se_j² / (se_j² + tau²) (exactly the
    pooling factor, which is constant here). Tolerance on the means: 4 Monte Carlo standard errors
    (from ESS); on the sds: 10% (4000 draws give a relative sd error of about 1-2%).
    """
    table = hbm.datasets.load("eight_schools")
    tau, m0, s0 = 6.0, 0.0, 20.0
    fit = hbm.fit(
        table,
        group="school",
        value="effect",
        se="stderr",
        priors={"mu": f"normal({m0}, {s0})", "tau": str(tau)},
        random_seed=5,
        draws=1000,
        tune=500,
        chains=4,
        progressbar=False,
    )
    y, se = table["effect"].to_numpy(float), table["stderr"].to_numpy(float)
    w = 1 / (tau**2 + se**2)
    precision = 1 / s0**2 + w.sum()
    big_m = (m0 / s0**2 + np.sum(w * y)) / precision
    lam = se**2 / (se**2 + tau**2)
    exact_mean = lam * big_m + (1 - lam) * y
    exact_sd = np.sqrt((1 - lam) * se**2 + lam**2 / precision)
    result = fit.shrinkage()
    mcse = az.mcse(fit.idata["posterior"]["theta"]).values  # fit.summary() warns on fixed tau
    for j, label in enumerate(table["school"]):
        assert abs(result.loc[label, "mean"] - exact_mean[j]) < 4 * mcse[j]
        assert result.loc[label, "sd"] == pytest.approx(exact_sd[j], rel=0.10)
        assert result.loc[label, "pooling"] == pytest.approx(lam[j], rel=1e-12)
