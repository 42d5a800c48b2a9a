"""Fit-shaped DataTrees with chosen draws, for exact tests of the shrinkage, PPC and plot code.

:func:`hbm.results.tree.as_result` reads a fit's DataTree from its ``posterior`` and ``group_data``
groups and its ``hbm_spec`` attribute; these trees have exactly that, and no sampling behind them.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from hbm.results.fit_spec import FitSpec


def fit_tree(
    theta: np.ndarray,
    *,
    mu: np.ndarray,
    tau: np.ndarray,
    sigma: np.ndarray | None = None,
    labels: list[str],
    n: np.ndarray | None = None,
    mean: np.ndarray,
    ss: np.ndarray | None = None,
    se: np.ndarray | None = None,
    group: str = "school",
    value: str = "score",
    seed: int = 7,
) -> xr.DataTree:
    """A tree with ``theta`` of shape (chain, draw, J), hyperparameters of shape (chain, draw)."""
    dims = ("chain", "draw")
    coords = {group: labels}
    posterior = {"mu": (dims, mu), "tau": (dims, tau), "theta": ((*dims, group), theta)}
    if sigma is not None:
        posterior["sigma"] = (dims, sigma)
    n_groups = len(labels)
    columns = {
        "n": np.ones(n_groups, dtype=np.int64) if n is None else np.asarray(n),
        "mean": np.asarray(mean, dtype=float),
        "ss": np.zeros(n_groups) if ss is None else np.asarray(ss, dtype=float),
    }
    if se is not None:
        columns["se"] = np.asarray(se, dtype=float)
    spec = FitSpec(group=group, value=value, se="se" if se is not None else None, random_seed=seed)
    tree = xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset(posterior, coords=coords),
            "group_data": xr.Dataset({k: ((group,), v) for k, v in columns.items()}, coords=coords),
        }
    )
    tree.attrs["hbm_spec"] = spec.to_json()
    return tree
