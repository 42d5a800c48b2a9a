"""``--keep-group-draws``, ``--group-draws-thin`` and ``--group-draws-float32``: whether and how
``fit.nc`` stores the group effects' draws (:mod:`hbm.results.kept_draws`)."""

from __future__ import annotations

import argparse
from typing import Any

from hbm.cli.parser import UsageError

__all__ = ["kept_group_draws"]


def kept_group_draws(args: argparse.Namespace) -> Any:
    """``--keep-group-draws`` (with its thinning and dtype) as a KeepGroupDraws, or None."""
    thin, float32 = (
        getattr(args, "group_draws_thin", 1),
        getattr(args, "group_draws_float32", False),
    )
    if not getattr(args, "keep_group_draws", False):
        if thin != 1 or float32:
            raise UsageError("--group-draws-thin and --group-draws-float32 need --keep-group-draws")
        return None
    from hbm.results.kept_draws import KeepGroupDraws

    return KeepGroupDraws(thin=thin, dtype="float32" if float32 else "float64")
