"""Nested group effects drawn exactly, one block of one level's groups at a time.

Given ``beta``, ``sigma`` and every level's ``Sigma_l``, a group ``g`` of level ``l`` of a chain
of nested factors (districts > schools > classes) has the exact conditional
(:mod:`hbm.model.families.normal_nested_algebra`)::

    u_g | u_ancestors ~ N(D_g^-1 (t_g - C_g u_ancestors), s2 D_g^-1)

where ``D_g``, ``C_g`` and ``t_g`` come from the pass up **over g's own subtree only** (its rows
and its descendants' messages), and ``u_ancestors`` are the draws of its parent, grandparent, ...
made the same way. That fixes the blocking:

- the standard normals of level ``l`` are a :class:`~hbm.model.group_noise.GroupNoise` of their
  own (tag ``NESTED_STREAM + l``): blocks of 1,024 of that level's groups, a stream per block;
- a block ``G`` of level ``l`` is drawn (for all or some draws) by (1) drawing its groups'
  parents first, the same way, recursively up to the outermost level (or reading them where the
  fit holds that level's draws), so each group conditions on the very draws its ancestors have
  everywhere else; (2) the pass up over the subtree of ``G`` alone, a tile of draws at a time;
  (3) ``u = L^-T (L^-1 (t - C u_anc) + sqrt(s2) z)`` with ``G``'s normals.

Every step is per group and per draw (elementwise, or reductions over a group's own chain
entries and its own children in their order), so a group's draw does not depend on which block,
set of columns or tile of draws it was computed in: the draws a fit holds (made this way, level
by level) equal any block drawn again later, bit for bit. Memory is that of one tile: at most
``BLOCK_VALUES`` chain entries of the subtree per tile of draws, plus the block's draws and
normals; a request spanning several blocks of normals is made one block at a time (so a sweep
over a level's draws, a few draws of every group, makes each block's normals once per step).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.core.names import BETA, INTERCEPT, SIGMA
from hbm.data.model_data import ModelData
from hbm.data.nesting import Nesting
from hbm.model.families.effect_array import effect_array
from hbm.model.families.normal_cells_conditional import covariance_draws
from hbm.model.families.normal_nested import nested_statistics
from hbm.model.families.normal_nested_algebra import (
    Levels,
    Upward,
    solve_lower,
    solve_lower_transposed,
    upward,
)
from hbm.model.families.normal_nested_conditional import coefficients_of
from hbm.model.group_noise import GROUP_BLOCK, GroupNoise
from hbm.model.linear_terms import CENTRED

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "NESTED_STREAM",
    "NestedDraws",
    "draw_held_levels",
    "nested_draws",
    "nested_redraw",
    "subtree",
]

#: Level ``l``'s normals come from the streams of tag ``NESTED_STREAM + l``.
NESTED_STREAM = 0x5EF0
#: Chain entries (draws x subtree groups x chain^2) per tile of the pass up, at most (the pass
#: holds about eight arrays of that size: 32 MB).
BLOCK_VALUES = 500_000
#: Draws per tile, at most.
DRAW_TILE = 64


@dataclass(eq=False)
class NestedDraws:
    """What drawing any block of any level needs: the statistics, the sampled parameters per
    draw, the normals per level, and the draws of the levels held (``held[l]``: ``(S, J_l, q_l)``
    or absent)."""

    nesting: Nesting
    levels: Levels
    stats: dict[str, Any] = field(repr=False)
    beta: np.ndarray = field(repr=False)
    sigma: np.ndarray = field(repr=False)
    centred: np.ndarray | None = field(repr=False)
    covariances: list[np.ndarray] = field(repr=False)
    noise: list[GroupNoise] = field(repr=False)
    intercept: int | None = None
    held: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def n_draws(self) -> int:
        return len(self.sigma)

    def level_of(self, name: str) -> int:
        return self.nesting.names.index(name)

    def upward_tile(self, part: Levels, draws: slice, top: int = 0) -> tuple[Upward, np.ndarray]:
        """The pass up over ``part`` (levels ``top`` and below) given the draws ``draws`` of the
        sampled parameters, and those draws' residual variance ``sigma^2`` ``(B,)``."""
        a = coefficients_of(
            self.stats,
            self.beta.shape[1],
            self.intercept,
            self.beta[draws],
            None if self.centred is None else self.centred[draws],
        )
        s2 = self.sigma[draws] ** 2
        lams = [np.linalg.inv(c[draws]) for c in self.covariances]
        return upward(part, a, s2, lams, top=top), s2

    def draws(self, level: int, groups: np.ndarray, draws: slice) -> np.ndarray:
        """Draws ``draws`` of level ``level``'s ``groups`` (sorted, unique indices):
        ``(d, len(groups), q_l)``."""
        index = np.asarray(groups, dtype=np.int64)
        blocks = index // GROUP_BLOCK
        if blocks.size and blocks[0] != blocks[-1]:  # one block of normals at a time
            cuts = np.flatnonzero(np.diff(blocks)) + 1
            return np.concatenate(
                [self.draws(level, part, draws) for part in np.split(index, cuts)], axis=1
            )
        return self._chain(level, index, draws)[:, :, -self._q(level) :]

    def _q(self, level: int) -> int:
        return self.levels.qs[level]

    def _chain(self, level: int, groups: np.ndarray, draws: slice) -> np.ndarray:
        """The draws of ``groups`` and of all their ancestors, outermost first:
        ``(d, len(groups), q_0 + ... + q_l)``."""
        start, stop, _ = draws.indices(self.n_draws)
        anc = None
        if level:
            parents = self.levels.parents[level][groups]
            unique = np.unique(parents)
            above = self._chain(level - 1, unique, draws)
            anc = above[:, np.searchsorted(unique, parents)]
        if level in self.held:
            own = self.held[level][start:stop][:, groups]
        else:
            own = self._own(level, groups, slice(start, stop), anc)
        return own if anc is None else np.concatenate([anc, own], axis=2)

    def _own(
        self, level: int, groups: np.ndarray, draws: slice, anc: np.ndarray | None
    ) -> np.ndarray:
        start, stop = draws.start, draws.stop
        z = self.noise[level].columns(groups)[start:stop]
        part, members = self._subtree(level, groups)
        per_draw = sum(
            len(m) * (self.levels.ancestors_width(lv) + self._q(lv)) ** 2
            for lv, m in members.items()
        )
        tile = int(max(1, min(DRAW_TILE, BLOCK_VALUES // max(per_draw, 1))))
        out = np.empty((stop - start, len(groups), self._q(level)))
        for first in range(start, stop, tile):
            last = min(first + tile, stop)
            t = slice(first, last)
            up, s2 = self.upward_tile(part, t, top=level)
            chol, rhs = up.chol[0], up.t[0]
            if anc is not None:
                here = anc[first - start : last - start]
                rhs = rhs - np.einsum("bjqa,bja->bjq", up.cmat[0], here)
            scale = np.sqrt(s2)[:, None, None]
            y = solve_lower(chol, rhs) + scale * z[first - start : last - start]
            out[first - start : last - start] = solve_lower_transposed(chol, y)
        return out

    def _subtree(self, level: int, groups: np.ndarray) -> tuple[Levels, dict[int, np.ndarray]]:
        return subtree(self.levels, level, groups)


def subtree(levels: Levels, level: int, groups: np.ndarray) -> tuple[Levels, dict[int, np.ndarray]]:
    """The levels' statistics restricted to ``groups`` of ``level`` and their descendants
    (parents re-indexed into the restricted level above), and the groups kept per level."""
    members = {level: groups}
    zw, ztz, cross = list(levels.zw), list(levels.ztz), list(levels.cross)
    parents = list(levels.parents)
    for lv in range(level, levels.depth):
        if lv > level:
            above = members[lv - 1]
            inside = np.flatnonzero(np.isin(levels.parents[lv], above))
            members[lv] = inside
            parents[lv] = np.searchsorted(above, levels.parents[lv][inside])
        index = members[lv]
        zw[lv], ztz[lv], cross[lv] = (
            levels.zw[lv][index],
            levels.ztz[lv][index],
            levels.cross[lv][index],
        )
    return replace(levels, zw=zw, ztz=ztz, cross=cross, parents=parents), members


def nested_draws(
    posterior: xr.Dataset,
    data: ModelData,
    nesting: Nesting,
    random_seed: int,
    held: dict[int, np.ndarray] | None = None,
) -> NestedDraws:
    """The :class:`NestedDraws` of a fit's posterior (user's units) and reduced data."""
    p = len(data.population)
    intercept = data.population.index(INTERCEPT) if INTERCEPT in data.population else None
    centred = None
    if CENTRED in posterior and intercept is not None:
        centred = np.asarray(posterior[CENTRED].values, dtype=float).reshape(-1, p)[:, intercept]
    sigma = np.asarray(posterior[SIGMA].values, dtype=float).reshape(-1)
    stats = nested_statistics(data, nesting)
    return NestedDraws(
        nesting=nesting,
        levels=stats["levels"],
        stats=stats,
        beta=np.asarray(posterior[BETA].values, dtype=float).reshape(-1, p),
        sigma=sigma,
        centred=centred,
        covariances=[covariance_draws(posterior, f) for f in nesting.factors],
        noise=[
            GroupNoise(int(random_seed), NESTED_STREAM + lv, len(sigma), f.n_groups, f.n_terms)
            for lv, f in enumerate(nesting.factors)
        ],
        intercept=intercept,
        held=dict(held or {}),
    )


class _Unused(GroupNoise):
    """The shape of a level's normals without making them: :class:`NestedDraws` draws its own
    (a group's normals with its ancestors'), so the generic blocks need only the shapes."""

    def block(self, b: int) -> np.ndarray:
        part = self.groups_of(b)
        return np.empty((0, part.stop - part.start, self.n_terms))

    def columns(self, groups: np.ndarray) -> np.ndarray:
        return np.empty((0, np.asarray(groups).size, self.n_terms))

    def sweep(self, *, max_values: int = 1 << 22) -> Any:
        step = max(1, max_values // max(1, self.n_groups * self.n_terms))
        for start in range(0, self.n_draws, step):
            stop = min(start + step, self.n_draws)
            yield start, stop, np.empty((0, self.n_groups, self.n_terms))


def nested_redraw(
    posterior: xr.Dataset, data: ModelData, factor: str, seed: int, tag: int
) -> tuple[GroupNoise, Any]:
    """The noise shape and the redraw function of one nested factor's effects (see
    :func:`hbm.results.group_draws.group_draws`); levels the posterior holds are read, not
    drawn, when a deeper level needs its ancestors."""
    from hbm.core.names import effect_name, term_dim
    from hbm.data.nesting import nesting_of

    if tag != NESTED_STREAM:
        raise ValueError(
            f"The nested effects were drawn from stream {tag:#x}; this hbm draws them from "
            f"{NESTED_STREAM:#x}."
        )
    nesting = nesting_of(data)
    if nesting is None:  # pragma: no cover - a nested marginal fit's factors form a chain
        raise ValueError("The fit's grouping factors are not nested; its effects are not redrawn.")
    held = {}
    for lv, f in enumerate(nesting.factors):
        name = effect_name(f.name)
        if name in posterior:
            array = posterior[name].transpose("chain", "draw", f.name, term_dim(f.name))
            held[lv] = np.asarray(array.values, dtype=float).reshape(-1, f.n_groups, f.n_terms)
    source = nested_draws(posterior, data, nesting, seed, held)
    level = source.level_of(factor)
    every = np.arange(nesting.factors[level].n_groups)

    def redraw(draws: slice, groups: slice | np.ndarray, z: np.ndarray) -> np.ndarray:
        index = every[groups] if isinstance(groups, slice) else np.asarray(groups, np.int64)
        unique, inverse = np.unique(index, return_inverse=True)
        values = source.draws(level, unique, draws)
        return (
            values
            if unique.size == index.size and (unique == index).all()
            else (values[:, inverse.reshape(-1)])
        )

    f = nesting.factors[level]
    return _Unused(seed, tag, source.n_draws, f.n_groups, f.n_terms), redraw


def draw_held_levels(
    posterior: xr.Dataset, data: ModelData, nesting: Nesting, random_seed: int, held: list[bool]
) -> list[xr.DataArray]:
    """The draws of the levels a new fit holds (``held[l]``), outermost first, one DataArray
    each, made the way any block is drawn again (bit for bit the same)."""
    source = nested_draws(posterior, data, nesting, random_seed)
    out = []
    for lv, factor in enumerate(nesting.factors):
        if not held[lv]:
            continue
        values = np.empty((source.n_draws, factor.n_groups, factor.n_terms))
        for first in range(0, factor.n_groups, GROUP_BLOCK):
            block = np.arange(first, min(first + GROUP_BLOCK, factor.n_groups))
            values[:, block] = source.draws(lv, block, slice(None))
        source.held[lv] = values
        out.append(effect_array(values, posterior, factor))
    return out
