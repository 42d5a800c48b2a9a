"""Prior-only runs: ``hbm.fit(..., prior_only=True)`` and ``hbm fit ... --prior-only``.

The table is checked and reduced as for a fit (keeping the rows: the observed range is the rows'),
the priors are resolved exactly as a fit would resolve them (data-scaled defaults, presets, the
user's text), and the model is simulated from them (:mod:`hbm.analysis.prior_predictive`). Nothing
is sampled by NUTS. :class:`PriorFit` is what the user gets: the draws, their summary and advice,
the plot, the report and the result folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from hbm.analysis.prior_predictive import PriorPredictive, prior_predictive
from hbm.analysis.units import Units
from hbm.core.defaults import DEFAULTS
from hbm.core.seeds import check_seed, new_seed
from hbm.data.grouped import GroupedData, grouped_data
from hbm.model.families.normal import parameter_table, resolve_priors
from hbm.model.priors import Prior, prior_table
from hbm.reporting.prior_report import write_prior_outputs, write_prior_report
from hbm.viz.prior_predictive import plot_prior_predictive

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure

__all__ = ["PriorFit", "prior_only", "prior_only_formula", "prior_only_table"]

PriorsLike = str | Mapping[str, "str | float | Prior"] | None


class PriorFit:
    """Prior and prior predictive draws of a model for a table, before any fit.

    Attributes
    ----------
    result : PriorPredictive
        The record (:mod:`hbm.analysis.prior_predictive`).
    """

    __slots__ = ("result",)

    def __init__(self, result: PriorPredictive) -> None:
        self.result = result

    @property
    def idata(self) -> xr.DataTree:
        """``prior``, ``prior_predictive``, ``observed_data`` and ``group_data`` groups."""
        return self.result.idata

    @property
    def priors(self) -> dict[str, Prior]:
        return dict(self.result.priors)

    @property
    def data(self) -> GroupedData | Units:
        return self.result.data

    def summary(self) -> pd.DataFrame:
        """Each parameter's and implied quantity's prior predictive summary."""
        return self.result.summary()

    def prior_summary(self) -> pd.DataFrame:
        """The priors, as a table (as a fit's ``prior_summary``)."""
        return prior_table(self.result.priors, {p.name: p.meaning for p in self.result.parameters})

    def advice(self) -> list[str]:
        """What the implied data say about the priors."""
        return self.result.advice()

    def plot(self) -> Figure:
        """The priors, and the data they imply against the data
        (:func:`hbm.viz.prior_predictive.plot_prior_predictive`)."""
        return plot_prior_predictive(self.result)

    def report(self, path: str | Path) -> Path:
        """Write the report (HTML, or Markdown for ``.md``); return the path."""
        return write_prior_report(self.result, Path(path))

    def write(self, out: str | Path) -> Path:
        """Write the result folder (see :mod:`hbm.reporting.prior_report`); return it."""
        return write_prior_outputs(self.result, out)

    def _repr_html_(self) -> str:
        import base64
        from html import escape

        from hbm.reporting.figures import figure_png

        png = base64.b64encode(figure_png(self.plot(), dpi=80)).decode("ascii")
        advice = "".join(f"<li>{escape(line)}</li>" for line in self.advice())
        return (
            f"<p>{escape(repr(self))}</p><ul>{advice}</ul>"
            + self.summary().to_html(float_format=lambda x: f"{x:.3g}", index=False)
            + f'<img src="data:image/png;base64,{png}">'
        )

    def __repr__(self) -> str:
        data = self.result.data
        return (
            f"<hbm.PriorFit {data.n_groups} {data.group} groups, {data.n_rows} rows; "
            f"{self.result.n_draws} prior draws, seed {self.result.random_seed}>"
        )


def prior_only(
    data: GroupedData,
    *,
    priors: PriorsLike = None,
    draws: int = DEFAULTS.draws * DEFAULTS.chains,
    random_seed: int | None = None,
) -> PriorFit:
    """Simulate the model from its priors for already-reduced data."""
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise ValueError(f"The 'draws' option must be a positive integer; got {draws!r}.")
    seed = check_seed(random_seed)
    seed = new_seed() if seed is None else seed
    resolved = resolve_priors(data, priors)
    check = prior_predictive(data, resolved, parameter_table(data), draws=draws, random_seed=seed)
    return PriorFit(check)


def prior_only_table(
    table: pd.DataFrame,
    *,
    group: str,
    value: str,
    se: str | None = None,
    priors: PriorsLike = None,
    draws: int = DEFAULTS.draws * DEFAULTS.chains,
    random_seed: int | None = None,
    order: str = DEFAULTS.order,
    missing: str = DEFAULTS.missing,
) -> PriorFit:
    """Check and reduce ``table`` (keeping its rows), then :func:`prior_only`."""
    data = grouped_data(
        table,
        group=group,
        value=value,
        se=se,
        order=order,  # type: ignore[arg-type]
        missing=missing,  # type: ignore[arg-type]
        keep_rows=True,
    )
    return prior_only(data, priors=priors, draws=draws, random_seed=random_seed)


def prior_only_formula(
    table: pd.DataFrame,
    formula: str,
    *,
    priors: PriorsLike = None,
    draws: int = DEFAULTS.draws * DEFAULTS.chains,
    random_seed: int | None = None,
    order: str = DEFAULTS.order,
    missing: str = DEFAULTS.missing,
) -> PriorFit:
    """The prior predictive check of the model a formula describes: ``value ~ 1 + (1 | group)``
    as :func:`prior_only_table`, any other as
    :func:`hbm.analysis.formula_prior_predictive.formula_prior_predictive`."""
    from hbm.analysis.formula_prior_predictive import formula_prior_predictive
    from hbm.model.design import build_model_data
    from hbm.model.formula import parse_formula
    from hbm.model.linear_priors import resolve_linear_priors
    from hbm.model.linear_terms import linear_parameter_table, model_in_words
    from hbm.workflow.fit_formula import seed_shape

    parsed = parse_formula(formula)
    seed_model = seed_shape(parsed)
    if seed_model is not None:
        group, value = seed_model
        return prior_only_table(
            table, group=group, value=value, priors=priors, draws=draws,
            random_seed=random_seed, order=order, missing=missing,
        )  # fmt: skip
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise ValueError(f"The 'draws' option must be a positive integer; got {draws!r}.")
    seed = check_seed(random_seed)
    seed = new_seed() if seed is None else seed
    data = build_model_data(table, parsed, missing=missing, order=order, keep_rows=True)
    resolved = resolve_linear_priors(data, priors)  # type: ignore[arg-type]  # (refuses a preset)
    check = formula_prior_predictive(
        data,
        resolved,
        linear_parameter_table(data, "marginal"),
        draws=draws,
        random_seed=seed,
        model=model_in_words(data, formula),
    )
    return PriorFit(check)
