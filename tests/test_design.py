"""Formulas read into parts, designs built and checked, reduced, and rebuilt for new rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hbm.model.design import build_model_data
from hbm.model.design_info import new_design
from hbm.model.formula import parse_formula


def table(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "y": rng.normal(10, 2, n),
            "x": rng.normal(5, 1, n) + 3,
            "k": rng.choice(["lo", "mid", "hi"], n),
            "g": rng.choice([f"s{j}" for j in range(6)], n),
            "h": rng.choice(["a", "b", "c"], n),
            "log.value": rng.uniform(1, 2, n),
            "Days": rng.integers(0, 10, n),
        }
    )


@pytest.mark.parametrize(
    ("formula", "population", "blocks"),
    [
        ("Reaction ~ Days + (Days | Subject)", "Days", [("Days", "Subject", True)]),
        ("y ~ x + (1 | g) + (0 + x | g)", "x", [("1", "g", True), ("0 + x", "g", True)]),
        ("y ~ x + (1 + x || g)", "x", [("1 + x", "g", False)]),
        ("y ~ (1 | g)", "1", [("1", "g", True)]),
        ("y ~ 1 + (1 | a/b)", "1", [("1", "a", True), ("1", "a:b", True)]),
        ("`log.y` ~ x + (1 | `my group`)", "x", [("1", "`my group`", True)]),
        ("y ~ I(x + z) + np.log(x) + (1 | g)", "I(x + z) + np.log(x)", [("1", "g", True)]),
    ],
)
def test_parse(formula, population, blocks):
    parsed = parse_formula(formula)
    assert parsed.population == population
    assert [(b.expr, b.factor, b.correlated) for b in parsed.blocks] == blocks


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("y x + (1 | g)", r"has no '~' between the response and the terms"),
        ("y ~ x ~ z", r"more than one '~'"),
        ("~ x", r"has no response left of '~'"),
        ("y ~ x + (1 | g", r"has 1 unclosed '\('"),
        ("y ~ x + )", r"closes a bracket it never opened, at character 9"),
        ("y ~ x +", r"has an empty term: a '\+' with nothing after it"),
        ("y ~ x + (| g)", r"group term \(\| g\) .* has nothing left of '\|'"),
        ("y ~ x + (1 |)", r"needs one grouping factor right of '\|'"),
        ("y ~ x + $ + (1 | g)", r"could not be read in the response and population part"),
    ],
)
def test_parse_errors_say_where(formula, message):
    with pytest.raises(ValueError, match=message):
        parse_formula(formula)


def test_design_names_terms_as_formulae_does_and_states_reference_levels():
    data = build_model_data(
        table(), parse_formula("y ~ x + C(k) + x:C(k) + I(x ** 2) + np.log(x) + (1 + x | g)")
    )
    assert data.population == (
        "Intercept", "x", "C(k)[lo]", "C(k)[mid]", "x:C(k)[lo]", "x:C(k)[mid]", "I(x ** 2)",
        "np.log(x)",
    )  # fmt: skip
    assert data.factors[0].terms == ("Intercept", "x")
    assert data.design["reference_levels"] == {"k": "hi"}
    assert data.columns[-1] == "y" and data.n_rows == 60


def test_cell_moments_equal_the_rows_statistics():
    frame = table()
    data = build_model_data(frame, parse_formula("y ~ x + (1 | g) + (1 | h)"), keep_rows=True)
    codes, values = data.rows
    for cell in range(data.n_cells):
        rows = values[
            (codes[:, 0] == data.factors[0].cells[cell])
            & (codes[:, 1] == data.factors[1].cells[cell])
        ]
        assert len(rows) == data.moments.n[cell]
        np.testing.assert_allclose(data.moments.mean[cell], rows.mean(axis=0), rtol=1e-12)
        centred = rows - rows.mean(axis=0)
        np.testing.assert_allclose(data.moments.comoment[cell], centred.T @ centred, atol=1e-9)


@pytest.mark.parametrize(
    ("change", "formula", "message"),
    [
        ({}, "y ~ Dayz + (1 | g)", r"no column 'Dayz'.* Did you mean"),
        ({}, "y ~ x + (1 | gg)", r"no column 'gg'"),
        (
            {"x": ["abc"] + [1.5] * 59},
            "y ~ x + (1 | g)",
            r"covariate column 'x' must hold numbers; "
            r"row index 0 holds 'abc'",
        ),
        (
            {"x": [np.nan, np.nan] + [1.5] * 58},
            "y ~ x + (1 | g)",
            r"2 row\(s\) have missing values "
            r"\(by column: 'x': 2\).*--drop-missing",
        ),
        ({"x2": None}, "y ~ x + x2 + (1 | g)", r"'x', 'x2' are perfectly collinear"),
        (
            {"c": 4.0},
            "y ~ x + c + (1 | g)",
            r"'c' does not vary in the data, so it is collinear "
            "with the intercept",
        ),
        ({"one": "same"}, "y ~ x + (1 | one)", r"grouping factor 'one' has 1 distinct value"),
        ({}, "y ~ x + (1 + x | g) + (0 + x | g)", r"'x' vary by 'g' in more than one group term"),
        ({"y": ["a"] * 60}, "y ~ x + (1 | g)", r"response column 'y' must hold numbers"),
    ],
)
def test_bad_input_names_the_column_or_term(change, formula, message):
    frame = table()
    for name, value in change.items():
        frame[name] = 2 * frame["x"] + 1 if value is None else value
    with pytest.raises(ValueError, match=message):
        build_model_data(frame, parse_formula(formula))


def test_missing_values_can_be_dropped_and_are_counted():
    frame = table()
    frame.loc[[3, 7], "x"] = np.nan
    data = build_model_data(frame, parse_formula("y ~ x + (1 | g)"), missing="drop")
    assert data.dropped == 2 and data.n_rows == 58


def test_new_rows_get_the_fits_coding_and_stateful_transforms():
    """The design of new rows from the stored record equals formulae's own evaluation with the
    original design (levels, reference level, center()'s learned mean)."""
    import formulae

    frame = table()
    text = "y ~ center(x) + C(k) + center(x):C(k) + I(x ** 2) + np.log(x)"
    data = build_model_data(frame, parse_formula(f"{text} + (1 + center(x) | g)"))
    new = pd.DataFrame({"x": [1.0, 7.5, 9.0], "k": ["mid", "hi", "lo"], "g": ["s1", "zz", "s2"]})
    expected = formulae.design_matrices(text, frame).common.evaluate_new_data(new).design_matrix
    names, got = new_design(data.design, "population", new)
    assert names == list(data.population)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    names_z, z = new_design(data.design, "1 + center(x) | g", new)
    assert names_z == ["Intercept", "center(x)"]
    np.testing.assert_allclose(z[:, 1], new.x - frame.x.mean(), rtol=1e-12)
    with pytest.raises(
        ValueError, match=r"column 'k' holds level\(s\) 'top' that the fit never saw"
    ):
        new_design(data.design, "population", new.assign(k=["top", "hi", "lo"]))


def test_a_contrast_named_in_c_is_not_a_column():
    data = build_model_data(table(), parse_formula("y ~ C(k, Sum) + (1 | g)"))
    assert data.population == ("Intercept", "C(k, Sum)[hi]", "C(k, Sum)[lo]")


def test_an_interaction_that_copies_its_main_effect_says_to_centre_the_covariate():
    frame = table().assign(x=lambda t: 1e6 + t["x"] - t["x"].mean())
    with pytest.raises(ValueError, match=r"perfectly collinear.*centre it first"):
        build_model_data(frame, parse_formula("y ~ x * h + (1 | g)"))
    centred = build_model_data(frame, parse_formula("y ~ I(x - 1000000) * h + (1 | g)"))
    assert "I(x - 1000000):h[b]" in centred.population
