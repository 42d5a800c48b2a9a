"""Checks of a model's grouping levels against the data, with messages that say what to write.

- **A nesting the data contradict.** ``(1 | district/school)`` tells schools apart by district
  (``district:school``), which is right both for labels numbered within each district (school
  "1" in every district) and for labels unique across districts. When the labels are unique
  except for a few that appear under two or more districts — at most
  :data:`MOSTLY_UNIQUE` of them — they were most likely meant to be unique and a row has the
  wrong district: :func:`check_declared_nesting` names the label and its districts and offers
  the spelling that tells them apart on purpose, ``(1 | district) + (1 | district:school)``
  (which is not checked).
- **Levels that are not identified** (:func:`check_identified`, normal family): a factor whose
  every group has one row, so its intercepts cannot be told apart from the residual ``sigma``;
  and a nested factor whose every group is the only one in its parent (each district holds one
  school), so the two levels' intercepts cannot be told apart from each other.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np
import pandas as pd

from hbm.core.names import INTERCEPT
from hbm.data.model_data import ModelData
from hbm.data.nesting import is_nested_in, nesting_of
from hbm.model.formula import ParsedFormula

__all__ = ["MOSTLY_UNIQUE", "check_declared_nesting", "check_identified"]

#: Under ``a/b``, inner labels count as meant to be unique when at most this share of them
#: appears under more than one outer group (and at least one does).
MOSTLY_UNIQUE = 0.1


def check_declared_nesting(parsed: ParsedFormula, labels: Mapping[str, pd.Series]) -> None:
    """A ValueError when a level written with ``/`` has labels that are unique to one outer
    group except a few (see the module docstring). ``labels`` holds every grouping column's
    labels as text, one per row (rows with missing values already dropped).

    Examples
    --------
    >>> from hbm.model.formula import parse_formula
    >>> parsed = parse_formula("y ~ 1 + (1 | d/s)")
    >>> d = pd.Series(["a"] * 10 + ["b"] * 11)
    >>> s = pd.Series([f"s{i}" for i in range(10)] + [f"s{i}" for i in range(10, 20)] + ["s3"])
    >>> check_declared_nesting(parsed, {"d": d, "s": s})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: The nesting (1 | d/s) is contradicted by the data: s labels are unique ...
    """
    for outer, inner in parsed.declared_nesting:
        last = inner.rpartition(":")[2]
        keys = [labels[part].to_numpy(dtype=object) for part in outer.split(":")]
        outer_key = keys[0].astype(str)
        for part in keys[1:]:
            outer_key = np.char.add(np.char.add(outer_key, ":"), part.astype(str))
        pairs = pd.DataFrame({"outer": outer_key, "inner": labels[last].to_numpy(dtype=object)})
        pairs = pairs.drop_duplicates()
        counts = pairs.groupby("inner", sort=True)["outer"].nunique()
        repeated = counts[counts > 1]
        if repeated.empty or len(repeated) > MOSTLY_UNIQUE * len(counts):
            continue
        example = str(repeated.index[0])
        where = sorted(pairs.loc[pairs["inner"] == repeated.index[0], "outer"].astype(str))
        shown = ", ".join(repr(w) for w in where[:4]) + (" ..." if len(where) > 4 else "")
        block = next(b for b in parsed.blocks if b.factor == inner)
        written = f"({block.expr} | {inner.replace(':', '/')})"
        spelled = " + ".join(
            f"({b.expr} | {b.factor})"
            for b in parsed.blocks
            if b.expr == block.expr and (inner == b.factor or inner.startswith(b.factor + ":"))
        )
        others = f" and {len(repeated) - 1} more" if len(repeated) > 1 else ""
        raise ValueError(
            f"The nesting {written} is contradicted by the data: {last} labels are unique to "
            f"one {outer} group except {example!r} (in {outer} {shown}){others}, "
            f"{len(repeated)} of {len(counts)} labels. If these are different {last} groups "
            f"that share a label, write {spelled} to tell them apart; if they are one, correct "
            f"its {outer}."
        )


def check_identified(data: ModelData) -> None:
    """A ValueError naming a level that a normal model cannot identify (module docstring)."""
    for factor in data.factors:
        if INTERCEPT not in factor.terms:
            continue
        sizes = np.bincount(factor.cells, weights=data.moments.n, minlength=factor.n_groups)
        if np.all(sizes == 1):
            raise ValueError(
                f"Every {factor.name} group has exactly one row, so its intercepts cannot be "
                f"told apart from the residual sd sigma: the {factor.name} level is not "
                f"identified. Drop the group term of {factor.name}, or give it groups of "
                "several rows."
            )
    nesting = nesting_of(data) if len(data.factors) > 1 else None
    if nesting is None:
        return
    for outer, inner in itertools.pairwise(nesting.factors):
        both = INTERCEPT in outer.terms and INTERCEPT in inner.terms
        if both and inner.n_groups == outer.n_groups and is_nested_in(inner, outer):
            raise ValueError(
                f"Every {outer.name} group holds exactly one {inner.name} group, so the "
                f"intercepts of the two levels cannot be told apart: {inner.name} is not "
                f"identified. Drop one of the group terms of {outer.name} and {inner.name}."
            )
