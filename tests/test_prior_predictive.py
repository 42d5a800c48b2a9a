"""Prior predictive checks: draws that match the priors' moments, flags for implausible priors,
the API, and the `--prior-only` result folder."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import xarray as xr
from scipy import stats

import hbm
from hbm.analysis import prior_predictive as module
from hbm.cli import main
from hbm.core.defaults import DEFAULTS
from hbm.reporting.prior_report import FILES
from tests.conftest import simulate_rows

S = 20_000  # independent draws: the MCSE of a mean is sd / sqrt(S)


def _mean_and_sd_match(draws: np.ndarray, dist, what: str) -> None:
    """The draws' mean and sd agree with ``dist``'s within 4 Monte Carlo standard errors.

    The draws are independent, so MCSE(mean) = sd / sqrt(S) and, from the fourth central moment,
    MCSE(sd) = sqrt(mu4 - sd^4) / (2 sd sqrt(S)); 4 MCSE leaves a chance of about 6e-5 per check
    of failing by chance (and the seed is fixed).
    """
    mean, var, _, excess = (float(v) for v in dist.stats(moments="mvsk"))
    sd = np.sqrt(var)
    mu4 = (excess + 3.0) * var**2
    assert abs(draws.mean() - mean) < 4 * sd / np.sqrt(S), what
    assert abs(draws.std(ddof=1) - sd) < 4 * np.sqrt(mu4 - var**2) / (2 * sd * np.sqrt(S)), what


class _Folded:
    """``|X|`` for ``X`` symmetric about 0 (a half-Student-t): its moments from twice the
    half-line integrals of ``X``'s (scipy has no half-t)."""

    def __init__(self, dist) -> None:
        self.dist = dist

    def stats(self, moments: str = "mvsk"):
        raw = [2 * self.dist.expect(lambda x, k=k: x**k, lb=0) for k in (1, 2, 3, 4)]
        mean, var = raw[0], raw[1] - raw[0] ** 2
        central4 = raw[3] - 4 * mean * raw[2] + 6 * mean**2 * raw[1] - 3 * mean**4
        return mean, var, np.nan, central4 / var**2 - 3


@pytest.fixture(scope="module")
def table():
    return simulate_rows(sizes=(4, 9, 16, 25), mu=50, tau=4, sigma=6, seed=8)


PRIORS = [
    ({"mu": "normal(3, 2)", "tau": "halfnormal(4)", "sigma": "exponential(0.5)"}, "first"),
    ({"mu": "studentt(7, 1, 2)", "tau": "halfstudentt(7, 3)", "sigma": "halfnormal(2)"}, "second"),
]


@pytest.mark.parametrize(("priors", "label"), PRIORS, ids=[p[1] for p in PRIORS])
def test_prior_draws_match_the_priors_moments_within_mcse(table, priors, label):
    check = hbm.fit(table, group="group", value="y", priors=priors, prior_only=True,
                    draws=S, chains=1, random_seed=4)  # fmt: skip
    prior = check.idata["prior"]
    references = {
        "normal(3, 2)": stats.norm(3, 2),
        "halfnormal(4)": stats.halfnorm(scale=4),
        "exponential(0.5)": stats.expon(scale=2),
        "studentt(7, 1, 2)": stats.t(7, 1, 2),
        "halfstudentt(7, 3)": _Folded(stats.t(7, scale=3)),
        "halfnormal(2)": stats.halfnorm(scale=2),
    }
    for name, text in priors.items():
        _mean_and_sd_match(prior[name].values.reshape(-1), references[text], f"{name} ~ {text}")
    # Level 2 and the implied rows: theta_j ~ N(mu, tau) and y ~ N(theta_j, sigma), one group's
    # column (independent across draws): E = E[mu], Var = Var(mu) + E[tau^2] (+ E[sigma^2]).
    mu, tau, sigma = (prior[n].values.reshape(-1) for n in ("mu", "tau", "sigma"))
    theta = prior["theta"].values.reshape(S, -1)[:, 0]
    y = check.idata["prior_predictive"]["y"].values.reshape(S, -1)[:, 0]
    for values, variance, what in (
        (theta, mu.var() + np.mean(tau**2), "theta"),
        (y, mu.var() + np.mean(tau**2) + np.mean(sigma**2), "y"),
    ):
        assert abs(values.mean() - mu.mean()) < 4 * np.sqrt(variance / S), what
        assert abs(values.var() / variance - 1) < 0.1, what  # heavy tails: 10%, not MCSE


