"""A formula model's ``ModelData`` as a statistics file's table, and back, exactly.

One row per cell: for each grouping factor its label (``group[<factor>]``) and the index of that
label among the factor's groups (``group_index[<factor>]``, which keeps the groups' order), then
``n``, and for each design column ``c`` of ``W = [X, Z, y]`` its mean ``mean[c]`` and the mean's low
part ``low[c]`` (:mod:`hbm.data.comoments`), then the centred co-moments ``comoment[a, b]`` for
``a <= b``. The record beside it (the file's ``hbm_stats`` metadata) names the columns, the
population terms, each factor's terms and blocks, and the design's record
(:mod:`hbm.model.design_info`). Reading it back gives the same ``ModelData``, float for float, so
a fit from the file draws what the direct fit draws.

>>> import numpy as np
>>> from hbm.data.comoments import CellMoments
>>> from hbm.data.model_data import FactorData, ModelData
>>> m = CellMoments.of_rows(np.array([0, 0, 1]), np.array([[1.0, 2.0], [1.0, 6.0], [1.0, 1.0]]), 2)
>>> g = FactorData("g", ("a", "b"), ("Intercept",), (0,), (("Intercept",),), (False,),
...                np.array([0, 1]))
>>> data = ModelData("y", ("Intercept", "y"), ("Intercept",), (g,), m)
>>> table, info = model_data_table(data)
>>> table.columns.tolist()[:4]
['group[g]', 'group_index[g]', 'n', 'mean[Intercept]']
>>> back = model_data_from_table(table, info, where="'stats.parquet'")
>>> bool(np.array_equal(back.moments.comoment, data.moments.comoment)), back.factors[0].labels
(True, ('a', 'b'))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from hbm.data.comoments import CellMoments
from hbm.data.model_data import FactorData, ModelData

__all__ = ["LAYOUT", "model_data_from_table", "model_data_table"]

#: The ``layout`` entry of a formula model's statistics file.
LAYOUT = "formula-cells"


def model_data_table(data: ModelData) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The table and the record of ``data`` (see the module docstring)."""
    m = data.moments
    columns: dict[str, Any] = {}
    for factor in data.factors:
        columns[f"group[{factor.name}]"] = np.asarray(factor.labels, dtype=object)[factor.cells]
        columns[f"group_index[{factor.name}]"] = factor.cells.astype(np.int64)
    columns["n"] = m.n.astype(np.int64)
    for a, name in enumerate(data.columns):
        columns[f"mean[{name}]"] = m.mean[:, a]
    for a, name in enumerate(data.columns):
        columns[f"low[{name}]"] = m.low[:, a]
    for a, first in enumerate(data.columns):
        for b in range(a, len(data.columns)):
            columns[f"comoment[{first}, {data.columns[b]}]"] = m.comoment[:, a, b]
    info = {
        "layout": LAYOUT,
        "response": data.response,
        "columns": list(data.columns),
        "population": list(data.population),
        "factors": [
            {
                "name": f.name,
                "groups": f.n_groups,
                "terms": list(f.terms),
                "blocks": [list(block) for block in f.blocks],
                "correlated": list(f.correlated),
            }
            for f in data.factors
        ],
        "dropped": data.dropped,
        "design": data.design,
    }
    return pd.DataFrame(columns), info


def model_data_from_table(table: pd.DataFrame, info: dict[str, Any], *, where: str) -> ModelData:
    """``ModelData`` from a statistics file's table and record; a file that does not hold what
    its record says is a ValueError naming the file and what is wrong."""
    try:
        names = [str(c) for c in info["columns"]]
        factors_info = list(info["factors"])
    except (KeyError, TypeError):
        raise ValueError(f"The statistics file {where} has damaged metadata.") from None
    k = len(names)
    wanted = ["n", *(f"mean[{c}]" for c in names), *(f"low[{c}]" for c in names)]
    for f in factors_info:
        wanted += [f"group[{f['name']}]", f"group_index[{f['name']}]"]
    wanted += [f"comoment[{names[a]}, {names[b]}]" for a in range(k) for b in range(a, k)]
    missing = [c for c in wanted if c not in table.columns]
    if missing:
        raise ValueError(
            f"The statistics file {where} lacks the column(s) {', '.join(map(repr, missing[:3]))}"
            " that its metadata names; write it again with hbm reduce."
        )
    n = table["n"].to_numpy(dtype=np.int64)
    mean = np.column_stack([table[f"mean[{c}]"].to_numpy(dtype=float) for c in names])
    low = np.column_stack([table[f"low[{c}]"].to_numpy(dtype=float) for c in names])
    comoment = np.zeros((len(table), k, k))
    for a in range(k):
        for b in range(a, k):
            values = table[f"comoment[{names[a]}, {names[b]}]"].to_numpy(dtype=float)
            comoment[:, a, b] = comoment[:, b, a] = values
    if len(table) == 0 or np.any(n < 1) or not np.all(np.isfinite(mean)):
        raise ValueError(
            f"The statistics file {where} has cells without rows or with values that are not "
            "finite; write it again with hbm reduce."
        )
    factors = tuple(_factor(table, f, names, where) for f in factors_info)
    return ModelData(
        response=str(info["response"]),
        columns=tuple(names),
        population=tuple(info["population"]),
        factors=factors,
        moments=CellMoments(n=n, mean=mean, low=low, comoment=comoment),
        dropped=int(info.get("dropped", 0)),
        design=dict(info.get("design", {})),
    )


def _factor(table: pd.DataFrame, f: dict[str, Any], names: list[str], where: str) -> FactorData:
    name = str(f["name"])
    cells = table[f"group_index[{name}]"].to_numpy(dtype=np.int64)
    text = table[f"group[{name}]"].astype(str).to_numpy(dtype=object)
    size = int(f["groups"])
    labels = np.full(size, None, dtype=object)
    inside = (cells >= 0) & (cells < size)
    labels[cells[inside]] = text[inside]
    consistent = inside.all() and all(
        labels[c] == t for c, t in zip(cells.tolist(), text.tolist(), strict=True)
    )
    if not consistent or any(label is None for label in labels):
        raise ValueError(
            f"The statistics file {where} has group labels of {name!r} that do not match their "
            "indices; write it again with hbm reduce."
        )
    terms = tuple(str(t) for t in f["terms"])
    return FactorData(
        name=name,
        labels=tuple(str(label) for label in labels),
        terms=terms,
        columns=tuple(names.index(t) for t in terms),
        blocks=tuple(tuple(str(t) for t in block) for block in f["blocks"]),
        correlated=tuple(bool(c) for c in f["correlated"]),
        cells=cells,
    )
