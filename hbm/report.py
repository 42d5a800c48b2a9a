"""The posterior report: ``report.html`` (one self-contained file, images inline, no network loads)
and ``report.md`` (the same text and tables; it links ``shrinkage.png`` beside it).

The report is built once as a list of blocks (headings, paragraphs, tables, figures) and then
written as HTML or Markdown, so both say the same thing. The order is the reader's: the verdict
and its advice first, then the findings in plain words, the data, the model and priors, the
posterior summary with the ICC, shrinkage, the league table, the pooling comparison, the
posterior predictive check, trace and rank plots, and what ran (sampler, seed, versions).

Every text that comes from the data (labels, column names, the data path) is escaped in both
forms: a school called ``<b>North</b>`` shows as exactly that.
"""

from __future__ import annotations

import base64
import io
import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hbm.report_blocks import (
    Block,
    Bullets,
    Figure,
    Heading,
    Para,
    Table,
    Verdict,
    format_number,
    format_table,
    to_html,
    to_markdown,
)
from hbm.summary import CI_PROB

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

    from hbm.fitting import Fit
    from hbm.ppc import GroupCheck

__all__ = [
    "FIGURES",
    "figure_png",
    "fit_html_snippet",
    "render_figures",
    "render_markdown",
    "render_report",
    "write_report",
]

#: The report's figures: key -> (plot function in :mod:`hbm.plots`, keyword arguments).
FIGURES: dict[str, tuple[str, dict[str, str]]] = {
    "shrinkage": ("plot_shrinkage", {}),
    "league": ("plot_league", {}),
    "pooling": ("plot_pooling", {}),
    "ppc": ("plot_ppc", {}),
    "trace": ("plot_trace", {"kind": "trace"}),
    "rank": ("plot_trace", {"kind": "rank"}),
}


#: Group rows shown in a report's tables; the CSV files and the fit hold them all.
MAX_GROUP_ROWS = 50


def figure_png(figure: MplFigure, dpi: int = 100, *, palette: bool = True) -> bytes:
    """A figure as PNG bytes; with ``palette`` reduced to 256 colours (about a third of the
    size, no visible change for these plots: lines, markers and text on white)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # A label in a script the font lacks (CJK with DejaVu Sans) is drawn as boxes; the
        # report's tables still carry the text, so this is no reason to fail or to alarm.
        warnings.filterwarnings("ignore", r"Glyph \d+ .* missing from font", UserWarning)
        figure.savefig(buffer, format="png", dpi=dpi)
    if not palette:
        return buffer.getvalue()
    from PIL import Image

    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    compact = io.BytesIO()
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(compact, format="PNG")
    return compact.getvalue()


def render_figures(fit: Fit, keys: tuple[str, ...] | None = None) -> dict[str, bytes]:
    """The report's figures as PNG bytes, drawn once each (all of :data:`FIGURES` by default)."""
    from hbm import plots

    out = {}
    for key in keys or tuple(FIGURES):
        name, kwargs = FIGURES[key]
        out[key] = figure_png(getattr(plots, name)(fit, **kwargs))
    return out


