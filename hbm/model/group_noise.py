"""The standard normals behind the exact group draws, made a block of groups at a time.

The marginal form draws every group's effects from their exact Gaussian conditional, once per
posterior draw: ``theta = mean + sd * z`` (:mod:`hbm.model.families.normal_conditional`) or
``u = L^-T (v + z)`` (:mod:`hbm.model.families.normal_cells_conditional`). The standard normals
``z`` form an array of shape ``(S, J, q)``: ``S`` posterior draws (chains one after the other),
``J`` groups, ``q`` terms per group. With a million groups and 4,000 draws that array alone is
32 GB, so it is never made whole. Instead the groups are cut into blocks of
:data:`GROUP_BLOCK` groups, and block ``b`` draws its own ``(S, J_b, q)`` values, in C order,
from a stream of its own:

- block 0 from ``stream(seed, tag)`` (:func:`hbm.core.seeds.stream`): the stream hbm drew the
  whole array from before, so a fit of up to 1,024 groups has the same draws as then, bit for bit;
- block ``b >= 1`` from ``default_rng(SeedSequence([seed, tag, b]))``.

Two ways through the array give the same numbers, bit for bit (numpy's normal generator draws one
value after another, so a block drawn in pieces equals the block drawn at once):

- :meth:`GroupNoise.block` makes all the draws of one block of groups (what a group's redraw, or
  a per-group statistic over draws, needs): ``S x 1,024 x q`` values, 32 MB at 4,000 draws;
- :meth:`GroupNoise.sweep` walks the draws in order, a few at a time, holding one generator per
  block (what a statistic over groups within a draw needs: ranks, predictive checks).

>>> noise = GroupNoise(seed=1, tag=7, n_draws=5, n_groups=3000)
>>> whole = np.concatenate([noise.block(b) for b in range(noise.n_blocks)], axis=1)
>>> swept = np.concatenate([z for _, _, z in noise.sweep(max_values=4000)], axis=0)
>>> bool(np.array_equal(whole, swept)), whole.shape
(True, (5, 3000, 1))
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from hbm.core.seeds import stream

__all__ = ["GROUP_BLOCK", "SWEEP_VALUES", "GroupNoise"]

#: Groups per block of the noise (each block has a stream of its own).
GROUP_BLOCK = 1024
#: Values made per step of a sweep over the draws (2^22 doubles: 32 MB).
SWEEP_VALUES = 1 << 22


@dataclass(frozen=True)
class GroupNoise:
    """The ``(S, J, q)`` standard normals of one fit's exact group draws (see the module
    docstring).

    Attributes
    ----------
    seed, tag : int
        The fit's seed and the stream's tag (theta's or the formula effects').
    n_draws, n_groups, n_terms : int
        ``S`` (chains x draws), ``J`` and ``q``.
    """

    seed: int
    tag: int
    n_draws: int
    n_groups: int
    n_terms: int = 1

    @property
    def n_blocks(self) -> int:
        """Number of blocks of groups."""
        return max(1, -(-self.n_groups // GROUP_BLOCK))

    def groups_of(self, b: int) -> slice:
        """The groups of block ``b``."""
        return slice(b * GROUP_BLOCK, min((b + 1) * GROUP_BLOCK, self.n_groups))

    def block(self, b: int) -> np.ndarray:
        """Every draw of block ``b``'s groups: ``(S, J_b, q)``."""
        part = self.groups_of(b)
        return self._generator(b).standard_normal(
            (self.n_draws, part.stop - part.start, self.n_terms)
        )

    def columns(self, groups: np.ndarray) -> np.ndarray:
        """Every draw of the given groups (indices, in that order): ``(S, len(groups), q)``."""
        groups = np.asarray(groups, dtype=np.int64)
        out = np.empty((self.n_draws, groups.size, self.n_terms))
        blocks = groups // GROUP_BLOCK
        for b in np.unique(blocks):
            where = np.flatnonzero(blocks == b)
            out[:, where] = self.block(int(b))[:, groups[where] - int(b) * GROUP_BLOCK]
        return out

    def sweep(self, *, max_values: int = SWEEP_VALUES) -> Iterator[tuple[int, int, np.ndarray]]:
        """The draws in order, a few at a time: ``(start, stop, z)`` with ``z`` of shape
        ``(stop - start, J, q)``, at most ``max_values`` values (and at least one draw)."""
        generators = [self._generator(b) for b in range(self.n_blocks)]
        per_draw = self.n_groups * self.n_terms
        step = max(1, max_values // max(1, per_draw))
        for start in range(0, self.n_draws, step):
            stop = min(start + step, self.n_draws)
            out = np.empty((stop - start, self.n_groups, self.n_terms))
            for b, generator in enumerate(generators):
                part = self.groups_of(b)
                out[:, part] = generator.standard_normal(
                    (stop - start, part.stop - part.start, self.n_terms)
                )
            yield start, stop, out

    def _generator(self, b: int) -> np.random.Generator:
        if b == 0:
            return stream(self.seed, self.tag)
        return np.random.default_rng(np.random.SeedSequence([self.seed, self.tag, b]))
