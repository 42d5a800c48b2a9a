"""Time and memory of a nested fit's summary, coefficients and level shrinkage, after the fit.

    python bench/nested_summary.py fit FIT.nc        # fit once, save (not timed)
    python bench/nested_summary.py measure FIT.nc    # load, then time and trace each step

The fit is the one of ``tests/test_effects_memory.py``: ``y ~ x + (1 + x | d) + (1 | d:s)``,
20 districts > 25,000 schools of 1 to 3 rows, 2 chains x 250 draws (marginal form; the
schools' draws are past ``DEFAULTS.group_draws_max_values``, so the fit holds only the
districts'). ``measure`` runs each step twice in the same fresh process: once for its wall time
(no tracing), once under ``tracemalloc`` for its peak (numpy's buffers included), and prints one
JSON line. Run it with ``nice -n 19`` on a shared machine and say so.
"""

from __future__ import annotations

import json
import sys
import time
import tracemalloc
from dataclasses import replace

import numpy as np
import pandas as pd


def fit(path: str, n_groups: int = 25_000, draws: int = 250) -> None:
    import hbm

    rng = np.random.default_rng(0)
    district = np.repeat(np.arange(20), n_groups // 20)
    school = np.repeat(np.arange(district.size), rng.integers(1, 4, district.size))
    d = district[school]
    x = rng.normal(0, 1, school.size)
    y = (
        1
        + rng.normal(0, 0.5, 20)[d]
        + rng.normal(0, 0.3, district.size)[school]
        + x
        + rng.normal(0, 1, school.size)
    )
    table = pd.DataFrame(
        {"d": [f"d{j}" for j in d], "s": [f"s{j}" for j in school], "x": x, "y": y}
    )
    result = hbm.fit(
        table,
        formula="y ~ x + (1 + x | d) + (1 | d:s)",
        parametrization="marginal",
        random_seed=1,
        draws=draws,
        tune=150,
        chains=2,
        progressbar=False,
    )
    result.save(path)


def measure(path: str) -> None:
    import hbm
    from hbm.analysis.effects import group_coefficients
    from hbm.analysis.levels import level_shrinkage
    from hbm.results.fit_result import DerivedCache
    from hbm.results.fit_summary import fit_summary

    loaded = hbm.load(path).result
    result = loaded
    steps = {
        "summary": lambda: fit_summary(result.idata, result.data, result.parameters),
        "coefficients": lambda: group_coefficients(result, "d:s"),
        "levels": lambda: level_shrinkage(result, "d:s"),
    }
    out: dict[str, dict[str, float]] = {}
    for name, work in steps.items():
        result = replace(loaded, cache=DerivedCache())  # nothing computed before
        start = time.perf_counter()
        table = work()
        seconds = time.perf_counter() - start
        result = replace(loaded, cache=DerivedCache())
        tracemalloc.start()
        work()
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        out[name] = {"seconds": round(seconds, 2), "peak_mb": round(peak, 1), "rows": len(table)}
    summary = fit_summary(result.idata, result.data, result.parameters)
    out["methods"] = summary.groupby("method").size().to_dict()
    print(json.dumps(out))


if __name__ == "__main__":
    {"fit": fit, "measure": measure}[sys.argv[1]](sys.argv[2])
