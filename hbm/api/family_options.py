"""The Python API's options for a binomial, Poisson, negative binomial or Student-t model.

Such a model is fitted to a table's rows (read with pandas), never to statistics; ``group=`` and
``value=`` are the shorthand for ``value ~ 1 + (1 | group)`` as for the normal family, and the
summaries form (``se=``) is the normal family's only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["outcome_formula", "outcome_table"]


def outcome_table(table: Any, family: str) -> pd.DataFrame:
    """The rows a binomial, Poisson, negative binomial or Student-t model is fitted to: ``table``
    itself, or the file it names; a ValueError for statistics or an unknown family.

    Examples
    --------
    >>> outcome_table(pd.DataFrame({"g": ["a"], "y": [1]}), "binomial").shape
    (1, 2)
    """
    from hbm.model.families import get_family

    get_family(family)  # an unknown family: one line naming the families
    if isinstance(table, str | Path):
        from hbm.data.tables import read_table

        return read_table(table)
    if not isinstance(table, pd.DataFrame):
        raise ValueError(
            f"Statistics (each group's n, mean and ss) are for the normal family; a {family} "
            "model is fitted to the table's rows."
        )
    return table


def outcome_formula(
    family: str, formula: str | None, group: str | None, value: str | None, se: str | None
) -> str:
    """The formula of a ``family`` model: ``formula``, or ``value ~ 1 + (1 | group)``.

    Examples
    --------
    >>> outcome_formula("poisson", None, "region", "deaths", None)
    'deaths ~ 1 + (1 | region)'
    """
    from hbm.model.description import quote_name
    from hbm.model.families import get_family

    get_family(family)
    if se is not None:
        raise ValueError(
            f"The summaries form (se={se!r}) is for the normal family; a {family} model is "
            "fitted to its rows."
        )
    if formula is not None:
        return formula
    return f"{quote_name(str(value))} ~ 1 + (1 | {quote_name(str(group))})"
