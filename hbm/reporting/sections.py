"""The report's sections as tables and sentences, read from a fit's record.

Parameter names come from the fit's parameter table (by role), so the sections follow the model.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from hbm.analysis.effects import icc_by_factor
from hbm.analysis.ppc import GroupCheck
from hbm.analysis.shrinkage import icc_draws
from hbm.core.defaults import DEFAULTS
from hbm.core.names import base_names
from hbm.reporting.blocks import Block, Para, Table, Verdict, format_number, format_table
from hbm.results.fit_result import FitResult
from hbm.results.summary import CI_PROB

__all__ = [
    "MAX_GROUP_ROWS",
    "bounded",
    "brief",
    "data_summary",
    "diagnostics_table",
    "group_method_text",
    "hyper_summary",
    "ppc_table",
    "summary_table",
    "verdict_block",
    "versions_table",
]

#: Group rows shown in a report's tables; the CSV files and the fit hold them all.
MAX_GROUP_ROWS = DEFAULTS.max_report_group_rows


def bounded(frame: pd.DataFrame, what: str, where: str, *, collapsed: bool = False) -> list[Block]:
    """The table, or its first :data:`MAX_GROUP_ROWS` group rows and a note saying so.

    A report of 10,000 groups would otherwise be tens of megabytes of table nobody reads; every
    row is in the CSV files and in the fit.
    """
    if "param" in frame.columns:
        is_group = frame["param"].astype(str).str.contains("[", regex=False).to_numpy()
    else:
        is_group = np.ones(len(frame), dtype=bool)
    n_groups = int(is_group.sum())
    if n_groups <= MAX_GROUP_ROWS:
        return [Table(format_table(frame), collapsed=collapsed)]
    shown = frame[~is_group | (np.cumsum(is_group) <= MAX_GROUP_ROWS)]
    return [
        Para(f"Showing the first {MAX_GROUP_ROWS} of {n_groups:,} {what}; all are in {where}."),
        Table(format_table(shown), collapsed=collapsed),
    ]


def verdict_block(result: FitResult) -> Verdict:
    d = result.diagnosis
    if d is None:
        return Verdict("unknown", "not diagnosed (draws made by hand)", [])
    line = (
        f"{d.divergences} divergences, max R-hat {d.max_r_hat:.3f}, "
        f"min bulk ESS {d.min_ess_bulk:.0f}; {d.parametrization} via {d.sampler}"
    )
    return Verdict(str(d.verdict), line, [str(a) for a in d.advice])


def summary_table(result: FitResult) -> pd.DataFrame:
    """``fit.summary()``; a parameter fixed by its prior has no R-hat (NaN), said without a
    RuntimeWarning from numpy's division by its zero variance."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return result.summary()


def group_method_text(result: FitResult) -> str:
    """How the group rows of the summary were computed (a sentence, or nothing when sampled)."""
    if result.parametrization != "marginal":
        return ""
    effect = ", ".join(result.parameters.names("group_effect"))
    return (
        f" The {effect} rows are Rao-Blackwellized: each group's mean and sd average its exact "
        "conditional distribution given every draw of the sampled parameters (column method in "
        "summary.csv), with Monte Carlo errors from their smallest ESS; the intervals are "
        "quantiles of the exact draws. The group effects follow exactly from the sampled "
        "parameters, so their R-hat and ESS are those parameters' (see Diagnostics)."
    )


