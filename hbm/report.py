"""The posterior report: one self-contained HTML file (images inline, no network loads).

Every text that comes from the data (labels, column names) is HTML-escaped.
"""

from __future__ import annotations

import base64
import io
import json
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from hbm.fit import Fit

__all__ = ["fit_html_snippet", "figure_png", "render_report", "write_report"]

#: Most groups listed in the report's summary table (10,000 rows made an unreadable 2.5 MB page).
MAX_GROUP_ROWS = 50

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:60rem;margin:2rem auto;
padding:0 1rem;color:#222;line-height:1.45}
table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0 1.5rem}
th,td{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}
.verdict{padding:.8rem 1rem;border-radius:.4rem;margin:1rem 0}
.ok{background:#e6f4ea;border-left:6px solid #1e8e3e}.warn{background:#fef7e0;border-left:6px solid #f9ab00}
.fail{background:#fce8e6;border-left:6px solid #d93025}
code{background:#f3f3f3;padding:0 .2rem}
"""


def figure_png(figure: Figure, dpi: int = 110) -> bytes:
    """A figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _img(figure: Figure | bytes, alt: str) -> str:
    png = figure if isinstance(figure, bytes) else figure_png(figure)
    encoded = base64.b64encode(png).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{encoded}" style="max-width:100%">'


def _table(frame: pd.DataFrame, digits: int = 3) -> str:
    formatted = frame.copy()
    for column in formatted.columns:
        if pd.api.types.is_float_dtype(formatted[column]):
            formatted[column] = formatted[column].map(
                lambda v: "" if pd.isna(v) else f"{v:.{digits}g}" if abs(v) < 1e5 else f"{v:.0f}"
            )
    return formatted.to_html(index=False, escape=True, border=0)


def _summary_table(fit: Fit) -> str:
    """The posterior summary, with at most :data:`MAX_GROUP_ROWS` groups (all are in the CSV)."""
    summary = fit.summary()
    n_groups = fit.data.n_groups
    if n_groups <= MAX_GROUP_ROWS:
        return _table(summary)
    theta = summary["param"].str.startswith("theta[")
    shown = summary[~theta | (theta.cumsum() <= MAX_GROUP_ROWS)]
    return (
        _table(shown)
        + f"<p>Showing the first {MAX_GROUP_ROWS} of {n_groups:,} groups; "
        "<code>summary.csv</code> has every row.</p>"
    )


def _verdict_block(fit: Fit) -> str:
    d = fit.diagnosis
    advice = "".join(f"<li>{escape(line)}</li>" for line in d.advice)
    return (
        f'<div class="verdict {escape(d.verdict)}"><strong>Verdict: {escape(d.verdict)}</strong>'
        f" — {d.divergences} divergences, max R-hat {d.max_r_hat:.3f}, "
        f"min bulk ESS {d.min_ess_bulk:.0f}<ul>{advice}</ul></div>"
    )


def fit_html_snippet(fit: Fit) -> str:
    """What a notebook shows for a ``Fit``: verdict, summary table and shrinkage plot."""
    return (
        f"<div><strong>hbm fit</strong> — {escape(repr(fit))}{_verdict_block(fit)}"
        f"{_summary_table(fit)}{_img(fit.plot_shrinkage(), 'shrinkage plot')}</div>"
    )


def render_report(fit: Fit, *, shrinkage_png: bytes | None = None) -> str:
    """The report as one HTML text (``shrinkage_png``: the plot already rendered, if it was)."""
    run = fit.run_info
    data = fit.data
    described = data.describe()
    data_rows = pd.DataFrame({"item": list(described), "value": [str(v) for v in described.values()]})
    versions = pd.DataFrame({"package": list(run["versions"]), "version": list(run["versions"].values())})  # type: ignore[arg-type]
    diag = {k: v for k, v in fit.diagnosis.to_dict().items() if k != "advice"}
    diag_rows = pd.DataFrame({"item": list(diag), "value": [json.dumps(v) for v in diag.values()]})
    title = f"hbm report: {data.value} by {data.group}"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        _verdict_block(fit),
        "<h2>Model</h2>",
        "<p>mu ~ prior (level 3); theta[j] | mu ~ Normal(mu, tau) (level 2); "
        + (
            "y[i] | theta ~ Normal(theta[group[i]], sigma) (level 1)."
            if data.kind == "rows"
            else "estimate[j] | theta ~ Normal(theta[j], se[j]) with known se (level 1)."
        )
        + "</p>",
        f"<p>Parametrization <code>{escape(fit.parametrization)}</code>: "
        f"{escape(fit.reason)}</p>",
        "<h2>Data</h2>",
        _table(data_rows),
        "<h2>Priors</h2>",
        _table(fit.prior_summary()),
        "<h2>Posterior summary</h2>",
        _summary_table(fit),
        "<h2>Shrinkage</h2>",
        _img(shrinkage_png or fit.plot_shrinkage(), "shrinkage plot"),
        "<h2>Diagnostics</h2>",
        _table(diag_rows),
        "<h2>What ran</h2>",
        f"<p>Sampler <code>{escape(str(run['sampler']))}</code>, seed "
        f"<code>{escape(str(run['random_seed']))}</code>, {fit.spec.chains} chains × "
        f"{fit.spec.draws} draws after {fit.spec.tune} tuning steps, target_accept "
        f"{fit.spec.target_accept}; sampling took {run['sampling_seconds']} s. "
        f"theta: {escape(str(run['theta']))}.</p>",
        _table(versions),
        "</body></html>",
    ]
    return "\n".join(parts)


def write_report(fit: Fit, path: Path, *, shrinkage_png: bytes | None = None) -> Path:
    """Write :func:`render_report` to ``path``."""
    path.write_text(render_report(fit, shrinkage_png=shrinkage_png), encoding="utf-8")
    return path