def report_blocks(fit: Fit) -> list[Block]:
    """The report's content, independent of the output format."""
    from hbm.ppc import posterior_predictive
    from hbm.shrinkage import quarter_size, shrinkage_table

    data = fit.data
    table = shrinkage_table(fit)
    check = posterior_predictive(fit)
    summary = _summary(fit)
    hyper = _hyper_summary(fit, summary)
    run = fit.run_info
    what = f"{data.value} by {data.group}"
    league = table.sort_values("mean", ascending=False)
    k = quarter_size(data.n_groups)
    model = (
        "y[i] | theta ~ Normal(theta[group[i]], sigma)   (level 1: one row)"
        if data.kind == "rows"
        else "estimate[j] | theta ~ Normal(theta[j], se[j])   (level 1: known se)"
    )
    blocks: list[Block] = [
        Heading(1, f"hbm report: {what}"),
        _verdict(fit),
        Heading(2, "In brief"),
        Bullets(_brief(fit, table, hyper, check)),
        Heading(2, "Data"),
        Table(format_table(_data_summary(fit))),
        Heading(2, "Model and priors"),
        Para(
            "mu ~ prior (level 3: the population of groups); theta[j] | mu ~ Normal(mu, tau) "
            f"(level 2: group j's mean); {model}."
        ),
        Para(f"Parametrization {fit.parametrization}: {fit.reason}"),
        Table(format_table(fit.prior_summary())),
        Heading(2, "Posterior summary"),
        Para(
            "Posterior means, sds and 94% equal-tailed intervals. "
            + (
                "icc = tau² / (tau² + sigma²), the share of the variance of a single row that "
                "lies between groups."
                if data.kind == "rows"
                else "The intraclass correlation tau² / (tau² + sigma²) is not shown: it needs "
                "the within-group sd sigma, which the summaries form does not estimate."
            )
        ),
        Table(format_table(hyper)),
        Heading(2, "Shrinkage"),
        Figure(
            "shrinkage",
            "shrinkage plot",
            _SHRINKAGE_TEXT.format(
                size="group size" if data.kind == "rows" else "precision (1/se²)",
                small="groups" if data.kind == "rows" else "imprecise estimates",
            ),
        ),
        Heading(2, "League table"),
        Figure("league", "league table (caterpillar plot)", _LEAGUE_TEXT),
        Para(
            f"Ordered by posterior mean. pooling = posterior mean of the pooling factor lambda; "
            f"rank = posterior mean rank (1 = highest) with its 94% interval; p_best = P(rank 1); "
            f"top / bottom quarter = the {k} highest / lowest of {data.n_groups} ranks."
        ),
        *_bounded(league.reset_index(), "groups (the highest ranked)", "the shrinkage table"),
        Heading(2, "Complete, no and partial pooling"),
        Figure("pooling", "pooling comparison", _POOLING_TEXT),
        Heading(2, "Posterior predictive check"),
        Figure("ppc", "posterior predictive check", _PPC_TEXT.format(draws=check.describe_draws())),
        Table(format_table(_ppc_table(check))),
        Heading(2, "Trace and rank plots"),
        Figure("trace", "trace plots", "Left: posterior density per chain; right: the draws."),
        Figure("rank", "rank plots", _RANK_TEXT),
        Heading(2, "Diagnostics"),
        Table(format_table(_diagnostics_table(fit))),
        Heading(2, "What ran"),
        Para(
            f"Sampler {run['sampler']}, seed {run['random_seed']}, {fit.spec.chains} chains x "
            f"{fit.spec.draws} draws after {fit.spec.tune} tuning steps, target_accept "
            f"{fit.spec.target_accept}; sampling took {run['sampling_seconds']} s. "
            f"theta: {run['theta']}." + (f" Data: {fit.spec.data}." if fit.spec.data else "")
        ),
        Table(format_table(_versions(run["versions"]))),
        Heading(3, "Full posterior summary"),
        *_bounded(summary, "groups", "summary.csv", collapsed=True),
    ]
    return blocks


def render_report(fit: Fit, *, figures: Mapping[str, bytes] | None = None) -> str:
    """The report as one self-contained HTML text (figures drawn unless given as PNG bytes)."""
    figures = figures if figures is not None else render_figures(fit)
    images = {
        key: "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        for key, png in figures.items()
    }
    return to_html(
        report_blocks(fit), images, title=f"hbm report: {fit.data.value} by {fit.data.group}"
    )


def render_markdown(fit: Fit, *, images: Mapping[str, str] | None = None) -> str:
    """The report as Markdown; ``images`` maps figure keys to the files it links (default:
    ``{"shrinkage": "shrinkage.png"}``); the other figures are in ``report.html``."""
    images = {"shrinkage": "shrinkage.png"} if images is None else images
    return to_markdown(report_blocks(fit), images)


def write_report(fit: Fit, path: Path) -> Path:
    """Write the report to ``path``: Markdown for a ``.md`` path, else HTML.

    A Markdown report links ``shrinkage.png``, which is written beside it.
    """
    path = Path(path)
    if path.suffix.lower() == ".md":
        png = render_figures(fit, ("shrinkage",))["shrinkage"]
        text = render_markdown(fit)
        (path.parent / "shrinkage.png").write_bytes(png)
    else:
        text = render_report(fit)
    path.write_text(text, encoding="utf-8")
    return path


def fit_html_snippet(fit: Fit) -> str:
    """What a notebook shows for a ``Fit``: verdict, summary table and shrinkage plot."""
    from hbm.plots import plot_shrinkage

    png = base64.b64encode(figure_png(plot_shrinkage(fit), dpi=80)).decode("ascii")
    summary = _summary(fit)
    blocks: list[Block] = [
        Para(repr(fit)),
        _verdict(fit),
        Table(format_table(_hyper_summary(fit, summary))),
        *_bounded(summary, "groups", "fit.summary()", collapsed=True),
        Figure("shrinkage", "shrinkage plot", ""),
    ]
    return to_html(blocks, {"shrinkage": f"data:image/png;base64,{png}"}, title=None)


