"""Engines agree with pandas on the statistics, including the cases that cancel.

Tolerances (the issue's): counts identical; means within 1e-12 of the pandas reduction, relative to
the group's scale ``max(|mean|, sd)`` (a mean near zero has no relative digits to keep); within-
group sums of squares within 1e-9 relative. The pandas reduction itself is checked against exact
rational arithmetic in ``tests/test_reduce.py``. Values near 1e6 and 1e9 with sd 1 are what break
a plain ``var_pop`` (DuckDB keeps about 7 digits there, measured 1e-7 relative) and the naive
``sum(y^2) - (sum y)^2 / n`` (no digit left).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hbm.data.engines import ENGINES, Column, Request, check_engine, choose_engine, run
from hbm.data.engines.request import quote_sql
from hbm.data.grouped import grouped_data

duckdb = pytest.importorskip("duckdb")


def table(center: float, *, groups: int = 40, rows: int = 30_000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, groups, rows)
    values = center + rng.normal(rng.normal(0, 3, groups)[codes], 1.0)
    labels = np.array([f"g{j:03d}" for j in range(groups)], dtype=object)
    return pd.DataFrame({"school": labels[codes], "score": values})


def by_label(reduced):
    return {key[0]: j for j, key in enumerate(reduced.keys)}


def assert_agree(reduced, reference) -> None:
    """``reduced`` (an engine's) against ``reference`` (a GroupedData from pandas)."""
    where = by_label(reduced)
    assert sorted(where) == sorted(reference.labels)
    index = np.array([where[label] for label in reference.labels])
    m = reduced.moments.subset(index)
    np.testing.assert_array_equal(m.n, reference.n)
    sd = np.sqrt(reference.ss / reference.n)
    scale = np.maximum(np.abs(reference.mean), sd)
    assert np.max(np.abs(m.mean[:, 0] - reference.mean) / scale) < 1e-12
    assert np.max(np.abs(m.comoment[:, 0, 0] - reference.ss) / reference.ss) < 1e-9


@pytest.mark.parametrize("center", [0.0, 1e6, 1e9])
@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_duckdb_agrees_with_pandas(tmp_path, center, kind):
    frame = table(center)
    path = tmp_path / f"t.{kind}"
    if kind == "csv":
        frame.to_csv(path, index=False, float_format="%.17g")
    else:
        frame.to_parquet(path)
    reference = grouped_data(
        pd.read_csv(path) if kind == "csv" else frame, group="school", value="score", order="sorted"
    )
    reduced = run(Request(str(path), ("school",), (Column.plain("score"),)), "duckdb")
    assert reduced.order == "sorted" and [k[0] for k in reduced.keys] == list(reference.labels)
    assert_agree(reduced, reference)


def test_cells_far_from_the_shift_are_refined(tmp_path):
    """Groups near 0, 1e6 and 1e9 (sd 1) in one file: one shift cannot centre them all, so the
    far ones get the corrected two-pass; without it their sums of squares lose 7 digits."""
    parts = [table(c, groups=5, rows=6_000, seed=i) for i, c in enumerate((0.0, 1e6, 1e9))]
    for i, part in enumerate(parts):
        part["school"] = part["school"] + f"-{i}"
    frame = pd.concat(parts, ignore_index=True)
    path = tmp_path / "mixed.parquet"
    frame.to_parquet(path)
    reduced = run(Request(str(path), ("school",), (Column.plain("score"),)), "duckdb")
    assert "refined by a second pass" in reduced.detail
    assert_agree(reduced, grouped_data(frame, group="school", value="score"))


def test_several_columns_and_expressions_give_the_comoment_matrix(tmp_path):
    """The general reduction (a formula's [X, Z, y]): means and co-moments of x, x*z and y,
    DuckDB's SQL against hbm's pandas chunks, both against numpy per group."""
    rng = np.random.default_rng(3)
    n = 20_000
    frame = pd.DataFrame(
        {
            "g": rng.choice(["a", "b", "c"], n),
            "h": rng.choice(["u", "v"], n),
            "x": 1e6 + rng.normal(0, 2, n),
            "z": rng.normal(5, 1, n),
        }
    )
    frame["y"] = 3 * frame["x"] + rng.normal(0, 1, n)
    path = tmp_path / "xz.parquet"
    frame.to_parquet(path)
    xz = Column(
        name="x:z",
        sql=f"{quote_sql('x')} * {quote_sql('z')}",
        reads=("x", "z"),
        frame=_product,
    )
    request = Request(str(path), ("g", "h"), (Column.plain("x"), xz, Column.plain("y")))
    engines = {name: run(request, name) for name in ("pandas", "duckdb")}
    for (g, h), cell in frame.groupby(["g", "h"]):
        values = np.column_stack([cell["x"], cell["x"] * cell["z"], cell["y"]])
        centred = values - values.mean(axis=0)
        want = centred.T @ centred
        for name, reduced in engines.items():
            j = reduced.keys.index((g, h))
            assert reduced.moments.n[j] == len(cell), name
            np.testing.assert_allclose(reduced.moments.mean[j], values.mean(axis=0), rtol=1e-12)
            np.testing.assert_allclose(reduced.moments.comoment[j], want, rtol=1e-9)


def _product(table: pd.DataFrame) -> np.ndarray:
    return (table["x"] * table["z"]).to_numpy(dtype=float)


def test_one_column_comoments_are_the_seed_reduction_bit_for_bit(tmp_path):
    frame = table(1e9, rows=200_000)
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    reference = grouped_data(frame, group="school", value="score")
    reduced = run(Request(str(path), ("school",), (Column.plain("score"),)), "pandas")
    assert [k[0] for k in reduced.keys] == list(reference.labels)
    assert np.array_equal(reduced.moments.mean[:, 0], reference.mean)
    assert np.array_equal(reduced.moments.comoment[:, 0, 0], reference.ss)


def test_files_of_a_glob_merge_to_the_whole(tmp_path):
    frame = table(1e6, rows=9_000)
    for i in range(3):
        frame.iloc[i * 3_000 : (i + 1) * 3_000].to_parquet(tmp_path / f"part-{i}.parquet")
    reference = grouped_data(frame, group="school", value="score")
    request = Request(str(tmp_path / "part-*.parquet"), ("school",), (Column.plain("score"),))
    for engine in ("pandas", "duckdb"):
        assert_agree(run(request, engine), reference)


def test_text_files_read_as_read_table_reads_them(tmp_path):
    """Semicolons and decimal commas, ids with leading zeros, 'NA' as a label (only an empty
    label is missing) and as a missing value."""
    path = tmp_path / "t.csv"
    path.write_text("g;y\n007;1,5\n007;2,5\nNA;4\nNA;6\n;3\n008;NA\n008;1\n008;2\n")
    request = Request(str(path), ("g",), (Column.plain("y"),), missing="drop")
    for engine in ("pandas", "duckdb"):
        reduced = run(request, engine)
        got = {
            k[0]: (int(n), float(m))
            for k, n, m in zip(
                reduced.keys, reduced.moments.n, reduced.moments.mean[:, 0], strict=True
            )
        }
        assert got == {"007": (2, 2.0), "NA": (2, 5.0), "008": (2, 1.5)}, engine
        assert reduced.dropped == 2


@pytest.mark.parametrize(
    ("text", "columns", "message"),
    [
        ("g,y\na,1\nb,x\n", ("g", "y"), r"'y' must hold numbers; data row 2 holds 'x'"),
        (
            "g,y\na,1\n,2\nb,\n",
            ("g", "y"),
            r"2 row\(s\) have missing values \(by column: 'g': 1, "
            r"'y': 1\); the first at data row 2, 3\. Drop them",
        ),
        ("g,y\na,1\nb,2\n", ("g", "score"), r"no column 'score'; its columns are 'g', 'y'"),
        ("g,y\na,1\nb,inf\n", ("g", "y"), r"'y' must hold finite numbers; data row 2 holds inf"),
        ("g,y\na,true\nb,false\n", ("g", "y"), r"'y' holds true/false values"),
    ],
)
def test_duckdb_names_the_column_the_value_and_the_row(tmp_path, text, columns, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        run(Request(str(path), (columns[0],), (Column.plain(columns[1]),)), "duckdb")


def test_sources_and_engines_that_do_not_exist(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"pattern '.*\*\.parquet' matches no file"):
        choose_engine(str(tmp_path / "*.parquet"))
    with pytest.raises(ValueError, match="must be one of 'auto', 'pandas', 'duckdb', 'dask'"):
        check_engine("spark")
    with pytest.raises(ValueError, match=r"'s3://b/x.parquet' is a URL: only the dask engine"):
        choose_engine("s3://b/x.parquet", "duckdb")
    assert choose_engine("s3://b/*.parquet", "dask") == ("dask", "asked for")
    monkeypatch.setitem(ENGINES, "duckdb", ("no_such_module_hbm", "duckdb"))
    with pytest.raises(
        ValueError, match=r"not installed; install it with: pip install 'hbm\[duckdb\]'"
    ):
        check_engine("duckdb")


def test_auto_switches_to_duckdb_above_the_stated_size(tmp_path, monkeypatch):
    from hbm.core import defaults

    path = tmp_path / "t.parquet"
    table(0.0, rows=1_000).to_parquet(path)
    assert choose_engine(str(path))[0] == "pandas"
    import dataclasses

    from hbm.data import engines

    small = dataclasses.replace(defaults.DEFAULTS, engine_switch_bytes=100)
    monkeypatch.setattr(engines, "DEFAULTS", small)
    engine, why = choose_engine(str(path))
    assert engine == "duckdb" and "above 0 MB, reduced out of core by DuckDB" in why


def test_nan_in_a_parquet_column_is_missing_as_for_pandas(tmp_path):
    frame = pd.DataFrame({"g": ["a", "a", "b", "b", "b"], "y": [1.0, np.nan, 2.0, 4.0, 6.0]})
    path = tmp_path / "nan.parquet"
    frame.to_parquet(path)
    with pytest.raises(ValueError, match=r"1 row\(s\) have missing values \(by column: 'y': 1\)"):
        run(Request(str(path), ("g",), (Column.plain("y"),)), "duckdb")
    reduced = run(Request(str(path), ("g",), (Column.plain("y"),), missing="drop"), "duckdb")
    assert reduced.moments.n.tolist() == [1, 3] and reduced.dropped == 1
    assert reduced.moments.mean[:, 0].tolist() == [1.0, 4.0]
