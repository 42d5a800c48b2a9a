"""Prior predictive checks of formula models: the draws follow the priors, the data follow them.

Tolerances: each prior mean within 4 Monte Carlo standard errors (sd / sqrt(draws)) of its closed
form, each sd within 5%; the LKJ sampler's off-diagonal entries against their known marginal
(``2 Beta(b, b) - 1``, ``b = eta - 1 + q / 2``) by a Kolmogorov-Smirnov test at p > 0.001.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import hbm
from hbm.cli import main
from hbm.model.prior_draws import draw_lkj
from hbm.reporting.prior_report import FILES

FORMULA = "Reaction ~ Days + (Days | Subject)"
SLEEP = Path(__file__).resolve().parents[1] / "data" / "sleepstudy.csv"


@pytest.mark.parametrize(("q", "eta"), [(2, 2.0), (3, 1.0), (4, 3.0)])
def test_lkj_draws_have_the_known_marginal_and_are_correlation_matrices(q, eta):
    draws = draw_lkj(q, eta, np.random.default_rng(q), 20_000)
    assert np.allclose(np.diagonal(draws, axis1=1, axis2=2), 1.0)
    assert np.all(np.linalg.eigvalsh(draws) > 0)
    b = eta - 1 + q / 2
    for i, j in [(0, 1), (0, q - 1), (q - 2, q - 1)]:
        if i == j:
            continue
        r = draws[:, i, j]
        assert stats.kstest((r + 1) / 2, stats.beta(b, b).cdf).pvalue > 0.001


@pytest.fixture(scope="module")
def check():
    return hbm.fit(hbm.datasets.load("sleepstudy"), FORMULA, prior_only=True, random_seed=3)


def test_formula_prior_draws_follow_the_priors(check):
    summary = check.summary().set_index("quantity")
    n = check.result.n_draws
    for name, mean, sd in [
        ("beta[Days]", 0.0, check.priors["beta[Days]"].params[1]),
        ("sd_Subject[Days]", None, None),
        ("corr_Subject[Intercept, Days]", 0.0, np.sqrt(1 / 5)),  # lkj(2), q = 2: Beta(2, 2)
    ]:
        row = summary.loc[name]
        if name.startswith("sd_"):
            scale = check.priors[name].params[0]
            mean, sd = scale * np.sqrt(2 / np.pi), scale * np.sqrt(1 - 2 / np.pi)
        assert abs(row["mean"] - mean) < 4 * sd / np.sqrt(n), name
        assert row["sd"] == pytest.approx(sd, rel=0.05), name
    # Rows: averaged over a draw's rows, the implied data centre on the prior of the intercept at
    # the covariates' means (the slope and the effects average out).
    implied = check.idata["prior_predictive"]["y"].values[0]  # (draws, rows)
    per_draw = implied.mean(axis=1)
    centre = check.priors["beta[Intercept]"].params[0]
    assert abs(per_draw.mean() - centre) < 4 * per_draw.std() / np.sqrt(n)
    assert implied.shape[1] == 180


def test_formula_prior_only_is_seeded_and_flags_vague_priors(check):
    again = hbm.fit(hbm.datasets.load("sleepstudy"), FORMULA, prior_only=True, random_seed=3)
    np.testing.assert_array_equal(
        again.idata["prior_predictive"]["y"].values, check.idata["prior_predictive"]["y"].values
    )
    vague = hbm.fit(
        hbm.datasets.load("sleepstudy"),
        FORMULA,
        priors={"beta": "normal(0, 1000)", "sd_Subject": "halfcauchy(500)"},
        prior_only=True,
        random_seed=3,
    )
    assert any("far outside the observed range" in line for line in vague.advice())


def test_cli_formula_prior_only_writes_its_folder(tmp_path, capsys):
    out = tmp_path / "prior"
    code = main(
        ["fit", str(SLEEP), "--formula", FORMULA, "--prior-only", "--seed", "2", "--out", str(out)]
    )
    assert code == 0
    assert {p.name for p in out.iterdir()} == set(FILES)
    assert "corr_Subject[Intercept, Days]" in (out / "prior_summary.csv").read_text()
    spec = tmp_path / "sleep.toml"
    spec.write_text(f'data = "{SLEEP}"\nformula = "{FORMULA}"\n[sampling]\nseed = 2\n')
    assert main(["fit", str(spec), "--prior-only", "--quiet", "--out", str(tmp_path / "s")]) == 0
    assert (tmp_path / "s" / "prior.nc").is_file()
