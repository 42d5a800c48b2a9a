"""The index of a batch: ``DIR/index.csv`` and ``DIR/index.html`` (every text HTML-escaped)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from hbm.core.files import atomic_write_text

__all__ = ["INDEX_COLUMNS", "progress_line", "write_index"]

#: Columns of ``index.csv``, one row per spec of the run.
INDEX_COLUMNS = (
    "spec",
    "name",
    "status",
    "verdict",
    "seconds",
    "error",
    "folder",
    "divergences",
    "max_r_hat",
    "min_ess_bulk",
    "random_seed",
    "content_hash",
)
_TMP = ".batch-tmp-"

Row = dict[str, Any]


def write_index(out: Path, rows: list[Row]) -> None:
    """Write ``out/index.csv`` and ``out/index.html`` (each atomically) listing ``rows``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=INDEX_COLUMNS, lineterminator="\n", extrasaction="ignore"
    )
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "index.csv", buffer.getvalue(), tag=_TMP)
    atomic_write_text(out / "index.html", _index_html(rows), tag=_TMP)


def _index_html(rows: list[Row]) -> str:
    from html import escape
    from urllib.parse import quote

    counts = {s: sum(r["status"] == s for r in rows) for s in ("done", "skipped", "failed")}
    columns = (
        "name",
        "status",
        "verdict",
        "seconds",
        "divergences",
        "max_r_hat",
        "min_ess_bulk",
        "random_seed",
        "spec",
        "error",
    )
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for column in columns:
            text = escape(str(row[column]))
            if column == "name" and row["status"] in ("done", "skipped"):
                href = escape(f"{quote(str(row['folder']))}/report.html", quote=True)
                text = f'<a href="{href}">{text}</a>'
            cells.append(f"<td>{text}</td>")
        status = escape(str(row["status"]), quote=True)
        body.append(f'<tr class="{status}">{"".join(cells)}</tr>')
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    return (
        "\n".join(
            [
                "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
                "<title>hbm batch</title>",
                "<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}"
                "td,th{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:left}"
                ".failed{background:#fce8e6}.skipped{color:#555}</style></head><body>",
                f"<h1>hbm batch: {len(rows)} specs</h1><p>{escape(summary)}</p>",
                f"<table><thead><tr>{head}</tr></thead><tbody>",
                *body,
                "</tbody></table></body></html>",
            ]
        )
        + "\n"
    )


def progress_line(k: int, total: int, row: dict[str, Any], out: Path) -> str:
    """One line per finished spec: ``[3/7] schools: done in 4.2 s, verdict ok -> DIR/``."""
    head = f"[{k}/{total}] {row['name']}: "
    if row["status"] == "done":
        why = f" ({row['why']})" if row.get("why") not in (None, "", "new") else ""
        return (
            f"{head}done in {row['seconds']:.1f} s, verdict {row['verdict']} "
            f"-> {out / row['folder']}/{why}"
        )
    if row["status"] == "skipped":
        return f"{head}skipped (unchanged since its finished result; verdict {row['verdict']})"
    return f"{head}FAILED: {row['error']}"
