"""``FitResult``: the plain record of a fit, and its cache of derived tables.

Everything lower in the flow produces its part of the record (the description, the reduced data,
the priors, the DataTree, the parameter table, the diagnosis); everything higher (analysis, plots,
reports, saving) takes a ``FitResult`` and reads it. The user-facing :class:`hbm.api.Fit` is a thin
façade over one.

Derived tables (the shrinkage table, the pooling comparison, the predictive check) are computed
once per fit and kept in the result's own :class:`DerivedCache`: a report asks for each several
times, and for 10,000 groups each costs seconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hbm.model.priors import prior_table
from hbm.results.fit_summary import fit_summary
from hbm.results.group_draws import GroupDraws, group_draws

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

    from hbm.data.curve_data import CurveData
    from hbm.data.grouped import GroupedData
    from hbm.data.model_data import ModelData
    from hbm.diagnostics.diagnosis import Diagnosis
    from hbm.model.description import ModelDescription
    from hbm.model.parameters import ParameterTable
    from hbm.model.priors import Prior
    from hbm.results.fit_spec import FitSpec

__all__ = ["DerivedCache", "FitResult"]


class DerivedCache:
    """Values computed once per fit, by key.

    >>> cache = DerivedCache()
    >>> cache.get(("answer",), lambda: 42), cache.get(("answer",), lambda: 0)
    (42, 42)
    """

    def __init__(self) -> None:
        self._values: dict[Hashable, Any] = {}

    def get[T](self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value kept under ``key``, computed by ``compute()`` the first time."""
        if key not in self._values:
            self._values[key] = compute()
        return self._values[key]

    def put(self, key: Hashable, value: object) -> None:
        """Keep ``value`` under ``key`` (a value computed already, e.g. while fitting)."""
        self._values[key] = value

    def __contains__(self, key: Hashable) -> bool:
        return key in self._values


@dataclass(frozen=True, eq=False)
class FitResult:
    """The record of one fit.

    Attributes
    ----------
    description : ModelDescription
        What model was fitted (family, terms, groups, priors as text, parametrization asked).
    spec : FitSpec
        What was asked, with the priors and seed that actually ran.
    data : GroupedData or ModelData or CurveData
        The reduced data: per-group statistics (the seed's model), per-cell moments of a
        formula's design, or a curve model's rows.
    priors : dict of Prior
        The priors used (defaults filled in).
    idata : xarray.DataTree
        Posterior draws, sampler statistics, observed data, the per-group data (``group_data``),
        and in its attributes the description, spec, run, parameter table and diagnosis as JSON.
    parameters : ParameterTable
        Every parameter with its role, dims and units.
    diagnosis : Diagnosis or None
        Divergences, R-hat, ESS, verdict and advice (``None`` only for draws made by hand).
    parametrization, reason : str
        The parametrization that ran, and why it was chosen.
    cache : DerivedCache
        Derived tables computed once per fit.
    """

    description: ModelDescription
    spec: FitSpec
    data: GroupedData | ModelData | CurveData
    priors: dict[str, Prior]
    idata: xr.DataTree
    parameters: ParameterTable
    diagnosis: Diagnosis | None
    parametrization: str
    reason: str
    cache: DerivedCache = field(default_factory=DerivedCache, repr=False)

    def summary(self) -> pd.DataFrame:
        """The posterior summary (computed once, then copied out; see
        :mod:`hbm.results.fit_summary`)."""
        table = self.cache.get(
            ("summary",), lambda: fit_summary(self.idata, self.data, self.parameters)
        )
        return table.copy(deep=False)  # copy-on-write (pandas >= 3): edits never reach the cache

    def group_draws(self) -> GroupDraws:
        """The group effects' draws, held or drawn again a block at a time
        (:mod:`hbm.results.group_draws`)."""
        from hbm.data.curve_data import CurveData

        data = self.data
        if isinstance(data, CurveData):
            raise TypeError("A curve fit holds its group effects' draws in its posterior.")
        return self.cache.get(
            ("group_draws",), lambda: group_draws(self.idata, data, self.parameters)
        )

    def prior_summary(self) -> pd.DataFrame:
        """The priors used, as a table, with each parameter's meaning."""
        meanings = {p.name: p.meaning for p in self.parameters}
        by_name = {name: meanings.get(name.split("[", 1)[0], "") for name in self.priors}
        return prior_table(self.priors, by_name)

    @property
    def grouped(self) -> GroupedData:
        """The data of a fit of ``value ~ 1 + (1 | group)``; a TypeError for a formula model,
        which has per-cell moments instead."""
        from hbm.data.grouped import GroupedData

        if not isinstance(self.data, GroupedData):
            raise TypeError(
                f"This applies to fits of 'value ~ 1 + (1 | group)'; this fit is of "
                f"{self.description.formula!r}."
            )
        return self.data

    @property
    def model_data(self) -> ModelData:
        """The data of a formula model; a TypeError for a fit of ``value ~ 1 + (1 | group)``."""
        from hbm.data.model_data import ModelData

        if not isinstance(self.data, ModelData):
            raise TypeError("This applies to formula models with covariates or varying slopes.")
        return self.data

    @property
    def curve_data(self) -> CurveData:
        """The rows of a curve model; a TypeError for other models."""
        from hbm.data.curve_data import CurveData

        if not isinstance(self.data, CurveData):
            raise TypeError("This applies to curve models (hbm.fit_curve, hbm curve).")
        return self.data

    @property
    def diagnosed(self) -> Diagnosis:
        """The diagnosis (a ValueError for draws made by hand, which have none)."""
        if self.diagnosis is None:
            raise ValueError("This fit has no diagnosis: its draws were not made by hbm.")
        return self.diagnosis

    @property
    def random_seed(self) -> int:
        """The seed that ran (0 for draws made by hand that record none)."""
        return int(self.spec.random_seed or 0)

    @property
    def run_info(self) -> dict[str, object]:
        """Sampler, seed, versions, parametrization and timing that actually ran."""
        return json.loads(self.idata.attrs["hbm_run"])
