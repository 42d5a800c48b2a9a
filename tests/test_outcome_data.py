"""An outcome family's data: the response read per family, offsets, the exact reduction to cells,
separation, and bad input (one line naming the column and row, in Python and on the CLI)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hbm
from hbm.cli import main
from hbm.data.outcome_data import reduce_outcome
from hbm.model.formula import parse_formula
from hbm.model.offsets import split_offsets
from hbm.model.outcome_design import build_outcome_data
from hbm.model.response import parse_response


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "g": list("aabbbccd"),
            "y": [1, 0, 1, 1, 0, 0, 0, 1],
            "n": [3, 4, 2, 5, 1, 2, 2, 1],
            "use": ["Y", "N", "Y", "Y", "N", "N", "N", "Y"],
            "k": list("pqpqpqqp"),
            "x": np.arange(8.0),
            "e": [1.0, 2, 3, 4, 5, 6, 7, 8],
        }
    )


def _data(formula: str, family: str, table: pd.DataFrame | None = None, **options):
    return build_outcome_data(
        _table() if table is None else table, parse_formula(formula), family, **options
    )


def test_responses_are_read_as_formulae_writes_them():
    assert parse_response("p(s, n)").kind == "proportion"
    assert parse_response("p(`the deaths`, ops)").column == "the deaths"
    level = parse_response('use["Yes please"]')
    assert (level.kind, level.column, level.level) == ("level", "use", "Yes please")
    assert parse_response("np.log(y)").kind == "expression"


def test_three_forms_of_a_binomial_response_give_the_same_cells():
    table = _table()
    binary = _data("y ~ 1 + (1 | g)", "binomial", table).outcome
    level = _data("use[Y] ~ 1 + (1 | g)", "binomial", table).outcome
    ones = _data("p(y, 1) ~ 1 + (1 | g)", "binomial", table).outcome
    for outcome in (binary, level, ones):
        assert outcome.form == "cells"
        assert outcome.y.tolist() == [1.0, 2.0, 0.0, 1.0]
        assert outcome.weight.tolist() == [2.0, 3.0, 2.0, 1.0]
    assert (binary.kind, level.kind, ones.kind) == ("binary", "level", "proportion")
    # 0/1 rows have no binomial coefficient; p(y, 1) rows have log C(1, y) = 0 each
    assert binary.constant.tolist() == [0.0] * 4 == ones.constant.tolist()


def test_cells_keep_successes_and_trials_per_pattern():
    out = _data("p(y, n) ~ C(k) + (1 | g)", "binomial").outcome
    assert out.form == "cells" and out.n_units == 6  # (group, k) pairs that occur
    assert out.y.sum() == 4 and out.weight.sum() == 20
    assert out.row_unit is not None and np.bincount(out.row_unit).sum() == 8


def test_continuous_covariates_keep_the_rows_in_table_order():
    out = _data("y ~ x + (1 | g)", "binomial").outcome
    assert out.form == "rows" and out.n_units == 8
    assert out.design[:, 1].tolist() == list(range(8))


def test_poisson_offset_becomes_the_exposure_and_reduces_exactly():
    out = _data("y ~ C(k) + offset(np.log(e)) + (1 | g)", "poisson").outcome
    assert out.form == "cells" and np.all(out.offset == 0)
    assert out.weight.sum() == pytest.approx(36.0)  # the exposures, summed per cell
    assert out.offsets == ("offset(np.log(e))",)


def test_reduction_merges_only_identical_patterns():
    codes = np.array([[0], [0], [1], [1]])
    design = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    out = reduce_outcome(
        codes,
        design,
        np.array([1.0, 0, 1, 1]),
        np.ones(4),
        np.zeros(4),
        np.zeros(4),
        reducible=True,
        keep_rows=True,
    )
    assert out["form"] == "cells" and out["y"].tolist() == [1.0, 1.0, 1.0]
    assert out["row_unit"].tolist() == [0, 0, 1, 2]


def test_split_offsets():
    assert split_offsets("x + offset(np.log(e))") == ("x", ("offset(np.log(e))",))
    assert split_offsets("0 + offset(t)") == ("0", ("offset(t)",))


def test_separation_is_noted():
    table = pd.DataFrame(
        {"g": list("aabbccdd"), "y": [0, 0, 1, 0, 1, 1, 0, 1], "k": list("ppqqqqqq")}
    )
    assert _data("y ~ C(k) + (1 | g)", "binomial", table).outcome.notes == ()
    table["k"] = list("qqpppppp")
    notes = _data("y ~ C(k) + (1 | g)", "binomial", table).outcome.notes
    assert len(notes) == 1
    assert "every row with C(k)[q] = 1 has no successes" in notes[0]
    assert "prior keeps it finite" in notes[0]


def test_missing_rows_are_dropped_and_counted():
    table = _table()
    table.loc[2, "n"] = np.nan
    table.loc[5, "e"] = np.nan
    data = _data("p(y, n) ~ offset(np.log(e)) + (1 | g)", "binomial", table, missing="drop")
    assert data.dropped == 2 and data.outcome.n_rows.sum() == 6


BAD = [
    (
        "y ~ 1 + (1 | g)",
        "gaussian",
        {},
        r"The 'family' option must be one of 'normal', "
        r"'studentt', 'binomial', 'poisson', 'negbinomial'; got 'gaussian'",
    ),
    (
        "x ~ 1 + (1 | g)",
        "binomial",
        {},
        r"The response 'x' of a binomial model must be 0 or 1 "
        r"in every row; row index 2 holds 2",
    ),
    ("use ~ 1 + (1 | g)", "binomial", {}, r"holds text \('N', 'Y'\); name the success level"),
    (
        "k3[p] ~ 1 + (1 | g)",
        "binomial",
        {"k3": list("pqrppqqp")},
        r"'k3' has more than two levels \('p', 'q', 'r'\): row index 2 holds 'r', a third level",
    ),
    (
        "use[maybe] ~ 1 + (1 | g)",
        "binomial",
        {},
        r"The success level 'maybe' of 'use\[maybe\]' "
        r"does not occur in the column 'use'",
    ),
    (
        "p(n, y) ~ 1 + (1 | g)",
        "binomial",
        {"y": [1, 3, 1, 1, 1, 1, 1, 1]},
        r"The successes 'n' exceed the trials 'y' in row index 0 \(3 of 1\)",
    ),
    (
        "x ~ 1 + (1 | g)",
        "poisson",
        {"x": [0, 1, -2, 3, 4, 5, 6, 7]},
        r"The counts 'x' must be whole numbers >= 0; row index 2 holds -2",
    ),
    (
        "x ~ 1 + (1 | g)",
        "negbinomial",
        {"x": [0, 1, 2.5, 3, 4, 5, 6, 7]},
        r"The counts 'x' must be whole numbers >= 0; row index 2 holds 2.5",
    ),
    (
        "y ~ offset(np.log(e)) + (1 | g)",
        "poisson",
        {"e": [1.0, 2, 0, 4, 5, 6, 7, 8]},
        r"The offset offset\(np.log\(e\)\) is not finite in row index 2 \(e = 0\): an exposure "
        r"must be > 0",
    ),
    (
        "y ~ offset(np.log(e)) + (1 | g)",
        "poisson",
        {"e": [1.0, 2, -1, 4, 5, 6, 7, 8]},
        r"is not finite in row index 2 \(e = -1\)",
    ),
    (
        "y ~ offset(np.log(e)) + (1 | g)",
        "poisson",
        {"e": [1.0, 2, np.nan, 4, 5, 6, 7, 8]},
        r"The offset column 'e' of offset\(np.log\(e\)\) has missing values in 1 row\(s\), the "
        r"first at row index 2",
    ),
    (
        "p(y, n) ~ 1 + (1 | g)",
        "poisson",
        {},
        r"'p\(y, n\)' cannot be the response of a poisson "
        r"model",
    ),
    ("p(y, n) ~ 1 + (1 | g)", "normal", {}, r"is a binomial response .* family='binomial'"),
]


@pytest.mark.parametrize(("formula", "family", "change", "message"), BAD)
def test_bad_input_is_one_clear_error(formula, family, change, message):
    table = _table().assign(**change)
    with pytest.raises(ValueError, match=message):
        hbm.fit(table, formula, family=family, progressbar=False, draws=10, tune=10, chains=1)


def test_a_prior_the_family_lacks_is_refused():
    with pytest.raises(
        ValueError,
        match=r"no parameter 'sigma' .*the binomial family has none.*"
        r"'sd_g\[Intercept\]'",
    ):
        hbm.fit(
            _table(),
            "y ~ 1 + (1 | g)",
            family="binomial",
            priors={"sigma": "halfnormal(1)"},
            progressbar=False,
        )
    with pytest.raises(ValueError, match=r"'marginal' integrates the group effects out exactly"):
        hbm.fit(
            _table(),
            "y ~ 1 + (1 | g)",
            family="poisson",
            parametrization="marginal",
            progressbar=False,
        )


CLI_BAD = [
    (["--formula", "y ~ 1 + (1 | g)", "--family", "gaussian"], "The 'family' option must be one"),
    (["--formula", "x ~ 1 + (1 | g)", "--family", "binomial"], "must be 0 or 1 in every row"),
    (["--formula", "x ~ 1 + (1 | g)", "--family", "poisson"], "must be whole numbers >= 0"),
    (["--formula", "y ~ offset(np.log(e)) + (1 | g)", "--family", "poisson"], "exposure must be"),
    (
        ["--formula", "y ~ 1 + (1 | g)", "--family", "binomial", "--prior", "sigma=halfnormal(1)"],
        "the binomial family has none",
    ),
    (
        ["--formula", "y ~ 1 + (1 | g)", "--family", "poisson", "--parametrization", "marginal"],
        "only the normal family allows",
    ),
    (["--group", "g", "--value", "y", "--se", "n", "--family", "binomial"], "--se"),
]


@pytest.mark.parametrize(("args", "message"), CLI_BAD)
def test_cli_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, args, message):
    table = _table()
    table.loc[2, "e"] = 0.0
    table["x"] = [0.5, 1, 2, 3, 4, 5, 6, 7]
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    out = tmp_path / "out"
    assert main(["fit", str(path), *args, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hbm: error: ") and "\n" not in err and message in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]