def test_priors_far_from_the_data_are_flagged_and_seed_priors_are_not(table):
    wide = hbm.fit(table, group="group", value="y", priors={"mu": "normal(0, 1000)",
                   "tau": "halfcauchy(100)"}, prior_only=True, random_seed=1)  # fmt: skip
    advice = " ".join(wide.advice())
    assert "far outside the observed range" in advice and "are negative" in advice
    summary = wide.summary().set_index("quantity")
    assert summary.loc["y", "far_outside"] > 0.5 and summary.loc["y", "negative"] > 0.3
    tight = hbm.fit(table, group="group", value="y", priors={"mu": "normal(0, 0.1)",
                    "tau": "0.1", "sigma": "0.1"}, prior_only=True, random_seed=1)  # fmt: skip
    assert "tighter than the data" in " ".join(tight.advice())
    schools = hbm.fit(hbm.datasets.load("schools"), group="school", value="score",
                      priors="seed", prior_only=True, random_seed=1)  # fmt: skip
    assert schools.advice()[0].startswith("The priors imply rows mostly within")
    mu = schools.summary().set_index("quantity").loc["mu"]
    assert mu["mean"] == pytest.approx(60, abs=0.2) and mu["sd"] == pytest.approx(5**0.5, rel=0.05)


def test_same_seed_same_draws_and_draws_cut_for_very_many_groups(monkeypatch, table):
    one = hbm.fit(table, group="group", value="y", prior_only=True, random_seed=9, draws=100)
    two = hbm.fit(table, group="group", value="y", prior_only=True, random_seed=9, draws=100)
    assert one.idata.identical(two.idata)
    monkeypatch.setattr(module, "DEFAULTS", dataclasses.replace(DEFAULTS, loo_max_values=1000))
    cut = hbm.fit(table, group="group", value="y", prior_only=True, random_seed=9, draws=100)
    assert cut.result.n_draws == 250
    assert "250 draws were made instead of 400" in " ".join(cut.advice())


def test_cli_prior_only_writes_its_folder_and_compare_refuses_it(tmp_path, capsys):
    out = tmp_path / "prior"
    status = main(
        ["fit", "data/eight_schools.csv", "--group", "school", "--value", "effect", "--se",
         "stderr", "--prior", "tau=halfcauchy(5)", "--prior-only", "--seed", "2", "--out",
         str(out)]
    )  # fmt: skip
    assert status == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    tree = xr.open_datatree(out / "prior.nc", engine="h5netcdf")
    assert {"prior", "prior_predictive", "observed_data", "group_data"} <= set(tree.children)
    assert tree.attrs["hbm_format"] == "hbm-prior/1" and tree["prior"].sizes["draw"] == 4000
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "hbm prior predictive check: effect by school" in html and "halfcauchy(5)" in html
    assert html.count('src="data:image/png;base64,') == 1
    capsys.readouterr()
    assert main(["compare", str(out), str(out / "prior.nc")]) == 2
    assert "holds a prior predictive check (--prior-only), not a fit" in capsys.readouterr().err


def test_cli_prior_only_with_a_model_spec_uses_its_priors_and_seed(tmp_path, capsys):
    out = tmp_path / "prior"
    assert (
        main(["fit", "models/eight_schools.toml", "--prior-only", "--quiet", "--out", str(out)])
        == 0
    )
    priors = (out / "priors.csv").read_text(encoding="utf-8")
    assert "halfcauchy(5)" in priors and "normal(0, 5)" in priors
    record = (out / "diagnostics.json").read_text(encoding="utf-8")
    assert '"random_seed": 1' in record and '"draws": 4000' in record
