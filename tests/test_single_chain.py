"""One chain is a valid choice (a quick look, a teaching demo): every kind of fit finishes and
writes its report; the rank plots, which compare chains with each other, are left out of it, and
asking for them says why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import hbm
from hbm.cli import main
from hbm.reporting.figures import figure_keys
from hbm.viz import plot_trace

ROOT = Path(__file__).resolve().parent.parent
ONE_CHAIN = ["--chains", "1", "--draws", "100", "--tune", "100", "--seed", "1", "--quiet"]


@pytest.mark.parametrize(
    "argv",
    [
        ["data/schools.csv", "--group", "school", "--value", "score"],
        ["data/sleepstudy.csv", "--formula", "Reaction ~ Days + (Days | Subject)"],
        [
            "data/surgical.csv",
            "--formula",
            "p(deaths, operations) ~ 1 + (1 | hospital)",
            "--family",
            "binomial",
        ],
    ],
    ids=["seed model", "varying slopes", "binomial"],
)
def test_one_chain_fits_write_their_report_without_rank_plots(tmp_path, argv):
    out = tmp_path / "fit"
    argv = [str(ROOT / argv[0]), *argv[1:]]
    assert main(["fit", *argv, *ONE_CHAIN, "--out", str(out)]) == 0
    assert (out / "report.html").stat().st_size > 0
    assert json.loads((out / "diagnostics.json").read_text())["chains"] == 1
    fit = hbm.load(out / "fit.nc")
    assert "rank" not in figure_keys(fit.idata) and "trace" in figure_keys(fit.idata)
    with pytest.raises(ValueError, match="Rank plots compare the chains .* 1 chain"):
        plot_trace(fit, kind="rank")
