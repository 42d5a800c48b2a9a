"""Formula models reduced out of core: every engine gives the in-memory path's cell statistics.

The reference is :func:`hbm.model.design.build_model_data` on the whole table (formulae evaluates
the design there). Tolerances (the issue's): counts identical; means within 1e-12 of the
reference relative to the cell's scale of that column, ``max(|mean|, sd)`` (a mean near zero
has no relative digits to keep), or, for a column constant in the cell (an indicator that is 0
there), relative to the column's scale over all rows (DuckDB averages ``x - c`` for a shift
``c`` and adds ``c`` back, which leaves rounding of order 1e-16 of that scale); co-moments within
1e-9 relative to ``sqrt(C_aa C_bb)`` (an off-diagonal co-moment can be near zero however accurate
it is; Cauchy-Schwarz bounds it by that scale). Covariate and response values lie near 1e6,
where a raw sum of squares would lose the digits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hbm.cli import main
from hbm.data.model_data import ModelData
from hbm.model.design import build_model_data
from hbm.model.design_columns import design_columns
from hbm.model.formula import parse_formula
from hbm.workflow.reduce import read_statistics, reduce_source

SLOPES = "y ~ x + s + z:s + (1 + x | g)"
TWO_FACTORS = "y ~ z * C(k) + (1 | g) + (0 + z | h)"


def table(rows: int = 1200, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 15, rows)
    s = rng.choice(["public", "catholic", "independent"], rows)
    x = 1e6 + rng.normal(0, 2, rows)
    z = rng.normal(0, 1, rows)
    k = rng.integers(1, 4, rows)
    u = rng.normal(0, 1, (15, 2))
    y = 1e6 + u[g, 0] + (0.5 + 0.2 * u[g, 1]) * (x - 1e6) + (s == "public")
    y = y + 0.3 * z * (s == "catholic")
    return pd.DataFrame(
        {
            "g": [f"school{c:02d}" for c in g],
            "h": [f"region{c % 4}" for c in g * 7 + k],
            "s": s,
            "x": x,
            "z": z,
            "k": k,
            "y": y + rng.normal(0, 1, rows) + 0.01 * k,
        }
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("formula-engines")
    data = table()
    data.to_parquet(folder / "all.parquet", index=False)
    for i, part in enumerate(np.array_split(np.arange(len(data)), 3)):
        data.iloc[part].to_parquet(folder / f"part{i}.parquet", index=False)
    data.to_csv(folder / "all.csv", index=False, float_format="%.17g")
    return folder, data


def assert_same_cells(got: ModelData, want: ModelData) -> None:
    assert got.columns == want.columns
    assert got.population == want.population
    for a, b in zip(got.factors, want.factors, strict=True):
        assert (a.name, a.labels, a.terms, a.blocks, a.correlated) == (
            b.name,
            b.labels,
            b.terms,
            b.blocks,
            b.correlated,
        )
        np.testing.assert_array_equal(a.cells, b.cells)
    g, w = got.moments, want.moments
    np.testing.assert_array_equal(g.n, w.n)
    mean_g, mean_w = g.mean + g.low, w.mean + w.low
    spread = np.sqrt(np.diagonal(w.comoment, axis1=1, axis2=2) / w.n[:, None])
    _, overall, total = w.totals()
    column_scale = np.maximum(np.abs(overall), np.sqrt(np.diag(total) / w.n.sum()))
    scale = np.maximum(np.abs(mean_w), spread)
    scale = np.where(spread > 0, scale, np.maximum(scale, column_scale))
    assert np.all(np.abs(mean_g - mean_w) <= 1e-12 * scale)
    diagonal = np.diagonal(w.comoment, axis1=1, axis2=2)
    bound = np.sqrt(diagonal[:, :, None] * diagonal[:, None, :])
    assert np.all(np.abs(g.comoment - w.comoment) <= 1e-9 * bound)
    assert got.dropped == want.dropped


def reference(data: pd.DataFrame, formula: str, **options) -> ModelData:
    return build_model_data(data, parse_formula(formula), order="sorted", **options)


@pytest.mark.parametrize("formula", [SLOPES, TWO_FACTORS])
@pytest.mark.parametrize(
    ("engine", "source"),
    [
        ("pandas", "part*.parquet"),
        ("duckdb", "all.parquet"),
        ("duckdb", "part*.parquet"),
        ("duckdb", "all.csv"),
    ],
)
def test_engines_give_the_in_memory_cell_statistics(files, formula, engine, source):
    folder, data = files
    stats = reduce_source(str(folder / source), formula=formula, engine=engine, order="sorted")
    assert stats.provenance["engine"] == engine
    assert_same_cells(stats.data, reference(data, formula))
    assert (
        stats.data.design["reference_levels"] == reference(data, formula).design["reference_levels"]
    )


def test_dask_on_a_local_cluster_gives_the_in_memory_cell_statistics(files):
    pytest.importorskip("distributed")
    folder, data = files
    stats = reduce_source(str(folder / "part*.parquet"), formula=SLOPES, engine="dask")
    assert "partitions on 2 worker(s) of a local cluster" in stats.provenance["detail"]
    # first-seen order, as the in-memory path's default
    want = build_model_data(data, parse_formula(SLOPES))
    assert_same_cells(stats.data, want)


def test_missing_values_are_dropped_as_in_memory(tmp_path):
    data = table(rows=400, seed=8)
    data.loc[[3, 50, 51], "s"] = None
    data.loc[[7, 50], "x"] = np.nan
    data.to_csv(tmp_path / "gaps.csv", index=False, float_format="%.17g")
    with pytest.raises(ValueError, match="row\\(s\\) have missing values"):
        reduce_source(str(tmp_path / "gaps.csv"), formula=SLOPES, engine="duckdb")
    stats = reduce_source(
        str(tmp_path / "gaps.csv"), formula=SLOPES, engine="duckdb", missing="drop"
    )
    read = pd.read_csv(tmp_path / "gaps.csv")
    assert stats.data.dropped == 4
    assert_same_cells(stats.data, reference(read, SLOPES, missing="drop"))


@pytest.mark.parametrize(
    "formula",
    [
        "y ~ z * s + (1 + z | g)",
        "y ~ 0 + s + z:s + (1 | g)",
        "y ~ C(k) * z + s:C(k) + (1 + z | g) + (0 + s | h)",
        "y ~ x:z + (1 | g:h)",
    ],
)
def test_engine_columns_are_formulaes_design_on_the_data(formula):
    import formulae

    data = table(rows=300)
    parsed = parse_formula(formula)
    built = build_model_data(data, parsed)
    variables = built.design["variables"]
    variables["k"] = {"kind": "numeric", "values": [1, 2, 3]}
    plan = design_columns(parsed, variables)
    assert tuple(c.name for c in plan.columns) == built.columns
    for part in [parsed.population, *(block.expr for block in parsed.blocks)]:
        matrix = formulae.design_matrices(f"y ~ {part}", data).common.as_dataframe()
        for name in matrix.columns:
            column = next(c for c in plan.columns if c.name == name)
            np.testing.assert_array_equal(column.frame(data), matrix[name].to_numpy(float))


def draws(folder) -> dict[str, np.ndarray]:
    import xarray as xr

    tree = xr.open_datatree(folder / "fit.nc")
    posterior = tree["posterior"].to_dataset()
    out = {name: posterior[name].values.copy() for name in posterior.data_vars}
    tree.close()
    return out


@pytest.mark.slow
def test_a_fit_from_hbm_reduce_equals_the_direct_fit(files, tmp_path, capsys):
    folder, _ = files
    data = str(folder / "all.parquet")
    options = ["--seed", "3", "--draws", "60", "--tune", "60", "--chains", "2", "--quiet"]
    assert main(["fit", data, "--formula", SLOPES, *options, "--out", str(tmp_path / "a")]) == 0
    stats = str(tmp_path / "stats.parquet")
    assert main(["reduce", data, "--formula", SLOPES, "--out", stats, "--quiet"]) == 0
    assert main(["fit", stats, *options, "--out", str(tmp_path / "b")]) == 0
    direct, reduced = draws(tmp_path / "a"), draws(tmp_path / "b")
    assert direct.keys() == reduced.keys()
    for name in direct:
        np.testing.assert_array_equal(direct[name], reduced[name])
    summary = (tmp_path / "a" / "summary.csv").read_text()
    assert summary == (tmp_path / "b" / "summary.csv").read_text()


def log_density(data: ModelData) -> float:
    """The marginal model's log density at its initial point, built as a fit builds it."""
    from hbm.model.linear_build import build_linear
    from hbm.model.linear_priors import resolve_linear_priors
    from hbm.model.linear_terms import linear_parameter_table
    from hbm.model.standardize import Standardization

    priors = resolve_linear_priors(data, None)
    parameters = linear_parameter_table(data, "marginal")
    standard = Standardization.of_model_data(data)
    built = build_linear(standard.model_data(data), standard.priors(priors, parameters), "marginal")
    return float(built.model.compile_logp()(built.model.initial_point()))


