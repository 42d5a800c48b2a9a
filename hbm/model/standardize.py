"""Sampling in standard units, reporting in the user's units.

NUTS adapts its step size and a diagonal mass matrix during warm-up, but it starts from unit
scales. Values measured in billions (``1e9``) or millionths (``1e-6``) put ``mu`` and ``theta``
nine orders of magnitude away from the log-scale ``tau`` and ``sigma``, and PyMC's own NUTS then
fails to converge within the usual warm-up (R-hat 1.36 for the non-centered form at scale ``1e9``).

The hierarchical normal model is equivariant under ``y -> (y - c) / s``: with

    mu' = (mu - c) / s,   theta' = (theta - c) / s,   tau' = tau / s,   sigma' = sigma / s,
    ybar' = (ybar - c) / s,   SS' = SS / s^2,   se' = se / s

and every prior moved the same way (a location ``m -> (m - c) / s``, a scale ``-> scale / s``, a
rate ``-> rate * s``), the posterior of the primed quantities is exactly the image of the
posterior in the user's units. So :func:`hbm.workflow.fit.fit_grouped` builds the model for the
standardized data (``c`` = grand mean, ``s`` = :attr:`GroupedData.scale`), samples it, and
:meth:`Standardization.restore` maps every parameter back by the units its parameter table gives
(:mod:`hbm.model.parameters`: ``location`` like ``mu`` and ``theta``, ``scale`` like ``tau`` and
``sigma``; ``theta_z`` has none). The DataTree holds draws in the user's units only; its
``observed_data`` holds the user's values. The builders are unchanged: a model built with
:func:`hbm.build_model` for a ``GroupedData`` is written in that data's units, with the same log
density as before. Only the sampler statistics ``lp`` (and ``energy``) refer to the standardized
model: they differ from the user-unit log density by a constant, which changes no diagnostic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from hbm.core.names import INTERCEPT, OBSERVED
from hbm.data.comoments import CellMoments
from hbm.data.grouped import GroupedData
from hbm.data.model_data import ModelData
from hbm.model.parameters import ParameterTable
from hbm.model.priors import Prior

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["Standardization"]


@dataclass(frozen=True)
class Standardization:
    """The affine map ``y -> (y - center) / scale`` used while sampling.

    Examples
    --------
    >>> import pandas as pd
    >>> from hbm.data.grouped import grouped_data
    >>> data = grouped_data(pd.DataFrame({"g": list("aabb"), "y": [1e9, 3e9, 5e9, 9e9]}),
    ...                     group="g", value="y")
    >>> unit = Standardization.of(data)
    >>> unit.data(data).mean.round(3).tolist()
    [-0.845, 0.845]
    """

    center: float
    scale: float

    @classmethod
    def of_model_data(cls, data: ModelData) -> Standardization:
        """The map for a formula model: the response's mean and sd; the mean only when the
        population terms have an intercept to absorb it."""
        center = data.center if INTERCEPT in data.population else 0.0
        scale = data.scale
        if not (np.isfinite(center) and np.isfinite(scale) and scale > 0):
            raise ValueError(
                f"The values of {data.response!r} cannot be standardized (center {center!r}, "
                f"spread {scale!r}); expected finite numbers that vary."
            )
        return cls(center=float(center), scale=float(scale))

    def model_data(self, data: ModelData) -> ModelData:
        """A formula model's data with the response in standard units (the design unchanged)."""
        c, s = self.center, self.scale
        y = data.y_index
        mean, low = data.moments.mean.copy(), data.moments.low.copy()
        mean[:, y] = (mean[:, y] - c) / s
        low[:, y] = low[:, y] / s
        comoment = data.moments.comoment.copy()
        comoment[:, y, :] /= s
        comoment[:, :, y] /= s
        moments = CellMoments(n=data.moments.n, mean=mean, low=low, comoment=comoment)
        rows = data.rows
        if rows is not None:
            values = rows[1].copy()
            values[:, y] = (values[:, y] - c) / s
            rows = (rows[0], values)
        return replace(data, moments=moments, rows=rows)

    @classmethod
    def of(cls, data: GroupedData) -> Standardization:
        """The map for ``data``: its grand mean and typical spread (both finite, scale > 0)."""
        center, scale = data.center, data.scale
        if not (np.isfinite(center) and np.isfinite(scale) and scale > 0):
            raise ValueError(
                f"The values of {data.value!r} cannot be standardized (center {center!r}, "
                f"spread {scale!r}); expected finite numbers that vary."
            )
        return cls(center=float(center), scale=float(scale))

    def data(self, data: GroupedData) -> GroupedData:
        """``data`` in standard units (labels, counts and codes unchanged)."""
        c, s = self.center, self.scale
        return replace(
            data,
            mean=(data.mean - c) / s,
            ss=data.ss / s**2,
            stderr=None if data.stderr is None else data.stderr / s,
            values=None if data.values is None else (data.values - c) / s,
        )

    def priors(self, priors: Mapping[str, Prior], parameters: ParameterTable) -> dict[str, Prior]:
        """The same priors for the standardized parameters (exactly the change of variables)."""
        out = {}
        for name, prior in priors.items():
            units = parameters[name.split("[", 1)[0]].units
            if units == "coefficients":  # beta[Intercept] is a location, the others slopes
                units = "location" if name.endswith(f"[{INTERCEPT}]") else "scale"
            out[name] = self._prior(name, prior, units)
        return out

    def _prior(self, name: str, prior: Prior, units: str) -> Prior:
        if units == "none" or prior.family == "lkj":
            return prior
        s = self.scale
        c = self.center if units == "location" else 0.0
        p = prior.params
        if prior.family == "fixed":
            moved: tuple[float, ...] = ((p[0] - c) / s,)
        elif prior.family == "normal":
            moved = ((p[0] - c) / s, p[1] / s)
        elif prior.family == "studentt":
            moved = (p[0], (p[1] - c) / s, p[2] / s)
        elif prior.family in ("halfnormal", "halfcauchy"):
            moved = (p[0] / s,)
        elif prior.family == "halfstudentt":
            moved = (p[0], p[1] / s)
        elif prior.family == "exponential":
            moved = (p[0] * s,)
        elif prior.family == "gamma":  # shape unchanged, rate in 1 / units
            moved = (p[0], p[1] * s)
        else:  # pragma: no cover - every family of hbm.priors is listed above
            raise ValueError(f"Cannot standardize the {prior.family} prior of {name!r}.")
        return replace(prior, params=moved)

    def restore(
        self,
        idata: xr.DataTree,
        data: GroupedData | ModelData,
        priors: Mapping[str, Prior],
        parameters: ParameterTable,
    ) -> None:
        """Map the posterior and observed data of a standardized fit back to the user's units.

        ``location`` parameters become ``center + scale * x``, ``scale`` ones ``scale * x``;
        parameters fixed by their prior get their value exactly. Works in place.
        """
        c, s = self.center, self.scale
        posterior = idata["posterior"].to_dataset()
        for parameter in parameters:
            name, units = parameter.name, parameter.units
            if name not in posterior or units == "none":
                continue
            draws = posterior[name]
            restored = c + s * draws if units == "location" else s * draws
            if units == "coefficients" and c:
                dim = parameter.dims[0]
                is_intercept = draws[dim] == INTERCEPT
                restored = restored + c * is_intercept.astype(float)
            prior = priors.get(name)
            if prior is not None and prior.is_fixed:
                restored = restored * 0 + prior.params[0]
            posterior[name] = restored.assign_attrs(draws.attrs)
        idata["posterior"] = posterior
        if "observed_data" in idata.children and isinstance(data, GroupedData):
            observed = idata["observed_data"].to_dataset()
            row, mean, within = OBSERVED
            user = {mean: data.mean, within: data.ss_within}
            user[row] = data.values if data.values is not None else data.mean
            for name in [str(n) for n in observed.data_vars]:
                if name in user:
                    values = np.asarray(user[name], dtype=float).reshape(observed[name].shape)
                    observed[name] = observed[name].copy(data=values)
            idata["observed_data"] = observed
        idata.attrs["hbm_standardization"] = (
            f"sampled with y -> (y - {c!r}) / {s!r}; draws restored to the user's units"
        )
