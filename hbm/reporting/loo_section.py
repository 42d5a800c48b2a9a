"""The report's leave-one-out parts: the LOO summary, pooling judged by ELPD, and LOO-PIT.

Every unit the fit can leave out is shown (groups always; rows where they were kept), each up
to ``DEFAULTS.max_report_loo_units`` units: arviz-stats' PSIS costs about half a millisecond per
unit, and the report runs it up to four times (the fit, two pooling baselines, the LOO-PIT), so a
fit of 10,000 groups would spend tens of seconds here. Past the limit the report says so and how
to compute it (``fit.loo()``, ``hbm compare``); ``fit.nc`` holds the log likelihood either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from hbm.analysis.log_likelihood import GROUP, ROW, available_units, default_unit
from hbm.analysis.loo import LooResult, loo
from hbm.analysis.outcome_draws import is_outcome_fit
from hbm.analysis.pooling_loo import pooling_elpd
from hbm.analysis.units import units_of
from hbm.core.defaults import DEFAULTS
from hbm.reporting.blocks import Block, Bullets, Figure, Heading, Para, Table, format_table
from hbm.results.fit_result import FitResult
from hbm.results.tree import as_result
from hbm.viz.loo_pit import plot_loo_pit

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

__all__ = ["loo_blocks", "loo_brief", "loo_units", "pooling_blocks", "report_loo_pit"]

#: The report's limit on units left out (see the module docstring).
MAX_UNITS = DEFAULTS.max_report_loo_units


def loo_units(result: FitResult) -> list[str]:
    """The units the report computes LOO for: those the fit has, within the limit (default unit
    first)."""
    units = sorted(available_units(result), key=lambda u: u != default_unit(result))
    return [u for u in units if _n_units(result, u) <= MAX_UNITS]


def loo_brief(result: FitResult) -> list[str]:
    """One sentence for "In brief": the default unit's ELPD and what its Pareto k say."""
    units = loo_units(result)
    if not units:
        return []
    main = loo(result, units[0])
    counts = main.k_counts()
    high = main.n_units - counts["good"]
    return [
        f"Leave-one-{main.what}-out ELPD {main.elpd:.1f} (se {main.se:.1f}, p_loo "
        f"{main.p_loo:.1f}); "
        + (
            f"all {main.n_units:,} Pareto k are good."
            if high == 0
            else f"{high} of {main.n_units:,} {main.unit} have high Pareto k (see below)."
        )
    ]


def pooling_blocks(result: FitResult) -> list[Block]:
    """Complete, no and partial pooling ranked by ELPD (the seed's normal model only)."""
    units = loo_units(result)
    if not units or not result.description.is_seed_model:
        return []
    ranked = pooling_elpd(result, _with_rows(result, units))
    table = ranked.comparison.table[["elpd", "se", "elpd_diff", "dse", "p_loo", "high_k"]]
    blocks: list[Block] = [
        Para(ranked.verdict()),
        Table(format_table(table.reset_index())),
        Para(
            "Complete and no pooling are scored with reference priors (flat in the means and "
            "in log sigma), drawn exactly from their posteriors; elpd_diff is each model's ELPD "
            "minus the best's, dse its standard error over the paired units."
            + "".join(
                f" {name.capitalize()} is not ranked: {why}."
                for name, why in ranked.missing.items()
            )
        ),
    ]
    return blocks


def loo_blocks(result: FitResult) -> list[Block]:
    """The LOO section: method, summary per unit, Pareto k advice, and the LOO-PIT figure."""
    blocks: list[Block] = [Heading(2, "Predictive accuracy (leave-one-out)")]
    units = loo_units(result)
    skipped = [u for u in available_units(result) if u not in units]
    if skipped:
        sizes = ", ".join(f"{_n_units(result, u):,} {u}" for u in skipped)
        blocks.append(
            Para(
                f"Not computed here for {sizes}: the report runs PSIS-LOO up to {MAX_UNITS:,} "
                "units (about half a millisecond per unit, several times over). fit.loo() or "
                "`hbm compare` compute it; fit.nc holds the log likelihood."
            )
        )
    if not units:
        return blocks
    results = [loo(result, unit) for unit in units]
    blocks.append(
        Para(
            " ".join(f"By {r.unit}: {r.method}." for r in results)
            + " ELPD is the expected log predictive density of each unit given all the others, "
            "summed; higher is better; p_loo is the effective number of parameters."
        )
    )
    blocks.append(Table(format_table(pd.concat([r.to_frame() for r in results]))))
    blocks.append(Bullets([line for r in results for line in _advice(r)]))
    if is_outcome_fit(result):  # LOO-PIT of discrete outcomes needs randomising: not drawn
        return blocks
    blocks.append(
        Figure(
            "loo_pit",
            "leave-one-out calibration plot (LOO-PIT)",
            _PIT_TEXT.format(
                what="row" if _with_rows(result, units) == ROW else units_of(result).group
            ),
        )
    )
    return blocks


def report_loo_pit(source: Any) -> MplFigure | None:
    """The LOO-PIT figure on the report's first unit, or None when the report shows no LOO."""
    result = as_result(source)
    units = loo_units(result)
    if not units or is_outcome_fit(result):
        return None
    return plot_loo_pit(result, _with_rows(result, units))


def _advice(result: LooResult) -> list[str]:
    return [f"By {result.unit}: {line}" for line in result.advice()]


def _with_rows(result: FitResult, units: list[str]) -> str:
    """The first of ``units`` whose analysis can be done from what the fit holds: the pooling
    baselines and LOO-PIT of rows need the rows themselves, which a saved fit does not keep (its
    stored log likelihood serves LOO only)."""
    if units[0] == ROW and units_of(result).codes is None:
        return GROUP
    return units[0]


def _n_units(result: FitResult, unit: str) -> int:
    data = units_of(result)
    return data.n_rows if unit == ROW else data.n_groups


_PIT_TEXT = (
    "Each {what} against its leave-one-out predictive distribution: the ECDF of the LOO-PIT "
    "values minus the uniform's, with a 94% simultaneous band, and their histogram. A calibrated "
    "model stays inside the band; an S shape means predictive intervals too wide, its mirror "
    "image too narrow, a one-sided bulge a shifted centre."
)