def test_out_of_core_statistics_give_the_in_memory_model(files):
    """DuckDB's and Dask's moments differ from pandas' in the last digits only, so NUTS draws
    from them differ (its trajectories amplify any difference): what must agree is the model,
    checked here as its log density (1e-9 relative, against 1e-16 in the moments)."""
    folder, data = files
    want = log_density(reference(data, SLOPES))
    stats = reduce_source(str(folder / "part*.parquet"), formula=SLOPES, engine="duckdb")
    assert abs(log_density(stats.data) - want) <= 1e-9 * abs(want)


def test_statistics_files_round_trip_float_for_float(files, tmp_path):
    folder, _ = files
    stats = reduce_source(str(folder / "all.parquet"), formula=TWO_FACTORS, engine="duckdb")
    stats.write(tmp_path / "s.parquet")
    back = read_statistics(tmp_path / "s.parquet")
    assert back.description == stats.description
    for name in ("n", "mean", "low", "comoment"):
        assert np.array_equal(getattr(back.data.moments, name), getattr(stats.data.moments, name))
    assert back.data.design == stats.data.design
    assert [f.labels for f in back.data.factors] == [f.labels for f in stats.data.factors]
    # the same formula, written another way, matches; another model does not
    read_statistics(tmp_path / "s.parquet", formula="y ~ z + C(k) + z:C(k) + (1|g) + (0 + z|h)")
    with pytest.raises(ValueError, match="does not match it"):
        read_statistics(tmp_path / "s.parquet", formula="y ~ z + (1 | g) + (0 + z | h)")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--formula", "y ~ w + (1 | g)", "--engine", "duckdb"], "no column 'w'"),
        (["--formula", "y ~ x + (1 | gg)", "--engine", "pandas"], "no column 'gg'"),
        (["--formula", "y ~ np.log(x) + (1 | g)", "--engine", "duckdb"], "precompute"),
        (["--formula", "y ~ scale(x) + (1 | g)", "--engine", "duckdb"], "precompute"),
        (["--formula", "y ~ I(x ** 2) + (1 | g)", "--engine", "pandas"], "precompute"),
        (["--formula", "y ~ x", "--engine", "duckdb"], "no group term"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(files, tmp_path, capsys, arguments, message):
    folder, _ = files
    out = tmp_path / "stats.parquet"
    source = str(folder / "part*.parquet")
    assert main(["reduce", source, *arguments, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hbm: error:") and "\n" not in err and message in err
    assert not out.exists()


def test_bad_statistics_and_options_for_them(files, tmp_path, capsys):
    folder, _ = files
    stats = tmp_path / "s.parquet"
    assert main(["reduce", str(folder / "all.csv"), "--formula", SLOPES, "--engine", "duckdb",
                 "--out", str(stats), "--quiet"]) == 0  # fmt: skip
    cases = [
        (["--formula", "y ~ x + (1 + x | g)"], "does not match it"),
        (["--group", "g"], "does not apply"),
        (["--prior-only"], "needs the table's rows"),
        (["--engine", "dask"], "already reduced"),
    ]
    for arguments, message in cases:
        out = tmp_path / "fit"
        assert main(["fit", str(stats), *arguments, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("hbm: error:") and "\n" not in err and message in err, err
        assert not out.exists()
    bad = tmp_path / "bad.csv"
    data = table(rows=50)
    data["x"] = data["x"].astype(object)
    data.loc[9, "x"] = "n/a?"
    data.to_csv(bad, index=False)
    assert main(["reduce", str(bad), "--formula", SLOPES, "--engine", "duckdb", "--out",
                 str(tmp_path / "t.parquet")]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert "'x' must hold numbers" in err and "'n/a?'" in err and "\n" not in err


def test_a_grouping_column_that_is_also_a_covariate(files):
    folder, data = files
    formula = "y ~ z + h + (1 | h) + (1 + z | g)"
    stats = reduce_source(str(folder / "all.parquet"), formula=formula, engine="duckdb")
    assert_same_cells(stats.data, reference(data, formula))


def test_the_python_api_checks_a_statistics_file_against_the_formula(files, tmp_path):
    import hbm

    folder, _ = files
    hbm.reduce(str(folder / "part*.parquet"), formula=SLOPES, engine="duckdb").write(
        tmp_path / "cells.parquet"
    )
    with pytest.raises(ValueError, match="does not match it"):
        hbm.fit(str(tmp_path / "cells.parquet"), "y ~ x + (1 | g)", progressbar=False)
    with pytest.raises(ValueError, match="precompute"):
        hbm.fit(str(folder / "part*.parquet"), "y ~ np.log(z + 5) + (1 | g)", engine="duckdb")
