"""Property tests of the validation layer (hypothesis).

Each example starts from a *truth*: a list of (label, value) rows. It is rendered into a DataFrame
in one of the ways real tables hold such data (text, integer ids, floats, categoricals, numbers as
strings, nullable integers), and then damaged at random (missing cells, junk text, infinities,
duplicate or missing columns). ``grouped_data`` must then either

- return a result whose labels, counts, means and sums of squares (or estimates and standard
  errors) equal a direct pandas ``groupby`` computation on the truth (minus the dropped rows), or
- raise one of the documented errors, ``ValueError`` or ``TypeError``,

and never anything else. A table with no damage that satisfies the documented requirements
(>= 2 groups, some variation within groups) must always give a result.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hbm.data.grouped import grouped_data

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,  # the same examples on every run, like the rest of the suite
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

text_labels = st.text(
    alphabet=st.sampled_from(list("abcXYZ 0789-_.éß学<>&'\"")), min_size=1, max_size=6
).filter(lambda s: s.strip() == s and s != "")
int_labels = st.integers(min_value=-5, max_value=2000).map(str)
values = st.one_of(
    st.integers(min_value=-1000, max_value=1000).map(float),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1e-3, max_value=1e-3, allow_nan=False, allow_infinity=False),
)


@st.composite
def truths(draw, summaries: bool):
    integer_ids = draw(st.booleans())
    labels_of = int_labels if integer_ids else text_labels
    pool = draw(st.lists(labels_of, min_size=2, max_size=6, unique=True))
    if summaries:  # one row per group, now and then a group listed twice
        labels = draw(st.permutations(pool)) + draw(st.lists(st.sampled_from(pool), max_size=1))
    else:
        labels = draw(st.lists(st.sampled_from(pool), min_size=2, max_size=25))
    ys = draw(st.lists(values, min_size=len(labels), max_size=len(labels)))
    ses = draw(
        st.lists(
            st.floats(min_value=1e-3, max_value=1e3, allow_nan=False),
            min_size=len(labels),
            max_size=len(labels),
        )
    )
    return integer_ids, labels, ys, ses


def render_labels(draw, labels: list[str], integer_ids: bool) -> pd.Series:
    ways = ["object", "string", "category"]
    if integer_ids and all(str(int(v)) == v for v in labels):
        ways += ["int64", "float64"]
    way = draw(st.sampled_from(ways))
    if way == "int64":
        return pd.Series([int(v) for v in labels], dtype="int64")
    if way == "float64":
        return pd.Series([float(v) for v in labels], dtype="float64")
    if way == "category":
        return pd.Series(pd.Categorical(labels))
    return pd.Series(labels, dtype=object if way == "object" else "string")


def render_numbers(draw, numbers: list[float]) -> pd.Series:
    ways = ["float64", "text", "mixed"]
    if all(float(v).is_integer() and abs(v) < 2**31 for v in numbers):
        ways += ["Int64"]
    way = draw(st.sampled_from(ways))
    if way == "float64":
        return pd.Series(numbers, dtype="float64")
    if way == "Int64":
        return pd.Series([int(v) for v in numbers], dtype="Int64")
    if way == "text":
        return pd.Series([repr(float(v)) for v in numbers], dtype=object)
    return pd.Series([v if i % 2 else repr(float(v)) for i, v in enumerate(numbers)], dtype=object)


DEFECTS = ["missing label", "missing value", "missing se", "junk", "inf", "bool", "dup", "absent"]
MISSING = {"missing label": "g", "missing value": "y", "missing se": "s"}


@st.composite
def damaged_tables(draw, summaries: bool):
    """A rendered truth with random damage, and what the damage left: missing rows, bad cells."""
    integer_ids, labels, ys, ses = draw(truths(summaries))
    table = pd.DataFrame(
        {
            "g": render_labels(draw, labels, integer_ids),
            "y": render_numbers(draw, ys),
            **({"s": render_numbers(draw, ses)} if summaries else {}),
        }
    )
    cells: dict[tuple[int, str], str] = {}  # (row, column) -> "missing" | "bad", last write wins
    broken = False  # a defect of the whole table: a bool, repeated or absent column
    defects = draw(
        st.one_of(
            st.just([]), st.lists(st.sampled_from(DEFECTS), min_size=1, max_size=2, unique=True)
        )
    )
    for defect in sorted(defects, key=lambda d: d == "absent"):  # remove a column last
        row = draw(st.integers(0, len(table) - 1))
        if defect in MISSING and MISSING[defect] in table:
            column = MISSING[defect]
            table[column] = table[column].astype(object)
            table.loc[row, column] = draw(st.sampled_from([None, np.nan, pd.NA]))
            cells[row, column] = "missing"
        elif defect in ("junk", "inf"):
            choices = (
                ["x", "1,5", "--", "[]", "NaN?", " "]
                if defect == "junk"
                else [math.inf, -math.inf, "inf", "-Infinity"]
            )
            cell = draw(st.sampled_from(choices))
            table["y"] = table["y"].astype(object)
            table.loc[row, "y"] = cell
            cells[row, "y"] = "missing" if cell == " " else "bad"  # blank text is a missing cell
        elif defect in ("bool", "dup", "absent"):
            broken = True
            if defect == "bool":
                table["y"] = [bool(i % 2) for i in range(len(table))]
            elif defect == "dup":
                table = pd.concat([table, table[["y"]]], axis=1)
            else:
                table = table.drop(columns=draw(st.sampled_from(list(table.columns))))
    missing_rows = {row for (row, _), state in cells.items() if state == "missing"}
    bad = broken or "bad" in cells.values()
    missing = draw(st.sampled_from(["error", "drop"]))
    order = draw(st.sampled_from(["first-seen", "sorted"]))
    return table, labels, ys, ses, bad, missing_rows, missing, order


def expected(labels, ys, ses, dropped: set[int], order: str, summaries: bool) -> pd.DataFrame:
    """The direct pandas computation on the truth, minus dropped rows."""
    keep = [i for i in range(len(labels)) if i not in dropped]
    frame = pd.DataFrame({"g": [labels[i] for i in keep], "y": [ys[i] for i in keep]})
    if summaries:
        frame["s"] = [ses[i] for i in keep]
        result = frame.set_index("g")
    else:
        grouped = frame.groupby("g", sort=False)["y"]
        result = pd.DataFrame(
            {
                "n": grouped.size(),
                "mean": grouped.mean(),
                "ss": grouped.var(ddof=0) * grouped.size(),
            }
        )
    if order == "sorted":
        result = result.loc[sorted(result.index)]
    return result


def valid_truth(labels, ys, summaries: bool) -> bool:
    """Whether the undamaged truth meets the documented requirements of its form."""
    truth = pd.DataFrame({"g": labels, "y": ys})
    if truth["g"].nunique() < 2:
        return False
    if summaries:
        return truth["g"].is_unique
    stats = truth.groupby("g")["y"]
    within = (stats.var(ddof=0) * stats.size()).sum()
    return bool((stats.size() > 1).any() and within > 1e-12 * (1 + truth["y"].abs().max()) ** 2)


def check(example, summaries: bool) -> None:
    table, labels, ys, ses, bad, missing_rows, missing, order = example
    arguments = {"group": "g", "value": "y", "order": order, "missing": missing}
    try:
        data = grouped_data(table, **arguments, **({"se": "s"} if summaries else {}))
    except (ValueError, TypeError) as error:
        assert str(error), "an error must say what is wrong"
        event(f"{type(error).__name__}: {' '.join(str(error).split()[:4])}")
        if not bad and not missing_rows:
            assert not valid_truth(labels, ys, summaries), f"a valid table was refused: {error}"
        return
    event("result" + (" after dropping missing values" if missing_rows else ""))
    assert not bad, "a damaged table gave a result"
    assert not (missing_rows and missing == "error"), "missing values passed unnoticed"
    want = expected(labels, ys, ses, missing_rows, order, summaries)
    assert data.labels == tuple(want.index)
    assert data.dropped == len(missing_rows)
    scale = 1 + max(abs(v) for v in ys)
    if summaries:
        np.testing.assert_array_equal(data.mean, want["y"].to_numpy())
        np.testing.assert_array_equal(data.stderr, want["s"].to_numpy())
    else:
        np.testing.assert_array_equal(data.n, want["n"].to_numpy())
        np.testing.assert_allclose(data.mean, want["mean"], rtol=1e-12, atol=1e-12 * scale)
        np.testing.assert_allclose(data.ss, want["ss"], rtol=1e-9, atol=1e-9 * scale**2)


@SETTINGS
@given(damaged_tables(summaries=False))
def test_rows_tables_give_pandas_statistics_or_a_documented_error(example):
    check(example, summaries=False)


@SETTINGS
@given(damaged_tables(summaries=True))
def test_summary_tables_give_their_rows_or_a_documented_error(example):
    check(example, summaries=True)
