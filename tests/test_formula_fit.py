"""Formula fits end to end: names, results files, save/load, report rebuild, prediction, CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hbm
from hbm.analysis.effects import group_coefficients
from hbm.cli import main

ROOT = Path(__file__).resolve().parents[1]
SLEEP = ROOT / "data" / "sleepstudy.csv"
FORMULA = "Reaction ~ Days + (Days | Subject)"
FAST = {"draws": 300, "tune": 300, "chains": 2, "random_seed": 5, "progressbar": False}


@pytest.fixture(scope="module")
def sleep_fit():
    return hbm.fit(hbm.datasets.load("sleepstudy"), FORMULA, parametrization="marginal", **FAST)


def test_names_follow_the_design_contract(sleep_fit):
    params = sleep_fit.summary()["param"].tolist()
    assert params[:6] == [
        "beta[Intercept]",
        "beta[Days]",
        "sd_Subject[Intercept]",
        "sd_Subject[Days]",
        "corr_Subject[Intercept, Days]",
        "sigma",
    ]
    assert params[6:8] == ["u_Subject[308, Intercept]", "u_Subject[308, Days]"]
    assert len(params) == 6 + 18 * 2
    assert sleep_fit.description.formula == FORMULA and not sleep_fit.description.is_seed_model
    posterior = sleep_fit.idata["posterior"]
    assert posterior["u_Subject"].dims == ("chain", "draw", "Subject", "Subject_term")
    assert sleep_fit.run_info["u_Subject"].startswith("drawn exactly")


def test_the_seed_model_written_as_a_formula_keeps_its_names():
    fit = hbm.fit(hbm.datasets.load("schools"), "score ~ (1 | school)", **FAST)
    direct = hbm.fit(hbm.datasets.load("schools"), group="school", value="score", **FAST)
    assert fit.summary()["param"].tolist()[:3] == ["mu", "tau", "sigma"]
    assert fit.summary().equals(direct.summary())  # the same model, the same draws


def test_group_coefficients_are_beta_plus_u(sleep_fit):
    """Rao-Blackwellized (the exact conditional's mean of beta + u, averaged over the draws):
    the draws' mean of beta + u agrees within 4.5 of its Monte Carlo error (sd / sqrt(draws)),
    and the summary's u rows plus beta's mean give the same numbers to 1e-10."""
    table = sleep_fit.group_coefficients()
    posterior = sleep_fit.idata["posterior"]
    beta = posterior["beta"].mean(("chain", "draw")).values
    u_draws = posterior["u_Subject"].values.reshape(-1, 18, 2)
    u = u_draws.mean(axis=0)  # (Subject, term)
    mcse = (u_draws + posterior["beta"].values.reshape(-1, 1, 2)).std(axis=0) / np.sqrt(
        u_draws.shape[0]
    )
    assert np.all(np.abs(table["mean"].to_numpy() - (u + beta).reshape(-1)) < 4.5 * mcse.ravel())
    summary = sleep_fit.summary()
    rows = summary[summary["param"].str.startswith("u_Subject[")]
    np.testing.assert_allclose(
        table["mean"].to_numpy(), rows["mean"].to_numpy() + np.tile(beta, 18), rtol=1e-10
    )
    own = table.set_index(["Subject", "term"])["no_pooling"]
    rows = hbm.datasets.load("sleepstudy").query("Subject == '308'")
    slope, intercept = np.polyfit(rows.Days, rows.Reaction, 1)
    assert own[("308", "Intercept")] == pytest.approx(intercept)
    assert own[("308", "Days")] == pytest.approx(slope)


def test_group_coefficients_by_blocks_equal_one_pass_over_all_groups(sleep_fit, monkeypatch):
    import hbm.analysis.effects as effects
    from hbm.analysis.groupwise import group_quantiles

    monkeypatch.setattr(effects, "GROUP_BLOCK", 5)  # 18 subjects: blocks of 5, 5, 5, 3
    table = effects.group_coefficients(sleep_fit.result, ci_prob=0.8)
    draws = effects.coefficient_draws(sleep_fit.result, sleep_fit.result.model_data.factors[0])
    flat = draws.reshape(draws.shape[0], -1)
    # the sds are Rao-Blackwellized (whatever the blocks): the 600 draws' sds have a relative
    # error of about 1 / sqrt(2 x 600) = 2.9%, so they agree within 10% (3.5 of those errors)
    np.testing.assert_allclose(table["sd"].to_numpy(), flat.std(axis=0, ddof=1), rtol=0.1)
    tail = (1 - 0.8) / 2  # as group_coefficients computes it (not exactly 0.1)
    lb, ub = group_quantiles(flat, [tail, 1 - tail])
    np.testing.assert_array_equal(table["eti80_lb"].to_numpy(), lb)
    np.testing.assert_array_equal(table["eti80_ub"].to_numpy(), ub)
    np.testing.assert_allclose(lb, np.quantile(flat, tail, axis=0), rtol=1e-14)


def test_results_files_load_and_report_rebuild(sleep_fit, tmp_path):
    from hbm.reporting.outputs import write_outputs

    out = write_outputs(sleep_fit, tmp_path / "sleep")
    names = {p.name for p in out.iterdir()}
    assert {"summary.csv", "diagnostics.json", "priors.csv", "fit.nc", "report.html"} <= names
    diagnostics = json.loads((out / "diagnostics.json").read_text())
    assert diagnostics["parametrization"] == "marginal" and diagnostics["verdict"] in ("ok", "warn")
    priors = pd.read_csv(out / "priors.csv")
    assert "corr_Subject" in priors["parameter"].tolist()
    groups = pd.read_csv(out / "groups.csv", dtype={"group": str})
    assert list(groups.columns[:3]) == ["factor", "group", "term"] and len(groups) == 18 * 2
    coefficients = group_coefficients(sleep_fit)
    np.testing.assert_allclose(groups["mean"], coefficients["mean"], rtol=1e-12)
    loaded = hbm.load(out / "fit.nc")
    assert loaded.summary().equals(sleep_fit.summary())
    assert loaded.description == sleep_fit.description
    assert main(["report", str(out / "fit.nc"), "--out", str(tmp_path / "again")]) == 0
    html = (tmp_path / "again" / "report.html").read_text()
    assert "Each group&#x27;s line" in html and "League table" in html
    assert "Predictive accuracy (leave-one-out)" in html and "PSIS-LOGO" in html
    # coefficients, 2D shrinkage, lines, league, trace, rank, LOO-PIT
    assert html.count("data:image/png;base64") == 7
    assert "<img" in sleep_fit._repr_html_()


def test_prediction_in_memory_equals_prediction_after_load(sleep_fit, tmp_path):
    new = pd.DataFrame({"Days": [0, 9, 4], "Subject": ["308", "309", "newcomer"]})
    before = sleep_fit.predict(new, random_seed=11)
    path = sleep_fit.save(tmp_path / "fit.nc")
    after = hbm.load(path).predict(new, random_seed=11)
    assert np.array_equal(before["predictions"]["y"].values, after["predictions"]["y"].values)
    mu = before["predictions"]["expected"].mean(("chain", "draw")).values
    # predictions use the draws of beta + u (the group coefficients' table is Rao-Blackwellized)
    from hbm.analysis.effects import coefficient_draws

    factor = sleep_fit.result.model_data.factors[0]
    means = coefficient_draws(sleep_fit.result, factor).mean(axis=0)
    at = {label: j for j, label in enumerate(factor.labels)}
    assert mu[0] == pytest.approx(means[at["308"], 0], rel=1e-9)
    assert mu[1] == pytest.approx(means[at["309"], 0] + 9 * means[at["309"], 1], rel=1e-9)
    sd = before["predictions"]["y"].std(("chain", "draw")).values
    assert sd[2] > sd[0]  # a new subject is less certain than a known one
    with pytest.raises(TypeError, match="pass a table"):
        sleep_fit.predict(["308"])


def test_cli_formula_and_spec(tmp_path):
    out = tmp_path / "cli"
    code = main(
        ["fit", str(SLEEP), "--formula", FORMULA, "--draws", "200", "--tune", "200", "--chains",
         "2", "--seed", "3", "--quiet", "--out", str(out)]
    )  # fmt: skip
    assert code == 0 and (out / "report.html").is_file()
    spec = tmp_path / "sleep.toml"
    spec.write_text(
        f'data = "{SLEEP}"\nformula = "{FORMULA}"\n[sampling]\ndraws = 200\ntune = 200\n'
        "chains = 2\nseed = 3\n"
    )
    assert main(["fit", str(spec), "--quiet", "--out", str(tmp_path / "spec")]) == 0
    first = pd.read_csv(out / "summary.csv")
    second = pd.read_csv(tmp_path / "spec" / "summary.csv")
    pd.testing.assert_frame_equal(first, second)  # the same model and seed, however asked


BAD_CLI = [
    (["--formula", FORMULA, "--group", "Subject"], "--formula cannot be given together with"),
    (["--formula", "Reaction ~ Dayz + (Days | Subject)"], "no column 'Dayz'.*Did you mean 'Days'"),
    (["--formula", "Reaction ~ Days + (Days | Subject"], r"1 unclosed '\('"),
    (["--formula", "Reaction Days"], "no '~'"),
    (["--formula", "Reaction ~ Days"], "has no group term such as"),
    (["--formula", FORMULA, "--prior", "beta[Dayz]=normal(0, 1)"], "no parameter 'beta\\[Dayz\\]'"),
    (["--formula", FORMULA, "--prior", "corr_Subject=lkj(0)"], "shape eta of lkj must be > 0"),
    (["--formula", FORMULA, "--prior", "corr_Subject=normal(0, 1)"], "take an LKJ prior"),
]


@pytest.mark.parametrize(("options", "message"), BAD_CLI)
def test_bad_formula_input_is_one_line_and_writes_nothing(options, message, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["fit", str(SLEEP), *options, "--quiet", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert err.startswith("hbm: error: ") and err.count("\n") == 1
    import re

    assert re.search(message, err), err


def test_missing_covariates_and_text_in_numbers_are_named(tmp_path, capsys):
    table = pd.read_csv(SLEEP)
    table.loc[[4, 9, 20], "Days"] = np.nan
    path = tmp_path / "gaps.csv"
    table.to_csv(path, index=False)
    assert main(["fit", str(path), "--formula", FORMULA, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "3 row(s) have missing values (by column: 'Days': 3)" in err
    assert "--drop-missing" in err and "line 6" in err
    table = pd.read_csv(SLEEP).astype({"Days": object})
    table.loc[7, "Days"] = "seven"
    table.to_csv(path, index=False)
    assert main(["fit", str(path), "--formula", FORMULA, "--out", str(tmp_path / "o")]) == 2
    assert (
        "covariate column 'Days' must hold numbers; line 9 holds 'seven'" in capsys.readouterr().err
    )
    shutil.rmtree(tmp_path / "o", ignore_errors=True)
