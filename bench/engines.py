"""Compare the reduction engines: install size, start-up, time and accuracy against pandas.

    python bench/engines.py --rows 10000000 --out bench/results/engines.csv
    python bench/engines.py --spark-only --data DIR   # run by a Python that has pyspark

Data (seeded, made here): ``--rows`` rows in 10,000 groups as Parquet, scores near 60; and a
cancellation case, 1M rows whose values sit near 1e9 with sd 1 in 1,000 groups. Each engine runs
in its own process (start-up is its own cost): pandas (hbm's reference), DuckDB and Dask (hbm's
engines) and Spark SQL (``local[2]``, running hbm's SQL text from :mod:`hbm.data.engines.sql`
unchanged, with double-quoted identifiers). Spark is not one of hbm's engines: pass
``--spark-python`` with a Python that has ``pyspark`` installed (and a JRE 17) to include it.
Accuracy: the largest relative difference from pandas of a group mean (relative to
``max(|mean|, sd)``) and of a within-group sum of squares; counts must be identical.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GROUPS = 10_000


def make(folder: Path, rows: int) -> dict[str, Path]:
    """The two seeded Parquet files (skipped when present)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    files = {"scores": folder / f"scores_{rows}.parquet", "cancel": folder / "near_1e9.parquet"}
    labels = pa.array([f"S{j + 1:05d}" for j in range(GROUPS)])
    if not files["scores"].exists():
        rng = np.random.default_rng([20261202, rows])
        theta = rng.normal(60, 4, GROUPS)
        tmp = files["scores"].with_suffix(".tmp")
        writer = None
        for start in range(0, rows, 4_000_000):
            size = min(4_000_000, rows - start)
            codes = rng.integers(0, GROUPS, size)
            scores = np.round(rng.normal(theta[codes], 12), 1)
            school = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), labels)
            table = pa.table({"school": school, "score": scores})
            writer = writer or pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table, row_group_size=1_000_000)
        writer.close()  # type: ignore[union-attr]
        tmp.replace(files["scores"])
    if not files["cancel"].exists():
        rng = np.random.default_rng(10**9)
        codes = rng.integers(0, 1_000, 1_000_000)
        values = 1e9 + rng.normal(rng.normal(0, 3, 1_000)[codes], 1.0)
        table = pa.table({"school": labels.take(pa.array(codes)), "score": values})
        pq.write_table(table, files["cancel"], row_group_size=200_000)
    return files


def installed_mb(distributions: list[str]) -> float:
    """Disk size of the installed files of these distributions."""
    total = 0
    for name in distributions:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        for file in dist.files or []:
            path = Path(dist.locate_file(file))
            if path.is_file():
                total += path.stat().st_size
    return total / 2**20


def run_hbm_engine(engine: str, files: dict[str, Path]) -> dict[str, object]:
    """In this process: start-up, reduction times of both files, the moments."""
    from hbm.data.engines import Column, Request, run

    out: dict[str, object] = {"engine": engine}
    start = time.perf_counter()
    if engine == "duckdb":
        import duckdb

        duckdb.connect().execute("SELECT 1").fetchall()
    elif engine == "dask":
        from hbm.data.engines.dask_engine import connect

        client, cluster = connect(None)
        out["cluster"] = cluster.scheduler_address
    out["startup_s"] = time.perf_counter() - start
    for name, path in files.items():
        request = Request(str(path), ("school",), (Column.plain("score"),))
        start = time.perf_counter()
        reduced = run(request, engine, cluster=out.get("cluster"))  # type: ignore[arg-type]
        out[f"{name}_s"] = time.perf_counter() - start
        out[f"{name}_moments"] = {
            "keys": [k[0] for k in reduced.keys],
            "n": reduced.moments.n.tolist(),
            "mean": reduced.moments.mean[:, 0].tolist(),
            "ss": reduced.moments.comoment[:, 0, 0].tolist(),
        }
    if engine == "dask":
        client.close()
        cluster.close()
    return out


