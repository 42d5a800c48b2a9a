"""The report's section for a model with several grouping factors: levels, variance, shrinkage.

Which factors are nested and which crossed, labels told apart (class "1" in every school), the
variance decomposition (each level's share and ICC with intervals) as a table and a picture,
the shrinkage of each level towards its parent, one league table per further level, and what
leaving a group out means here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hbm.analysis.levels import level_shrinkage, variance_decomposition
from hbm.data.nesting import crossing, nesting_of, outermost_factor, told_apart
from hbm.reporting.blocks import (
    Block,
    Bullets,
    Figure,
    Heading,
    Para,
    Table,
    format_number,
    format_table,
)
from hbm.results.fit_result import FitResult

__all__ = ["LEVEL_FIGURES", "league_key", "levels_blocks"]

#: The figures of this section that every fit with several factors has.
LEVEL_FIGURES = ("variance", "levels")

_VARIANCE_TEXT = (
    "Left: each component's share of a row's variance (blue, with its 94% interval) and each "
    "level's ICC, the correlation of two rows in the same group of it (orange); right: the "
    "posterior mean shares stacked."
)
_LEVELS_TEXT = (
    "One panel per level: each group's own estimate (x) and posterior mean (y), both as "
    "deviations from its parent's posterior mean (the population for the outermost level); "
    "point area ~ rows. On the dotted diagonal a group keeps its own estimate, on the dashed "
    "line it is pulled all the way to its parent: the flatter a level's cloud, the more it is "
    "pooled."
)


def league_key(position: int) -> str:
    """The figure key of the league table of the factor at ``position`` (formula order)."""
    return f"league_{position + 1}"


def levels_blocks(result: FitResult, figures: tuple[str, ...]) -> list[Block]:
    """The section's blocks (empty for a model with one grouping factor)."""
    data = result.model_data
    if len(data.factors) < 2:
        return []
    nesting = nesting_of(data)
    if nesting is not None:
        structure = (
            "The grouping factors are nested: "
            + " > ".join(f"{f.name} ({f.n_groups} groups)" for f in nesting.factors)
            + "; each group lies in one group of the level above."
        )
    else:
        structure = f"The grouping factors are not all nested: {crossing(data)}."
    notes = [structure, *told_apart(data)]
    outermost = outermost_factor(data)
    if outermost is not None:
        notes.append(
            f"Leaving a group out (leave-one-group-out LOO) leaves out one {outermost.name} group "
            "with everything in it, every effect in it integrated out exactly."
        )
    else:
        notes.append(
            "Crossed factors have no group whose data are independent of the rest, so LOO "
            "leaves rows out (when the fit kept them), not groups."
        )
    table = variance_decomposition(result)
    pooling = _pooling_table(result, table["component"].tolist()[:-1])
    blocks: list[Block] = [
        Heading(2, "Levels: where the variance lies"),
        Bullets(notes),
        Para(
            "share = a component's variance over the total variance of a row around the "
            "population part (with varying slopes, averaged over the rows); icc = the correlation "
            "of two rows in the same group of a level (its share plus the shares of the levels "
            "it is nested in)."
        ),
        Table(format_table(_decomposition_table(table))),
    ]
    if "variance" in figures:
        blocks.append(Figure("variance", "variance decomposition", _VARIANCE_TEXT))
    blocks += [
        Heading(3, "Shrinkage at each level"),
        Para(
            "pooling = 1 - (posterior - parent) / (own - parent): 0 where a group keeps its own "
            "estimate, 1 where it is pulled all the way to its parent's."
        ),
        Table(format_table(pooling)),
    ]
    if "levels" in figures:
        blocks.append(Figure("levels", "shrinkage at each level", _LEVELS_TEXT))
    for position, factor in enumerate(data.factors):
        key = league_key(position)
        if key in figures:
            blocks.append(
                Figure(
                    key,
                    f"league table of {factor.name}",
                    f"Every {factor.name} group's coefficients with 94% intervals (blue) and own "
                    "estimates (crosses), lowest to highest.",
                )
            )
    return blocks


def _decomposition_table(table: pd.DataFrame) -> pd.DataFrame:
    """The decomposition as the report shows it: mean and interval in one cell."""

    def cell(row: pd.Series, key: str) -> str:
        if not np.isfinite(row[key]):
            return ""
        low, high = (row[c] for c in table.columns if c.startswith(f"{key}_") and c != key)
        return f"{format_number(row[key])} ({format_number(low)} to {format_number(high)})"

    return pd.DataFrame(
        {
            "component": table["component"],
            "groups": table["groups"],
            "nested in": table["nested_in"],
            "variance": table["variance"],
            "share (94% interval)": [cell(r, "share") for _, r in table.iterrows()],
            "icc (94% interval)": [cell(r, "icc") for _, r in table.iterrows()],
        }
    )


def _pooling_table(result: FitResult, factors: list[str]) -> pd.DataFrame:
    rows = []
    for name in factors:
        shrink = level_shrinkage(result, name)
        pooled = shrink["pooling"].to_numpy(dtype=float)
        finite = pooled[np.isfinite(pooled)]
        rows.append(
            {
                "level": name,
                "groups": len(shrink),
                "pulled towards": "population"
                if shrink["parent"].iloc[0] == "population"
                else "its parent group",
                "median rows": float(np.median(shrink["n"])),
                "median pooling": float(np.median(finite)) if finite.size else np.nan,
            }
        )
    return pd.DataFrame(rows)
