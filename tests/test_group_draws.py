"""Exact group draws made again a block at a time: equal bit for bit, however they are reached.

A fit past ``DEFAULTS.group_draws_max_values`` does not hold its group effects' draws; here the
limit is lowered so that a small fit is "large", and the same fit with the limit in force holds
them: the two must give the same draws (all, by block, by sweep, by column, after ``hbm.load``,
in ``fit.predict``), the same summary and the same league, bit for bit.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import hbm
from hbm.cli import main
from hbm.core.defaults import DEFAULTS
from hbm.core.seeds import stream
from hbm.model.design import build_model_data
from hbm.model.families.normal_cells_conditional import EFFECTS_STREAM, draw_effects
from hbm.model.families.normal_cells_draws import (
    draw_effects_exact,
    effects_redraw,
)
from hbm.model.formula import parse_formula
from hbm.model.group_noise import GROUP_BLOCK, GroupNoise
from hbm.results import group_draws as group_draws_module
from hbm.results.group_draws import GROUP_DRAWS_ATTR
from tests.conftest import simulate_rows

FORMULA = parse_formula("y ~ x + (1 + x | g)")
N_GROUPS = 1500  # two blocks of noise: 1,024 + 476 groups
QUICK = {"random_seed": 5, "draws": 60, "tune": 150, "chains": 2, "progressbar": False}


def test_block_zero_is_the_stream_hbm_always_drew_from():
    """Fits of up to 1,024 groups draw exactly what they drew before blocks existed."""
    noise = GroupNoise(seed=9, tag=0x7E7A, n_draws=40, n_groups=700, n_terms=2)
    old = stream(9, 0x7E7A).standard_normal((40, 700, 2))
    assert np.array_equal(noise.block(0), old)
    assert np.array_equal(np.concatenate([z for _, _, z in noise.sweep(max_values=5000)]), old)


def test_blocks_sweeps_and_columns_are_the_same_normals():
    noise = GroupNoise(seed=2, tag=3, n_draws=7, n_groups=2 * GROUP_BLOCK + 5)
    whole = np.concatenate([noise.block(b) for b in range(noise.n_blocks)], axis=1)
    swept = np.concatenate([z for _, _, z in noise.sweep(max_values=3 * GROUP_BLOCK)])
    assert np.array_equal(whole, swept)
    picks = np.array([2 * GROUP_BLOCK + 4, 3, GROUP_BLOCK, 3])
    assert np.array_equal(noise.columns(picks), whole[:, picks])
    # blocks are independent streams, not shifted copies of one
    assert not np.allclose(noise.block(1)[:, :5], noise.block(0)[:, :5])


@pytest.fixture(scope="module")
def pair():
    """The same fit twice: holding its draws (default limit), and not (limit 1,000 values)."""
    table = simulate_rows(sizes=tuple(int(s) for s in np.resize([1, 2, 3], N_GROUPS)), seed=4)
    kwargs = {"group": "group", "value": "y", "parametrization": "marginal", **QUICK}
    held = hbm.fit(table, **kwargs)
    patch = pytest.MonkeyPatch()
    patch.setattr(
        group_draws_module, "DEFAULTS", dataclasses.replace(DEFAULTS, group_draws_max_values=1000)
    )
    try:
        redrawn = hbm.fit(table, **kwargs)
    finally:
        patch.undo()
    return table, held, redrawn


def test_a_large_fit_does_not_hold_its_draws_and_redraws_them_bit_for_bit(pair, tmp_path):
    _, held, redrawn = pair
    assert "theta" in held.idata["posterior"] and "theta" not in redrawn.idata["posterior"]
    assert '"held": false' in redrawn.idata.attrs[GROUP_DRAWS_ATTR]
    reference = held.idata["posterior"]["theta"].values.reshape(-1, N_GROUPS)
    draws = redrawn.result.group_draws()
    assert not draws.held
    assert np.array_equal(draws.all()[:, :, 0], reference)
    for part, values in draws.blocks():
        assert np.array_equal(values[:, :, 0], reference[:, part])
    for start, stop, values in draws.sweep(max_values=7 * N_GROUPS):
        assert np.array_equal(values[:, :, 0], reference[start:stop])
    # after hbm.load (fit.nc has no theta), and by label through the facade
    loaded = hbm.load(redrawn.save(tmp_path / "fit.nc"))
    assert "theta" not in loaded.idata["posterior"]
    labels = [held.result.grouped.labels[j] for j in (1499, 0, 1024, 7)]
    picked = loaded.group_draws(labels)
    assert picked.dims == ("chain", "draw", "group")
    assert np.array_equal(picked.values, held.idata["posterior"]["theta"].sel(group=labels).values)


def test_summary_league_and_predictions_do_not_depend_on_holding_the_draws(pair):
    _, held, redrawn = pair
    pd.testing.assert_frame_equal(held.summary(), redrawn.summary())
    pd.testing.assert_frame_equal(held.shrinkage(), redrawn.shrinkage())
    groups = [held.result.grouped.labels[j] for j in (3, 1400)]
    a = held.predict(groups, new_groups=["new"], random_seed=8)
    b = redrawn.predict(groups, new_groups=["new"], random_seed=8)
    assert np.array_equal(a["predictions"]["y"].values, b["predictions"]["y"].values)
    assert np.array_equal(a["predictions"]["theta"].values, b["predictions"]["theta"].values)


def test_keep_group_draws_writes_them_thinned_or_float32(pair, tmp_path, monkeypatch):
    table, held, _ = pair
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    monkeypatch.setattr(
        group_draws_module, "DEFAULTS", dataclasses.replace(DEFAULTS, group_draws_max_values=1000)
    )
    common = ["fit", str(path), "--group", "group", "--value", "y", "--parametrization"]
    common += ["marginal", "--seed", "5", "--draws", "60", "--tune", "150", "--chains", "2"]
    out = tmp_path / "thin"
    args = ["--keep-group-draws", "--group-draws-thin", "4", "--group-draws-float32"]
    assert main([*common, *args, "--quiet", "--out", str(out)]) == 0
    tree = xr.open_datatree(out / "fit.nc", engine="h5netcdf")
    assert "theta" not in tree["posterior"]
    kept = tree["group_draws"]["theta"]
    assert kept.dtype == np.float32 and kept.shape == (2, 15, N_GROUPS)
    reference = held.idata["posterior"]["theta"].values[:, ::4]
    assert np.array_equal(kept.values, reference.astype(np.float32))
    assert np.array_equal(kept["draw"].values, held.idata["posterior"]["draw"].values[::4])
    # every draw in float64 goes into the posterior; loading reads it (within the real limit)
    out = tmp_path / "all"
    assert main([*common, "--keep-group-draws", "--quiet", "--out", str(out)]) == 0
    monkeypatch.undo()
    loaded = hbm.load(out / "fit.nc")
    assert np.array_equal(
        loaded.idata["posterior"]["theta"].values, held.idata["posterior"]["theta"].values
    )


def test_thinning_without_keeping_is_one_clear_line(tmp_path, capsys):
    args = ["fit", "x.csv", "--group", "g", "--value", "y", "--group-draws-thin", "2"]
    status = main([*args, "--out", str(tmp_path / "o")])
    assert status == 2
    err = capsys.readouterr().err
    assert "--group-draws-thin and --group-draws-float32 need --keep-group-draws" in err
    assert not (tmp_path / "o").exists()


def test_formula_effects_redrawn_by_tile_equal_all_at_once():
    """u_g for 1,100 groups x 2 terms, 150 draws (three tiles of draws, two blocks of groups):
    any tile redrawn equals the whole, bit for bit; and matches main's matrix-product draws
    (the same normals) to rounding."""
    rng = np.random.default_rng(1)
    n_groups, n_draws = 1100, 150
    sizes = rng.integers(1, 4, n_groups)
    g = np.repeat([f"g{j}" for j in range(n_groups)], sizes)
    x = rng.normal(0, 1, g.size)
    frame = pd.DataFrame({"y": 2 + x + rng.normal(0, 1, g.size), "x": x, "g": g})
    data = build_model_data(frame, FORMULA)
    dims = ("chain", "draw")
    posterior = xr.Dataset(
        {
            "beta": ((*dims, "term"), rng.normal([2, 1], 0.1, (1, n_draws, 2))),
            "sd_g": ((*dims, "g_term"), rng.gamma(10, 0.1, (1, n_draws, 2))),
            "corr_g": ((*dims, "g_pair"), rng.uniform(-0.5, 0.5, (1, n_draws, 1))),
            "sigma": (dims, rng.gamma(30, 1 / 30, (1, n_draws))),
        },
        coords={"chain": [0], "draw": np.arange(n_draws)},
    )
    whole = draw_effects_exact(posterior, data, random_seed=4).values[0]
    noise, redraw = effects_redraw(posterior, data, 4, EFFECTS_STREAM)
    for b in range(noise.n_blocks):
        part = noise.groups_of(b)
        assert np.array_equal(redraw(slice(0, n_draws), part, noise.block(b)), whole[:, part])
    picks = np.array([1099, 5, 1024])
    assert np.array_equal(redraw(slice(0, n_draws), picks, noise.columns(picks)), whole[:, picks])
    # up to 1,024 groups the normals are those main drew (one stream); main formed the
    # residuals' cross-products by matrix products, this hbm element by element: rounding apart,
    # the same draws
    few = build_model_data(frame[frame.g.isin([f"g{j}" for j in range(300)])], FORMULA)
    exact = draw_effects_exact(posterior, few, random_seed=4).values
    np.testing.assert_allclose(exact, draw_effects(posterior, few, 4).values, rtol=0, atol=1e-12)
