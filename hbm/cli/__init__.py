"""The ``hbm`` command line.

    hbm fit DATA --group COL --value COL [--se COL]
            [--parametrization auto|centered|noncentered|marginal] [--prior NAME=SPEC ...]
            [--draws N] [--tune N] [--chains N] [--seed N]
            [--sampler nutpie|pymc] [--engine auto|pandas|duckdb|dask] [--cluster ADDRESS]
            --out DIR
    hbm fit SPEC.toml --out DIR
    hbm fit STATS.parquet --out DIR
    hbm reduce DATA (--group COL --value COL | --formula F) [--engine ...] --out STATS.parquet
    hbm batch SPEC... --out DIR [--jobs N | --cluster ADDRESS]
    hbm report FIT.nc --out DIR
    hbm predict FIT.nc --group LABEL [--new] [--rows N] [--se X] [--draws N] [--seed N] [--out FILE]
    hbm datasets

Bad input ends in one line ``hbm: error: ...`` naming the culprit, exit status 2, and no output
written. Heavy libraries are imported only once a command runs, so ``hbm --help`` is quick.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from hbm.cli.commands import (
    COMMANDS,
    datasets_command,
    fit_command,
    fit_spec_command,
    is_spec_file,
)
from hbm.cli.parser import EXIT_INTERRUPTED, EXIT_USAGE, UsageError, build_parser

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.version:
            from hbm.core.version import __version__

            print(f"hbm {__version__}")
            return 0
        if args.command is None:
            parser.print_help()
            return 0
        if args.command == "datasets":
            return datasets_command()
        if args.command in COMMANDS:
            return COMMANDS[args.command](args)
        if is_spec_file(args.data):
            return fit_spec_command(args, sys.argv[1:] if argv is None else list(argv))
        return fit_command(args)
    except UsageError as error:
        return _fail(str(error))
    except (ValueError, TypeError) as error:
        return _fail(str(error))
    except OSError as error:
        return _fail(_os_error(error))
    except KeyboardInterrupt as interrupt:
        why = f" ({interrupt})" if str(interrupt) else ""
        print(f"hbm: interrupted{why}; no result folder was written.", file=sys.stderr)
        return EXIT_INTERRUPTED


def _fail(message: str) -> int:
    line = " ".join(message.split())  # one line, whatever the message held
    print(f"hbm: error: {line}", file=sys.stderr)
    return EXIT_USAGE


def _os_error(error: OSError) -> str:
    """An operating-system error (no space, no permission, ...) as a sentence naming the path."""
    if not error.filename:
        return str(error)
    reason = error.strerror or type(error).__name__
    target = f"{str(error.filename)!r}"
    if error.filename2:
        target += f" -> {str(error.filename2)!r}"
    return f"{reason}: {target} (nothing was written)."
