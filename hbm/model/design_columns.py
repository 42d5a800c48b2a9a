"""A formula's design columns as engine expressions: what lets DuckDB and Dask reduce a formula.

The in-memory path evaluates the formula with formulae on the whole table
(:mod:`hbm.model.design`). Out of core there is no whole table: the engines reduce named column
expressions (:class:`hbm.data.engines.Column`, in SQL and on pandas partitions). So formulae
evaluates each part of the formula on a **skeleton** instead, a few rows holding every covariate's
kind and levels as the data gave them (:mod:`hbm.data.engines.probe`), which fixes the coding
exactly as on the data: which terms there are, their order and names, treatment coding with the
first level as the reference, full coding where the intercept is absent. Each design column is
then a product of **factors**, one per component of its term:

- a numeric covariate: its value;
- a level of a categorical covariate (or of ``C(x)``): the contrast's weight of the row's level
  (``1`` for its own level in treatment coding), missing when the label is missing;
- the intercept: no factor, the constant 1.

formulae's evaluation on the skeleton is checked against these expressions on the skeleton's rows
(so a coding this module does not know is refused, never wrong). Transformations that formulae
evaluates in Python (``I(...)``, ``np.log(x)``, ``scale(x)``) are refused with a line that says
to precompute the column.

>>> from hbm.model.formula import parse_formula
>>> needs = formula_needs(parse_formula("y ~ x * s + (1 + x | g)"))
>>> needs.covariates, needs.groups, needs.distinct
(['s', 'x'], ('g',), set())
>>> variables = {"x": {"kind": "numeric", "values": [0.0, 9.0]},
...              "s": {"kind": "categoric", "values": ["a", "b"]}}
>>> plan = design_columns(parse_formula("y ~ x * s + (1 + x | g)"), variables)
>>> [c.name for c in plan.columns]
['Intercept', 'x', 's[b]', 'x:s[b]', 'y']
>>> print(plan.columns[2].sql)
CASE WHEN "s" IS NULL THEN NULL WHEN "s" = 'b' THEN CAST(1.0 AS DOUBLE) ELSE CAST(0.0 AS DOUBLE) END
>>> plan.columns[3].sql == f'("x") * ({plan.columns[2].sql})'
True
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hbm.core.names import INTERCEPT
from hbm.data.engines.request import Column, quote_sql
from hbm.model.formula import ParsedFormula, formula_variables

__all__ = ["DesignPlan", "FormulaNeeds", "Product", "design_columns", "formula_needs"]


@dataclass(frozen=True)
class FormulaNeeds:
    """What a formula reads: the response, covariates, grouping columns, and the covariates whose
    levels it needs even when numeric (``C(x)``)."""

    response: str
    covariates: list[str]
    groups: tuple[str, ...]
    distinct: set[str]


def formula_needs(parsed: ParsedFormula, engine: str = "duckdb") -> FormulaNeeds:
    """Check that every term of ``parsed`` can be written as an engine expression.

    Raises
    ------
    ValueError
        For a transformation evaluated in Python, naming the term.
    """
    import formulae

    response, _, groups = formula_variables(parsed)
    if parsed.response.strip().strip("`") != response:
        _refuse(parsed.response, engine)
    distinct: set[str] = set()
    covariates: set[str] = set()
    parts = [parsed.population, *(block.expr for block in parsed.blocks)]
    for part in parts:
        described = formulae.model_description(f"{parsed.response} ~ {part}")
        for term in described.common_terms:
            for component in getattr(term, "components", []):
                name = _source(component)
                if name is None:
                    _refuse(str(getattr(component, "name", term.name)), engine)
                    continue
                covariates.add(name)
                if type(component).__name__ == "Call":
                    distinct.add(name)
    return FormulaNeeds(response, sorted(covariates), tuple(groups), distinct)


def _refuse(term: str, engine: str) -> None:
    raise ValueError(
        f"The term {term!r} is a transformation formulae evaluates in Python, which the {engine} "
        "engine cannot run where the rows are; precompute it as a column of the data and use "
        "that column in the formula, or fit one file in memory (--engine pandas)."
    )


def _source(component: Any) -> str | None:
    """The column a term component reads, or None for a transformation."""
    kind = type(component).__name__
    if kind == "Variable":
        return str(component.name)
    call = getattr(component, "call", None)
    callee = getattr(call, "callee", None)
    args = getattr(call, "args", [])
    if kind == "Call" and callee == "C" and args and type(args[0]).__name__ == "LazyVariable":
        return str(args[0].name)
    return None


@dataclass(frozen=True)
class Factor:
    """One component of a design column: a numeric column, or contrast weights of levels."""

    column: str
    levels: tuple[Any, ...] = ()
    weights: tuple[float, ...] = ()
    categoric: bool = False

    @property
    def sql(self) -> str:
        q = quote_sql(self.column)
        if not self.categoric:
            return q
        cases = " ".join(
            f"WHEN {q} = {_literal(level)} THEN CAST({weight!r} AS DOUBLE)"
            for level, weight in zip(self.levels, self.weights, strict=True)
            if weight != 0
        )
        return f"CASE WHEN {q} IS NULL THEN NULL {cases} ELSE CAST(0.0 AS DOUBLE) END"

    def values(self, table: pd.DataFrame) -> np.ndarray:
        column = table[self.column]
        if not self.categoric:
            return column.to_numpy(dtype=float, na_value=np.nan)
        out = np.zeros(len(column))
        for level, weight in zip(self.levels, self.weights, strict=True):
            if weight != 0:
                out[(column == level).to_numpy(dtype=bool, na_value=False)] = weight
        return out


def _literal(level: Any) -> str:
    if isinstance(level, str):
        return "'" + level.replace("'", "''") + "'"
    return repr(float(level))


@dataclass(frozen=True)
class Product:
    """A design column: the product of its factors, left to right (the intercept has none).
    A plain, module-level callable, so that Dask can ship it to its workers."""

    factors: tuple[Factor, ...]

    def __call__(self, table: pd.DataFrame) -> np.ndarray:
        if not self.factors:
            return np.ones(len(table))
        out = self.factors[0].values(table)
        for factor in self.factors[1:]:
            out = out * factor.values(table)
        return out

    @property
    def sql(self) -> str:
        if not self.factors:
            return "1.0"
        if len(self.factors) == 1:
            return self.factors[0].sql
        return " * ".join(f"({factor.sql})" for factor in self.factors)

    @property
    def reads(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.column for f in self.factors))


@dataclass(frozen=True)
class DesignPlan:
    """A formula's design as engine columns.

    Attributes
    ----------
    columns : tuple of Column
        ``W = [X, group-only terms, y]`` in the in-memory path's order, the response last.
    population : tuple of str
        The population terms (the first columns).
    blocks : dict
        Per grouping factor, its blocks' terms and whether each is correlated.
    labels : tuple of str
        The categorical covariates (read as text by the engines).
    """

    columns: tuple[Column, ...]
    population: tuple[str, ...]
    blocks: dict[str, list[tuple[tuple[str, ...], bool]]]
    labels: tuple[str, ...]


def design_columns(parsed: ParsedFormula, variables: dict[str, dict[str, Any]]) -> DesignPlan:
    """The design of ``parsed`` as engine columns, given the probed ``variables``."""
    needs = formula_needs(parsed)
    skeleton = skeleton_frame(variables, needs.response)
    x_names, x_products = _part(f"{parsed.response} ~ {parsed.population}", skeleton, variables)
    products = dict(zip(x_names, x_products, strict=True))
    blocks: dict[str, list[tuple[tuple[str, ...], bool]]] = {}
    for block in parsed.blocks:
        z_names, z_products = _part(f"{parsed.response} ~ {block.expr}", skeleton, variables)
        for name, product in zip(z_names, z_products, strict=True):
            if products.setdefault(name, product) != product:
                raise ValueError(
                    f"The term {name!r} of ({block.expr} | {block.factor}) differs from the "
                    "population term of the same name; rename one of them."
                )
        blocks.setdefault(block.factor, []).append((tuple(z_names), block.correlated))
    columns = [Column(name, p.sql, p.reads, p) for name, p in products.items()]
    columns.append(Column.plain(needs.response))
    labels = tuple(n for n in needs.covariates if variables[n]["kind"] == "categoric")
    return DesignPlan(tuple(columns), tuple(x_names), blocks, labels)


def skeleton_frame(variables: dict[str, dict[str, Any]], response: str) -> pd.DataFrame:
    """A few rows holding each covariate's values (all levels of a categorical one) in the
    types the data have (integers stay integers: ``C(k)`` names ``C(k)[2]``, not ``[2.0]``)."""
    length = max([len(v["values"]) for v in variables.values()] + [2])
    columns: dict[str, Any] = {response: np.arange(length, dtype=float)}
    for name, variable in variables.items():
        values = variable["values"] or [0.0]
        cycled = [values[i % len(values)] for i in range(length)]
        if variable["kind"] == "categoric":
            columns[name] = pd.Series(cycled, dtype=object)
        else:
            columns[name] = np.asarray(cycled)
    return pd.DataFrame(columns)


def _part(
    text: str, skeleton: pd.DataFrame, variables: dict[str, dict[str, Any]]
) -> tuple[list[str], list[Product]]:
    """Names and products of one part of the formula, checked on the skeleton."""
    import formulae

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        matrices = formulae.design_matrices(text, skeleton, na_action="error")
    if matrices.common is None:
        return [], []
    design = matrices.common.as_dataframe()
    found: dict[str, Product] = {}
    for term in matrices.common.terms.values():
        if type(term).__name__ == "Intercept":
            found[INTERCEPT] = Product(())
            continue
        options = []
        for component in term.components:
            column = _source(component)
            if column is None:  # formula_needs refuses these first; never a silent wrong column
                raise ValueError(
                    f"The term {term!s} of {text!r} is not a column, a level of one or a product "
                    "of those; out of core, precompute it as a column of the data."
                )
            options.append(_options(component, column, variables[column]["kind"]))
        for combination in itertools.product(*options):
            name = ":".join(label for label, _ in combination)
            found[name] = Product(tuple(factor for _, factor in combination))
    names = [str(c) for c in design.columns]
    unknown = [n for n in names if n not in found]
    if unknown:
        raise ValueError(
            f"The design column(s) {', '.join(map(repr, unknown))} of {text!r} use a coding hbm "
            "cannot write for an out-of-core engine; reduce with --engine pandas."
        )
    products = [found[n] for n in names]
    check = np.column_stack([p(skeleton) for p in products])
    if not np.allclose(check, np.asarray(design, dtype=float), rtol=0, atol=1e-12):
        raise ValueError(
            f"The design of {text!r} could not be written for an out-of-core engine (its "
            "columns differ from formulae's on the covariates' levels); reduce with --engine "
            "pandas."
        )
    return names, products


def _options(component: Any, column: str, kind: str) -> list[tuple[str, Factor]]:
    """A component's columns: ``(label, factor)`` for each."""
    contrast = component.contrast_matrix
    if getattr(component, "kind", None) != "categoric" or contrast is None:
        return [(str(component.name), Factor(column))]
    matrix = np.asarray(contrast.matrix, dtype=float)
    levels = tuple(component.levels)
    if kind == "categoric":
        levels = tuple(str(level) for level in levels)
    else:
        levels = tuple(level.item() if hasattr(level, "item") else level for level in levels)
    return [
        (
            f"{component.name}[{label}]",
            Factor(column, levels, tuple(float(w) for w in matrix[:, j]), categoric=True),
        )
        for j, label in enumerate(contrast.labels)
    ]
