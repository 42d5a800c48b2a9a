"""Where the wall time of one formula fit goes, in a fresh process (bench/formula.py's part (a)).

    python bench/formula_split.py                  # warm compile cache (as a second run)
    python bench/formula_split.py --cold           # empty PyTensor/numba cache (a first run)
    python bench/formula_split.py --late-imports   # leave first-use imports inside the fit

Fits ``y ~ x1 + x2 + (1 + x1 | g)`` on bench/formula.py's 300-group table (4 chains x 1000 draws,
1000 tuning steps) with ``hbm.fit`` and prints the seconds spent in each step: formula parsing,
design and cell statistics, model build, PyTensor's log-density graph, rewrite and compile, the
nutpie callbacks, sampling, the conversion of the draws, the exact effect draws, the summary.
Steps are timed by wrapping the functions that do them (nested steps are indented: their time is
part of the step above). Imports are made before the fit, as bench/formula.py makes them
(``--late-imports``: only ``import hbm``, so first-use imports count inside the fit). Results
also go to ``bench/results/formula_split.csv``.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

#: (module, attribute, label, depth): what is timed; ``Class.method`` attributes are methods.
STEPS = (
    ("hbm.workflow.fit_formula", "parse_formula", "formula parsing", 0),
    ("hbm.workflow.fit_formula", "seed_shape", "seed-model check (formulae)", 0),
    ("hbm.workflow.fit_formula", "build_model_data", "design + cell statistics", 0),
    ("hbm.workflow.fit_formula", "resolve_linear_priors", "priors", 0),
    ("hbm.workflow.fit_formula", "build_linear", "model build (PyMC)", 0),
    ("hbm.inference.sampling", "compile_model", "compile for nutpie (all)", 0),
    ("pymc.initial_point", "make_initial_point_fn", "initial-point function", 1),
    ("nutpie.compile_pymc", "_make_functions", "log density + expand functions", 1),
    ("pymc.model.core", "Model.logp", "model.logp() graph", 2),
    ("pytensor.graph", "rewrite_graph", "logp rewrite (canonicalize, stabilize)", 2),
    ("pytensor.tensor", "grad", "gradient graph", 2),
    ("pymc.pytensorf", "compile", "PyTensor compile: rewrites + numba (cache)", 2),
    ("pytensor.link.numba.cache", "compile_numba_function_src", "nutpie callbacks (source)", 1),
    ("hbm.inference.sampling", "sample_compiled", "sampling (nutpie, all)", 0),
    ("nutpie.sample", "_BackgroundSampler.wait", "tuning + draws + conversion", 1),
    ("nutpie.sample", "_arrow_to_arviz", "draws -> ArviZ/xarray", 2),
    ("pymc.backends.arviz", "patch_nutpie_idata", "PyMC's idata patch", 1),
    ("hbm.workflow.fit_formula", "draw_effects_exact", "exact effect draws", 0),
    ("hbm.workflow.fit_formula", "fit_summary", "summary (Rao-Blackwellized effects)", 0),
    ("hbm.workflow.fit_formula", "diagnose", "diagnosis", 0),
    ("hbm.workflow.fit_formula", "run_record", "run record (versions)", 0),
)


def wrap(times: dict[str, float], module: str, attribute: str, label: str) -> None:
    """Add the time of every call of ``module.attribute`` to ``times[label]``."""
    owner: Any = importlib.import_module(module)
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    function = getattr(owner, name)

    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            times[label] = times.get(label, 0.0) + time.perf_counter() - start

    setattr(owner, name, timed)
    if module == "pytensor.tensor" and name == "grad":  # nutpie calls it as pt.grad
        importlib.import_module("pytensor").grad = timed  # type: ignore[attr-defined]


def split_rows(times: dict[str, float]) -> list[dict[str, object]]:
    """One row per step, and after a step's sub-steps its own time outside them ("other")."""
    rows: list[dict[str, object]] = []
    open_steps: list[tuple[str, int, float]] = []  # (label, depth, sum of its sub-steps)

    def close(depth: int) -> None:
        while open_steps and open_steps[-1][1] >= depth:
            label, level, inner = open_steps.pop()
            if inner:
                rest = times.get(label, 0.0) - inner
                rows.append(
                    {"step": f"other ({label})", "seconds": round(rest, 3), "depth": level + 1}
                )

    for _, _, label, depth in STEPS:
        close(depth)
        seconds = times.get(label, 0.0)
        if open_steps:
            parent, level, inner = open_steps[-1]
            open_steps[-1] = (parent, level, inner + seconds)
        rows.append({"step": label, "seconds": round(seconds, 3), "depth": depth})
        open_steps.append((label, depth, 0.0))
    close(0)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", action="store_true", help="an empty compile cache")
    parser.add_argument("--late-imports", action="store_true", help="imports inside the fit")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    if args.cold:
        cache = tempfile.mkdtemp(prefix="hbm-split-cache-")
        os.environ["PYTENSOR_FLAGS"] = f"base_compiledir={cache}"
    import pandas as pd
    from formula import HBM_LATE_IMPORTS, SHARED_LATE_IMPORTS, make_table, preimport
    from runner import machine, write_csv

    table = make_table(300, 20, 80)
    start = time.perf_counter()
    import arviz  # noqa: F401
    import nutpie  # noqa: F401
    import pymc  # noqa: F401

    import hbm

    fit = hbm.fit
    if not args.late_imports:
        preimport(SHARED_LATE_IMPORTS + HBM_LATE_IMPORTS)
    imports = time.perf_counter() - start
    times: dict[str, float] = {}
    for module, attribute, label, _ in STEPS:
        wrap(times, module, attribute, label)
    before = set(sys.modules)
    start = time.perf_counter()
    result = fit(
        table,
        "y ~ x1 + x2 + (1 + x1 | g)",
        draws=1000,
        tune=1000,
        chains=4,
        random_seed=20261201,
        progressbar=False,
    )
    total = time.perf_counter() - start
    late = len(set(sys.modules) - before)
    top = sum(times.get(label, 0.0) for _, _, label, depth in STEPS if depth == 0)
    rows = [{"step": "imports (before the fit)", "seconds": round(imports, 3), "depth": 0}]
    rows += split_rows(times)
    rows.append({"step": "rest of hbm.fit", "seconds": round(total - top, 3), "depth": 0})
    rows.append({"step": "hbm.fit in all", "seconds": round(total, 3), "depth": 0})
    print(f"machine: {machine()}")
    print(f"cache: {'cold' if args.cold else 'warm'}; modules imported inside the fit: {late}")
    print(
        f"posterior beta[Intercept] draw 0: {float(result.idata['posterior']['beta'][0, 0, 0])!r}"
    )
    for row in rows:
        print(f"{row['seconds']:8.3f}  {'  ' * int(row['depth'])}{row['step']}")
    frame = pd.DataFrame(rows).assign(
        cache="cold" if args.cold else "warm", late_imports=args.late_imports
    )
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "formula_split.csv", frame.to_dict("records"), list(frame.columns))


if __name__ == "__main__":
    main()
