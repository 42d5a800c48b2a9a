"""`hbm fit` with bad input: one line `hbm: error: ...`, exit 2, no traceback, nothing written.

Run this file as a script (``python tests/test_cli_errors.py``) to print the table of every case,
the message a user sees and the exit status, as measured by running the command line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hbm.cli import main

ROOT = Path(__file__).resolve().parents[1]
GOOD = "school,score\na,1\na,2\nb,3\nb,5\nc,4\n"

#: name -> file content (bytes) written as ``data.csv``
FILES: dict[str, bytes] = {
    "good": GOOD.encode(),
    "empty": b"",
    "header only": b"school,score\n",
    "binary": bytes(range(256)),
    "image": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "duplicate columns": b"school,score,score\na,1,1\nb,2,2\n",
    "non-numeric": b"school,score\na,1\na,2\nb,lots\nb,4\n",
    "decimal comma": b'school,score\na,1\na,2\nb,"3,5"\nb,4\n',
    "infinite": b"school,score\na,1\na,inf\nb,3\nb,4\n",
    "missing": b"school,score\na,1\na,\nb,3\n,4\nb,5\n",
    "one group": b"school,score\na,1\na,2\na,3\n",
    "no variation": b"school,score\na,7\na,7\nb,7\nb,7\n",
    "single rows": b"school,score\na,1\nb,2\nc,4\n",
    "ragged": b"school,score\na,1\nb,2,3\n",
    "se zero": b"school,effect,se\na,1,2\nb,3,0\nc,2,1\n",
    "se negative": b"school,effect,se\na,1,2\nb,3,-1\nc,2,1\n",
    "se missing": b"school,effect,se\na,1,2\nb,3,\nc,2,1\n",
    "group twice": b"school,effect,se\na,1,2\nb,3,1\na,2,1\n",
}

ROWS = ["--group", "school", "--value", "score"]
SUMMARIES = ["--group", "school", "--value", "effect", "--se", "se"]

#: (case, file, arguments after DATA (without --out), pattern the one-line message must match)
CASES: list[tuple[str, str | None, list[str], str]] = [
    ("file missing", None, ROWS, r"The data file '.*nope\.csv' does not exist\.$"),
    ("file empty", "empty", ROWS, r"The data file '.*data\.csv' is empty\.$"),
    ("header only", "header only", ROWS, r"has a header \('school', 'score'\) but no data rows"),
    ("binary file", "binary", ROWS, r"is binary \(it holds NUL bytes\), not a CSV text or Parquet"),
    ("an image", "image", ROWS, r"is a PNG image, not a table\.$"),
    ("an Excel workbook", "xlsx", ROWS, r"zip archive \(an Excel \.xlsx .*\); save it as CSV"),
    ("rows of unequal length", "ragged", ROWS, r"line 3 has 3 fields but the header has 2\."),
    (
        "group column missing",
        "good",
        ["--group", "School", "--value", "score"],
        r"no column 'School'; its columns are 'school', 'score'\. Did you mean 'school'\?$",
    ),
    (
        "value column missing",
        "good",
        ["--group", "school", "--value", "y"],
        r"no column 'y'; its columns are 'school', 'score'\.$",
    ),
    ("duplicate column names", "duplicate columns", ROWS, r"has 2 columns named 'score'"),
    ("non-numeric value", "non-numeric", ROWS, r"'score' must hold numbers; line 4 holds 'lots'\."),
    ("decimal comma", "decimal comma", ROWS, r"line 4 holds '3,5' \(a decimal comma\?"),
    ("infinite value", "infinite", ROWS, r"'score' must hold finite numbers; line 3 holds inf\.$"),
    (
        "missing values",
        "missing",
        ROWS,
        r"^2 row\(s\) have missing values \(by column: 'school': 1, 'score': 1\); the first at "
        r"line 3, 5\. Drop them with missing='drop' \(CLI: --drop-missing\) or fill them in\.$",
    ),
    ("fewer than 2 groups", "one group", ROWS, r"has 1 distinct value\(s\) \('a'\); .* 2 groups"),
    ("no variation", "no variation", ROWS, r"'score' has no variation: every row is 7\."),
    ("only single-row groups", "single rows", ROWS, r"Every group in 'school' has a single row"),
    ("se <= 0 (zero)", "se zero", SUMMARIES, r"'se' must be > 0 .*; got 0 for group 'b'\.$"),
    ("se <= 0 (negative)", "se negative", SUMMARIES, r"'se' must be > 0 .*; got -1 for group 'b'"),
    (
        "se missing",
        "se missing",
        SUMMARIES,
        r"1 row\(s\) have missing values \(by column: 'se': 1\)",
    ),
    ("group listed twice", "group twice", SUMMARIES, r"each group must be listed once; .*'a'"),
    (
        "prior does not parse",
        "good",
        [*ROWS, "--prior", "mu=normal(0, 5"],
        r"prior for 'mu' could not be read: 'normal\(0, 5' \(its brackets do not match\)",
    ),
    (
        "prior of unknown family",
        "good",
        [*ROWS, "--prior", "tau=beta(2, 1)"],
        r"unknown family 'beta' .* known families are normal, studentt, halfnormal",
    ),
    (
        "prior for a parameter the model lacks",
        "good",
        [*ROWS, "--prior", "rho=normal(0, 1)"],
        r"no parameter 'rho' to put a prior on; its parameters are 'mu', 'tau', 'sigma'\.$",
    ),
    (
        "prior with zero scale",
        "good",
        [*ROWS, "--prior", "tau=halfnormal(0)"],
        r"the scale \(a standard deviation\) of halfnormal must be > 0; got 0\.$",
    ),
    (
        "prior with negative scale",
        "good",
        [*ROWS, "--prior", "mu=normal(0, -2)"],
        r"of normal must be > 0; got -2\.$",
    ),
    (
        "prior without NAME=",
        "good",
        [*ROWS, "--prior", "halfnormal(1)"],
        r"--prior takes NAME=SPEC",
    ),
    (
        "unknown parametrization",
        "good",
        [*ROWS, "--parametrization", "centred"],
        r"must be one of 'auto', 'centered', 'noncentered', 'marginal'; got 'centred'\.$",
    ),
    (
        "unknown sampler",
        "good",
        [*ROWS, "--sampler", "stan"],
        r"'sampler' option must be one of 'nutpie', 'pymc'; got 'stan'\.$",
    ),
    ("draws 0", "good", [*ROWS, "--draws", "0"], r"^the '--draws' option must be a positive"),
    ("draws -5", "good", [*ROWS, "--draws", "-5"], r"positive integer; got '-5'$"),
    ("draws 1.5", "good", [*ROWS, "--draws", "1.5"], r"positive integer; got '1\.5'$"),
    ("tune -1", "good", [*ROWS, "--tune", "-1"], r"'--tune' option must be an integer >= 0"),
    ("chains abc", "good", [*ROWS, "--chains", "abc"], r"'--chains' option must be a positive"),
    ("target-accept 2", "good", [*ROWS, "--target-accept", "2"], r"between 0 and 1 \(exclusive\)"),
    ("missing required options", "good", [], r"the following arguments are required: --group"),
]


def _data(tmp_path: Path, file: str | None) -> Path:
    path = tmp_path / "data.csv"
    if file is None:
        return tmp_path / "nope.csv"
    if file == "xlsx":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("xl/workbook.xml", "<workbook/>")
        return path
    path.write_bytes(FILES[file])
    return path


@pytest.mark.parametrize(
    ("case", "file", "arguments", "pattern"), CASES, ids=[case[0] for case in CASES]
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    tmp_path, capsys, case, file, arguments, pattern
):
    out = tmp_path / "results"
    status = main(["fit", str(_data(tmp_path, file)), *arguments, "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 2, case
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("hbm: error: "), captured.err
    assert re.search(pattern, lines[0].removeprefix("hbm: error: ")), lines[0]
    assert captured.out == ""
    assert [p.name for p in tmp_path.iterdir()] == ([] if file is None else ["data.csv"])


def test_out_that_is_a_file_fails_before_the_data_is_even_read(tmp_path, capsys):
    target = tmp_path / "result.txt"
    target.write_text("precious")
    status = main(["fit", str(tmp_path / "nope.csv"), *ROWS, "--out", str(target)])
    err = capsys.readouterr().err
    assert status == 2
    assert (
        err
        == f"hbm: error: --out {str(target)!r} is an existing file; expected a folder to "
        + ("write into.\n")
    )
    assert target.read_text() == "precious"


def test_out_under_a_file_and_out_with_foreign_files(tmp_path, capsys):
    data = _data(tmp_path, "good")
    blocker = tmp_path / "plain.txt"
    blocker.write_text("x")
    assert main(["fit", str(data), *ROWS, "--out", str(blocker / "sub" / "dir")]) == 2
    assert f"{str(blocker)!r} is a file, not a folder" in capsys.readouterr().err
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert main(["fit", str(data), *ROWS, "--out", str(foreign)]) == 2
    assert "holds files hbm did not write" in capsys.readouterr().err
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]


MESSY = "Schule;Wert\n007;1,5\n007;2,5\n007;\nZürich;4\nZürich;6,25\n;3\nGenève;5\n1224;2\n1224;3\n"


@pytest.mark.parametrize("form", ["latin-1 semicolons", "parquet"])
def test_messy_but_valid_files_fit_end_to_end(tmp_path, capsys, form):
    """Latin-1, semicolons, decimal commas, ids with leading zeros, a one-row group, missing cells
    (dropped and counted); and the same table as Parquet."""
    if form == "parquet":
        import pandas as pd

        data = tmp_path / "data.parquet"
        pd.DataFrame(
            {"Schule": ["007", "007", "Zürich", "Zürich", "Genève", "1224", "1224"]}
            | {"Wert": [1.5, 2.5, 4.0, 6.25, 5.0, 2.0, 3.0]}
        ).to_parquet(data)
        extra: list[str] = []
    else:
        data = tmp_path / "data.csv"
        data.write_bytes(MESSY.encode("latin-1"))
        extra = ["--drop-missing"]
    out = tmp_path / "results"
    status = main(
        [*("fit", str(data), "--group", "Schule", "--value", "Wert", *extra, "--draws", "200"),
         *("--tune", "200", "--chains", "2", "--seed", "1", "--out", str(out))]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert status == 0, captured.err
    dropped = "hbm: dropped 2 row(s) with missing values (--drop-missing)"
    assert (dropped in captured.err) == (form != "parquet")
    summary = (out / "summary.csv").read_text(encoding="utf-8")
    for label in ("007", "Zürich", "Genève", "1224"):
        assert f"theta[{label}]" in summary
    assert (out / "fit.nc").exists() and (out / "report.html").exists()


def test_a_real_process_prints_one_line_and_no_traceback(tmp_path):
    data = _data(tmp_path, "non-numeric")
    done = subprocess.run(
        [sys.executable, "-m", "hbm.cli", "fit", str(data), *ROWS, "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "hbm: error: The value column 'score' must hold numbers; line 4 holds 'lots'.\n"
    )
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "o").exists()


def _table() -> str:  # pragma: no cover - run by hand: python tests/test_cli_errors.py
    import tempfile

    lines = ["| case | message the user sees | exit |", "| --- | --- | --- |"]
    for case, file, arguments, _ in CASES:
        with tempfile.TemporaryDirectory() as folder:
            data = _data(Path(folder), file)
            done = subprocess.run(
                [sys.executable, "-m", "hbm.cli", "fit", str(data), *arguments, "--out", "o"],
                capture_output=True,
                text=True,
                check=False,
                cwd=folder,
            )
        message = done.stderr.strip().replace(folder + "/", "").replace("|", "\\|")
        lines.append(f"| {case} | `{message}` | {done.returncode} |")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(_table())
