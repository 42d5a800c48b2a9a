"""Nested levels' exact draws made again a block of groups at a time, and LOO-PIT in blocks.

A nested marginal fit past ``DEFAULTS.group_draws_max_values`` holds no level's draws; here the
limit is lowered to 1,000 values so that a small fit (8 districts, ~1,200 schools: two blocks of
the inner level) is "large", and the same fit with the limit in force holds every level. Every
level's draws (all, by block, by column, after ``hbm.load``), the summary and the coefficients'
tables must be equal bit for bit: each group is drawn given its ancestors' draws and the pass up
over its own subtree, whatever block, column set or tile of draws it is made in.

LOO-PIT of groups past ``DEFAULTS.loo_max_values`` makes each block of groups' log likelihood
when it is used: it must equal the values from the whole array, bit for bit (PSIS and the PIT are
per unit, the replicates come from one stream in the same order).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import hbm
from hbm.analysis import log_likelihood as log_likelihood_module
from hbm.analysis import loo_blocks as loo_blocks_module
from hbm.analysis import loo_pit as loo_pit_module
from hbm.analysis.effects import group_coefficients
from hbm.analysis.loo_pit import loo_pit
from hbm.core.defaults import DEFAULTS
from hbm.model.families import normal_nested_draws
from hbm.results import group_draws as group_draws_module
from tests.conftest import simulate_rows

QUICK = {"random_seed": 5, "draws": 60, "tune": 150, "chains": 2, "progressbar": False}
FORMULA = "y ~ x + (1 + x | d) + (1 | d:s)"


def nested_table() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for d in range(8):
        shift = rng.normal(0, 1)
        for s in range(int(rng.integers(100, 200))):
            school = rng.normal(0, 0.5)
            for _ in range(int(rng.integers(1, 4))):
                x = rng.normal(1.0, 1.0)
                rows.append((f"d{d}", f"s{s}", x, 4 + shift + school + x + rng.normal()))
    return pd.DataFrame(rows, columns=["d", "s", "x", "y"])


def _lowered(**limits: int) -> pytest.MonkeyPatch:
    patch = pytest.MonkeyPatch()
    lowered = dataclasses.replace(DEFAULTS, **limits)
    for module in (group_draws_module, log_likelihood_module, loo_blocks_module):
        patch.setattr(module, "DEFAULTS", lowered)
    return patch


@pytest.fixture(scope="module")
def nested_pair():
    table = nested_table()
    kwargs = {"formula": FORMULA, "parametrization": "marginal", **QUICK}
    held = hbm.fit(table, **kwargs)
    patch = _lowered(group_draws_max_values=1000)
    try:
        redrawn = hbm.fit(table, **kwargs)
    finally:
        patch.undo()
    return held, redrawn


def test_nested_levels_are_redrawn_bit_for_bit(nested_pair, tmp_path):
    held, redrawn = nested_pair
    for name in ("u_d", "u_d:s"):
        assert name in held.idata["posterior"] and name not in redrawn.idata["posterior"]
    loaded = hbm.load(redrawn.save(tmp_path / "fit.nc"))
    for factor in ("d", "d:s"):
        reference = held.result.group_draws(factor)
        assert reference.held
        whole = reference.all()
        draws = redrawn.result.group_draws(factor)
        assert not draws.held
        assert np.array_equal(draws.all(), whole)
        for part, values in draws.blocks():
            assert np.array_equal(values, whole[:, part])
        picks = np.array([draws.n_groups - 1, 0, draws.n_groups // 2, 3])
        assert np.array_equal(draws.columns(picks), whole[:, picks])
        for start, stop, values in draws.sweep(max_values=7 * draws.n_groups):
            assert np.array_equal(values, whole[start:stop])
        assert np.array_equal(loaded.result.group_draws(factor).columns(picks), whole[:, picks])


def test_tiles_of_draws_do_not_change_a_nested_draw(nested_pair, monkeypatch):
    """A tile of one draw (the smallest) gives the same values as tiles of 64."""
    held, _ = nested_pair
    whole = held.result.group_draws("d:s").all()
    monkeypatch.setattr(
        group_draws_module, "DEFAULTS", dataclasses.replace(DEFAULTS, group_draws_max_values=1000)
    )
    monkeypatch.setattr(normal_nested_draws, "BLOCK_VALUES", 10)
    fresh = hbm.fit(nested_table(), formula=FORMULA, parametrization="marginal", **QUICK)
    picks = np.arange(0, whole.shape[1], 97)
    assert np.array_equal(fresh.result.group_draws("d:s").columns(picks), whole[:, picks])


def test_nested_summary_and_coefficients_blockwise_equal_held(nested_pair):
    held, redrawn = nested_pair
    pd.testing.assert_frame_equal(held.summary(), redrawn.summary())
    for factor in ("d", "d:s"):
        pd.testing.assert_frame_equal(
            group_coefficients(held.result, factor), group_coefficients(redrawn.result, factor)
        )


def test_loo_pit_of_groups_in_blocks_equals_the_whole_array(monkeypatch):
    """Same fit, same ``r_eff``: the blocks' PIT values equal those from the whole array."""
    table = simulate_rows(sizes=tuple(int(s) for s in np.resize([2, 3, 4], 300)), seed=4)
    patch = _lowered(loo_max_values=5000, group_draws_max_values=1000)
    try:
        fit = hbm.fit(table, group="group", value="y", **QUICK)
        result = fit.result
        assert "log_likelihood" not in fit.idata.children
        assert loo_blocks_module.needs_blocks(result)
        reference = loo_pit_module.loo(result, "groups")
        monkeypatch.setattr(loo_pit_module, "loo", lambda *_: reference)
        blocked = loo_pit_module._loo_pit(result, "groups").values
        monkeypatch.setattr(loo_pit_module, "needs_blocks", lambda _: False)
        whole = loo_pit_module._loo_pit(result, "groups").values
    finally:
        patch.undo()
    assert np.array_equal(blocked, whole)


