"""A fit's group-effect draws, held in memory or drawn again exactly, a block at a time.

In the marginal form the group effects (``theta``, or a formula model's ``u_<g>``) are not
sampled: they are drawn from their exact conditional given each posterior draw of the
hyperparameters, with standard normals from streams derived from the fit's seed
(:mod:`hbm.model.group_noise`). That makes them cheap to draw *again*, bit for bit, for any block
of groups or any run of draws, so a fit need not hold (nor a file store) ``draws x groups x
terms`` values:

- up to ``DEFAULTS.group_draws_max_values`` values (10 million, 80 MB: 2,500 groups at 4,000
  draws) a new fit holds them in its posterior, as before, and ``fit.nc`` stores them;
- beyond that they are left out of the posterior (and of ``fit.nc``, unless asked for with
  ``--keep-group-draws``); whatever needs them (quantiles, ranks, predictive checks,
  predictions) asks a :class:`GroupDraws` for one block at a time: all draws of
  :data:`~hbm.model.group_noise.GROUP_BLOCK` groups (:meth:`GroupDraws.blocks`), or a few draws
  of every group (:meth:`GroupDraws.sweep`; at most ``SWEEP_VALUES`` values, 32 MB, per step).

The fit's DataTree records how its draws were made in the attribute ``hbm_group_draws`` (JSON:
layout, block size, stream tag, seed, and whether the posterior holds them), so a loaded fit
draws them again exactly. Draws sampled by NUTS (centered and non-centered fits) cannot be
redrawn: they always stay in the posterior.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.core.defaults import DEFAULTS
from hbm.core.names import effect_name
from hbm.data.grouped import GroupedData
from hbm.model.families.normal_conditional import (
    THETA_STREAM,
    group_means_from_noise,
    theta_noise,
)
from hbm.model.group_noise import GROUP_BLOCK, SWEEP_VALUES, GroupNoise

if TYPE_CHECKING:
    import xarray as xr

    from hbm.data.model_data import ModelData
    from hbm.model.parameters import ParameterTable

__all__ = [
    "GROUP_DRAWS_ATTR",
    "LAYOUT",
    "GroupDraws",
    "draw_record",
    "group_draws",
    "holds_group_draws",
    "role_values",
]

#: The DataTree attribute that says how the group draws were made.
GROUP_DRAWS_ATTR = "hbm_group_draws"
#: The noise layout of :mod:`hbm.model.group_noise` (blocks of 1,024 groups, a stream each).
LAYOUT = "group-blocks/1"

Redraw = Callable[[slice, "slice | np.ndarray", np.ndarray], np.ndarray]


def holds_group_draws(n_draws: int, n_groups: int, n_terms: int = 1) -> bool:
    """Whether a new fit keeps these group draws in its posterior (see the module docstring)."""
    return n_draws * n_groups * n_terms <= DEFAULTS.group_draws_max_values


def draw_record(random_seed: int, tag: int, held: bool) -> str:
    """The ``hbm_group_draws`` attribute of a fit whose group effects are drawn exactly."""
    record = {"layout": LAYOUT, "block": GROUP_BLOCK, "tag": int(tag), "seed": int(random_seed)}
    return json.dumps({**record, "held": bool(held)}, sort_keys=True)


@dataclass(frozen=True, eq=False)
class GroupDraws:
    """The draws of one fit's group effects, ``(S, J, q)`` (``S`` = chains x draws).

    Attributes
    ----------
    name : str
        The parameter (``theta``, ``u_<g>``).
    group : str
        The group dimension.
    labels : tuple of str
        Group labels, in the data's order.
    terms : tuple of str or None
        A formula model's terms (the trailing dimension), ``None`` for the seed's model.
    n_chains, n_per_chain : int
    exact : bool
        Drawn from the exact conditional (and so redrawable), rather than sampled.
    """

    name: str
    group: str
    labels: tuple[str, ...]
    terms: tuple[str, ...] | None
    n_chains: int
    n_per_chain: int
    exact: bool
    _held: np.ndarray | None = None
    _noise: GroupNoise | None = None
    _redraw: Redraw | None = None

    @property
    def n_draws(self) -> int:
        return self.n_chains * self.n_per_chain

    @property
    def n_groups(self) -> int:
        return len(self.labels)

    @property
    def n_terms(self) -> int:
        return 1 if self.terms is None else len(self.terms)

    @property
    def held(self) -> bool:
        """Whether the draws are in memory (else each block is drawn again when asked for)."""
        return self._held is not None

    @property
    def n_values(self) -> int:
        return self.n_draws * self.n_groups * self.n_terms

    def sweep(self, *, max_values: int = SWEEP_VALUES) -> Iterator[tuple[int, int, np.ndarray]]:
        """Every group's draws, a few draws at a time: ``(start, stop, values)`` with values of
        shape ``(stop - start, J, q)`` (at most ``max_values`` values, at least one draw)."""
        if self._held is not None:
            step = max(1, max_values // max(1, self.n_groups * self.n_terms))
            for start in range(0, self.n_draws, step):
                stop = min(start + step, self.n_draws)
                yield start, stop, self._held[start:stop]
            return
        noise, redraw = self._parts()
        everything = slice(None)
        for start, stop, z in noise.sweep(max_values=max_values):
            yield start, stop, redraw(slice(start, stop), everything, z)

    def blocks(self) -> Iterator[tuple[slice, np.ndarray]]:
        """All draws of a block of groups at a time: ``(groups, values)`` with values of shape
        ``(S, J_b, q)``, blocks of :data:`~hbm.model.group_noise.GROUP_BLOCK` groups in order."""
        every = slice(0, self.n_draws)
        for b in range(max(1, -(-self.n_groups // GROUP_BLOCK))):
            part = slice(b * GROUP_BLOCK, min((b + 1) * GROUP_BLOCK, self.n_groups))
            if self._held is not None:
                yield part, self._held[:, part]
            else:
                noise, redraw = self._parts()
                yield part, redraw(every, part, noise.block(b))

    def columns(self, groups: Any) -> np.ndarray:
        """All draws of the given groups (indices), ``(S, len(groups), q)``."""
        index = np.asarray(groups, dtype=np.int64).reshape(-1)
        if self._held is not None:
            return np.asarray(self._held[:, index])
        noise, redraw = self._parts()
        return redraw(slice(0, self.n_draws), index, noise.columns(index))

    def picked(self, groups: Any, draws: Any) -> np.ndarray:
        """The draws ``draws`` (indices into the ``S``) of ``groups`` (indices):
        ``(len(draws), len(groups), q)``, made a block of 1,024 groups at a time (so only the
        picked values and one block's draws are ever held)."""
        index = np.asarray(groups, dtype=np.int64).reshape(-1)
        rows = np.asarray(draws, dtype=np.int64).reshape(-1)
        out = np.empty((rows.size, index.size, self.n_terms))
        for first in range(0, index.size, GROUP_BLOCK):
            part = slice(first, first + GROUP_BLOCK)
            out[:, part] = self.columns(index[part])[rows]
        return out

    def all(self, *, limit: int | None = None) -> np.ndarray:
        """Every draw, ``(S, J, q)``; a ValueError past ``limit`` values (by default
        ``DEFAULTS.group_draws_max_values``), naming what to use instead."""
        if self._held is not None:
            return self._held
        most = DEFAULTS.group_draws_max_values if limit is None else limit
        if self.n_values > most:
            raise ValueError(
                f"{self.name} has {self.n_draws:,} draws x {self.n_groups:,} groups"
                + (f" x {self.n_terms} terms" if self.terms is not None else "")
                + f" = {self.n_values * 8 / 1e9:.1f} GB of draws, more than the "
                f"{most:,} values hbm holds at once. Ask for some groups "
                "(fit.group_draws(groups=[...])) or use its blocks (hbm.results.group_draws)."
            )
        out = np.empty((self.n_draws, self.n_groups, self.n_terms))
        for part, values in self.blocks():
            out[:, part] = values
        return out

    def _parts(self) -> tuple[GroupNoise, Redraw]:
        if self._noise is None or self._redraw is None:  # pragma: no cover - built with both
            raise ValueError(f"{self.name}'s draws are neither held nor redrawable.")
        return self._noise, self._redraw


def group_draws(
    idata: xr.DataTree,
    data: GroupedData | ModelData,
    parameters: ParameterTable,
    factor: str | None = None,
) -> GroupDraws:
    """The :class:`GroupDraws` of a fit (its DataTree, reduced data and parameter table); with
    nested factors, those of ``factor`` (by default the first in the formula).

    Raises
    ------
    ValueError
        If the posterior lacks the group effects and the fit records no way to redraw them.
    """
    posterior = idata["posterior"]
    n_chains, n_per_chain = int(posterior.sizes["chain"]), int(posterior.sizes["draw"])
    record = _record(idata)
    if isinstance(data, GroupedData):
        effect = parameters.one("group_effect")
        group, labels, terms = data.group, data.labels, None
    else:
        chosen = data.factors[0] if factor is None else data.factor(factor)
        effect = parameters[effect_name(chosen.name)]
        group, labels, terms = chosen.name, chosen.labels, tuple(chosen.terms)
    common = {
        "name": effect.name,
        "group": group,
        "labels": tuple(labels),
        "terms": terms,
        "n_chains": n_chains,
        "n_per_chain": n_per_chain,
        "exact": record is not None,
    }
    if effect.name in posterior:
        array = posterior[effect.name].transpose("chain", "draw", *effect.dims)
        values = np.asarray(array.values, dtype=float)
        held = values.reshape(n_chains * n_per_chain, len(labels), -1)
        return GroupDraws(**common, _held=held)  # type: ignore[arg-type]
    if record is None:
        raise ValueError(
            f"The fit's posterior has no draws of {effect.name} and records no way to draw them "
            "again (it was not fitted in the marginal form by this hbm)."
        )
    if record.get("layout") != LAYOUT or record.get("block") != GROUP_BLOCK:
        raise ValueError(
            f"{effect.name}'s draws were made with the layout {record.get('layout')!r} "
            f"(blocks of {record.get('block')}); this hbm redraws {LAYOUT!r} only."
        )
    seed, tag = int(record["seed"]), int(record["tag"])
    dataset = posterior.to_dataset()
    if isinstance(data, GroupedData):
        noise, redraw = _theta_redraw(dataset, data, parameters, seed, tag)
    elif len(data.factors) > 1:
        from hbm.model.families.normal_nested_draws import nested_redraw

        noise, redraw = nested_redraw(dataset, data, group, seed, tag)
    else:
        from hbm.model.families.normal_cells_draws import effects_redraw

        noise, redraw = effects_redraw(dataset, data, seed, tag)
    return GroupDraws(**common, _noise=noise, _redraw=redraw)  # type: ignore[arg-type]


def _record(idata: xr.DataTree) -> dict[str, Any] | None:
    text = idata.attrs.get(GROUP_DRAWS_ATTR)
    if text is None:
        return None
    record = json.loads(str(text))
    if not isinstance(record, dict):
        raise ValueError(f"The attribute {GROUP_DRAWS_ATTR} is not a JSON object.")
    return record


def role_values(posterior: xr.Dataset, parameters: ParameterTable, role: str) -> np.ndarray | None:
    """The draws ``(S,)`` of the scalar parameter with ``role`` (``None`` if the model has none)."""
    parameter = parameters.maybe(role)
    if parameter is None:
        return None
    return np.asarray(posterior[parameter.name].values, dtype=float).reshape(-1)


def _theta_redraw(
    posterior: xr.Dataset, data: GroupedData, parameters: ParameterTable, seed: int, tag: int
) -> tuple[GroupNoise, Redraw]:
    if tag != THETA_STREAM:
        raise ValueError(
            f"The group means were drawn from stream {tag:#x}; this hbm draws them from "
            f"{THETA_STREAM:#x}."
        )
    mu = role_values(posterior, parameters, "coefficient")
    tau = role_values(posterior, parameters, "group_sd")
    sigma = role_values(posterior, parameters, "residual_scale")
    if mu is None or tau is None:  # pragma: no cover - the seed model has both
        raise ValueError("The seed model's draws need its mean and group sd.")

    def redraw(draws: slice, groups: slice | np.ndarray, z: np.ndarray) -> np.ndarray:
        values = group_means_from_noise(
            data, mu[draws], tau[draws], None if sigma is None else sigma[draws], z, groups
        )
        return values[..., None]

    return theta_noise(data, mu.size, seed), redraw
