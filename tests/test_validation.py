"""Every bad table or option ends in one ValueError/TypeError that names the culprit.

And the tables that look odd but are fine (single-row groups, numeric ids, non-ASCII labels) work.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hbm
from hbm.data.grouped import GroupedData, grouped_data
from hbm.model.build import build_model
from hbm.model.families.normal import resolve_priors
from hbm.model.priors import parse_prior

fit_table = hbm.fit


def rows(**columns) -> pd.DataFrame:
    base = {"g": ["a", "a", "b", "b"], "y": [1.0, 2.0, 4.0, 6.0]}
    return pd.DataFrame(base | columns)


def summaries(**columns) -> pd.DataFrame:
    base = {"g": ["a", "b", "c"], "y": [1.0, 2.0, 4.0], "s": [1.0, 2.0, 1.5]}
    return pd.DataFrame(base | columns)


ROWS_CASES = [
    # (table, keyword arguments, error type, message pattern)
    (
        rows(),
        {"value": "score"},
        ValueError,
        r"The table has no column 'score'; its columns are 'g', 'y'\.$",
    ),
    (
        pd.DataFrame({"school": ["a", "b"], "Score": [1.0, 2.0]}),
        {"group": "school", "value": "score"},
        ValueError,
        r"no column 'score'; its columns are 'school', 'Score'\. Did you mean 'Score'\?",
    ),
    (
        pd.DataFrame([["a", 1.0, 2.0], ["b", 3.0, 4.0]], columns=["g", "y", "y"]),
        {},
        ValueError,
        r"has 2 columns named 'y' \(columns 2, 3\); rename them",
    ),
    (rows(), {"group": 1}, TypeError, r"Column names must be strings; got 1\."),
    (
        rows(y=[1.0, "x", "3,5", 4.0]),
        {},
        ValueError,
        r"value column 'y' must hold numbers; row index 1 holds 'x' "
        r"\(2 values in all are not numbers\)\.",
    ),
    (
        rows(y=["1,5", "2", "3", "4"]),
        {},
        ValueError,
        r"row index 0 holds '1,5' \(a decimal comma\?",
    ),
    (rows(y=[True, False, True, True]), {}, ValueError, r"'y' holds true/false values"),
    (
        rows(y=pd.to_datetime(["2024-01-01"] * 4)),
        {},
        ValueError,
        r"'y' holds dates or times \(datetime64",
    ),
    (rows(y=[1 + 1j, 2, 3, 4]), {}, ValueError, r"'y' holds complex numbers"),
    (
        rows(y=[1.0, np.inf, -np.inf, 4.0]),
        {},
        ValueError,
        r"'y' must hold finite numbers; row index 1 holds inf \(2 values in all are infinite\)",
    ),
    (
        rows(g=["a", None, "b", np.nan], y=[1.0, 2.0, np.nan, 4.0]),
        {},
        ValueError,
        r"^3 row\(s\) have missing values \(by column: 'g': 2, 'y': 1\); the first at row index "
        r"1, 2, 3\. Drop them with missing='drop' \(CLI: --drop-missing\)",
    ),
    (
        pd.DataFrame({"g": ["a"] * 3, "y": [1.0, 2.0, 3.0]}),
        {},
        ValueError,
        r"The group column 'g' has 1 distinct value\(s\) \('a'\); a hierarchical model needs at "
        r"least 2 groups\.",
    ),
    (
        rows(g=["a", "a", None, None]),
        {"missing": "drop"},
        ValueError,
        r"1 distinct value\(s\) \('a'\) after dropping 2 row\(s\) with missing values",
    ),
    (
        rows(y=[3.0, 3.0, 3.0, 3.0]),
        {},
        ValueError,
        r"'y' has no variation: every row is 3\. There is nothing to estimate\.",
    ),
    (
        pd.DataFrame({"g": ["a", "b", "c"], "y": [1.0, 2.0, 4.0]}),
        {},
        ValueError,
        r"Every group in 'g' has a single row, so .*sigma.* cannot be told apart from .*tau.*"
        r"se=\.\.\.",
    ),
    (
        rows(y=[1.0, 1.0, 2.0, 2.0]),
        {},
        ValueError,
        r"'y' does not vary within any group",
    ),
    (
        rows(y=[1e200, -1e200, 3e200, 1.0]),
        {},
        ValueError,
        r"The 'y' values \(from -1e\+200 to 3e\+200\) are too extreme .* Rescale the column",
    ),
    (
        pd.DataFrame({"theta": ["a", "b"], "y": [1.0, 2.0]}),
        {"group": "theta"},
        ValueError,
        r"group column may not be called 'theta'.*reserved: chain, draw, mu",
    ),
    (rows(h=list("pqrs")), {"value": "h"}, ValueError, r"must hold numbers; row index 0 holds 'p'"),
    (rows(), {"value": "g"}, ValueError, r"group, value and se columns must differ"),
    (
        pd.DataFrame({"school/district": ["a", "b"], "y": [1.0, 2.0]}),
        {"group": "school/district"},
        ValueError,
        r"name 'school/district' becomes the name of theta's dimension .* may not contain '/'",
    ),
    (
        rows(g=["a", "a", "b\x00c", "b\x00c"]),
        {},
        ValueError,
        r"holds a label that cannot be saved as text \(a NUL character .*row index 2 holds",
    ),
    (rows(), {"order": "alpha"}, ValueError, r"'order' option .* 'first-seen', 'sorted'; got"),
    (rows(), {"missing": "skip"}, ValueError, r"'missing' option .* 'error', 'drop'; got 'skip'"),
    ({"g": ["a"], "y": [1.0]}, {}, TypeError, r"must be a pandas DataFrame; got dict"),
]


@pytest.mark.parametrize(("table", "kwargs", "kind", "message"), ROWS_CASES)
def test_bad_rows_tables(table, kwargs, kind, message):
    with pytest.raises(kind, match=message):
        grouped_data(table, **{"group": "g", "value": "y"} | kwargs)


def test_summary_estimates_may_be_tiny_but_standard_errors_may_not():
    tiny = grouped_data(summaries(y=[0.0, 1e-152, 2e-152]), group="g", value="y", se="s")
    np.testing.assert_array_equal(tiny.mean, [0.0, 1e-152, 2e-152])  # the se set the scale
    with pytest.raises(ValueError, match=r"'s' holds 1e-200, too small to model .* > 1e-150"):
        grouped_data(summaries(s=[1.0, 1e-200, 1.0]), group="g", value="y", se="s")


def test_unhashable_labels_are_named():
    table = rows(g=["a", ["b"], "a", "c"])
    with pytest.raises(ValueError, match=r"group column 'g' must hold labels .* row index 1 holds"):
        grouped_data(table, group="g", value="y")


SUMMARY_CASES = [
    (summaries(s=[1.0, 0.0, 1.5]), r"'s' must be > 0 .*; got 0 for group 'b'\.$"),
    (summaries(s=[-1.0, -2.0, 1.5]), r"got -1 for group 'a' \(2 groups in all\)"),
    (summaries(s=[1.0, None, 1.5]), r"1 row\(s\) have missing values \(by column: 's': 1\)"),
    (
        summaries(g=["a", "b", "a"]),
        r"each group must be listed once; group\(s\) 'a' in column 'g' appear more than once",
    ),
    (summaries(s=["1", "2", "wide"]), r"standard-error column 's' must hold numbers.*'wide'"),
]


@pytest.mark.parametrize(("table", "message"), SUMMARY_CASES)
def test_bad_summaries_tables(table, message):
    with pytest.raises(ValueError, match=message):
        grouped_data(table, group="g", value="y", se="s")


def test_positions_use_the_tables_own_index():
    table = rows(y=[1.0, 2.0, "n/a?", 4.0]).set_index(pd.Index([10, 11, 12, 13], name="student"))
    with pytest.raises(ValueError, match=r"row 12 \(index 'student'\) holds 'n/a\?'"):
        grouped_data(table, group="g", value="y")


def test_missing_values_can_be_dropped_and_are_counted():
    table = rows(g=["a", None, "b", "b"], y=[1.0, 2.0, np.nan, 4.0]).pipe(
        lambda t: pd.concat([t, pd.DataFrame({"g": ["a", "b"], "y": [5.0, 8.0]})])
    )
    data = grouped_data(table, group="g", value="y", missing="drop")
    assert data.dropped == 2 and data.describe()["dropped_missing"] == 2
    np.testing.assert_array_equal(data.n, [2, 2])
    np.testing.assert_allclose(data.mean, [3.0, 6.0])


def test_single_row_groups_numeric_ids_and_non_ascii_labels_work():
    table = pd.DataFrame(
        {
            "school": [1224, 1224, 7, 3.0, 3.0, "École", "學校", "学校", "学校"],
            "score": [1.0, 2.0, 5.0, 4.0, 8.0, 2.0, 9.0, 3.0, 3.5],
        }
    )
    data = grouped_data(table, group="school", value="score")
    assert data.labels == ("1224", "7", "3", "École", "學校", "学校")
    np.testing.assert_array_equal(data.n, [2, 1, 2, 1, 1, 2])
    integer_ids = grouped_data(
        pd.DataFrame({"id": [1224, 1224, 7], "v": [1.0, 2.0, 5.0]}), group="id", value="v"
    )
    assert integer_ids.labels == ("1224", "7")
    built = build_model(data)
    logp = built.model.compile_logp()(built.model.initial_point())
    assert np.isfinite(logp)
    assert list(built.model.coords["school"]) == list(data.labels)


def test_nullable_and_categorical_columns_are_read_as_what_they_hold():
    table = pd.DataFrame(
        {
            "g": pd.Categorical(["x", "x", "y", "y"]),
            "y": pd.array([1, 2, 4, pd.NA], dtype="Int64"),
        }
    )
    with pytest.raises(ValueError, match=r"1 row\(s\) have missing values \(by column: 'y': 1\)"):
        grouped_data(table, group="g", value="y")
    data = grouped_data(table, group="g", value="y", missing="drop")
    assert data.labels == ("x", "y") and data.n.tolist() == [2, 1]


GROUPED_CASES = [
    ({"labels": ("a",)}, ValueError, r"at least 2 distinct labels"),
    ({"labels": ("a", "a")}, ValueError, r"at least 2 distinct labels"),
    ({"labels": (1, 2)}, TypeError, r"labels must be a tuple of str"),
    ({"n": np.array([1, 0])}, ValueError, r"n must hold whole numbers >= 1"),
    ({"n": np.array([1, 2, 3])}, ValueError, r"n must be 2 numbers \(one per label\)"),
    ({"mean": np.array([1.0, np.nan])}, ValueError, r"mean must be finite"),
    ({"ss": np.array([-1.0, 0.0])}, ValueError, r"ss must hold sums of squares >= 0"),
    ({"group": "tau"}, ValueError, r"group may not be 'tau'"),
    ({"group": "a/b"}, ValueError, r"group may not be 'a/b' \(reserved, empty or has '/'\)"),
    ({"se": "s"}, ValueError, r"se and GroupedData.stderr must be given together"),
    ({"se": "s", "stderr": np.array([1.0, -1.0])}, ValueError, r"stderr must hold .* > 0"),
    ({"codes": np.array([0, 5]), "values": np.array([1.0, 2.0])}, ValueError, r"codes must"),
]


@pytest.mark.parametrize(("change", "kind", "message"), GROUPED_CASES)
def test_grouped_data_checks_its_fields(change, kind, message):
    fields = {
        "group": "g",
        "value": "y",
        "se": None,
        "labels": ("a", "b"),
        "order": "first-seen",
        "n": np.array([1, 1]),
        "mean": np.array([1.0, 2.0]),
        "ss": np.array([0.0, 0.0]),
    }
    GroupedData(**fields)  # the unchanged fields are fine
    with pytest.raises(kind, match=message):
        GroupedData(**fields | change)


PRIOR_CASES = [
    ({"mu": "normal(0, 5"}, r"prior for 'mu' could not be read: 'normal\(0, 5' \(its brackets"),
    ({"mu": "gauss(0, 1)"}, r"unknown family 'gauss' .* known families are normal, studentt"),
    ({"rho": "normal(0, 1)"}, r"no parameter 'rho' .* its parameters are 'mu', 'tau', 'sigma'\."),
    ({"tau": "halfnormal(0)"}, r"scale \(a standard deviation\) of halfnormal must be > 0; got 0"),
    ({"tau": "halfcauchy(-2)"}, r"of halfcauchy must be > 0; got -2"),
    ({"mu": "normal(0, -1)"}, r"of normal must be > 0; got -1"),
    ({"sigma": "-3"}, r"can only be fixed at a value > 0; got -3"),
    ({"mu": "normal(1e999, 1)"}, r"the m of normal must be a finite number"),
    ({"tau": "normal(0, 1)"}, r"must be positive-valued .* Use one of halfnormal"),
    ({"mu": None}, r"must be text such as 'normal\(0, 5\)' or a number; got None"),
]


@pytest.mark.parametrize(("priors", "message"), PRIOR_CASES)
def test_prior_text_errors(priors, message):
    data = grouped_data(rows(), group="g", value="y")
    kind = TypeError if None in priors.values() else ValueError
    with pytest.raises(kind, match=message):
        resolve_priors(data, priors)


def test_sigma_prior_on_summaries_says_why_it_does_not_exist():
    data = grouped_data(summaries(), group="g", value="y", se="s")
    with pytest.raises(ValueError, match=r"its parameters are 'mu', 'tau' \(sigma exists only"):
        resolve_priors(data, {"sigma": "halfnormal(1)"})
    assert parse_prior(" 2.5 ", "tau").describe() == "fixed at 2.5"


OPTION_CASES = [
    (
        {"parametrization": "centred"},
        r"'auto', 'centered', 'noncentered', 'marginal'; got 'centred'",
    ),
    ({"sampler": "stan"}, r"'sampler' option must be one of 'nutpie', 'pymc'; got 'stan'"),
    ({"draws": 0}, r"'draws' option must be a positive integer; got 0\."),
    ({"draws": 10.5}, r"'draws' option must be a positive integer; got 10\.5"),
    ({"draws": "100"}, r"'draws' option must be a positive integer; got '100'"),
    ({"tune": -1}, r"'tune' option must be an integer >= 0; got -1"),
    ({"chains": 0}, r"'chains' option must be a positive integer; got 0"),
    ({"chains": True}, r"'chains' option must be a positive integer; got True"),
    ({"random_seed": -5}, r"'random_seed' option must be an integer >= 0; got -5"),
    ({"target_accept": 1.0}, r"'target_accept' option must be a number between 0 and 1"),
    ({"likelihood": "row"}, r"'likelihood' option must be one of 'sufficient', 'rows'"),
    ({"missing": "ignore"}, r"'missing' option must be one of 'error', 'drop'"),
]


@pytest.mark.parametrize(("kwargs", "message"), OPTION_CASES)
def test_bad_options_fail_before_sampling(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit_table(rows(), group="g", value="y", progressbar=False, **kwargs)