def test_loo_pit_of_rows_reads_redrawn_effects():
    """Rows' LOO-PIT of a varying-slopes fit that does not hold ``u_group`` equals that of one
    that does (the rows' groups' effects are made again for the draws used, bit for bit)."""
    rng = np.random.default_rng(6)
    table = simulate_rows(sizes=tuple(int(s) for s in np.resize([2, 3], 400)), seed=6)
    table["x"] = rng.normal(0, 1, len(table))
    table["y"] = table["y"] + 0.5 * table["x"]
    kwargs = {"formula": "y ~ x + (1 + x | group)", "parametrization": "marginal", **QUICK}
    fit = hbm.fit(table, **kwargs)
    whole = loo_pit(fit, "rows").values
    patch = _lowered(group_draws_max_values=1000)
    try:
        redrawn = hbm.fit(table, **kwargs)
        assert "u_group" not in redrawn.idata["posterior"]
        values = loo_pit(redrawn, "rows").values
    finally:
        patch.undo()
    assert np.array_equal(values, whole)


def test_keep_group_draws_writes_every_nested_level(nested_pair, tmp_path):
    """``keep_group_draws`` writes each level's draws (thinned float32, or all in float64
    into the posterior, beside ``sd_<g>``'s term dimension): those the held fit drew."""
    import xarray as xr

    held, redrawn = nested_pair
    thin, full = tmp_path / "thin.nc", tmp_path / "full.nc"
    patch = _lowered(group_draws_max_values=1000)
    try:
        redrawn.save(thin, keep_group_draws=True, group_draws_thin=3, group_draws_dtype="float32")
        redrawn.save(full, keep_group_draws=True)
    finally:
        patch.undo()
    with xr.open_datatree(thin, engine="h5netcdf") as tree:
        for name in ("u_d", "u_d:s"):
            reference = held.idata["posterior"][name].values[:, ::3].astype(np.float32)
            assert np.array_equal(tree["group_draws"][name].values, reference)
    with xr.open_datatree(full, engine="h5netcdf") as tree:
        for name in ("u_d", "u_d:s"):
            values = tree["posterior"][name].values
            assert np.array_equal(values, held.idata["posterior"][name].values)
