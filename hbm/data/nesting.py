"""How a formula model's grouping factors sit in one another: nested (a chain) or crossed.

A factor ``B`` is **nested** in a factor ``A`` when every group of ``B`` lies in exactly one group
of ``A`` (every school in one district); the data say so, whatever the spelling:
``(1 | district/school)``, ``(1 | district) + (1 | district:school)`` and, with school labels that
are unique across districts, ``(1 | district) + (1 | school)`` all give a chain. The factors form
a **chain** when they can be ordered outermost first so that each is nested in the one before
(district > school > class); then every group has one parent, and the groups form a tree under
the population. Anything else is **crossed** (raters and items; or two factors both nested in a
third but not in each other), and :func:`nesting_of` says which pair of factors breaks the chain
and shows a label that sits in two groups of the other.

>>> import numpy as np
>>> from hbm.data.comoments import CellMoments
>>> from hbm.data.model_data import FactorData, ModelData
>>> def factor(name, labels, cells):
...     return FactorData(name, labels, ("Intercept",), (0,), (("Intercept",),), (False,),
...                       np.array(cells))
>>> moments = CellMoments.of_rows(np.arange(3), np.ones((3, 2)), 3)
>>> data = ModelData("y", ("Intercept", "y"), ("Intercept",),
...                  (factor("d:s", ("a:1", "a:2", "b:1"), [0, 1, 2]),
...                   factor("d", ("a", "b"), [0, 0, 1])), moments)
>>> chain = nesting_of(data)
>>> chain.names, chain.parents[1].tolist()
(('d', 'd:s'), [0, 0, 1])
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from hbm.data.model_data import FactorData, ModelData

__all__ = [
    "Nesting",
    "crossing",
    "is_nested_in",
    "nesting_of",
    "outermost_factor",
    "repeated_labels",
    "told_apart",
]


@dataclass(frozen=True, eq=False)
class Nesting:
    """A chain of nested grouping factors, outermost first.

    Attributes
    ----------
    factors : tuple of FactorData
        The factors, outermost (fewest groups) first.
    positions : tuple of int
        Where each sits in ``ModelData.factors`` (the formula's order).
    parents : tuple of ndarray of int64
        ``parents[l][g]``: the group of level ``l - 1`` that group ``g`` of level ``l`` lies in;
        ``parents[0]`` is empty (the outermost level's parent is the population).
    """

    factors: tuple[FactorData, ...]
    positions: tuple[int, ...]
    parents: tuple[np.ndarray, ...] = field(repr=False)

    @property
    def names(self) -> tuple[str, ...]:
        """The factors' names, outermost first."""
        return tuple(f.name for f in self.factors)

    @property
    def depth(self) -> int:
        """Number of levels of groups."""
        return len(self.factors)

    def ancestors(self, level: int, of: int) -> np.ndarray:
        """For every group of ``level``, its group at level ``of <= level``."""
        index = np.arange(self.factors[level].n_groups)
        for step in range(level, of, -1):
            index = self.parents[step][index]
        return index

    def roots(self, level: int) -> np.ndarray:
        """For every group of ``level``, its outermost group."""
        return self.ancestors(level, 0)


def is_nested_in(inner: FactorData, outer: FactorData) -> bool:
    """Whether every group of ``inner`` lies in exactly one group of ``outer``."""
    pairs = np.unique(inner.cells * np.int64(outer.n_groups) + outer.cells)
    return pairs.size == inner.n_groups


def _parents(inner: FactorData, outer: FactorData) -> np.ndarray:
    parents = np.empty(inner.n_groups, dtype=np.int64)
    parents[inner.cells] = outer.cells
    return parents


def nesting_of(data: ModelData) -> Nesting | None:
    """The chain the factors form, or None when some are crossed (see the module docstring)."""
    if not data.factors:
        return None
    order = sorted(range(len(data.factors)), key=lambda i: (data.factors[i].n_groups, i))
    factors = tuple(data.factors[i] for i in order)
    parents = [np.zeros(0, dtype=np.int64)]
    for outer, inner in itertools.pairwise(factors):
        if not is_nested_in(inner, outer):
            return None
        parents.append(_parents(inner, outer))
    return Nesting(factors=factors, positions=tuple(order), parents=tuple(parents))


def outermost_factor(data: ModelData) -> FactorData | None:
    """The only grouping factor, or the outermost of nested ones; None when they are crossed
    (the factor whose groups, each with everything nested in it, are independent units)."""
    if len(data.factors) == 1:
        return data.factors[0]
    nesting = nesting_of(data)
    return None if nesting is None else nesting.factors[0]


def crossing(data: ModelData) -> str:
    """Why the factors do not form a chain, in words ('' when they do or there is one factor).

    Names the first pair of factors (fewest groups first) that are not nested, with a label of
    the one that has more groups sitting in two groups of the other.
    """
    order = sorted(range(len(data.factors)), key=lambda i: (data.factors[i].n_groups, i))
    factors = [data.factors[i] for i in order]
    for k, inner in enumerate(factors[1:], start=1):
        outer = factors[k - 1]
        if is_nested_in(inner, outer):
            continue
        pairs = np.unique(inner.cells * np.int64(outer.n_groups) + outer.cells)
        groups, counts = np.unique(pairs // outer.n_groups, return_counts=True)
        share = int((counts > 1).sum())
        example = int(groups[np.argmax(counts > 1)])
        where = np.sort(pairs[pairs // outer.n_groups == example] % outer.n_groups)
        shown = ", ".join(repr(outer.labels[i]) for i in where[:3])
        more = f" and {where.size - 3} more" if where.size > 3 else ""
        return (
            f"{inner.name} is crossed with {outer.name}: {share} of its {inner.n_groups} groups "
            f"sit in more than one {outer.name} group (e.g. {inner.labels[example]!r} in "
            f"{shown}{more})"
        )
    return ""


def repeated_labels(inner: FactorData, outer: FactorData) -> tuple[int, int, str, int]:
    """For a nested factor named ``<outer>:<b>`` (labels ``<outer label>:<b label>``): how many
    distinct ``b`` labels there are, how many of them occur in more than one ``outer`` group,
    the most repeated one and in how many ``outer`` groups it occurs.

    Examples
    --------
    >>> labels = ("a:1", "a:2", "b:1")
    >>> inner = FactorData("d:s", labels, ("Intercept",), (0,), (("Intercept",),), (False,),
    ...                    np.array([0, 1, 2]))
    >>> outer = FactorData("d", ("a", "b"), ("Intercept",), (0,), (("Intercept",),), (False,),
    ...                    np.array([0, 0, 1]))
    >>> repeated_labels(inner, outer)
    (2, 1, '1', 2)
    """
    parents = _parents(inner, outer)
    own = [
        label[len(outer.labels[p]) + 1 :] if label.startswith(outer.labels[p] + ":") else label
        for label, p in zip(inner.labels, parents, strict=True)
    ]
    names, counts = np.unique(np.asarray(own, dtype=object), return_counts=True)
    if names.size == 0:
        return 0, 0, "", 0
    top = int(np.argmax(counts))
    return int(names.size), int((counts > 1).sum()), str(names[top]), int(counts[top])


def told_apart(data: ModelData) -> list[str]:
    """Sentences for every nested level whose labels repeat across its outer groups (class "1"
    in every school), which ``<outer>:<inner>`` tells apart.

    A factor counts when it is named ``<outer>:<b>``, ``<outer>`` is a factor of the model too,
    and it is nested in it (:func:`repeated_labels`).
    """
    names = {f.name: f for f in data.factors}
    out = []
    for factor in data.factors:
        outer_name, _, own = factor.name.rpartition(":")
        outer = names.get(outer_name)
        if outer is None or not is_nested_in(factor, outer):
            continue
        distinct, repeated, example, count = repeated_labels(factor, outer)
        if repeated:
            out.append(
                f"{own} labels repeat across {outer_name} groups ({repeated} of {distinct}; e.g. "
                f"{example!r} in {count} of them): they are told apart as {factor.name} "
                f"({factor.n_groups} groups, labelled '<{outer_name}>:<{own}>')."
            )
    return out
