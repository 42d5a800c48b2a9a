"""The report of a formula model: its sections follow the model.

Verdict and advice; the findings in words (each coefficient, what varies between groups and how
much, correlations, ICC where one number defines it); the data (rows, groups, reference levels of
categorical covariates); the model and its priors; the coefficient plot; what varies (sds and
correlations, the 2D shrinkage plot); each group's line against its data; the league table of
the groups' coefficients; trace and rank plots; diagnostics; what ran.
"""

from __future__ import annotations

import pandas as pd

from hbm.analysis.effects import group_coefficients
from hbm.data.model_data import ModelData
from hbm.model.linear_terms import model_in_words
from hbm.reporting.blocks import (
    Block,
    Bullets,
    Figure,
    Heading,
    Para,
    Table,
    format_number,
    format_table,
)
from hbm.reporting.levels_section import levels_blocks
from hbm.reporting.loo_section import loo_blocks, loo_brief
from hbm.reporting.sections import (
    bounded,
    diagnostics_table,
    group_method_text,
    hyper_summary,
    summary_table,
    verdict_block,
    versions_table,
)
from hbm.results.fit_result import FitResult

__all__ = ["formula_blocks"]

_COEFFICIENTS_TEXT = (
    "Posterior means and 94% intervals of the population coefficients (top), of the sds of the "
    "group effects and of the rows (middle) and of the correlations between a group's effects."
)
_SHRINKAGE_TEXT = (
    "Each group's own estimate (orange ring: least squares on its rows alone) and its posterior "
    "mean (blue dot), joined by an arrow; the ellipses hold 50% and 90% of groups under the "
    "population distribution. Groups with few rows are pulled furthest towards the population."
)
_LINES_TEXT = (
    "Each group's rows (dots), its own least-squares line (dashed orange), its partially pooled "
    "line (blue) and the population line (grey); other covariates at their means."
)
_LEAGUE_TEXT = (
    "Every group's coefficients, lowest to highest, with 94% intervals (blue) and own estimates "
    "(crosses); the dashed line is the population value."
)
_RANK_TEXT = (
    "Fractional-rank ECDF differences per chain: lines close to zero and to each other mean the "
    "chains explore the same distribution."
)


def formula_blocks(result: FitResult, figures: tuple[str, ...]) -> list[Block]:
    """The report's content for a formula model."""
    data = result.model_data
    summary = summary_table(result)
    hyper = hyper_summary(result, summary)
    run, spec = result.run_info, result.spec
    factor = data.factors[0]
    coefficients = group_coefficients(result, factor.name)
    effects = ", ".join(str(run.get(p.name, "")) for p in result.parameters.by_role("group_effect"))
    blocks: list[Block] = [
        Heading(1, f"hbm report: {result.description.formula}"),
        verdict_block(result),
        Heading(2, "In brief"),
        Bullets(_brief(result, hyper) + loo_brief(result)),
        Heading(2, "Data"),
        Table(format_table(_data_table(data))),
        Heading(2, "Model and priors"),
        Para(_model_text(result)),
        Para(f"Parametrization {result.parametrization}: {result.reason}"),
        Table(format_table(result.prior_summary())),
        Heading(2, "Posterior summary"),
        Para(
            "Posterior means, sds and 94% equal-tailed intervals. icc_<group>, the correlation of "
            "two rows in the same group, is sd² / (sd² + sigma²) with one grouping factor; with "
            "several, the group's sd² plus those of the factors it is nested in, over every sd² "
            "plus sigma². It is shown where every varying term is an intercept (with varying "
            "slopes it depends on the covariates)." + group_method_text(result)
        ),
        Table(format_table(hyper)),
        Figure("coefficients", "coefficient plot", _COEFFICIENTS_TEXT),
        Heading(2, "What varies between groups"),
        Figure("shrinkage", "shrinkage of the group coefficients", _SHRINKAGE_TEXT),
    ]
    blocks += levels_blocks(result, figures)
    if "lines" in figures:
        blocks += [Heading(2, "Each group's line"), Figure("lines", "fitted lines", _LINES_TEXT)]
    blocks += [
        Heading(2, "League table"),
        Figure("league", "league table of the group coefficients", _LEAGUE_TEXT),
        *bounded(coefficients, "group coefficients", "the fit (fit.group_coefficients())"),
        *loo_blocks(result),
        Heading(2, "Trace and rank plots"),
        Figure("trace", "trace plots", "Left: posterior density per chain; right: the draws."),
        Figure("rank", "rank plots", _RANK_TEXT),
        Heading(2, "Diagnostics"),
        Table(format_table(diagnostics_table(result))),
        Heading(2, "What ran"),
        Para(
            f"Sampler {run['sampler']}, seed {run['random_seed']}, {spec.chains} chains x "
            f"{spec.draws} draws after {spec.tune} tuning steps, target_accept "
            f"{spec.target_accept}; sampling took {run['sampling_seconds']} s. Group effects: "
            f"{effects}." + (f" Data: {spec.data}." if spec.data else "")
        ),
        Table(format_table(versions_table(run["versions"]))),
        Heading(3, "Full posterior summary"),
        *bounded(summary, "group effects", "summary.csv", collapsed=True),
    ]
    return blocks


def _model_text(result: FitResult) -> str:
    return model_in_words(result.model_data, result.description.formula)


def _data_table(data: ModelData) -> pd.DataFrame:
    rows: list[tuple[str, object]] = [("rows", data.n_rows), ("response", data.response)]
    sizes = pd.Series(data.moments.n)
    for factor in data.factors:
        per_group = pd.Series(data.moments.n.astype(float)).groupby(factor.cells).sum()
        rows.append(
            (
                f"{factor.name}: groups (rows per group min / median / max)",
                f"{factor.n_groups} ({per_group.min():g} / {per_group.median():g} / "
                f"{per_group.max():g})",
            )
        )
    for name, level in data.design.get("reference_levels", {}).items():
        rows.append((f"reference level of {name}", level))
    rows.append(("cells (groups, or combinations of groups)", len(sizes)))
    rows.append(("rows dropped for missing values", data.dropped))
    return pd.DataFrame(rows, columns=["item", "value"]).astype({"value": str})


def _brief(result: FitResult, hyper: pd.DataFrame) -> list[str]:
    row = hyper.set_index("param")
    out = []
    for name in row.index:
        r = row.loc[name]
        if "mean" not in r or not pd.notna(r["mean"]):
            continue
        interval = (
            f"{format_number(r['mean'])} (94% interval {format_number(r['eti94_lb'])} to "
            f"{format_number(r['eti94_ub'])})"
        )
        out.append(f"{name} = {interval}")
    data = result.model_data
    lines = [
        "Population coefficients, group sds, correlations and residual sd: " + "; ".join(out) + "."
    ]
    for factor in data.factors:
        lines.append(
            f"{factor.n_groups} {factor.name} groups; the coefficients that vary by "
            f"{factor.name}: {', '.join(factor.terms)}."
        )
    return lines
