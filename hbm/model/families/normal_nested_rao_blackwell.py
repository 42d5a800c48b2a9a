"""Rao-Blackwellized moments of nested group effects: each level's exact mixture, top down.

Given ``beta``, ``sigma`` and every level's ``Sigma_l`` (one posterior draw), the pass up
(:mod:`hbm.model.families.normal_nested_algebra`) leaves every group ``g`` of level ``l`` its
conditional given its ancestors' effects ``u_anc`` (its chain's outer part)::

    u_g | u_anc ~ N(D^-1 (t - C u_anc), s2 D^-1)

— the very conditional the exact draws are made from (:mod:`hbm.model.families.
normal_nested_draws`). Going down, outermost first, the Gaussian moments of every group's whole
chain ``(u_anc, u_g)`` given the draw follow from its parent's chain ``(M_p, V_p)``, with
``E = D^-1 C``::

    mean:  (M_p,  D^-1 t - E M_p)
    cov:   [[V_p, -V_p E'], [-E V_p, s2 D^-1 + E V_p E']]

(an outermost group's chain is its own effects: ``D^-1 t`` and ``s2 D^-1``). A group's
reported quantity is a fixed linear map of its chain plus a per-draw offset, ``P chain +
o``: its own effects (``P = [0 I]``, the summary's rows), or its coefficients (its own effects,
those of the same terms of the groups it lies in, and the population coefficient: see
:func:`coefficient_selector`). Its conditional mean and variance per draw are ``P m + o`` and
``diag(P V P')``; averaged over the posterior draws they give, exactly (the law of total
variance), the posterior mean (the average conditional mean) and variance (the average
conditional variance plus the variance of the conditional means), as for one factor
(:mod:`hbm.model.families.normal_rao_blackwell`, whose :class:`GroupMoments` this returns).

*Cost and memory.* The outermost groups are taken :data:`~hbm.model.group_noise.GROUP_BLOCK` at
a time, each block with its whole subtree (subtrees share no rows and no effects), and the draws
a tile at a time, the tiles sized as the exact draws' (:data:`~hbm.model.families.
normal_nested_draws.BLOCK_VALUES` chain entries of the subtree per tile, or one draw where a
block's subtree alone holds more): nothing holds draws x groups. A tile holds the pass up's
arrays (about eight of that size) and the chain moments going down (about four more), plus
seven running sums per group and quantity. Each tile's moments are merged into those sums in
one pass (Chan et al.'s pairwise update of the means, the centred sums of squares and the
co-moment of ``m`` and ``X = v + (m - c)^2``, ``c`` a group's first tile's mean), from which the
spread ``var_s(w)`` of ``w = v + (m - mean)^2`` behind the sd's Monte Carlo error follows
without a second pass:
``var(w) = var(X) - 4 d cov(X, m) + 4 d^2 var(m)``, ``d = mean - c``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from hbm.data.model_data import ModelData
from hbm.data.nesting import Nesting
from hbm.model.families.normal_nested_algebra import Levels
from hbm.model.families.normal_nested_draws import (
    BLOCK_VALUES,
    DRAW_TILE,
    NestedDraws,
    nested_draws,
    subtree,
)
from hbm.model.families.normal_rao_blackwell import GroupMoments
from hbm.model.group_noise import GROUP_BLOCK

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["coefficient_selector", "nested_rao_blackwell", "own_selector"]


def own_selector(nesting: Nesting, level: int) -> np.ndarray:
    """``P`` picking a level-``level`` group's own effects out of its chain: ``(q_l, W_l)``.

    >>> import numpy as np
    >>> from hbm.data.model_data import FactorData
    >>> def f(name, terms):
    ...     return FactorData(name, ("a",), terms, (0,), (terms,), (True,), np.zeros(1, np.int64))
    >>> nesting = Nesting((f("d", ("1", "x")), f("s", ("1",))), (0, 1), ())
    >>> own_selector(nesting, 1)
    array([[0., 0., 1.]])
    """
    qs = [f.n_terms for f in nesting.factors[: level + 1]]
    out = np.zeros((qs[-1], sum(qs)))
    out[:, sum(qs[:-1]) :] = np.eye(qs[-1])
    return out


def coefficient_selector(nesting: Nesting, level: int) -> np.ndarray:
    """``P`` summing, for each of a level-``level`` group's terms, its own effect and the effects
    of the same term of every group it lies in (the chain's entries): ``(q_l, W_l)``.

    >>> import numpy as np
    >>> from hbm.data.model_data import FactorData
    >>> def f(name, terms):
    ...     return FactorData(name, ("a",), terms, (0,), (terms,), (True,), np.zeros(1, np.int64))
    >>> nesting = Nesting((f("d", ("1", "x")), f("s", ("1",))), (0, 1), ())
    >>> coefficient_selector(nesting, 1)
    array([[1., 0., 1.]])
    """
    factors = nesting.factors[: level + 1]
    terms = factors[-1].terms
    out = np.zeros((len(terms), sum(f.n_terms for f in factors)))
    start = 0
    for factor in factors:
        for t, term in enumerate(terms):
            if term in factor.terms:
                out[t, start + factor.terms.index(term)] = 1.0
        start += factor.n_terms
    return out


def nested_rao_blackwell(
    posterior: xr.Dataset,
    data: ModelData,
    nesting: Nesting,
    levels: Sequence[int] | None = None,
    *,
    selectors: Sequence[np.ndarray] | None = None,
    offsets: Sequence[np.ndarray | None] | None = None,
) -> dict[int, GroupMoments]:
    """Rao-Blackwellized moments of every wanted level's groups, arrays ``(J_l, q_l)`` per level.

    Parameters
    ----------
    posterior : xarray.Dataset
        The fit's posterior (user's units): ``beta``, ``sigma``, every level's sds and
        correlations (and the centred intercept where sampled).
    data : ModelData
    nesting : Nesting
    levels : sequence of int, optional
        The levels wanted (outermost is 0); all by default.
    selectors : sequence of ndarray, optional
        Per wanted level, ``P`` ``(r, W_l)``: the quantity is ``P chain`` (by default
        :func:`own_selector`: the group's own effects).
    offsets : sequence of ndarray or None, optional
        Per wanted level, ``(S, r)`` added to every draw's conditional mean (the population
        coefficients, for a group's coefficients), or ``None``.
    """
    wanted = list(range(nesting.depth) if levels is None else levels)
    if not wanted:
        return {}
    chosen = (
        list(selectors) if selectors is not None else [own_selector(nesting, lv) for lv in wanted]
    )
    shifts = list(offsets) if offsets is not None else [None] * len(wanted)
    source = nested_draws(posterior, data, nesting, 0)  # its normals are never made here
    sums = {
        lv: _Sums(nesting.factors[lv].n_groups, p.shape[0])
        for lv, p in zip(wanted, chosen, strict=True)
    }
    deepest = max(wanted)
    n_roots = nesting.factors[0].n_groups
    for first in range(0, n_roots, GROUP_BLOCK):
        roots = np.arange(first, min(first + GROUP_BLOCK, n_roots))
        part, members = subtree(source.levels, 0, roots)
        per_draw = sum(
            len(m) * (part.ancestors_width(lv) + part.qs[lv]) ** 2 for lv, m in members.items()
        )
        tile = int(max(1, min(DRAW_TILE, BLOCK_VALUES // max(per_draw, 1))))
        for start in range(0, source.n_draws, tile):
            draws = slice(start, min(start + tile, source.n_draws))
            chains = _chain_moments(source, part, draws, deepest)
            for lv, p, offset in zip(wanted, chosen, shifts, strict=True):
                m, v = chains[lv].selected(p)
                if offset is not None:
                    m += offset[draws][:, None, :]
                sums[lv].add(members[lv], start, m, v)
    return {lv: sums[lv].moments(source.n_draws) for lv in wanted}


@dataclass(frozen=True, eq=False)
class _Chain:
    """The Gaussian moments of a level's groups' chains given each draw of a tile, in parts:
    the ancestors' mean ``(B, J, A)`` and covariance ``(B, J, A, A)`` (``None`` at the outermost
    level), the own effects' ``(B, J, q)`` and ``(B, J, q, q)``, and ``Cov(own, ancestors)``
    ``(B, J, q, A)``. The whole chain is put together only where a deeper level needs it."""

    anc_mean: np.ndarray | None
    anc_cov: np.ndarray | None
    mean: np.ndarray
    cov: np.ndarray
    cross: np.ndarray | None

    def whole(self) -> tuple[np.ndarray, np.ndarray]:
        """The chain's mean ``(B, J, W)`` and covariance ``(B, J, W, W)``."""
        if self.anc_mean is None or self.anc_cov is None or self.cross is None:
            return self.mean, self.cov
        top = np.concatenate([self.anc_cov, np.swapaxes(self.cross, 2, 3)], axis=3)
        bottom = np.concatenate([self.cross, self.cov], axis=3)
        return (
            np.concatenate([self.anc_mean, self.mean], axis=2),
            np.concatenate([top, bottom], axis=2),
        )

    def selected(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance ``(B, J, r)`` of ``P chain`` for ``P`` ``(r, W)``."""
        q = self.mean.shape[2]
        own = p[:, p.shape[1] - q :]
        m = np.einsum("rq,bjq->bjr", own, self.mean)
        v = np.einsum("rq,bjqs,rs->bjr", own, self.cov, own)
        outer = p[:, : p.shape[1] - q]
        anc_mean, anc_cov, cross = self.anc_mean, self.anc_cov, self.cross
        if outer.any() and anc_mean is not None and anc_cov is not None and cross is not None:
            m += np.einsum("ra,bja->bjr", outer, anc_mean)
            v += np.einsum("ra,bjac,rc->bjr", outer, anc_cov, outer)
            v += 2.0 * np.einsum("rq,bjqa,ra->bjr", own, cross, outer)
        return m, v


def _chain_moments(source: NestedDraws, part: Levels, draws: slice, deepest: int) -> list[_Chain]:
    """Per level down to ``deepest``: every group's chain moments given each draw of the tile
    (see the module docstring)."""
    up, s2 = source.upward_tile(part, draws)
    out: list[_Chain] = []
    scale = s2[:, None, None, None]
    for level in range(deepest + 1):
        dinv, own_t = up.dinv[level], up.t[level]
        x = np.einsum("bjqr,bjr->bjq", dinv, own_t)
        own = scale * dinv
        if level == 0:
            out.append(_Chain(None, None, x, own, None))
            continue
        parents = part.parents[level]
        above_mean, above_cov = out[level - 1].whole()
        # np.take keeps the draws axis outermost in memory (fancy indexing would not: einsum
        # then runs several times slower on the gathered arrays)
        mp, vp = np.take(above_mean, parents, axis=1), np.take(above_cov, parents, axis=1)
        e = np.einsum("bjqr,bjra->bjqa", dinv, up.cmat[level])
        x -= np.einsum("bjqa,bja->bjq", e, mp)
        cross = -np.einsum("bjqa,bjac->bjqc", e, vp)  # Cov(u_g, u_anc)
        own -= np.einsum("bjqc,bjrc->bjqr", cross, e)
        out.append(_Chain(mp, vp, x, own, cross))
    return out


class _Sums:
    """Per group and quantity, running sums over the draws merged a tile at a time (see the
    module docstring): ``c`` the pilot (first tile's mean), and of ``m - c`` and ``X = v + (m -
    c)^2`` the means, centred sums of squares and co-moment; the sum of ``v``."""

    def __init__(self, n_groups: int, width: int) -> None:
        shape = (n_groups, width)
        self.pilot, self.v = np.zeros(shape), np.zeros(shape)
        self.mean_m, self.mean_x = np.zeros(shape), np.zeros(shape)
        self.ss_m, self.ss_x, self.co = np.zeros(shape), np.zeros(shape), np.zeros(shape)

    def add(self, groups: np.ndarray, seen: int, m: np.ndarray, v: np.ndarray) -> None:
        """Merge a tile of ``B`` draws ``m``, ``v`` ``(B, len(groups), r)``, after ``seen``."""
        if seen == 0:
            self.pilot[groups] = m.mean(axis=0)
        d = m - self.pilot[groups]
        x = v + d * d
        n_b = m.shape[0]
        mean_d, mean_x = d.mean(axis=0), x.mean(axis=0)
        d -= mean_d
        x -= mean_x
        total = seen + n_b
        step_d, step_x = mean_d - self.mean_m[groups], mean_x - self.mean_x[groups]
        weight = seen * n_b / total
        self.ss_m[groups] += (d * d).sum(axis=0) + step_d * step_d * weight
        self.ss_x[groups] += (x * x).sum(axis=0) + step_x * step_x * weight
        self.co[groups] += (d * x).sum(axis=0) + step_d * step_x * weight
        self.mean_m[groups] += step_d * (n_b / total)
        self.mean_x[groups] += step_x * (n_b / total)
        self.v[groups] += v.sum(axis=0)

    def moments(self, n_draws: int) -> GroupMoments:
        spread = self.ss_m / n_draws
        shift = self.mean_m
        spread_w = (self.ss_x - 4.0 * shift * self.co + 4.0 * shift * shift * self.ss_m) / n_draws
        return GroupMoments(
            mean=self.pilot + shift,
            variance=self.v / n_draws + spread,
            spread=spread,
            spread_w=np.maximum(spread_w, 0.0),
        )
