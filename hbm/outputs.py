"""Writing a fit's result folder atomically: a temporary folder, then one rename.

``DIR`` receives ``summary.csv``, ``diagnostics.json``, ``priors.csv``, ``fit.nc``,
``report.html`` and ``shrinkage.png``. A failure leaves no half-written ``DIR``; an existing
``DIR`` is replaced only if it is empty or was written by hbm (it holds ``diagnostics.json``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hbm.fit import Fit

__all__ = ["check_output_dir", "write_outputs"]

MARKER = "diagnostics.json"


def check_output_dir(out: str | Path) -> Path:
    """Check that ``out`` can receive results (before any work is done); return it as a Path."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} is an existing file; expected a folder to write into.")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise ValueError(
            f"--out {str(out)!r} is a folder that holds files hbm did not write; "
            "choose a new or empty folder (nothing was changed)."
        )
    return out


def write_outputs(fit: Fit, out: str | Path) -> Path:
    """Write every result file into ``out`` atomically and return ``out``."""
    from hbm.report import figure_png, write_report

    out = check_output_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    staging.chmod(0o755)
    try:
        fit.summary().to_csv(staging / "summary.csv", index=False)
        fit.prior_summary().to_csv(staging / "priors.csv", index=False)
        diagnostics = fit.diagnosis.to_dict()
        diagnostics["parametrization_reason"] = fit.reason
        diagnostics["random_seed"] = fit.spec.random_seed
        (staging / "diagnostics.json").write_text(json.dumps(diagnostics, indent=2) + "\n")
        shrinkage = figure_png(fit.plot_shrinkage())
        (staging / "shrinkage.png").write_bytes(shrinkage)
        write_report(fit, staging / "report.html", shrinkage_png=shrinkage)  # plot drawn once
        fit.save(staging / "fit.nc")
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _replace(staging: Path, out: Path) -> None:
    """Move ``staging`` to ``out``; an old result there is moved aside first, then removed."""
    if not out.exists():
        os.replace(staging, out)
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    os.replace(out, old)
    try:
        os.replace(staging, out)
    except BaseException:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
