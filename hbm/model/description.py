"""The model description: a frozen, JSON-serialisable record of what model is fitted.

It says the family and link, the population terms, the group terms per grouping factor (which
terms vary, correlated or not), the priors (as text, as used), the parametrization and the
likelihood form. A formula is one way to write it; ``group=``/``value=`` is the shorthand for
``value ~ 1 + (1 | group)`` (:meth:`ModelDescription.for_groups`).

A fit stores its description in ``fit.nc`` (attribute ``hbm_model``) with its hash
(``hbm_model_hash``); :func:`hbm.load` checks the hash and rebuilds the model from the description
for prediction and checks, and refuses a file whose description does not match its hash.

Terms are spelled as formulae spells them: ``Intercept``, ``Days``, ``sector[Public]``,
``C(period)[2]``; a nested grouping factor as ``district:school``.

>>> d = ModelDescription.for_groups(group="school", value="score")
>>> d.formula, d.is_seed_model
('score ~ 1 + (1 | school)', True)
>>> ModelDescription.from_json(d.to_json()) == d
True
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from hbm.core.defaults import DEFAULTS

__all__ = ["FORMAT", "GroupTerm", "ModelDescription", "quote_name"]

#: The layout of a description's JSON.
FORMAT = "hbm-model/1"
INTERCEPT = "Intercept"


@dataclass(frozen=True)
class GroupTerm:
    """The terms that vary by one grouping factor, in their brackets.

    Attributes
    ----------
    factor : str
        The grouping column (``school``), or nested levels joined by ``:`` (``district:school``).
    blocks : tuple of tuple of str
        The varying terms, one tuple per bracket: ``(("Intercept", "Days"),)`` for
        ``(Days | Subject)``, ``(("Intercept",), ("x",))`` for ``(1 | g) + (0 + x | g)``.
    correlated : tuple of bool
        Per bracket: ``|`` (the terms' effects are correlated) or ``||`` (independent).
    """

    factor: str
    blocks: tuple[tuple[str, ...], ...] = ((INTERCEPT,),)
    correlated: tuple[bool, ...] = (True,)

    @property
    def terms(self) -> tuple[str, ...]:
        """Every varying term, bracket by bracket."""
        return tuple(term for block in self.blocks for term in block)


@dataclass(frozen=True)
class ModelDescription:
    """What model is fitted (see the module docstring).

    Attributes
    ----------
    response : str
        The response column.
    groups : tuple of GroupTerm
        Group terms per grouping factor.
    family, link : str
        The outcome's distribution and link (``normal``, ``identity``).
    population : tuple of str
        Population terms.
    known_se : str or None
        The column of known standard errors of the summaries form (one estimate per group).
    formula : str
        The model as a formula.
    priors : dict
        Prior text per parameter, as used (defaults filled in).
    parametrization : str
        As asked (``auto`` records its choice in the result, not here).
    likelihood : str
        ``sufficient`` (exact statistics) or ``rows``.
    curve : dict or None
        A group-level curve model (:class:`hbm.model.curve_terms.CurveSpec` as a dict: the curve,
        its varying and fixed parameters, the family, and the ``time`` column); ``None`` for a
        formula model. Left out of the JSON when ``None``, so the descriptions (and hashes) of
        other models are those of earlier versions.
    """

    response: str
    groups: tuple[GroupTerm, ...]
    family: str = "normal"
    link: str = "identity"
    population: tuple[str, ...] = (INTERCEPT,)
    known_se: str | None = None
    formula: str = ""
    priors: dict[str, str] = field(default_factory=dict, compare=True)
    parametrization: str = DEFAULTS.parametrization
    likelihood: str = DEFAULTS.likelihood
    curve: dict[str, Any] | None = None

    @classmethod
    def for_groups(
        cls,
        *,
        group: str,
        value: str,
        se: str | None = None,
        priors: dict[str, str] | None = None,
        parametrization: str = DEFAULTS.parametrization,
        likelihood: str = DEFAULTS.likelihood,
    ) -> ModelDescription:
        """The seed's model ``value ~ 1 + (1 | group)`` (``se``: one estimate per group)."""
        return cls(
            response=value,
            groups=(GroupTerm(group),),
            known_se=se,
            formula=f"{quote_name(value)} ~ 1 + (1 | {quote_name(group)})",
            priors=dict(priors or {}),
            parametrization=parametrization,
            likelihood=likelihood,
        )

    @property
    def is_seed_model(self) -> bool:
        """Whether this is the seed's model (normal, ``1 + (1 | group)``): it keeps the names
        ``mu``, ``tau``, ``sigma``, ``theta``."""
        return (
            self.family == "normal"
            and self.curve is None
            and self.population == (INTERCEPT,)
            and len(self.groups) == 1
            and self.groups[0].terms == (INTERCEPT,)
        )

    @property
    def group_factors(self) -> tuple[str, ...]:
        """The grouping factors, in the formula's order."""
        return tuple(g.factor for g in self.groups)

    def with_priors(self, priors: dict[str, str]) -> ModelDescription:
        """The same description with the priors that were used."""
        return replace(self, priors=dict(priors))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, with the layout's name under ``format``."""
        raw = asdict(self)
        if raw["curve"] is None:
            del raw["curve"]
        return {"format": FORMAT, **raw}

    def to_json(self) -> str:
        """Canonical JSON (sorted keys): equal descriptions give equal texts and hashes."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def hash(self) -> str:
        """SHA-256 (hex) of :meth:`to_json`: the model's id, stored beside it in a fit."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    @classmethod
    def from_json(cls, text: str) -> ModelDescription:
        """Read :meth:`to_json`'s text; a different layout or unknown keys are a ValueError."""
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"The model description is not valid JSON: {error}.") from None
        if not isinstance(raw, dict) or raw.pop("format", None) != FORMAT:
            raise ValueError(f"The model description is not in the layout {FORMAT!r}.")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"The model description has unknown key(s) {unknown}.")
        groups = tuple(
            GroupTerm(
                g["factor"],
                tuple(tuple(block) for block in g["blocks"]),
                tuple(bool(c) for c in g["correlated"]),
            )
            for g in raw.pop("groups")
        )
        return cls(groups=groups, population=tuple(raw.pop("population")), **raw)


def quote_name(name: str) -> str:
    """A column name as a formula term: bare if it is an identifier, else in backticks.

    >>> quote_name("score"), quote_name("log.radon")
    ('score', '`log.radon`')
    """
    return name if name.isidentifier() else f"`{name}`"
