"""The posterior report: ``report.html`` (one self-contained file, images inline, no network loads)
and ``report.md`` (the same text and tables; it links ``shrinkage.png`` beside it).

The report is built once as a list of blocks (headings, paragraphs, tables, figures) and then
written as HTML or Markdown, so both say the same thing. The order is the reader's: the verdict
and its advice first, then the findings in plain words, the data, the model and priors, the
posterior summary with the ICC, shrinkage, the league table, the pooling comparison (pictured and
ranked by ELPD), the posterior predictive check, the leave-one-out summary with its LOO-PIT
calibration plot, trace and rank plots, and what ran (sampler, seed, versions).

Every text that comes from the data (labels, column names, the data path) is escaped in both
forms: a school called ``<b>North</b>`` shows as exactly that.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hbm.analysis.draws import quarter_size
from hbm.analysis.outcome_draws import is_outcome_fit
from hbm.analysis.ppc import posterior_predictive
from hbm.analysis.shrinkage import shrinkage_table
from hbm.model.families.normal import icc_text, model_text
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
from hbm.reporting.figures import figure_keys, figure_png, render_figures
from hbm.reporting.formula_report import formula_blocks
from hbm.reporting.loo_section import loo_blocks, loo_brief, pooling_blocks
from hbm.reporting.outcome_report import outcome_blocks
from hbm.reporting.sections import (
    bounded,
    brief,
    data_summary,
    diagnostics_table,
    group_method_text,
    hyper_summary,
    ppc_table,
    summary_table,
    verdict_block,
    versions_table,
)
from hbm.results.fit_result import FitResult
from hbm.results.tree import as_result
from hbm.viz import plot_shrinkage
from hbm.viz.rates_shrinkage import plot_rates_shrinkage
from hbm.viz.shrinkage2d import plot_shrinkage_2d

__all__ = [
    "fit_html_snippet",
    "render_markdown",
    "render_report",
    "report_blocks",
    "write_report",
]


def report_blocks(result: FitResult | Any) -> list[Block]:
    """The report's content, independent of the output format."""
    result = as_result(result)
    if is_outcome_fit(result):
        return outcome_blocks(result, figure_keys(result))
    if not result.description.is_seed_model:
        return formula_blocks(result, figure_keys(result))
    data = result.grouped
    table = shrinkage_table(result)
    check = posterior_predictive(result)
    summary = summary_table(result)
    hyper = hyper_summary(result, summary)
    run = result.run_info
    spec = result.spec
    effect = result.parameters.one("group_effect").name
    what = f"{data.value} by {data.group}"
    league = table.sort_values("mean", ascending=False)
    k = quarter_size(data.n_groups)
    blocks: list[Block] = [
        Heading(1, f"hbm report: {what}"),
        verdict_block(result),
        Heading(2, "In brief"),
        Bullets(brief(result, table, hyper, check) + loo_brief(result)),
        Heading(2, "Data"),
        Table(format_table(data_summary(result))),
        Heading(2, "Model and priors"),
        Para(model_text(data)),
        Para(f"Parametrization {result.parametrization}: {result.reason}"),
        Table(format_table(result.prior_summary())),
        Heading(2, "Posterior summary"),
        Para(
            "Posterior means, sds and 94% equal-tailed intervals. "
            + icc_text(data)
            + group_method_text(result)
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
            f"top / bottom quarter = the {k:,} highest / lowest of {data.n_groups:,} ranks. "
            f"{table.attrs.get('ranks', '')}"
        ),
        *bounded(league.reset_index(), "groups (the highest ranked)", "groups.csv"),
        Heading(2, "Complete, no and partial pooling"),
        Figure("pooling", "pooling comparison", _POOLING_TEXT),
        *pooling_blocks(result),
        Heading(2, "Posterior predictive check"),
        Figure("ppc", "posterior predictive check", _PPC_TEXT.format(draws=check.describe_draws())),
        Table(format_table(ppc_table(check))),
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
            f"{spec.target_accept}; sampling took {run['sampling_seconds']} s. "
            f"{effect}: {run[effect]}." + (f" Data: {spec.data}." if spec.data else "")
        ),
        Table(format_table(versions_table(run["versions"]))),
        Heading(3, "Full posterior summary"),
        *bounded(summary, "groups", "summary.csv", collapsed=True),
    ]
    return blocks


def render_report(result: FitResult | Any, *, figures: Mapping[str, bytes] | None = None) -> str:
    """The report as one self-contained HTML text (figures drawn unless given as PNG bytes)."""
    result = as_result(result)
    figures = figures if figures is not None else render_figures(result)
    images = {
        key: "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        for key, png in figures.items()
    }
    return to_html(report_blocks(result), images, title=_title(result))


def render_markdown(result: FitResult | Any, *, images: Mapping[str, str] | None = None) -> str:
    """The report as Markdown; ``images`` maps figure keys to the files it links (default:
    ``{"shrinkage": "shrinkage.png"}``); the other figures are in ``report.html``."""
    images = {"shrinkage": "shrinkage.png"} if images is None else images
    return to_markdown(report_blocks(result), images)


def write_report(result: FitResult | Any, path: Path) -> Path:
    """Write the report to ``path``: Markdown for a ``.md`` path, else HTML.

    A Markdown report links ``shrinkage.png``, which is written beside it.
    """
    result = as_result(result)
    path = Path(path)
    if path.suffix.lower() == ".md":
        png = render_figures(result, ("shrinkage",))["shrinkage"]
        text = render_markdown(result)
        (path.parent / "shrinkage.png").write_bytes(png)
    else:
        text = render_report(result)
    path.write_text(text, encoding="utf-8")
    return path


def fit_html_snippet(result: FitResult | Any, heading: str) -> str:
    """What a notebook shows for a fit: ``heading`` (the fit's repr), verdict, summary table and
    shrinkage plot."""
    plot = (
        plot_shrinkage
        if result.description.is_seed_model
        else plot_rates_shrinkage
        if is_outcome_fit(result)
        else plot_shrinkage_2d
    )
    png = base64.b64encode(figure_png(plot(result), dpi=80)).decode("ascii")
    summary = summary_table(result)
    blocks: list[Block] = [
        Para(heading),
        verdict_block(result),
        Table(format_table(hyper_summary(result, summary))),
        *bounded(summary, "groups", "fit.summary()", collapsed=True),
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


def _title(result: FitResult) -> str:
    if result.description.is_seed_model:
        data = result.grouped
        return f"hbm report: {data.value} by {data.group}"
    if result.description.family != "normal":
        return f"hbm report: {result.description.formula} ({result.description.family})"
    return f"hbm report: {result.description.formula}"
