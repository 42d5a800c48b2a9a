"""A fit's DataTree and its ``FitResult``: the attributes that carry the record, both ways.

:func:`record_attrs` writes the record into the tree's root attributes as JSON (``hbm_model`` and
its hash ``hbm_model_hash``, ``hbm_spec``, ``hbm_parameters``, ``hbm_data``, ``hbm_run``,
``hbm_priors``, ``hbm_diagnosis``, ``hbm_parametrization_reason``); :func:`result_from_tree` reads
it back, and :func:`as_result` accepts what the analysis and plotting functions are given: a
``FitResult``, anything that holds one as ``.result`` (the :class:`hbm.api.Fit` façade), or a fit's
DataTree.

A tree saved by an earlier hbm (no description, no parameter table) holds the seed's model: its
description is made from its spec, its table read off its posterior. A tree whose description does
not match its hash is refused.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import xarray as xr

from hbm.data.curve_data import CurveData
from hbm.data.grouped import GroupedData
from hbm.data.model_data import ModelData
from hbm.diagnostics.diagnosis import Diagnosis
from hbm.model.description import ModelDescription
from hbm.model.families import get_family
from hbm.model.priors import parse_prior
from hbm.model.stored import PARAMETERS_ATTR, parameters_of
from hbm.results.curve_tree import CURVE_DATA, curve_data_from_tree
from hbm.results.fit_result import FitResult
from hbm.results.fit_spec import FitSpec
from hbm.results.model_data_tree import model_data_from_tree

__all__ = ["as_result", "record_attrs", "result_from_tree"]

MODEL_ATTR, HASH_ATTR = "hbm_model", "hbm_model_hash"
SPEC_ATTR, DIAGNOSIS_ATTR, PRIORS_ATTR = "hbm_spec", "hbm_diagnosis", "hbm_priors"
REASON_ATTR = "hbm_parametrization_reason"


def record_attrs(result: FitResult) -> None:
    """Write ``result``'s record into its DataTree's attributes (in place)."""
    attrs = result.idata.attrs
    attrs[MODEL_ATTR] = result.description.to_json()
    attrs[HASH_ATTR] = result.description.hash
    attrs[SPEC_ATTR] = result.spec.to_json()
    attrs[PARAMETERS_ATTR] = result.parameters.to_json()
    attrs[PRIORS_ATTR] = json.dumps(
        {name: {"text": p.text(), "source": p.source} for name, p in result.priors.items()}
    )
    attrs[REASON_ATTR] = result.reason
    if result.diagnosis is not None:
        attrs[DIAGNOSIS_ATTR] = json.dumps(result.diagnosis.to_dict(), sort_keys=True)


def as_result(source: Any) -> FitResult:
    """The ``FitResult`` of ``source``: a result, a ``Fit`` (its ``.result``), or a fit's DataTree.

    Raises
    ------
    TypeError
        If ``source`` is none of these.
    ValueError
        If a DataTree lacks the ``posterior`` or ``group_data`` group or the ``hbm_spec``
        attribute that :func:`hbm.fit` writes.
    """
    if isinstance(source, FitResult):
        return source
    held = getattr(source, "result", None)
    if isinstance(held, FitResult):
        return held
    if not isinstance(source, xr.DataTree):
        raise TypeError(
            f"Expected an hbm Fit or a fit's xarray.DataTree; got {type(source).__name__}."
        )
    data_group = next((g for g in ("cell_data", CURVE_DATA) if g in source.children), "group_data")
    missing = [g for g in ("posterior", data_group) if g not in source.children]
    if missing or SPEC_ATTR not in source.attrs:
        lacks = [f"the {g!r} group" for g in missing] + (
            [] if SPEC_ATTR in source.attrs else [f"the {SPEC_ATTR!r} attribute"]
        )
        raise ValueError(
            f"The DataTree lacks {' and '.join(lacks)}; expected a fit made by hbm.fit "
            "or read by hbm.load."
        )
    return result_from_tree(source)


def result_from_tree(tree: xr.DataTree) -> FitResult:
    """Read the record written by :func:`record_attrs` (see the module docstring).

    Raises
    ------
    KeyError, ValueError, TypeError
        If an attribute is missing or does not read as what it should be.
    """
    spec = FitSpec.from_json(tree.attrs[SPEC_ATTR])
    description = _description(tree, spec)
    get_family(description.family)
    parameters = parameters_of(tree)
    data: GroupedData | ModelData | CurveData
    if description.curve is not None:
        data = curve_data_from_tree(tree)
    elif description.is_seed_model:
        data = _group_data(tree, spec)
    else:
        data = model_data_from_tree(tree, description)
    priors = {}
    if PRIORS_ATTR in tree.attrs:
        priors = {
            name: replace(parse_prior(entry["text"], name), source=entry["source"])
            for name, entry in _json(tree, PRIORS_ATTR).items()
        }
    diagnosis = None
    if DIAGNOSIS_ATTR in tree.attrs:
        raw = _json(tree, DIAGNOSIS_ATTR)
        known = set(Diagnosis.__dataclass_fields__) - {"extra"}
        diagnosis = Diagnosis(
            **{k: v for k, v in raw.items() if k in known},
            extra={k: v for k, v in raw.items() if k not in known},
        )
    return FitResult(
        description=description,
        spec=spec,
        data=data,
        priors=priors,
        idata=tree,
        parameters=parameters,
        diagnosis=diagnosis,
        parametrization=str(tree.attrs.get("parametrization", spec.parametrization)),
        reason=str(tree.attrs.get(REASON_ATTR, "")),
    )


def _description(tree: xr.DataTree, spec: FitSpec) -> ModelDescription:
    if MODEL_ATTR not in tree.attrs:  # saved before descriptions were stored: the seed's model
        return ModelDescription.for_groups(
            group=spec.group,
            value=spec.value,
            se=spec.se,
            priors=spec.priors,
            parametrization=spec.parametrization,
            likelihood=spec.likelihood,
        )
    description = ModelDescription.from_json(str(tree.attrs[MODEL_ATTR]))
    stored = tree.attrs.get(HASH_ATTR)
    if stored != description.hash:
        raise ValueError(
            f"the model description does not match its hash {stored!r} (the file was changed "
            "after it was saved)"
        )
    return description


def _group_data(tree: xr.DataTree, spec: FitSpec) -> GroupedData:
    groups = tree["group_data"].to_dataset()
    described = _json(tree, "hbm_data") if "hbm_data" in tree.attrs else {}
    return GroupedData(
        group=spec.group,
        value=spec.value,
        se=spec.se,
        labels=tuple(str(v) for v in groups[spec.group].values),
        order=spec.order,  # type: ignore[arg-type]
        n=groups["n"].values.astype(np.int64),
        mean=groups["mean"].values.astype(float),
        ss=groups["ss"].values.astype(float),
        stderr=groups["se"].values.astype(float) if spec.se is not None else None,
        dropped=int(described.get("dropped_missing", 0)),
    )


def _json(tree: xr.DataTree, name: str) -> dict[str, Any]:
    try:
        value = json.loads(tree.attrs[name])
    except (json.JSONDecodeError, TypeError):
        raise ValueError(f"the attribute {name} is not valid JSON") from None
    if not isinstance(value, dict):
        raise ValueError(f"the attribute {name} is not a JSON object")
    return value
