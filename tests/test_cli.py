"""The `hbm` command line: the file contract of DESIGN.md, errors, exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import xarray as xr

from hbm.cli import main

ROOT = Path(__file__).resolve().parent.parent
FAST = ["--draws", "200", "--tune", "200", "--chains", "2", "--quiet"]
FILES = {
    "summary.csv",
    "groups.csv",
    "diagnostics.json",
    "priors.csv",
    "fit.nc",
    "report.html",
    "report.md",
    "shrinkage.png",
}


def test_fit_schools_writes_the_contract(tmp_path):
    out = tmp_path / "schools"
    argv = ["fit", str(ROOT / "data/schools.csv"), "--group", "school", "--value", "score"]
    assert main([*argv, "--seed", "1", *FAST, "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == FILES
    summary = pd.read_csv(out / "summary.csv")
    assert summary.columns[0] == "param"
    assert summary["param"].tolist()[:4] == ["mu", "tau", "sigma", "theta[Ashford]"]
    for column in ("mean", "sd", "ess_bulk", "ess_tail", "r_hat", "mcse_mean"):
        assert column in summary.columns
    diagnostics = json.loads((out / "diagnostics.json").read_text())
    for key in (
        "divergences",
        "max_r_hat",
        "min_ess_bulk",
        "verdict",
        "parametrization",
        "sampler",
    ):
        assert key in diagnostics
    assert diagnostics["verdict"] in ("ok", "warn", "fail")
    assert (diagnostics["parametrization"], diagnostics["sampler"]) == ("marginal", "nutpie")
    tree = xr.open_datatree(out / "fit.nc")
    assert tree["posterior"]["theta"].dims == ("chain", "draw", "school")
    assert json.loads(tree.attrs["hbm_spec"])["random_seed"] == 1
    html = (out / "report.html").read_text()
    assert "Verdict" in html and "data:image/png;base64," in html
    assert "http://" not in html and "https://" not in html  # nothing loaded from a network
    assert (out / "shrinkage.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_eight_schools_command_of_the_issue(tmp_path):
    out = tmp_path / "eight"
    argv = [
        "fit",
        str(ROOT / "data/eight_schools.csv"),
        "--group",
        "school",
        "--value",
        "effect",
        "--se",
        "stderr",
        "--prior",
        "mu=normal(0, 5)",
        "--prior",
        "tau=halfcauchy(5)",
        "--parametrization",
        "noncentered",
        "--seed",
        "3",
        *FAST,
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    priors = pd.read_csv(out / "priors.csv").set_index("parameter")
    assert (
        priors.loc["mu", "prior"] == "normal(0, 5)"
        and priors.loc["tau", "prior"] == "halfcauchy(5)"
    )
    assert "sigma" not in priors.index
    assert json.loads((out / "diagnostics.json").read_text())["parametrization"] == "noncentered"
    summary = pd.read_csv(out / "summary.csv")
    assert summary["param"].tolist() == ["mu", "tau"] + [f"theta[{s}]" for s in "ABCDEFGH"]


def test_same_seed_identical_summary_csv(tmp_path):
    argv = ["fit", str(ROOT / "data/schools.csv"), "--group", "school", "--value", "score"]
    for name in ("a", "b"):
        assert main([*argv, "--seed", "5", *FAST, "--out", str(tmp_path / name)]) == 0
    first = (tmp_path / "a" / "summary.csv").read_bytes()
    assert first == (tmp_path / "b" / "summary.csv").read_bytes()


def test_rerun_replaces_an_earlier_result_but_not_foreign_folders(tmp_path):
    argv = [
        "fit",
        str(ROOT / "data/eight_schools.csv"),
        "--group",
        "school",
        "--value",
        "effect",
        "--se",
        "stderr",
        *FAST,
    ]
    out = tmp_path / "r"
    assert main([*argv, "--seed", "1", "--out", str(out)]) == 0
    assert main([*argv, "--seed", "2", "--out", str(out)]) == 0
    assert json.loads((out / "diagnostics.json").read_text())["random_seed"] == 2
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert main([*argv, "--out", str(foreign)]) == 2
    assert (foreign / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--value", "nope"], "no column 'nope'; its columns are 'school', 'effect', 'stderr'"),
        (["--value", "effect", "--parametrization", "centred"], "must be one of 'auto'"),
        (["--value", "effect", "--sampler", "stan"], "'sampler' option must be one of"),
        (["--value", "effect", "--draws", "-3"], "'--draws' option must be a positive integer"),
        (["--value", "effect", "--prior", "rho=normal(0,1)"], "no parameter 'rho'"),
        (["--value", "effect", "--prior", "tau"], "--prior takes NAME=SPEC"),
        (["--value", "effect", "--prior", "mu=normal(0)"], "normal takes 2 number"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, extra, message):
    argv = ["fit", str(ROOT / "data/eight_schools.csv"), "--group", "school", "--se", "stderr"]
    assert main([*argv, *extra, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hbm: error: ") and len(err.splitlines()) == 1
    assert message in err
    assert not (tmp_path / "o").exists()


def test_missing_file_and_out_is_a_file(tmp_path, capsys):
    assert (
        main(
            [
                "fit",
                str(tmp_path / "none.csv"),
                "--group",
                "g",
                "--value",
                "v",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
    target = tmp_path / "file.txt"
    target.write_text("x")
    assert (
        main(
            [
                "fit",
                str(ROOT / "data/schools.csv"),
                "--group",
                "school",
                "--value",
                "score",
                "--out",
                str(target),
            ]
        )
        == 2
    )
    assert "is an existing file" in capsys.readouterr().err
    assert target.read_text() == "x"


def test_datasets_command(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "schools" in out and "eight_schools" in out


def test_console_script_in_a_subprocess(tmp_path):
    hbm = Path(sys.executable).parent / "hbm"
    help_run = subprocess.run([hbm, "--help"], capture_output=True, text=True, check=False)
    assert help_run.returncode == 0 and "fit" in help_run.stdout
    bad = subprocess.run(
        [
            hbm,
            "fit",
            str(ROOT / "data/schools.csv"),
            "--group",
            "school",
            "--value",
            "nope",
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ},
    )
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "hbm: error: The table has no column 'nope'; its columns are 'school', 'score'."
    )
    assert "Traceback" not in bad.stderr
