"""Writing a fit's result folder atomically: a temporary folder, then one rename.

``DIR`` receives ``summary.csv``, ``groups.csv`` (the league table of every group: raw and
posterior means, intervals, ranks, pooling), ``diagnostics.json``, ``priors.csv``, ``fit.nc``,
``report.html``, ``report.md`` and ``shrinkage.png``; a binomial, Poisson, negative binomial or
Student-t fit also ``rates.csv`` (every group's rate on the outcome scale, raw and pooled, rank
and league probabilities; its ``groups.csv`` holds the coefficients on the link scale) and, for
rates, ``funnel.png``. A failure leaves no half-written ``DIR``;
an existing ``DIR`` is replaced only if it is empty or was written by hbm (it holds
``diagnostics.json``).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from hbm.analysis.effects import group_coefficients
from hbm.analysis.log_likelihood import store_log_likelihood
from hbm.analysis.outcome_draws import is_outcome_fit
from hbm.analysis.rates import rate_table
from hbm.analysis.shrinkage import shrinkage_table
from hbm.core.files import process_alive
from hbm.data.grouped import GroupedData
from hbm.reporting.figures import render_figures
from hbm.reporting.report import render_markdown, render_report
from hbm.results.fit_result import FitResult
from hbm.results.io import save_result
from hbm.results.kept_draws import KeepGroupDraws
from hbm.results.tree import as_result

__all__ = ["MARKER", "check_output_dir", "write_folder", "write_outputs"]

MARKER = "diagnostics.json"


def check_output_dir(out: str | Path) -> Path:
    """Check that ``out`` can receive results (before any work is done); return it as a Path.

    Also removes the hidden leftovers of earlier runs that were killed, and checks that the
    nearest existing parent folder is a folder hbm can write in.

    Faults: the files are written into a hidden sibling ``.DIR.tmp-<host>-<pid>-<random>`` and
    renamed to ``DIR`` only when all of them are complete, so a process killed at any moment
    (Ctrl-C, SIGKILL, power loss) leaves either no ``DIR`` or the previous one, never a partial
    one. An older ``DIR`` being replaced is first renamed to ``.DIR.old-<host>-<pid>``. Such hidden
    leftovers of a process that no longer runs are removed by the next write to the same ``DIR``
    (an orphaned ``.old`` is renamed back to ``DIR`` when ``DIR`` is missing, so a previous result
    is not lost). A write error (no space, no permission) names the path and leaves nothing behind.

    Raises
    ------
    ValueError
        If ``out`` is an existing file, a folder of files hbm did not write, or lies under a file.
    PermissionError, OSError
        If the folder that would hold ``out`` cannot be written (the error names it).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(
            f"--out {str(out)!r} is an existing file; expected a folder to write into."
        )
    parent = _existing_parent(out)
    if not parent.is_dir():
        raise ValueError(
            f"--out {str(out)!r} cannot be created: {str(parent)!r} is a file, not a folder."
        )
    if parent == out.absolute().parent:
        _clean_leftovers(out)
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise ValueError(
            f"--out {str(out)!r} is a folder that holds files hbm did not write; "
            "choose a new or empty folder (nothing was changed)."
        )
    _probe_writable(parent)
    return out


def _existing_parent(out: Path) -> Path:
    """The nearest ancestor of ``out`` (or ``out``'s parent itself) that exists."""
    parent = out.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return parent


def _probe_writable(folder: Path) -> None:
    """Create and remove a hidden folder in ``folder``, so that a permission error shows now."""
    try:
        probe = Path(tempfile.mkdtemp(prefix=".hbm-probe-", dir=folder))
    except OSError as error:
        reason = f"cannot write in this folder ({error.strerror or error})"
        raise OSError(error.errno or errno.EACCES, reason, str(folder)) from None
    probe.rmdir()


def _tag() -> str:
    """``<host>-<pid>``: whose leftovers a hidden temporary folder is."""
    host = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]
    return f"{host}-{os.getpid()}"


def _clean_leftovers(out: Path) -> None:
    """Remove ``.DIR.tmp-*`` / ``.DIR.old-*`` of dead processes of this host; restore an orphan."""
    if not out.parent.is_dir():
        return
    host = _tag().split("-")[0]
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.(tmp|old)-([0-9a-f]{{8}})-(\d+)(?:-.*)?$")
    for entry in out.parent.iterdir():
        found = pattern.match(entry.name)
        if not found or found.group(2) != host or process_alive(int(found.group(3))):
            continue
        if found.group(1) == "old" and not out.exists() and (entry / MARKER).exists():
            os.replace(entry, out)  # killed between the two renames: the old result comes back
        else:
            shutil.rmtree(entry, ignore_errors=True)


