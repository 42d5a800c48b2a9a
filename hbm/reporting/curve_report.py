"""A curve fit's report and result folder.

``DIR`` receives ``summary.csv`` (names per DESIGN.md: ``beta[<term>]``, ``sd_<g>[<term>]``,
``corr_<g>[...]``, ``sigma``, ``u_<g>[<label>, <term>]``), ``priors.csv``, ``diagnostics.json``,
``population.csv`` (the population's parameters on their natural scale), ``groups.csv`` (each
group's varying parameters on their natural scale), ``forecast.csv`` (each group's, the
population's and a new group's curve total to the horizon), ``curves.png``, ``forecast.png``,
``report.html`` (self-contained), ``report.md`` and ``fit.nc``, written atomically.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pandas as pd

from hbm.analysis.curve_parameters import group_curve_parameters, population_curve_parameters
from hbm.analysis.curve_predict import forecast
from hbm.core.names import base_names
from hbm.model.curve_terms import CurveSpec
from hbm.reporting.blocks import (
    Block,
    Bullets,
    Figure,
    Heading,
    Para,
    Table,
    format_table,
    to_html,
    to_markdown,
)
from hbm.reporting.figures import figure_png
from hbm.reporting.outputs import MARKER, write_folder
from hbm.reporting.sections import diagnostics_table, verdict_block
from hbm.results.fit_result import FitResult
from hbm.results.io import save_result
from hbm.results.tree import as_result
from hbm.viz.curves import plot_curves, plot_forecast

__all__ = ["curve_blocks", "default_horizon", "write_curve_outputs"]

MAX_TABLE_ROWS = 40


def default_horizon(result: FitResult) -> float:
    """Twice the data's last time (a forecast as far beyond the data as the data reach)."""
    return 2.0 * float(result.curve_data.t.max())


def curve_blocks(result: FitResult, table: pd.DataFrame) -> list[Block]:
    """The report's blocks; ``table`` is the forecast."""
    data = result.curve_data
    spec = CurveSpec.from_dict(result.description.curve or {})
    run = result.run_info
    single = list(run.get("single_point_groups", []))  # type: ignore[call-overload]
    summary = result.summary()
    hyper_names = {p.name for p in result.parameters.hyperparameters}
    hyper = summary[base_names(summary["param"]).isin(hyper_names)]
    horizon, limit = table.attrs.get("horizon"), table.attrs.get("limit")
    facts = [
        f"{data.n_rows} rows of {data.value} over {data.time} in {data.n_groups} {data.group} "
        f"groups ({int(data.n.min())} to {int(data.n.max())} rows each).",
        f"Curve: {spec.shape.formula}; varying by {data.group}: {', '.join(spec.varying)} "
        f"(terms {', '.join(spec.varying_terms)}); shared: "
        f"{', '.join(n for n in spec.free if n not in spec.varying) or 'none'}; fixed: "
        f"{', '.join(f'{k} = {v:g}' for k, v in spec.fixed.items()) or 'none'}.",
        f"Family {spec.family}, link {spec.link}: "
        + (
            "the curve is the expected value, rows normal around it (sd sigma)."
            if spec.family == "normal"
            else "the curve is the expected count mu, log mu the linear predictor"
            + ("; variance mu + mu^2 / alpha." if spec.family == "negbinomial" else ".")
        ),
        "Pooled scales: "
        + "; ".join(f"{p.name} as {p.term} ({p.scale})" for p in spec.shape.parameters)
        + ". Group effects are normal on these scales.",
        f"Parametrization {result.parametrization}: {result.reason}",
    ]
    if single:
        facts.append(
            f"{len(single)} group(s) have a single point and were fitted with the others "
            f"(their curves are close to the population's): {', '.join(single[:20])}."
        )
    blocks: list[Block] = [
        Heading(1, f"hbm curve fit: {result.description.formula}"),
        verdict_block(result),
        Bullets(facts),
        Heading(2, "Population"),
        Table(format_table(population_curve_parameters(result))),
        Para("Hyperparameters on the pooled scale (summary.csv has every row):"),
        Table(format_table(hyper)),
        Heading(2, "Curves"),
        Figure(
            "curves",
            "each group's data and fitted curve",
            "Dots: data; blue: the group's posterior mean curve and 94% band; grey dashed: the "
            "population curve. Groups with few points lie close to the population curve.",
        ),
        Heading(2, "Forecast"),
        Para(
            f"Each curve's total from t = {table.attrs.get('start', 0):g} to t = {horizon:g}"
            + (f", counting only rates at or above {limit:g}" if limit is not None else "")
            + " (mean and 94% interval), and its value at the horizon. A new group's interval "
            "carries the spread between groups."
        ),
        Figure(
            "forecast",
            "forecast per group",
            "Each group's total to the horizon (blue, 94% interval), fewest points at the "
            "bottom, and a new group's (grey).",
        ),
        Table(format_table(_bounded(table)), collapsed=len(table) > 15),
        Heading(2, "Priors"),
        Table(format_table(result.prior_summary()[["parameter", "prior", "source"]])),
        Heading(2, "Diagnostics"),
        Table(format_table(diagnostics_table(result)), collapsed=True),
    ]
    return blocks


def write_curve_outputs(
    source: Any,
    out: str | Path,
    *,
    horizon: float | None = None,
    limit: float | None = None,
) -> Path:
    """Write a curve fit's result folder (see the module docstring) and return it."""
    result = as_result(source)
    horizon = default_horizon(result) if horizon is None else float(horizon)
    table = forecast(result, horizon, limit=limit)

    def fill(staging: Path) -> None:
        result.summary().to_csv(staging / "summary.csv", index=False)
        result.prior_summary().to_csv(staging / "priors.csv", index=False)
        population_curve_parameters(result).to_csv(staging / "population.csv", index=False)
        group_curve_parameters(result).to_csv(staging / "groups.csv", index=False)
        table.to_csv(staging / "forecast.csv", index=False)
        diagnostics = result.diagnosis.to_dict() if result.diagnosis is not None else {}
        diagnostics["parametrization_reason"] = result.reason
        diagnostics["family"] = result.description.family
        diagnostics["link"] = result.description.link
        diagnostics["random_seed"] = result.spec.random_seed
        (staging / MARKER).write_text(json.dumps(diagnostics, indent=2) + "\n")
        figures = {
            "curves": figure_png(plot_curves(result)),
            "forecast": figure_png(plot_forecast(table)),
        }
        for key, png in figures.items():
            (staging / f"{key}.png").write_bytes(png)
        blocks = curve_blocks(result, table)
        uris = {
            k: "data:image/png;base64," + base64.b64encode(v).decode() for k, v in figures.items()
        }
        title = f"hbm curve fit: {result.description.formula}"
        (staging / "report.html").write_text(to_html(blocks, uris, title=title), encoding="utf-8")
        files = {key: f"{key}.png" for key in figures}
        (staging / "report.md").write_text(to_markdown(blocks, files), encoding="utf-8")
        save_result(result, staging / "fit.nc")

    return write_folder(out, fill)


def _bounded(table: pd.DataFrame) -> pd.DataFrame:
    if len(table) <= MAX_TABLE_ROWS:
        return table
    return pd.concat([table.head(MAX_TABLE_ROWS - 2), table.tail(2)])
