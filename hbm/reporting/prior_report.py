"""The prior predictive report and its result folder (``hbm fit ... --prior-only --out DIR``).

``DIR`` receives ``prior_summary.csv`` (each quantity's prior predictive summary and the shares of
implied data outside the observed range), ``priors.csv``, ``prior.nc`` (the draws, a DataTree
with groups ``prior`` and ``prior_predictive``; never pickled), ``prior_predictive.png``,
``report.html`` (self-contained), ``report.md`` and ``diagnostics.json`` (what ran: kind, seed,
draws, the advice), written atomically like a fit's folder (:func:`hbm.reporting.outputs.
write_folder`).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from hbm.analysis.prior_predictive import PriorPredictive
from hbm.data.grouped import GroupedData
from hbm.inference.sampling import versions
from hbm.model.families.normal import model_text
from hbm.model.priors import prior_table
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
from hbm.reporting.sections import versions_table
from hbm.viz.prior_predictive import plot_prior_predictive

__all__ = ["FILES", "prior_blocks", "write_prior_outputs", "write_prior_report"]

#: What ``--prior-only --out DIR`` writes.
FILES = (
    "prior_summary.csv",
    "priors.csv",
    "prior.nc",
    "prior_predictive.png",
    "report.html",
    "report.md",
    MARKER,
)


def prior_blocks(check: PriorPredictive) -> list[Block]:
    """The report's content: what a prior predictive check is, the priors, what they imply."""
    data = check.data
    meanings = {p.name: p.meaning for p in check.parameters}
    return [
        Heading(1, f"hbm prior predictive check: {data.value} by {data.group}"),
        Para(
            "No data were used to draw these: the model's levels are simulated top down from the "
            "priors alone (hyperparameters, then each group's effect, then new data), and the "
            "data they imply are set against the observed ones. Priors that put much mass far "
            "outside the observed range, or on impossible values (a negative rate, a score of "
            "10,000), show up here before any fit."
        ),
        Heading(2, "What the priors imply"),
        Bullets(check.advice()),
        Figure("prior_predictive", "prior predictive check", _FIGURE_TEXT),
        Table(format_table(check.summary())),
        Para(
            "q3, q50, q97: quantiles of the draws; below/above_observed: share of implied values "
            "outside the observed range; far_outside: beyond that range widened by its width on "
            "both sides; negative: share below zero (shown where every observed value is >= 0)."
        ),
        Heading(2, "Model and priors"),
        Para(model_text(data) if isinstance(data, GroupedData) else check.model),
        Table(format_table(prior_table(check.priors, meanings))),
        Heading(2, "What ran"),
        Para(
            f"{check.n_draws:,} draws (asked: {check.draws_asked:,}), seed {check.random_seed}; "
            f"{data.n_groups:,} groups, {data.n_rows:,} rows ({data.kind} form)."
        ),
        Table(format_table(versions_table(versions()))),
    ]


def write_prior_report(check: PriorPredictive, path: Path, *, png: bytes | None = None) -> Path:
    """Write the report to ``path``: Markdown for ``.md`` (it links ``prior_predictive.png``,
    written beside it), else self-contained HTML."""
    path = Path(path)
    png = png if png is not None else figure_png(plot_prior_predictive(check))
    blocks = prior_blocks(check)
    if path.suffix.lower() == ".md":
        (path.parent / "prior_predictive.png").write_bytes(png)
        text = to_markdown(blocks, {"prior_predictive": "prior_predictive.png"})
    else:
        uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        title = f"hbm prior predictive check: {check.data.value} by {check.data.group}"
        text = to_html(blocks, {"prior_predictive": uri}, title=title)
    path.write_text(text, encoding="utf-8")
    return path


def write_prior_outputs(check: PriorPredictive, out: str | Path) -> Path:
    """Write the prior predictive result folder (see the module docstring); return it."""

    def fill(staging: Path) -> None:
        png = figure_png(plot_prior_predictive(check))
        check.summary().to_csv(staging / "prior_summary.csv", index=False)
        meanings = {p.name: p.meaning for p in check.parameters}
        prior_table(check.priors, meanings).to_csv(staging / "priors.csv", index=False)
        check.idata.to_netcdf(staging / "prior.nc", engine="h5netcdf")
        write_prior_report(check, staging / "report.html", png=png)
        write_prior_report(check, staging / "report.md", png=png)
        record = {
            "kind": "prior predictive",
            "random_seed": check.random_seed,
            "draws": check.n_draws,
            "advice": check.advice(),
        }
        (staging / MARKER).write_text(json.dumps(record, indent=2) + "\n")

    return write_folder(out, fill)


_FIGURE_TEXT = (
    "Top: each hyperparameter's prior. Bottom: a new row (or estimate) and a group's mean as the "
    "priors imply them (blue), against the observed ones (orange line), the observed range "
    "shaded."
)
