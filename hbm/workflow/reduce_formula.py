"""A formula model's reduction on an engine, and its statistics file read back.

    hbm reduce "data/*.parquet" --formula "y ~ x + (1 + x | g)" --engine dask --out stats.parquet
    hbm fit stats.parquet --out out/fit

One file through pandas is the in-memory path itself (:func:`hbm.model.design.build_model_data`).
Every other reduction runs in three steps: a light **probe** of the covariates (kind, levels: the
reference level of treatment coding comes from the data), the formula's design written as **column
expressions** (:mod:`hbm.model.design_columns`), the engine's **reduction** of those columns per
cell of the grouping columns, assembled into the same ``ModelData``
(:mod:`hbm.model.design_reduced`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hbm.core.defaults import DEFAULTS
from hbm.data.engines import Request, probe, run
from hbm.data.model_data import ModelData
from hbm.data.tables import read_table
from hbm.model.description import ModelDescription
from hbm.model.design import build_model_data
from hbm.model.design_columns import design_columns, formula_needs
from hbm.model.design_reduced import model_data_from_reduced
from hbm.model.formula import ParsedFormula, formula_variables, parse_formula
from hbm.workflow.fit_formula import describe

__all__ = ["check_formula_matches", "reduce_formula_source"]


def reduce_formula_source(
    source: str,
    parsed: ParsedFormula,
    *,
    engine: str,
    cluster: str | None,
    missing: str,
    order: str | None,
    progress: Callable[[str], None] | None,
) -> tuple[ModelData, ModelDescription, dict[str, Any]]:
    """The formula model's data, description and provenance (without ``why``)."""
    if not parsed.blocks:
        raise ValueError(
            f"The formula {parsed.text!r} has no group term such as (1 | group) or "
            "(1 + x | group); hbm fits multilevel models, so add at least one."
        )
    start = time.perf_counter()
    if engine == "pandas" and cluster is None and Path(source).is_file():
        _, _, factors = formula_variables(parsed)
        data = build_model_data(
            read_table(source, group=factors),
            parsed,
            missing=missing,
            order=order or DEFAULTS.order,
        )
        detail = "pandas, the file read whole"
    else:
        needs = formula_needs(parsed, engine)
        variables = probe(
            source, engine, needs.covariates, needs.groups, needs.distinct, cluster=cluster
        )
        plan = design_columns(parsed, variables)
        request = Request(
            source=source,
            groups=needs.groups,
            columns=plan.columns,
            missing=missing,  # type: ignore[arg-type]
            labels=plan.labels,
        )
        reduced = run(request, engine, cluster=cluster, progress=progress)
        data = model_data_from_reduced(
            reduced, parsed, plan, variables, needs.groups, order=order or reduced.order
        )
        detail = reduced.detail
    provenance = {
        "engine": engine,
        "detail": detail,
        "source": source,
        "rows": data.n_rows,
        "dropped": data.dropped,
        "order": order or ("sorted" if engine == "duckdb" else DEFAULTS.order),
        "seconds": round(time.perf_counter() - start, 3),
    }
    return data, describe(data, parsed, {}, DEFAULTS.parametrization), provenance


def check_formula_matches(description: ModelDescription, formula: str, where: str) -> None:
    """A ValueError when ``formula`` is not the model of the statistics file ``where``: the
    same response, population terms and group terms, however they are written."""
    if _key(parse_formula(formula)) != _key(parse_formula(description.formula)):
        raise ValueError(
            f"The statistics file {where} holds the model {description.formula!r}; the formula "
            f"{formula!r} does not match it. Leave the formula out, or reduce again with it."
        )


def _key(parsed: ParsedFormula) -> tuple[Any, ...]:
    import formulae

    def terms(text: str) -> frozenset[str]:
        described = formulae.model_description(f"{parsed.response} ~ {text}")
        return frozenset(term.name for term in described.common_terms)

    blocks = sorted(
        (block.factor, sorted(terms(block.expr)), block.correlated) for block in parsed.blocks
    )
    return parsed.response.strip("` "), terms(parsed.population), tuple(map(str, blocks))
