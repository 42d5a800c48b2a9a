"""The Dask engine on a real local cluster (two worker processes, started by the test).

Same tolerances as ``tests/test_engines.py``: counts identical, means within 1e-12 of pandas
relative to the group's scale, sums of squares within 1e-9 relative. The workers run hbm's own
two-pass chunk reduction, so the agreement is in fact to rounding (about 1e-15).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from hbm.data.engines import Column, Request, dask_engine, run
from hbm.data.grouped import grouped_data

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local:
        yield local.scheduler_address


def frame(center: float, rows: int = 40_000) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    codes = rng.integers(0, 25, rows)
    values = center + rng.normal(rng.normal(0, 3, 25)[codes], 1.0)
    return pd.DataFrame({"school": [f"s{c:02d}" for c in codes], "score": values})


@pytest.mark.parametrize("center", [0.0, 1e9])
def test_partitions_on_workers_agree_with_pandas(tmp_path, monkeypatch, cluster, center):
    table = frame(center)
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False, float_format="%.17g")
    monkeypatch.setattr(dask_engine, "BLOCK_SIZE", "300KB")  # several partitions
    request = Request(str(path), ("school",), (Column.plain("score"),))
    reduced = run(request, "dask", cluster=cluster)
    assert "partitions on 2 worker(s)" in reduced.detail
    assert int(reduced.detail.split(", ")[1].split()[0]) >= 3  # really partitioned
    reference = grouped_data(pd.read_csv(path), group="school", value="score")
    assert [k[0] for k in reduced.keys] == list(reference.labels)  # first-seen, as pandas
    np.testing.assert_array_equal(reduced.moments.n, reference.n)
    scale = np.maximum(np.abs(reference.mean), np.sqrt(reference.ss / reference.n))
    assert np.max(np.abs(reduced.moments.mean[:, 0] - reference.mean) / scale) < 1e-12
    assert np.max(np.abs(reduced.moments.comoment[:, 0, 0] - reference.ss) / reference.ss) < 1e-9
    again = run(request, "dask", cluster=cluster)  # merged in partition order: same bits
    assert np.array_equal(again.moments.comoment, reduced.moments.comoment)


def test_parquet_glob_on_the_cluster(tmp_path, cluster):
    table = frame(1e6, rows=12_000)
    for i in range(3):
        table.iloc[i * 4_000 : (i + 1) * 4_000].to_parquet(tmp_path / f"p{i}.parquet")
    request = Request(str(tmp_path / "p*.parquet"), ("school",), (Column.plain("score"),))
    reduced = run(request, "dask", cluster=cluster)
    reference = grouped_data(table, group="school", value="score")
    np.testing.assert_array_equal(reduced.moments.n, reference.n)
    np.testing.assert_allclose(reduced.moments.comoment[:, 0, 0], reference.ss, rtol=1e-9)


def test_bad_values_are_named_from_the_workers(tmp_path, cluster):
    path = tmp_path / "bad.csv"
    path.write_text("school,score\na,1\nb,oops\n")
    with pytest.raises(ValueError, match=r"'score' must hold numbers; .* holds 'oops'"):
        run(Request(str(path), ("school",), (Column.plain("score"),)), "dask", cluster=cluster)


def test_an_address_that_does_not_answer_says_so_within_seconds(tmp_path):
    path = tmp_path / "t.csv"
    frame(0.0, rows=100).to_csv(path, index=False)
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"cluster at 'tcp://127.0.0.1:9' did not answer within"):
        run(
            Request(str(path), ("school",), (Column.plain("score"),)),
            "dask",
            cluster="tcp://127.0.0.1:9",
        )
    assert time.perf_counter() - start < 15
