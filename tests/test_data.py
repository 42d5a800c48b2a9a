"""GroupedData: the reduction to sufficient statistics is exact and labels stay labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hbm.data.grouped import grouped_data


def test_sufficient_statistics_match_pandas(small_rows):
    data = grouped_data(small_rows, group="group", value="y")
    by = small_rows.groupby("group", sort=False)["y"]
    assert data.labels == tuple(by.size().index)
    np.testing.assert_array_equal(data.n, by.size().to_numpy())
    np.testing.assert_allclose(data.mean, by.mean().to_numpy(), rtol=1e-13)
    ss = by.apply(lambda s: float(((s - s.mean()) ** 2).sum())).to_numpy()
    np.testing.assert_allclose(data.ss, ss, rtol=1e-12, atol=1e-12)
    assert data.kind == "rows"
    assert data.n_rows == len(small_rows)
    assert data.codes is None and data.values is None  # rows are not kept unless asked


def test_keep_rows_keeps_codes_and_values(small_rows):
    data = grouped_data(small_rows, group="group", value="y", keep_rows=True)
    np.testing.assert_array_equal(np.asarray(data.labels)[data.codes], small_rows["group"])
    np.testing.assert_array_equal(data.values, small_rows["y"])


def test_first_seen_and_sorted_order():
    table = pd.DataFrame({"g": ["b", "a", "c", "a", "b"], "y": [1.0, 2, 3, 4, 6]})
    first = grouped_data(table, group="g", value="y")
    assert first.labels == ("b", "a", "c")
    np.testing.assert_allclose(first.mean, [3.5, 3.0, 3.0])
    ordered = grouped_data(table, group="g", value="y", order="sorted")
    assert ordered.labels == ("a", "b", "c")
    np.testing.assert_allclose(ordered.mean, [3.0, 3.5, 3.0])
    np.testing.assert_array_equal(ordered.n, [2, 2, 1])


def test_numeric_ids_stay_labels():
    table = pd.DataFrame({"school": [1224, 1224, 7, 7], "y": [1.0, 2, 3, 5]})
    data = grouped_data(table, group="school", value="y")
    assert data.labels == ("1224", "7")
    floats = pd.DataFrame({"school": [1224.0, 1224.0, 7.5, 7.5], "y": [1.0, 2, 3, 5]})
    assert grouped_data(floats, group="school", value="y").labels == ("1224", "7.5")


def test_summaries_form(eight_schools):
    data = grouped_data(eight_schools, group="school", value="effect", se="stderr")
    assert data.kind == "summaries"
    assert data.labels == tuple("ABCDEFGH")
    np.testing.assert_array_equal(data.mean, [28, 8, -3, 7, -1, 1, 18, 12])
    np.testing.assert_array_equal(data.stderr, [15, 10, 16, 11, 9, 11, 10, 18])
    sorted_data = grouped_data(
        eight_schools.iloc[::-1], group="school", value="effect", se="stderr", order="sorted"
    )
    np.testing.assert_array_equal(sorted_data.mean, data.mean)


@pytest.mark.parametrize(
    ("table", "kwargs", "message"),
    [
        (pd.DataFrame({"g": ["a"], "y": [1.0]}), {"value": "nope"}, "no column 'nope'.*'g', 'y'"),
        (pd.DataFrame({"g": ["a", "a"], "y": [1.0, 2.0]}), {}, "at least 2 groups"),
        (pd.DataFrame({"g": ["a", "b"], "y": ["x", 2.0]}), {}, "must hold numbers.*'x'"),
        (pd.DataFrame({"g": ["a", "b"], "y": [np.inf, 2.0]}), {}, "finite"),
        (pd.DataFrame({"g": ["a", None], "y": [1.0, 2.0]}), {}, "1 row.*missing"),
        (pd.DataFrame({"g": ["a", "b", "b"], "y": [1.0, 1.0, 1.0]}), {}, "no variation"),
        (pd.DataFrame({"theta": ["a", "b"], "y": [1.0, 2.0]}), {"group": "theta"}, "may not be"),
        (
            pd.DataFrame({"g": ["a", "b"], "y": [1.0, 2.0], "s": [1.0, 0.0]}),
            {"se": "s"},
            "must be > 0",
        ),
        (
            pd.DataFrame({"g": ["a", "a", "b"], "y": [1.0, 2.0, 3], "s": [1.0, 1, 1]}),
            {"se": "s"},
            "listed once.*'a'",
        ),
    ],
)
def test_bad_tables_name_the_culprit(table, kwargs, message):
    arguments = {"group": "g", "value": "y", **kwargs}
    with pytest.raises(ValueError, match=message):
        grouped_data(table, **arguments)


def test_missing_rows_can_be_dropped():
    table = pd.DataFrame({"g": ["a", "a", None, "b", "b"], "y": [1.0, 2, 3, np.nan, 5]})
    data = grouped_data(table, group="g", value="y", missing="drop")
    assert data.dropped == 2
    assert data.labels == ("a", "b")
    np.testing.assert_array_equal(data.n, [2, 1])


def test_not_a_dataframe_is_a_type_error():
    with pytest.raises(TypeError, match="pandas DataFrame; got dict"):
        grouped_data({"g": [1]}, group="g", value="y")  # type: ignore[arg-type]
