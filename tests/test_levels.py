"""Several grouping levels end to end: names, variance decomposition, shrinkage per level, league
tables, the report's levels section, ``auto``'s choice, and bad input in one line.

Exactness of the nested marginal form against a dense normal is in test_nested_likelihood.py;
posterior agreement with the non-centered form and recovery are in test_levels_recovery.py.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pandas as pd
import pytest

import hbm
from hbm.analysis.effects import icc_by_factor
from hbm.cli import main
from hbm.model.design import build_model_data
from hbm.model.formula import parse_formula
from hbm.model.linear_nested import nested_choice

NESTED = "strength ~ 1 + (1 | batch/cask)"
CROSSED = "diameter ~ 1 + (1 | plate) + (1 | sample)"
FAST = {"draws": 300, "tune": 300, "chains": 2, "random_seed": 7, "progressbar": False}


@pytest.fixture(scope="module")
def pastes_fit():
    return hbm.fit(hbm.datasets.load("pastes"), NESTED, **FAST)


def test_nested_names_and_the_marginal_form(pastes_fit):
    params = pastes_fit.summary()["param"].tolist()
    assert params[:4] == [
        "beta[Intercept]",
        "sd_batch[Intercept]",
        "sd_batch:cask[Intercept]",
        "sigma",
    ]
    assert "u_batch:cask[A:a, Intercept]" in params and "u_batch[J, Intercept]" in params
    assert len(params) == 4 + 10 + 30
    assert pastes_fit.parametrization == "marginal"
    assert "nested (batch (10) > batch:cask (30))" in pastes_fit.result.reason


def test_shares_and_iccs_are_the_variance_components_per_draw(pastes_fit):
    """With intercepts only each component is sd^2 (an identity per draw: 1e-12)."""
    post = pastes_fit.idata["posterior"]
    names = {"batch": "sd_batch", "batch:cask": "sd_batch:cask", "residual": "sigma"}
    var = {k: post[n].values.reshape(-1) ** 2 for k, n in names.items()}
    total = sum(var.values())
    table = pastes_fit.variance_decomposition().set_index("component")
    assert table.index.tolist() == ["batch", "batch:cask", "residual"]
    assert table.loc["batch:cask", "nested_in"] == "batch"
    for name, values in var.items():
        assert table.loc[name, "share"] == pytest.approx(np.mean(values / total), rel=1e-12)
        assert table.loc[name, "variance"] == pytest.approx(np.mean(values), rel=1e-12)
    inner = (var["batch"] + var["batch:cask"]) / total
    assert table.loc["batch:cask", "icc"] == pytest.approx(np.mean(inner), rel=1e-12)
    lb, ub = np.quantile(inner, [0.03, 0.97])
    assert table.loc["batch:cask", ["icc_eti94_lb", "icc_eti94_ub"]].tolist() == pytest.approx(
        [lb, ub], rel=1e-12
    )
    assert table["share"].sum() == pytest.approx(1.0, rel=1e-12)
    icc = icc_by_factor(pastes_fit.result)  # the report's summary rows say the same
    for name in ("batch", "batch:cask"):
        assert np.mean(icc[name]) == pytest.approx(table.loc[name, "icc"], rel=1e-12)


def test_each_level_is_pulled_towards_its_parent(pastes_fit):
    top = pastes_fit.level_shrinkage("batch")
    beta = float(pastes_fit.idata["posterior"]["beta"].mean().values)
    assert (top["parent"] == "population").all()
    assert top["parent_posterior"].to_numpy() == pytest.approx(np.full(10, beta))
    data = hbm.datasets.load("pastes")
    assert top["own"].to_numpy() == pytest.approx(data.groupby("batch")["strength"].mean().values)
    inner = pastes_fit.level_shrinkage("batch:cask")
    batches = pastes_fit.group_coefficients("batch").set_index("batch")["mean"]
    assert inner["parent"].tolist() == [label.split(":")[0] for label in inner["batch:cask"]]
    assert inner["parent_posterior"].to_numpy() == pytest.approx(
        batches.loc[inner["parent"]].to_numpy(), rel=1e-12
    )
    gap = inner["own"] - inner["parent_posterior"]
    expected = 1 - (inner["posterior"] - inner["parent_posterior"]) / gap
    assert inner["pooling"].to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-12)
    # sd_batch is small against sd_batch:cask (lme4: 1.29 vs 2.90): batches pool far more
    assert top["pooling"].median() > inner["pooling"].median()
    with pytest.raises(ValueError, match="The term 'x' does not vary by 'batch'"):
        pastes_fit.level_shrinkage("batch", term="x")


def test_league_table_and_figures_per_level(pastes_fit):
    league = pastes_fit.group_coefficients("batch:cask")
    assert len(league) == 30 and league["n"].eq(2).all()
    for figure in (pastes_fit.plot_variance(), pastes_fit.plot_level_shrinkage(),
                   pastes_fit.plot_league("batch:cask")):  # fmt: skip
        assert figure.axes
        figure.clf()


def test_cli_nested_writes_the_levels_section(tmp_path):
    out = tmp_path / "pastes"
    path = tmp_path / "pastes.csv"
    hbm.datasets.load("pastes").to_csv(path, index=False)
    args = ["fit", str(path), "--formula", NESTED, "--draws", "200", "--tune", "200",
            "--chains", "2", "--seed", "3", "--quiet", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    markdown = (out / "report.md").read_text()
    assert "## Levels: where the variance lies" in markdown
    assert "they are told apart as batch:cask" in markdown
    html = (out / "report.html").read_text()
    for alt in ("variance decomposition", "shrinkage at each level", "league table of batch:cask"):
        assert f'alt="{alt}"' in html
    groups = pd.read_csv(out / "groups.csv")
    assert groups.groupby("factor").size().to_dict() == {"batch": 10, "batch:cask": 30}


def _data(name: str, formula: str):
    return build_model_data(hbm.datasets.load(name), parse_formula(formula))


def test_auto_says_which_form_and_why():
    form, reason = nested_choice(_data("pastes", NESTED))
    assert form == "marginal" and "integrated out exactly" in reason
    form, reason = nested_choice(_data("penicillin", CROSSED))
    assert form == "noncentered"
    assert "plate is crossed with sample: 24 of its 24 groups sit in more than one" in reason
    with pytest.raises(ValueError, match="'marginal' needs one grouping factor or nested ones"):
        hbm.fit(hbm.datasets.load("penicillin"), CROSSED, parametrization="marginal", **FAST)


def _bad_tables() -> list[tuple[str, pd.DataFrame, str, str]]:
    base = hbm.datasets.load("pastes")
    unique = base.assign(cask=base["sample"])  # labels unique across batches ...
    unique.loc[0, "batch"] = "B"  # ... except one cask that a typo puts in two
    one_level = base.assign(batch="A")
    single = base.drop_duplicates("sample")
    missing = base.copy()
    missing.loc[3, "cask"] = np.nan
    return [
        ("contradicted", unique, NESTED,
         r"The nesting \(1 \| batch/cask\) is contradicted by the data: cask labels are unique to "
         r"one batch group except 'A:a' \(in batch 'A', 'B'\).*write \(1 \| batch\) \+ "
         r"\(1 \| batch:cask\)"),
        ("one level", one_level, NESTED, "The grouping factor 'batch' has 1 distinct value"),
        ("one row per group", single, NESTED,
         "Every batch:cask group has exactly one row.*the batch:cask level is not identified"),
        ("missing label", missing, NESTED, r"missing values \(by column: 'cask': 1\)"),
        ("one inner per outer", base.drop_duplicates("sample").assign(
            batch=lambda t: t["sample"] + "x", strength=base["strength"].iloc[:30].values),
         "strength ~ 1 + (1 | batch/cask)",
         "Every batch group holds exactly one batch:cask group.*not identified"),
    ]  # fmt: skip


@pytest.mark.parametrize("case", _bad_tables(), ids=lambda case: case[0])
def test_bad_levels_one_line_exit_2_nothing_written(case, tmp_path):
    _, table, formula, message = case
    if case[0] == "one inner per outer":  # two rows per group, so only the nesting is at fault
        table = pd.concat([table, table.assign(strength=table["strength"] + 1)])
    path = tmp_path / "bad.csv"
    table.to_csv(path, index=False)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["fit", str(path), "--formula", formula, "--out", str(tmp_path / "out"),
                     "--draws", "50", "--tune", "50", "--quiet"])  # fmt: skip
    lines = err.getvalue().strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("hbm: error: ")
    assert pd.Series(lines).str.contains(message).all(), lines[0]
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match=message):  # the Python API says the same
        hbm.fit(table, formula, **FAST)


def test_advice_suggests_the_marginal_form_only_where_there_is_one():
    from hbm.diagnostics import advice

    names = advice.Names("sd_plate", "u_plate")
    assert "parametrization='marginal'" in advice.r_hat(1.05, "u_plate[a]", 500, 500)[1]
    for text in (
        advice.r_hat(1.05, "u_plate[a]", 500, 500, marginal=False)[1],
        advice.divergences(3, [3], 1000, "noncentered", {}, names, marginal=False)[1],
        advice.divergences(3, [3], 1000, "centered", {}, names, marginal=False)[1],
    ):
        assert "marginal" not in text, text