def run_spark(files: dict[str, Path]) -> dict[str, object]:
    """Spark SQL, local[2], running hbm's SQL text."""
    from pyspark.sql import SparkSession

    from hbm.data.engines import Column, Request, assemble, sql

    start = time.perf_counter()
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.ansi.doubleQuotedIdentifiers", "true")
        .config("spark.sql.ansi.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    spark.sql("SELECT 1").collect()
    out: dict[str, object] = {"engine": "spark", "startup_s": time.perf_counter() - start}
    for name, path in files.items():
        start = time.perf_counter()
        spark.read.parquet(str(path)).createOrReplaceTempView("src")
        request = Request(str(path), ("school",), (Column.plain("score"),))
        kinds = {"school": "text"}
        shift = [float(v) for v in spark.sql(sql.pilot_sql(request, "src", kinds)).collect()[0]]
        table = spark.sql(sql.moments_sql(request, "src", kinds, shift)).toPandas()
        first = assemble.first_pass(table, 1, shift)
        moments = first.moments
        cells = assemble.to_refine(first, shift)
        if cells.size:
            pilot = spark.createDataFrame(assemble.pilot_table(first, cells, 1))
            pilot.createOrReplaceTempView("hbm_pilot")
            refine = spark.sql(sql.refine_sql(request, "src", kinds, "hbm_pilot")).toPandas()
            moments = assemble.refined(first, cells, refine, 1)
        out[f"{name}_s"] = time.perf_counter() - start
        out[f"{name}_moments"] = {
            "keys": [k[0] for k in first.keys],
            "n": moments.n.tolist(),
            "mean": moments.mean[:, 0].tolist(),
            "ss": moments.comoment[:, 0, 0].tolist(),
        }
    spark.stop()
    return out


def accuracy(result: dict, reference: dict) -> tuple[bool, float, float]:
    where = {k: i for i, k in enumerate(result["keys"])}
    index = np.array([where[k] for k in reference["keys"]])
    n = np.asarray(result["n"])[index]
    mean, ss = np.asarray(result["mean"])[index], np.asarray(result["ss"])[index]
    want_n, want_mean, want_ss = (np.asarray(reference[k]) for k in ("n", "mean", "ss"))
    scale = np.maximum(np.abs(want_mean), np.sqrt(want_ss / want_n))
    return (
        bool(np.array_equal(n, want_n)),
        float(np.max(np.abs(mean - want_mean) / scale)),
        float(np.max(np.abs(ss - want_ss) / want_ss)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--data", type=Path, default=ROOT / "bench" / "data")
    parser.add_argument("--engines", default="pandas,duckdb,dask")
    parser.add_argument("--spark-python", help="a Python with pyspark, to include Spark SQL")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # run one engine, print JSON
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    files = make(args.data, args.rows)
    if args.one:
        result = run_spark(files) if args.one == "spark" else run_hbm_engine(args.one, files)
        print("RESULT " + json.dumps(result))
        return
    results = {}
    runs = [(e, sys.executable) for e in args.engines.split(",")]
    if args.spark_python:
        runs.append(("spark", args.spark_python))
    for engine, python in runs:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        command = [
            python,
            __file__,
            "--one",
            engine,
            "--rows",
            str(args.rows),
            "--data",
            str(args.data),
        ]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(f"{engine}: failed\n{done.stderr[-2000:]}")
            continue
        results[engine] = json.loads(line[7:]) | {"process_s": time.perf_counter() - start}
    sizes = {
        "pandas": installed_mb(["pandas"]),
        "duckdb": installed_mb(["duckdb"]),
        "dask": installed_mb(
            [
                "dask",
                "distributed",
                "toolz",
                "cloudpickle",
                "partd",
                "locket",
                "msgpack",
                "zict",
                "tblib",
                "tornado",
                "sortedcontainers",
                "fsspec",
            ]
        ),
    }
    if args.spark_python:
        probe = (
            "import importlib.metadata as m, pathlib;"
            "print(sum(pathlib.Path(d.locate_file(f)).stat().st_size for n in ('pyspark','py4j') "
            "for d in [m.distribution(n)] for f in d.files or [] "
            "if pathlib.Path(d.locate_file(f)).is_file())/2**20)"
        )
        text = subprocess.run([args.spark_python, "-c", probe], capture_output=True, text=True)
        sizes["spark"] = float(text.stdout.strip() or "nan")
    reference = results["pandas"]
    rows = []
    for engine, result in results.items():
        same, mean_err, ss_err = accuracy(result["cancel_moments"], reference["cancel_moments"])
        same2, mean_err2, ss_err2 = accuracy(result["scores_moments"], reference["scores_moments"])
        rows.append(
            {
                "engine": engine,
                "install_MB": round(sizes.get(engine, float("nan")), 1),
                "startup_s": round(result["startup_s"], 2),
                f"reduce_{args.rows // 10**6}M_rows_s": round(result["scores_s"], 2),
                "process_s": round(result["process_s"], 1),
                "counts_identical": same and same2,
                "max_rel_err_mean": max(mean_err, mean_err2),
                "max_rel_err_ss": max(ss_err, ss_err2),
            }
        )
    import pandas as pd

    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
