"""How much of ``hbm fit`` (CSV to report) the report's figures take, at many groups.

Runs ``hbm fit`` on a seeded table (bench/make_data.py; 10,000 schools, 1.1M rows by default) in
this process, timing each stage: reading and reducing, sampling (with the summary and diagnosis),
the derived tables the report's text needs (league table, pooling comparison, predictive check),
each figure (drawing and PNG), the report text and ``fit.nc``. Prints one table (and writes it
as CSV).

    python bench/report_scale.py --schools 10000 --out bench/results/report_scale.csv

Measure on a quiet machine: the figures' share is what the issue bounds (under a quarter).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_data import write_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", type=Path, default=Path("bench/data"))
    parser.add_argument("--out", type=Path, help="CSV file for the stage timings")
    args = parser.parse_args()
    csv = write_table(args.data / f"schools_{args.schools}.csv", args.schools)

    start = time.perf_counter()
    stages: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        stages[name] = now - since
        return now

    from hbm.analysis.ppc import posterior_predictive
    from hbm.analysis.shrinkage import pooling_comparison, shrinkage_table
    from hbm.data.grouped import grouped_data
    from hbm.data.tables import read_table
    from hbm.inference.config import SampleConfig
    from hbm.reporting import figures as figure_module
    from hbm.reporting.report import render_markdown, render_report
    from hbm.results.io import save_result
    from hbm.workflow.fit import fit_grouped

    t = lap("imports", start)
    data = grouped_data(read_table(csv, group="school"), group="school", value="score")
    t = lap("read and reduce", t)
    result = fit_grouped(data, config=SampleConfig(random_seed=args.seed, progressbar=False))
    result.summary()
    t = lap("sample, summary, diagnosis", t)
    # The report's tables need these whether or not any figure is drawn: timed on their own.
    shrinkage_table(result), pooling_comparison(result)
    check = posterior_predictive(result)
    check.statistics(), check.outside("mean")  # the report's check table and its text
    t = lap("derived tables (league, pooling, check)", t)
    pngs = {}
    for key, (plot, kwargs) in figure_module.FIGURES.items():
        pngs[key] = figure_module.figure_png(plot(result, **kwargs))
        t = lap(f"figure {key}", t)
    render_report(result, figures=pngs)
    render_markdown(result)
    t = lap("report text", t)
    with tempfile.TemporaryDirectory() as folder:
        result.summary().to_csv(Path(folder) / "summary.csv", index=False)
        shrinkage_table(result).to_csv(Path(folder) / "groups.csv")
        t = lap("summary.csv, groups.csv", t)
        save_result(result, Path(folder) / "fit.nc")
    t = lap("fit.nc", t)
    total = t - start
    figures = sum(v for k, v in stages.items() if k.startswith("figure "))
    rows = [(k, v) for k, v in stages.items()] + [("all figures", figures), ("total", total)]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v:7.2f} s")
    print(f"figures' share of the run: {figures / total:.1%}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        text = "stage,seconds\n" + "".join(f"{k},{v:.3f}\n" for k, v in rows)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
