"""Comparing fits by their leave-one-out ELPD: a table, best first, and what it rests on.

:func:`compare` takes named fits (a ``Fit``, a ``FitResult``, a fit's DataTree, a saved fit's path,
or a :class:`~hbm.analysis.loo.LooResult` already computed), checks that they predict the same
data by the same unit, computes each one's PSIS-LOO (:func:`hbm.analysis.loo.loo`) and ranks them
with :func:`arviz_stats.compare` (``elpd_diff`` and its se ``dse`` from the paired pointwise
differences; stacking weights).

It refuses, in one line: fewer than two models; models fitted to different data (saying how they
differ: response, groups, rows, values); different units left out; a file that is not an hbm fit.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hbm.analysis.data_key import difference
from hbm.analysis.log_likelihood import LOG_LIKELIHOOD, UNITS, available_units, check_unit
from hbm.analysis.loo import LooResult, loo, quiet_psis
from hbm.results.fit_result import FitResult
from hbm.results.io import load_result
from hbm.results.tree import as_result

__all__ = ["COLUMNS", "Comparison", "compare", "read_fit"]

#: The table's columns, in order (``p_worse``: probability, by a normal approximation, that the
#: model predicts worse than the best; ``high_k``: units with Pareto k above the threshold).
COLUMNS = [
    "rank",
    "elpd",
    "se",
    "elpd_diff",
    "dse",
    "p_worse",
    "p_loo",
    "weight",
    "high_k",
    "unit",
    "warning",
]


@dataclass(frozen=True, eq=False)
class Comparison:
    """Models ranked by ELPD, best first.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by model name, columns :data:`COLUMNS`.
    unit : str
        What was left out (``"groups"`` or ``"rows"``), the same for every model.
    loos : dict of LooResult
        Each model's LOO, by name.
    """

    table: pd.DataFrame
    unit: str
    loos: dict[str, LooResult] = field(repr=False)

    @property
    def best(self) -> str:
        return str(self.table.index[0])

    def notes(self) -> list[str]:
        """What the ranking rests on: the unit and method, and any high Pareto k."""
        methods = {result.method for result in self.loos.values()}
        if len(methods) == 1:
            out = [f"Left out: {self.unit} ({methods.pop()})."]
        else:
            out = [f"Left out: {self.unit}."]
            out += [f"{name}: {result.method}." for name, result in self.loos.items()]
        for name, result in self.loos.items():
            high = result.high_k()
            if not high.empty:
                out.append(f"{name}: " + result.advice()[0])
        return out

    def to_csv(self, path: str | Path) -> None:
        self.table.to_csv(path, index_label="model")

    def _repr_html_(self) -> str:
        from html import escape

        notes = "".join(f"<li>{escape(n)}</li>" for n in self.notes())
        return self.table.to_html(float_format=lambda x: f"{x:.3g}") + f"<ul>{notes}</ul>"

    def __str__(self) -> str:
        return (
            self.table.to_string(float_format=lambda x: f"{x:.3g}") + "\n" + "\n".join(self.notes())
        )


def compare(models: Mapping[str, Any], *, unit: str | None = None) -> Comparison:
    """Rank fits by leave-one-out ELPD (see the module docstring).

    Parameters
    ----------
    models : mapping of str to Fit, FitResult, DataTree, path or LooResult
        At least two, by name.
    unit : {"groups", "rows"}, optional
        What to leave out. Default: rows if every model kept its rows, else groups (LooResults
        given say their own unit).

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import hbm
    >>> df = hbm.datasets.load("eight_schools")
    >>> options = dict(group="school", value="effect", se="stderr", random_seed=1,
    ...                draws=500, tune=500, progressbar=False)
    >>> partial = hbm.fit(df, **options)
    >>> complete = hbm.fit(df, priors={"tau": 0.01}, **options)
    >>> table = compare({"partial": partial, "complete": complete}).table
    >>> list(table.columns[:4]), table["unit"].iloc[0]
    (['rank', 'elpd', 'se', 'elpd_diff'], 'groups')
    """
    if not isinstance(models, Mapping):
        raise TypeError(
            f"compare takes a mapping of names to fits, e.g. {{'plain': fit_a, 'other': fit_b}}; "
            f"got {type(models).__name__}."
        )
    names = [str(name) for name in models]
    if len(names) < 2:
        listed = f" ({names[0]!r})" if names else ""
        raise ValueError(
            f"Comparing needs at least two models; got {len(names)}{listed}. Fit another model "
            "of the same data to compare it with."
        )
    if unit is not None:
        check_unit(unit)
    sources = {str(name): _source(source) for name, source in models.items()}
    given = {name: s for name, s in sources.items() if isinstance(s, LooResult)}
    units = {s.unit for s in given.values()}
    if len(units) > 1 or (units and unit is not None and unit not in units):
        found = ", ".join(f"{name!r} leaves out {s.unit}" for name, s in given.items())
        raise ValueError(
            f"The models leave out different units ({found}"
            + (f", and unit={unit!r} was asked" if unit is not None else "")
            + "); ELPDs by rows and by groups are not comparable."
        )
    fits = {name: s for name, s in sources.items() if isinstance(s, FitResult)}
    if unit is None:
        unit = units.pop() if units else _common_unit(fits)
    for result in fits.values():
        if unit not in available_units(result):
            loo(result, unit)  # raises the unit's own message (no rows kept, summaries data)
    loos = {name: s if isinstance(s, LooResult) else loo(s, unit) for name, s in sources.items()}
    _check_same_data(loos, unit)
    return Comparison(table=_table(loos, unit), unit=unit, loos=loos)


def read_fit(path: str | Path) -> FitResult:
    """A saved fit (``fit.nc``, ``.zarr``, or a result folder holding ``fit.nc``) for comparing:
    a ValueError for anything else, or for a fit saved without its log likelihood."""
    path = Path(path)
    target = path / "fit.nc" if path.is_dir() and path.suffix.lower() != ".zarr" else path
    only_prior = path.is_dir() and (path / "prior.nc").exists() and not target.exists()
    if only_prior or path.name == "prior.nc":
        raise ValueError(
            f"{str(path)!r} holds a prior predictive check (--prior-only), not a fit: it has no "
            "posterior to compare."
        )
    if path.is_dir() and target == path / "fit.nc" and not target.exists():
        raise ValueError(f"{str(path)!r} is a folder without a fit.nc; expected a result folder.")
    result = load_result(target)
    if LOG_LIKELIHOOD not in result.idata.children:
        raise ValueError(
            f"{str(target)!r} was saved without a log likelihood (by an hbm older than "
            f"`hbm compare`); rewrite it with one by `hbm report {target} --out DIR` and compare "
            "DIR/fit.nc, or refit."
        )
    return result


def _source(source: Any) -> FitResult | LooResult:
    if isinstance(source, LooResult):
        return source
    if isinstance(source, str | Path):
        return read_fit(source)
    return as_result(source)


def _common_unit(fits: Mapping[str, FitResult]) -> str:
    every = [set(available_units(result)) for result in fits.values()]
    common = set(UNITS).intersection(*every)
    return "rows" if "rows" in common else "groups"


def _check_same_data(loos: Mapping[str, LooResult], unit: str) -> None:
    items = list(loos.items())
    first_name, first = items[0]
    for name, result in items[1:]:
        differs = difference(first_name, first.key, name, result.key, rows=unit == "rows")
        if differs is not None:
            raise ValueError(f"Cannot compare: {differs}")


def _shifted(loos: Mapping[str, LooResult]) -> dict[str, Any]:
    """Each model's arviz result with ``elpd_i`` less the best model's per unit.

    arviz-stats' stacking takes ``exp(elpd_i)``, which underflows to 0 for a unit holding a whole
    group's data (``elpd_i`` near -1,000): the weights come out NaN. Subtracting one number per
    unit from every model changes neither the stacking weights nor the pointwise differences
    (``elpd_diff``, ``dse``); ``elpd``, ``se`` and ``p`` are read from the totals, unchanged.
    """
    offset = np.max(np.stack([result.elpd_i for result in loos.values()]), axis=0)
    out = {}
    for name, result in loos.items():
        data = copy.copy(result.elpd_data)
        data.elpd_i = data.elpd_i - offset
        out[name] = data
    return out


def _table(loos: Mapping[str, LooResult], unit: str) -> pd.DataFrame:
    import arviz_stats

    with quiet_psis():
        table = arviz_stats.compare(_shifted(loos), round_to="none")
    table = table.rename(columns={"p": "p_loo"})
    table["high_k"] = [len(loos[name].high_k()) for name in table.index]
    table["unit"] = unit
    table["warning"] = [
        "; ".join(
            text
            for text in (table.loc[name, "diag_diff"], table.loc[name, "diag_elpd"])
            if isinstance(text, str) and text
        )
        for name in table.index
    ]
    table.index.name = "model"
    return table[COLUMNS]