_SHRINKAGE_TEXT = (
    "Raw group means (orange) and posterior means (blue); point area shows {size}. Small "
    "{small} carry little information and are pulled far towards mu (dashed); precise ones keep "
    "their own value. The dotted line is complete pooling (one mean for all)."
)
_LEAGUE_TEXT = (
    "Posterior means with 94% intervals (blue) and raw means (crosses), best at the top; the "
    "right axis gives the posterior rank and its 94% interval. Where intervals overlap, the order "
    "of neighbours is not supported by the data."
)
_POOLING_TEXT = (
    "No pooling treats each group alone (wide intervals for small groups); complete pooling "
    "gives every group the same mean (grey band); partial pooling, the hierarchical model, lies "
    "between them, borrowing strength from the other groups."
)
_PPC_TEXT = (
    "Data replicated from the posterior. {draws} Top: each group's observed statistic "
    "against its 94% predictive interval. By chance at most about 6% of groups fall outside, and "
    "fewer the more each group's own data weigh (the replicates reuse them: with little "
    "shrinkage about 1%), so a group outside is worth a look. "
    "Bottom: a test statistic over replicated data; a p-value near 0 or 1 flags a misfit."
)
_RANK_TEXT = (
    "Fractional-rank ECDF differences per chain: lines that stay close to zero and to each other "
    "mean the chains explore the same distribution; the p-value tests that (small = they differ)."
)


def _bounded(frame: pd.DataFrame, what: str, where: str, *, collapsed: bool = False) -> list[Block]:
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


def _verdict(fit: Fit) -> Verdict:
    d = fit.diagnosis
    line = (
        f"{d.divergences} divergences, max R-hat {d.max_r_hat:.3f}, "
        f"min bulk ESS {d.min_ess_bulk:.0f}; {d.parametrization} via {d.sampler}"
    )
    return Verdict(str(d.verdict), line, [str(a) for a in d.advice])


def _summary(fit: Fit) -> pd.DataFrame:
    """``fit.summary()``; a parameter fixed by its prior has no R-hat (NaN), said without a
    RuntimeWarning from numpy's division by its zero variance."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return fit.summary()


def _hyper_summary(fit: Fit, summary: pd.DataFrame) -> pd.DataFrame:
    """``mu``, ``tau``, ``sigma`` rows of the summary, and the ICC (rows form)."""
    import arviz as az
    import xarray as xr

    from hbm.shrinkage import icc_draws

    hyper = summary[summary["param"].isin(["mu", "tau", "sigma"])]
    if fit.data.kind == "summaries":
        return hyper.reset_index(drop=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        extra = az.summary(
            xr.Dataset({"icc": icc_draws(fit)}),
            ci_prob=CI_PROB,
            ci_kind="eti",
            round_to="none",
            kind="all",
        )
    extra.index.name = "param"
    return pd.concat([hyper, extra.reset_index()], ignore_index=True)


def _data_summary(fit: Fit) -> pd.DataFrame:
    data = fit.data
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


def _versions(versions: object) -> pd.DataFrame:
    items = versions.items() if isinstance(versions, dict) else []
    return pd.DataFrame(list(items), columns=["package", "version"])


def _ppc_table(check: GroupCheck) -> pd.DataFrame:
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


def _diagnostics_table(fit: Fit) -> pd.DataFrame:
    items = {k: v for k, v in fit.diagnosis.to_dict().items() if k != "advice"}
    return pd.DataFrame(
        [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in items.items()],
        columns=["item", "value"],
    )


def _brief(fit: Fit, table: pd.DataFrame, hyper: pd.DataFrame, check: GroupCheck) -> list[str]:
    data = fit.data
    row = hyper.set_index("param")
    g, v = data.group, data.value

    def interval(name: str) -> str:
        r = row.loc[name]
        low, high = format_number(r["eti94_lb"]), format_number(r["eti94_ub"])
        return f"{format_number(r['mean'])} (94% interval {low} to {high})"

    out = [
        f"The population mean of the {g} means is mu = {interval('mu')}; the {g} means vary "
        f"around it with sd tau = {interval('tau')}"
        + (
            f", and single {v} values within a {g} with sd sigma = {interval('sigma')}."
            if "sigma" in row.index
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
        f"{best['p_best']:.2f}, rank 94% interval {best['rank_lb']:.0f} to "
        f"{best['rank_ub']:.0f}). "
        f"The median 94% rank interval spans {widths:.0f} places of {data.n_groups}."
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