def hyper_summary(result: FitResult, summary: pd.DataFrame) -> pd.DataFrame:
    """``mu``, ``tau``, ``sigma`` rows of the summary, and the ICC (rows form)."""
    import arviz as az
    import xarray as xr

    names = {p.name for p in result.parameters.hyperparameters}
    hyper = summary[base_names(summary["param"]).isin(names)]
    if result.parameters.maybe("residual_scale") is None:
        return hyper.reset_index(drop=True)
    if result.description.is_seed_model:
        icc = {"icc": icc_draws(result)}
    else:
        chains = result.idata["posterior"].sizes["chain"]
        icc = {
            f"icc_{name}": xr.DataArray(values.reshape(chains, -1), dims=("chain", "draw"))
            for name, values in icc_by_factor(result).items()
        }
        if not icc:
            return hyper.reset_index(drop=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        extra = az.summary(
            xr.Dataset(icc),
            ci_prob=CI_PROB,
            ci_kind="eti",
            round_to="none",
            kind="all",
        )
    extra.index.name = "param"
    return pd.concat([hyper, extra.reset_index()], ignore_index=True)


def data_summary(result: FitResult) -> pd.DataFrame:
    data = result.grouped
    rows: list[tuple[str, object]] = [
        (
            "form",
            f"{data.kind} (group = {data.group}, value = {data.value}"
            + (f", se = {data.se})" if data.se else ")"),
        ),
        ("groups", data.n_groups),
    ]
    if data.kind == "rows":
        rows += [
            ("rows", data.n_rows),
            (
                "rows per group (min / median / max)",
                f"{data.n.min()} / {float(pd.Series(data.n).median()):g} / {data.n.max()}",
            ),
            ("grand mean", f"{data.center:.4g}"),
            ("sd of all rows", f"{data.scale:.4g}"),
        ]
    else:
        rows += [
            ("estimates (min / max)", f"{data.mean.min():.4g} / {data.mean.max():.4g}"),
            (
                "standard errors (min / max)",
                f"{data.known_se.min():.4g} / {data.known_se.max():.4g}",
            ),
        ]
    rows.append(("rows dropped for missing values", data.dropped))
    return pd.DataFrame(rows, columns=["item", "value"]).astype({"value": str})


def versions_table(versions: object) -> pd.DataFrame:
    items = versions.items() if isinstance(versions, dict) else []
    return pd.DataFrame(list(items), columns=["package", "version"])


def ppc_table(check: GroupCheck) -> pd.DataFrame:
    stats = check.statistics()
    return pd.DataFrame(
        [
            {
                "statistic": name,
                "observed": s["observed"],
                "replicated mean": s["replicated_mean"],
                "p_value": s["p_value"],
            }
            for name, s in stats.items()
        ]
    )


def diagnostics_table(result: FitResult) -> pd.DataFrame:
    diagnosis = result.diagnosis.to_dict() if result.diagnosis is not None else {}
    items = {k: v for k, v in diagnosis.items() if k != "advice"}
    return pd.DataFrame(
        [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in items.items()],
        columns=["item", "value"],
    )


def brief(
    result: FitResult, table: pd.DataFrame, hyper: pd.DataFrame, check: GroupCheck
) -> list[str]:
    data = result.grouped
    row = hyper.set_index("param")
    g, v = data.group, data.value
    names = result.parameters
    mu, tau = names.one("coefficient").name, names.one("group_sd").name
    residual = names.maybe("residual_scale")

    def interval(name: str) -> str:
        r = row.loc[name]
        low, high = format_number(r["eti94_lb"]), format_number(r["eti94_ub"])
        return f"{format_number(r['mean'])} (94% interval {low} to {high})"

    out = [
        f"The population mean of the {g} means is {mu} = {interval(mu)}; the {g} means vary "
        f"around it with sd {tau} = {interval(tau)}"
        + (
            f", and single {v} values within a {g} with sd {residual.name} = "
            f"{interval(residual.name)}."
            if residual is not None and residual.name in row.index
            else "."
        )
    ]
    if "icc" in row.index:
        r = row.loc["icc"]
        out.append(
            f"Intraclass correlation {r['mean']:.2f} (94% interval {r['eti94_lb']:.2f} to "
            f"{r['eti94_ub']:.2f}): about {100 * r['mean']:.0f}% of the variance of a single "
            f"{v} lies between {g}s."
        )
    moved = table.iloc[int(table["shift"].abs().to_numpy().argmax())]
    size = "n" if data.kind == "rows" else "se"
    out.append(
        f"Shrinkage: {moved.name} ({size}={format_number(moved[size], size)}) moves furthest, "
        f"from its raw {format_number(moved['raw_mean'])} to {format_number(moved['mean'])} "
        f"(pooling factor {moved['pooling']:.2f}); "
        f"pooling factors range from {table['pooling'].min():.2f} to {table['pooling'].max():.2f}."
    )
    best = table.iloc[int(table["mean"].to_numpy().argmax())]
    widths = (table["rank_ub"] - table["rank_lb"]).median()
    out.append(
        f"Highest posterior mean: {best.name} ({format_number(best['mean'])}; P(best) = "
        f"{best['p_best']:.2f}, rank 94% interval {best['rank_lb']:,.0f} to "
        f"{best['rank_ub']:,.0f}). "
        f"The median 94% rank interval spans {widths:,.0f} places of {data.n_groups:,}."
    )
    outside = check.outside("mean")
    stats = check.statistics()
    out.append(
        f"Posterior predictive check: {len(outside)} of {data.n_groups} observed {g} means lie "
        "outside their 94% predictive intervals; p-values: "
        + "; ".join(f"{name} {s['p_value']:.2f}" for name, s in stats.items())
        + "."
    )
    return out