def _named(error: OSError, staging: Path, out: Path) -> OSError:
    """The same error, naming the result's path (``DIR/fit.nc``) rather than the hidden one."""
    filename = str(error.filename) if error.filename else ""
    if not filename:  # a failed write() names no file: the newest one is the one being written
        written = [p for p in staging.rglob("*") if p.is_file()] if staging.is_dir() else []
        if written:
            filename = str(max(written, key=lambda p: p.stat().st_mtime_ns))
    if filename.startswith(str(staging)):
        filename = str(out) + filename[len(str(staging)) :]
    code = error.errno if error.errno is not None else errno.EIO
    reason = error.strerror or str(error)
    return OSError(code, f"could not write the results ({reason})", filename or str(out))


def write_outputs(
    result: FitResult | Any, out: str | Path, *, keep_group_draws: KeepGroupDraws | None = None
) -> Path:
    """Write every result file of ``result`` (a ``FitResult`` or a ``Fit``) into ``out``
    atomically and return ``out`` (``keep_group_draws``: see :func:`hbm.results.io.save_result`).
    """
    result = as_result(result)
    out = check_output_dir(out)

    def fill(staging: Path) -> None:
        result.summary().to_csv(staging / "summary.csv", index=False)
        result.prior_summary().to_csv(staging / "priors.csv", index=False)
        # Every group's numbers: past a few hundred groups the figures draw a readable few.
        if isinstance(result.data, GroupedData):
            shrinkage_table(result).to_csv(staging / "groups.csv")
        else:
            formula_groups_table(result).to_csv(staging / "groups.csv", index=False)
        diagnostics = result.diagnosis.to_dict() if result.diagnosis is not None else {}
        diagnostics["parametrization_reason"] = result.reason
        diagnostics["random_seed"] = result.spec.random_seed
        (staging / MARKER).write_text(json.dumps(diagnostics, indent=2) + "\n")
        figures = render_figures(result)  # each figure drawn once, shared by the three files
        (staging / "shrinkage.png").write_bytes(figures["shrinkage"])
        if is_outcome_fit(result):  # every group's rate, raw and pooled (the report shows 50)
            rate_table(result).to_csv(staging / "rates.csv")
            if "funnel" in figures:
                (staging / "funnel.png").write_bytes(figures["funnel"])
        html = render_report(result, figures=figures)
        (staging / "report.html").write_text(html, encoding="utf-8")
        markdown = render_markdown(result)  # links the PNG
        (staging / "report.md").write_text(markdown, encoding="utf-8")
        # fit.nc carries the log likelihood (`hbm compare`, arviz_stats.loo), also for a fit that
        # was too large to hold it next to its report, or saved before hbm stored it.
        store_log_likelihood(result)
        save_result(result, staging / "fit.nc", keep_group_draws=keep_group_draws)

    return write_folder(out, fill)


def formula_groups_table(result: FitResult) -> pd.DataFrame:
    """Every group's numbers in a formula model: each factor's per-group coefficients, one row
    per factor, group and varying term (:func:`hbm.analysis.effects.group_coefficients`)."""
    tables = []
    for factor in result.model_data.factors:
        table = group_coefficients(result, factor.name)
        tables.append(table.rename(columns={factor.name: "group"}).assign(factor=factor.name))
    columns = ["factor", "group"]
    table = pd.concat(tables, ignore_index=True).pipe(
        lambda t: t[columns + [c for c in t.columns if c not in columns]]
    )
    if is_outcome_fit(result):
        # The no-pooling column reads the normal model's cell means; another family's raw rates
        # and group sizes are in rates.csv. The coefficients here are on the link scale.
        table = table.drop(columns=["no_pooling", "n"], errors="ignore")
    return table


def write_folder(out: str | Path, fill: Callable[[Path], None]) -> Path:
    """Fill a hidden staging folder beside ``out`` with ``fill(staging)`` (which must write
    :data:`MARKER` among its files), then move it to ``out`` (see :func:`check_output_dir`)."""
    out = check_output_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{_tag()}-", dir=out.parent))
    staging.chmod(0o755)
    try:
        fill(staging)
        _replace(staging, out)
    except BaseException as error:
        named = _named(error, staging, out) if isinstance(error, OSError) else None
        shutil.rmtree(staging, ignore_errors=True)
        if named is not None:
            raise named from error
        raise
    return out


def _replace(staging: Path, out: Path) -> None:
    """Move ``staging`` to ``out``; an old result there is moved aside first, then removed."""
    if not out.exists():
        os.replace(staging, out)
        return
    old = out.with_name(f".{out.name}.old-{_tag()}")
    os.replace(out, old)
    try:
        os.replace(staging, out)
    except BaseException:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
