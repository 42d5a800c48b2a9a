"""Format-neutral report blocks, and their HTML and Markdown writers with escaping.

A report is a list of blocks (:class:`Heading`, :class:`Para`, :class:`Bullets`, :class:`Table`,
:class:`Figure`, :class:`Verdict`) holding plain text. The writers escape every text they put out:
:func:`to_html` with ``html.escape``, :func:`to_markdown` with :func:`md_escape` (HTML characters as
entities, Markdown punctuation with backslashes). Nothing in a block is ever treated as markup, so
labels from the data always show as written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape

import numpy as np
import pandas as pd

__all__ = [
    "Block",
    "Bullets",
    "Figure",
    "Heading",
    "Para",
    "Table",
    "Verdict",
    "format_number",
    "format_table",
    "md_escape",
    "to_html",
    "to_markdown",
]


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: list[str]


@dataclass(frozen=True)
class Table:
    """A table whose cells are already text (see :func:`format_table`)."""

    frame: pd.DataFrame
    collapsed: bool = False


@dataclass(frozen=True)
class Figure:
    """A figure by key; the writer is given the image (data URI or file) for each key."""

    key: str
    alt: str
    caption: str


@dataclass(frozen=True)
class Verdict:
    verdict: str
    line: str
    advice: list[str] = field(default_factory=list)


Block = Heading | Para | Bullets | Table | Figure | Verdict

#: Header names shown in the report for the columns of hbm's tables.
HEADERS = {
    "eti94_lb": "94% lb",
    "eti94_ub": "94% ub",
    "raw_mean": "raw mean",
    "rank_lb": "rank lb",
    "rank_ub": "rank ub",
    "p_best": "P(best)",
    "p_top_quarter": "P(top quarter)",
    "p_bottom_quarter": "P(bottom quarter)",
}
_COUNTS = {"ess_bulk", "ess_tail", "n", "rank_lb", "rank_ub"}
_PROBABILITIES = {"pooling", "p_best", "p_top_quarter", "p_bottom_quarter", "p_value"}

_CSS = """
.hbm{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:68rem;
margin:1.5rem auto;padding:0 1rem;color:#222;line-height:1.45}
.hbm table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1.2rem}
.hbm th,.hbm td{border-bottom:1px solid #ddd;padding:.2rem .55rem;text-align:right}
.hbm th.text,.hbm td.text{text-align:left}.hbm .scroll{overflow-x:auto}
.hbm th{background:#f5f5f5}
.hbm .verdict{padding:.7rem 1rem;border-radius:.4rem;margin:1rem 0}
.hbm .ok{background:#e6f4ea;border-left:6px solid #1e8e3e}
.hbm .warn{background:#fef7e0;border-left:6px solid #f9ab00}
.hbm .fail,.hbm .unknown{background:#fce8e6;border-left:6px solid #d93025}
.hbm figure{margin:1rem 0}.hbm figcaption{font-size:.85rem;color:#555}
.hbm img{max-width:100%;height:auto}
.hbm summary{cursor:pointer;color:#1a5fb4}
"""
#: Forbids every network load: images only as data URIs, inline style, no scripts.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def format_number(value: object, column: str = "") -> str:
    """A number as the report shows it: counts whole, probabilities with 2 decimals, R-hat with
    3, everything else with 3 significant digits; missing values as an empty cell."""
    if value is None or isinstance(value, str):
        return "" if value is None else value
    if isinstance(value, bool | np.bool_):
        return str(value)
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        return ""
    if isinstance(value, int | np.integer) or column in _COUNTS:
        return f"{number:.0f}"
    if column == "r_hat":
        return f"{number:.3f}"
    if column in _PROBABILITIES:
        return f"{number:.2f}"
    if column == "rank":
        return f"{number:.1f}"
    if number == 0:
        return "0"
    if abs(number) < 1e-4:
        return f"{number:.3g}"
    decimals = max(0, 2 - math.floor(math.log10(abs(number))))
    return f"{number:.{decimals}f}"


def format_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as text (see :func:`format_number`), headers renamed for reading."""
    out = pd.DataFrame(
        {
            HEADERS.get(str(c), str(c)): [format_number(v, str(c)) for v in frame[c].tolist()]
            for c in frame.columns
        }
    )
    return out


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")


def md_escape(text: object) -> str:
    """Text as Markdown shows it literally: ``& < >`` as HTML entities, Markdown punctuation
    backslash-escaped, line breaks as spaces."""
    out = escape(str(text), quote=False)
    out = _MD_SPECIAL.sub(r"\\\1", out)
    return " ".join(out.splitlines())


def to_html(blocks: list[Block], images: Mapping[str, str], *, title: str | None) -> str:
    """HTML of ``blocks``: a whole document when ``title`` is given, else a ``<div>`` snippet.

    ``images`` maps figure keys to ``data:`` URIs; a figure without one is left out.
    """
    body = "\n".join(_html_block(block, images) for block in blocks)
    if title is None:
        return f'<div class="hbm"><style>{_CSS}</style>\n{body}\n</div>'
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>\n"
        f'<body><main class="hbm">\n{body}\n</main></body></html>\n'
    )


def to_markdown(blocks: list[Block], images: Mapping[str, str]) -> str:
    """Markdown of ``blocks``; ``images`` maps figure keys to the files to link."""
    return "\n\n".join(_md_block(block, images) for block in blocks).rstrip() + "\n"


def _html_block(block: Block, images: Mapping[str, str]) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{escape(block.text)}</h{block.level}>"
    if isinstance(block, Para):
        return f"<p>{escape(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in block.items) + "</ul>"
    if isinstance(block, Table):
        table = _html_table(block.frame)
        if block.collapsed:
            return f"<details><summary>Show ({len(block.frame)} rows)</summary>{table}</details>"
        return table
    if isinstance(block, Figure):
        if block.key not in images:
            return ""
        caption = f"<figcaption>{escape(block.caption)}</figcaption>" if block.caption else ""
        return (
            f'<figure><img alt="{escape(block.alt)}" src="{escape(images[block.key])}">'
            f"{caption}</figure>"
        )
    kind = block.verdict if block.verdict in ("ok", "warn", "fail") else "unknown"
    advice = "".join(f"<li>{escape(a)}</li>" for a in block.advice)
    return (
        f'<div class="verdict {kind}"><strong>Verdict: {escape(block.verdict)}</strong> — '
        f"{escape(block.line)}<ul>{advice}</ul></div>"
    )


def _html_table(frame: pd.DataFrame) -> str:
    """A table; columns that hold only numbers are right-aligned, the others left-aligned."""
    numeric = [all(_NUMBER.match(str(v)) for v in frame[c]) for c in frame.columns]
    head = "".join(
        f"<th>{escape(str(c))}</th>" if is_number else f'<th class="text">{escape(str(c))}</th>'
        for c, is_number in zip(frame.columns, numeric, strict=True)
    )
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{escape(str(v))}</td>" if is_number else f'<td class="text">{escape(str(v))}</td>'
            for v, is_number in zip(row, numeric, strict=True)
        )
        + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


_NUMBER = re.compile(r"^[-+]?(\d[\d.]*(e[-+]?\d+)?|nan|inf)?$")


def _md_block(block: Block, images: Mapping[str, str]) -> str:
    if isinstance(block, Heading):
        return "#" * block.level + " " + md_escape(block.text)
    if isinstance(block, Para):
        return md_escape(block.text)
    if isinstance(block, Bullets):
        return "\n".join(f"- {md_escape(item)}" for item in block.items)
    if isinstance(block, Table):
        frame = block.frame
        lines = [
            "| " + " | ".join(md_escape(c) for c in frame.columns) + " |",
            "|" + "|".join(" --- " for _ in frame.columns) + "|",
        ]
        lines += [
            "| " + " | ".join(md_escape(v) for v in row) + " |"
            for row in frame.itertuples(index=False)
        ]
        return "\n".join(lines)
    if isinstance(block, Figure):
        if block.key not in images:
            return f"*{md_escape(block.alt.capitalize())}: see report.html.*"
        return f"![{md_escape(block.alt)}]({images[block.key]})\n\n*{md_escape(block.caption)}*"
    advice = "\n".join(f"> - {md_escape(a)}" for a in block.advice)
    return f"> **Verdict: {md_escape(block.verdict)}** — {md_escape(block.line)}\n>\n{advice}"
