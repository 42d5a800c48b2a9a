"""Time ``hbm.fit`` on a table shifted by a constant, in this (fresh) process.

The values are shifted by ``--shift`` and perturbed by a little noise seeded by it (a pure shift
can be undone bit for bit by hbm's standardization, and then old data would meet a warm cache):
before hbm put the data in shared variables, every new dataset compiled its model afresh; now
only a new model structure does.

    python bench/new_data.py TABLE.csv --shift 17.5 [--se stderr] [--parametrization auto]

Prints one JSON line: the whole ``hbm.fit`` time, its ``sampling_seconds`` (compile + NUTS), the
mean number of gradient evaluations per draw, and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", type=Path)
    parser.add_argument("--shift", type=float, default=0.0, help="added to every value")
    parser.add_argument("--group", default="school")
    parser.add_argument("--value", default="score")
    parser.add_argument("--se", default=None, help="standard-error column (summaries form)")
    parser.add_argument("--parametrization", default="auto")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    start = time.perf_counter()
    import numpy as np
    import pandas as pd

    import hbm

    imported = time.perf_counter() - start
    table = pd.read_csv(args.table)
    rng = np.random.default_rng(abs(hash(args.shift)))
    values = table[args.value].to_numpy(dtype=float)
    table[args.value] = values + args.shift + rng.normal(0, 1e-3 * values.std(), values.size)
    start = time.perf_counter()
    fit = hbm.fit(
        table,
        group=args.group,
        value=args.value,
        se=args.se,
        parametrization=args.parametrization,
        random_seed=args.seed,
        progressbar=False,
    )
    seconds = time.perf_counter() - start
    steps = fit.idata["sample_stats"]["n_steps"].values.mean()
    print(
        json.dumps(
            {
                "table": args.table.name,
                "hbm": str(Path(hbm.__file__).parent.parent),
                "shift": args.shift,
                "parametrization": fit.parametrization,
                "import_seconds": round(imported, 2),
                "fit_seconds": round(seconds, 2),
                "sampling_seconds": fit.run_info["sampling_seconds"],
                "steps_per_draw": round(float(steps), 2),
                "load_average": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


if __name__ == "__main__":
    main()
