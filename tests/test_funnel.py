"""Funnel triage and the funnel plot."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from matplotlib.figure import Figure

import hbm
from hbm.diagnostics.funnel import funnel_triage
from hbm.viz import plot_funnel


def funnel_tree(diverge_at: str | None, *, se: tuple[float, ...] = (1.0, 5.0, 20.0)) -> xr.DataTree:
    """Centered-funnel draws: theta[j] = mu + tau * z; optional divergences at small/large tau."""
    rng = np.random.default_rng(7)
    shape = (2, 400)
    mu = rng.normal(size=shape)
    tau = np.exp(rng.normal(size=shape))
    theta = mu[..., None] + tau[..., None] * rng.normal(size=(*shape, len(se)))
    diverging = np.zeros(shape, bool)
    if diverge_at is not None:
        order = np.argsort(tau, axis=None)
        picked = order[:10] if diverge_at == "small" else order[-10:]
        diverging.flat[picked] = True
    labels = [f"s{j}" for j in range(len(se))]
    coords = {"chain": [0, 1], "draw": np.arange(shape[1])}
    posterior = xr.Dataset(
        {
            "mu": (("chain", "draw"), mu),
            "tau": (("chain", "draw"), tau),
            "theta": (("chain", "draw", "school"), theta),
        },
        coords={**coords, "school": labels},
    )
    stats = xr.Dataset({"diverging": (("chain", "draw"), diverging)}, coords=coords)
    group_data = xr.Dataset(
        {"n": ("school", np.ones(len(se), int)), "se": ("school", list(se))},
        coords={"school": labels},
    )
    idata = xr.DataTree.from_dict(
        {"posterior": posterior, "sample_stats": stats, "group_data": group_data}
    )
    idata.attrs["parametrization"] = "centered"
    return idata


@pytest.mark.parametrize(
    ("at", "where", "below"),
    [("small", "small tau", 10), ("large", "large tau", 0), (None, "none", 0)],
)
def test_triage_says_where_divergences_sit(at, where, below):
    triage = funnel_triage(funnel_tree(at))
    assert triage.where == where and triage.below_median_tau == below
    assert triage.divergences == (0 if at is None else 10)
    if at == "small":
        assert triage.median_tau_divergent < triage.median_tau


def test_pooling_grows_with_the_standard_error_and_theta_follows_tau():
    groups = funnel_triage(funnel_tree(None)).groups
    pooling = [g["pooling"] for g in groups]
    assert pooling == sorted(pooling) and 0 < pooling[0] < pooling[-1] < 1
    # Closed form for the first group: E[1 / (1 + tau^2)] with se = 1.
    tau = funnel_tree(None)["posterior"]["tau"].values
    assert pooling[0] == pytest.approx(np.mean(1 / (1 + tau**2)), abs=1e-4)
    # theta[j] - mu = tau * z, so log|theta - mu| = log tau + log|z| with var(log tau) = 1 and
    # var(log|z|) = pi^2 / 8: correlation 1 / sqrt(1 + pi^2 / 8) = 0.67; 800 draws give sd ~0.02.
    assert all(abs(g["funnel_corr"] - 0.67) < 0.1 for g in groups)


def test_plot_funnel_draws_the_least_informed_groups_with_divergences_in_red():
    figure = plot_funnel(funnel_tree("small"), max_groups=2)
    assert isinstance(figure, Figure)
    axes = [ax for ax in figure.axes if ax.get_visible()]
    assert len(axes) == 2
    assert axes[0].get_title().startswith("theta[s2]")  # se 20: the weakest group first
    assert axes[1].get_title().startswith("theta[s1]")
    red = axes[0].collections[1]
    assert len(red.get_offsets()) == 10
    assert "10 divergent draw(s)" in figure.get_suptitle()


def test_plot_funnel_checks_its_input():
    idata = funnel_tree(None)
    with pytest.raises(ValueError, match=r"'groups' must name labels of 'school'"):
        plot_funnel(idata, groups=["nope"])
    fixed = idata.copy()
    posterior = fixed["posterior"].to_dataset()
    posterior["tau"] = posterior["tau"] * 0 + 1.0
    fixed["posterior"] = posterior
    with pytest.raises(ValueError, match="tau is fixed by its prior"):
        plot_funnel(fixed)


def test_fit_plot_funnel_delegates():
    df = hbm.datasets.load("eight_schools")
    fit = hbm.fit(
        df,
        group="school",
        value="effect",
        se="stderr",
        draws=200,
        tune=200,
        chains=2,
        random_seed=3,
        progressbar=False,
    )
    figure = fit.plot_funnel(groups=["A", "C"])
    assert [ax.get_title().split(" ")[0] for ax in figure.axes] == ["theta[A]", "theta[C]"]


def test_triage_of_a_curve_fit_whose_effects_have_a_term_dimension():
    # A curve model: beta has 3 terms (one shared), sd and u_g 2 (varying). The effects are
    # deviations u = sd * z from the population, so log|u| = log sd + log|z|: correlation 0.67 as
    # above (800 draws per term: sd ~0.02). It used to fail broadcasting u against beta.
    from hbm.model.curve_terms import CurveSpec, curve_parameter_table

    spec = CurveSpec("logistic", ("asym", "xmid"))
    parameters = curve_parameter_table(spec, "g", "noncentered")
    rng = np.random.default_rng(3)
    shape, labels, terms = (2, 400), ["a", "b", "c"], ["asym", "xmid"]
    sd = np.exp(rng.normal(size=(*shape, 2)))
    u = sd[:, :, None, :] * rng.normal(size=(*shape, 3, 2))
    diverging = np.zeros(shape, bool)
    diverging.flat[np.argsort(sd[..., 0], axis=None)[:10]] = True
    coords = {"chain": [0, 1], "draw": np.arange(shape[1]), "g": labels, "g_term": terms}
    posterior = xr.Dataset(
        {
            "beta": (("chain", "draw", "beta_dim"), rng.normal(size=(*shape, 3))),
            "sd_g": (("chain", "draw", "g_term"), sd),
            "u_g": (("chain", "draw", "g", "g_term"), u),
            "sigma": (("chain", "draw"), np.ones(shape)),
        },
        coords={**coords, "beta_dim": ["asym", "xmid", "log_scal"]},
    )
    stats = xr.Dataset({"diverging": (("chain", "draw"), diverging)}, coords=coords)
    idata = xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats})
    triage = funnel_triage(idata, parameters=parameters)
    assert triage.divergences == 10 and len(triage.groups) == 3
    assert all(abs(g["funnel_corr"] - 0.67) < 0.1 for g in triage.groups)
    assert all(np.isnan(g["pooling"]) for g in triage.groups)
