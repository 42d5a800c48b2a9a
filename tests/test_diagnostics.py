"""Diagnosis: divergences per chain, R-hat, bulk/tail ESS, E-BFMI, tree depth, few groups.

Most tests build a DataTree by hand, so each check is exact and fast; two fit eight schools to
show the verdict on the funnel (centered) and without it (default).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

import hbm
from hbm.diagnostics.diagnosis import EBFMI_OK, Diagnosis, diagnose

CHAINS, DRAWS = 4, 500
LABELS = ["a", "b", "c", "d", "e", "f"]


def tree(
    *,
    seed: int = 0,
    groups: int = 6,
    sampler: str = "nutpie",
    diverging: np.ndarray | None = None,
    shift: float = 0.0,
    ar: float = 0.0,
    energy: np.ndarray | None = None,
    saturated: np.ndarray | None = None,
    tau: np.ndarray | None = None,
) -> xr.DataTree:
    """A fit-like DataTree with independent normal draws unless told otherwise.

    ``shift`` moves chain 0's ``mu`` (R-hat), ``ar`` makes ``mu`` an AR(1) chain (ESS).
    """
    rng = np.random.default_rng(seed)
    shape = (CHAINS, DRAWS)
    mu = rng.normal(size=shape)
    if ar:
        for t in range(1, DRAWS):
            mu[:, t] = ar * mu[:, t - 1] + np.sqrt(1 - ar**2) * mu[:, t]
    mu[0] += shift
    tau = np.exp(rng.normal(size=shape)) if tau is None else tau
    theta = mu[..., None] + tau[..., None] * rng.normal(size=(*shape, groups))
    coords = {"chain": np.arange(CHAINS), "draw": np.arange(DRAWS), "school": LABELS[:groups]}
    posterior = xr.Dataset(
        {
            "mu": (("chain", "draw"), mu),
            "tau": (("chain", "draw"), tau),
            "theta": (("chain", "draw", "school"), theta),
        },
        coords=coords,
    )
    names = {
        "nutpie": ("depth", "maxdepth_reached"),
        "pymc": ("tree_depth", "reached_max_treedepth"),
    }
    depth_name, saturated_name = names[sampler]
    saturated = np.zeros(shape, bool) if saturated is None else saturated
    stats = xr.Dataset(
        {
            "diverging": (
                ("chain", "draw"),
                np.zeros(shape, bool) if diverging is None else diverging,
            ),
            "energy": (("chain", "draw"), rng.normal(size=shape) if energy is None else energy),
            depth_name: (("chain", "draw"), np.where(saturated, 10, 3)),
            saturated_name: (("chain", "draw"), saturated),
        },
        coords={"chain": coords["chain"], "draw": coords["draw"]},
    )
    return xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats})


def run(
    idata: xr.DataTree, parametrization: str = "centered", sampler: str = "nutpie"
) -> Diagnosis:
    return diagnose(idata, parametrization=parametrization, sampler=sampler)


def test_clean_draws_are_ok_and_json_has_the_contract_keys():
    d = run(tree())
    assert d.verdict == "ok", d.advice
    assert d.divergences == 0 and d.divergences_per_chain == [0] * CHAINS
    assert d.max_r_hat <= 1.01 and d.min_ess_bulk >= 400 and d.min_ess_tail >= 400
    assert set(d.parameters) == {"mu", "tau"}
    assert len(d.e_bfmi_per_chain) == CHAINS and min(d.e_bfmi_per_chain) > EBFMI_OK
    assert d.tree_depth_saturation_per_chain == [0.0] * CHAINS and d.max_tree_depth == 3
    out = json.loads(json.dumps(d.to_dict()))
    for key in (
        "verdict",
        "advice",
        "divergences",
        "max_r_hat",
        "min_ess_bulk",
        "parametrization",
        "sampler",
        "divergences_per_chain",
        "min_ess_tail",
        "e_bfmi_per_chain",
        "tree_depth_saturation_per_chain",
        "attempts",
    ):
        assert key in out
    assert "can be trusted" in d.advice[0]


def test_divergences_are_counted_per_chain_and_located_at_small_tau():
    tau = np.exp(np.random.default_rng(1).normal(size=(CHAINS, DRAWS)))
    diverging = np.zeros((CHAINS, DRAWS), bool)
    smallest = np.argsort(tau[1])[:6]  # six divergent draws in chain 1, all at its smallest tau
    diverging[1, smallest] = True
    diverging[3, np.argsort(tau[3])[:2]] = True
    d = run(tree(tau=tau, diverging=diverging))
    assert d.divergences == 8 and d.divergences_per_chain == [0, 6, 0, 2]
    assert d.verdict == "warn"  # 8 of 2000 draws is below 1%
    assert d.funnel["where"] == "small tau" and d.funnel["below_median_tau"] == 8
    assert "concentrate at small tau: the funnel" in d.advice[0]
    assert "parametrization='marginal'" in d.advice[0]


def test_many_divergences_fail_and_advice_depends_on_the_parametrization():
    diverging = np.zeros((CHAINS, DRAWS), bool)
    diverging[:, ::20] = True  # 5% of draws
    idata = tree(diverging=diverging)
    assert run(idata).verdict == "fail"
    assert "target_accept" in run(idata, "marginal").advice[0]
    assert "inverted funnel" in run(idata, "noncentered").advice[0]


def test_r_hat_flags_a_chain_that_sits_elsewhere():
    d = run(tree(shift=1.0))  # one chain of four off by one posterior sd
    assert d.worst_r_hat == "mu" and d.max_r_hat > 1.05
    assert d.verdict == "fail"
    assert any(a.startswith("R-hat of mu") for a in d.advice)


def test_low_bulk_and_tail_ess_name_the_parameter_and_ask_for_draws():
    d = run(tree(ar=0.97))
    assert d.worst_ess_bulk == "mu" and d.min_ess_bulk < 400
    assert d.parameters["mu"]["ess_bulk"] == d.min_ess_bulk
    assert any(a.startswith("bulk ESS of mu") and "increase draws" in a for a in d.advice)
    assert any(a.startswith("tail ESS of") for a in d.advice)


def test_low_e_bfmi_is_reported_for_its_chain():
    rng = np.random.default_rng(3)
    energy = rng.normal(size=(CHAINS, DRAWS))
    # A random walk in chain 2: successive energies barely change, so E-BFMI is tiny.
    energy[2] = np.cumsum(rng.normal(scale=0.05, size=DRAWS))
    d = run(tree(energy=energy))
    assert d.e_bfmi_per_chain[2] < EBFMI_OK <= min(np.delete(d.e_bfmi_per_chain, 2))
    assert d.verdict == "warn"
    assert any("E-BFMI is low (chain 2" in a for a in d.advice)


@pytest.mark.parametrize("sampler", ["nutpie", "pymc"])
def test_tree_depth_saturation_is_read_for_both_samplers(sampler):
    saturated = np.zeros((CHAINS, DRAWS), bool)
    saturated[0, :50] = True  # 10% of chain 0
    d = run(tree(saturated=saturated, sampler=sampler), sampler=sampler)
    assert d.tree_depth_saturation_per_chain == [0.1, 0.0, 0.0, 0.0]
    assert d.max_tree_depth == 10
    assert d.verdict == "warn"
    assert any("maximum tree depth (chain 0 10%" in a for a in d.advice)


def test_fewer_than_five_groups_warn_that_tau_is_barely_identified():
    d = run(tree(groups=3))
    assert d.n_groups == 3 and d.verdict == "warn"
    assert "Only 3 groups: tau" in d.advice[0]
    assert "can be trusted (see the note above)" in d.advice[-1]
    assert run(tree(groups=5)).verdict == "ok"


def test_fixed_tau_has_no_few_groups_warning():
    d = run(tree(groups=3, tau=np.ones((CHAINS, DRAWS))))
    assert d.verdict == "ok" and "tau" not in d.parameters


def test_eight_schools_centered_diverges_and_the_advice_names_the_funnel():
    df = hbm.datasets.load("eight_schools")
    fit = hbm.fit(
        df,
        group="school",
        value="effect",
        se="stderr",
        parametrization="centered",
        priors={"mu": "normal(0, 5)", "tau": "halfcauchy(5)"},
        draws=500,
        tune=500,
        random_seed=1,
        progressbar=False,
    )
    d = fit.diagnose()
    assert d.divergences > 0 and d.verdict != "ok"
    assert d.funnel["where"] == "small tau"
    assert "the funnel between tau and theta" in d.advice[0]
    assert "parametrization='marginal'" in d.advice[0]
    ess = [a for a in d.advice if " ESS of " in a]
    assert ess and all("change the parametrization rather than add draws" in a for a in ess)
    assert len(d.attempts) == 1  # an explicit parametrization is never refitted


def test_eight_schools_default_has_no_divergences_and_is_ok():
    df = hbm.datasets.load("eight_schools")
    fit = hbm.fit(df, group="school", value="effect", se="stderr", random_seed=1, progressbar=False)
    d = fit.diagnose()
    assert fit.parametrization == "marginal"
    assert d.divergences == 0 and d.max_r_hat <= 1.01 and d.verdict == "ok", d.advice
