"""``hbm fit --family binomial | poisson | negbinomial | studentt``: the options such a model takes.

It is fitted to the table's rows, read with pandas: no engine, cluster or statistics file, no
summaries form (``--se``); ``--group``/``--value`` are the shorthand for ``value ~ 1 + (1 |
group)``, turned into ``--formula`` here.
"""

from __future__ import annotations

import argparse

from hbm.cli.parser import UsageError

__all__ = ["check_family_options"]


def check_family_options(args: argparse.Namespace) -> None:
    """Check a non-normal family's options (one line on bad input); set ``args.formula``."""
    from hbm.model.description import quote_name
    from hbm.model.families import get_family
    from hbm.workflow.reduce import is_stats_file

    get_family(args.family)
    if args.engine not in ("auto", "pandas") or args.cluster:
        raise UsageError(
            f"a {args.family} model is fitted to the table's rows, read with pandas in this "
            "version; --engine and --cluster are for the normal family"
        )
    if is_stats_file(args.data):
        raise UsageError(
            f"{args.data} holds statistics (each group's n, mean and ss) for the normal "
            f"family; a {args.family} model is fitted to the table's rows"
        )
    if args.formula is not None:
        return
    missing = [o for o, v in (("--group", args.group), ("--value", args.value)) if v is None]
    if missing:
        raise UsageError(
            f"the following arguments are required: {', '.join(missing)} (or --formula)"
        )
    if args.se is not None:
        raise UsageError(
            f"--se (the summaries form) is for the normal family; a {args.family} model is "
            "fitted to its rows"
        )
    args.formula = f"{quote_name(args.value)} ~ 1 + (1 | {quote_name(args.group)})"
    args.group = args.value = None
