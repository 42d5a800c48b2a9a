"""The parameter table: every parameter of a model with its role, dims and units.

A model's family and structure write the table once (:func:`hbm.model.families.normal.
parameter_table` for the seed's model); the summary, the diagnosis, the standardization, the
report and save/load iterate over it by role. No other module keeps a list of parameter names, so
a parameter a new model adds is summarised, diagnosed, restored to the user's units and reported
without anyone remembering to.

Roles
-----
``coefficient``
    A population coefficient (``mu`` in the seed's model, ``beta[<term>]`` otherwise): level 3.
``group_sd``
    The sd of group effects (``tau``, ``sd_<group>[<term>]``): level 2.
``correlation``
    A correlation of group effects (``corr_<group>[<t1>, <t2>]``).
``group_effect``
    One value per group (``theta``, ``u_<group>``): level 2.
``residual_scale``
    The sd of the rows around their expected value (``sigma``): level 1.
``family_parameter``
    Another parameter of the outcome's distribution (``nu``, ``alpha``).
``auxiliary``
    A sampler's internal coordinate (``theta_z``): not summarised or reported.

Units say how a parameter moves when the response ``y`` is measured as ``(y - c) / s``:
``location`` parameters (levels of ``y``) become ``(x - c) / s``, ``scale`` parameters (sds,
deviations, slopes) become ``x / s``, ``coefficients`` (``beta``) are scale parameters except the
``Intercept`` term, a location, and ``none`` do not change (correlations, standardized draws).
:mod:`hbm.model.standardize` reads them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Literal

from hbm.core.names import Support

__all__ = ["ROLES", "Parameter", "ParameterTable", "Role", "Units"]

Role = Literal[
    "coefficient",
    "group_sd",
    "correlation",
    "group_effect",
    "residual_scale",
    "family_parameter",
    "auxiliary",
]
#: Every role, in the order a summary lists parameters.
ROLES: tuple[str, ...] = (
    "coefficient",
    "group_sd",
    "correlation",
    "residual_scale",
    "family_parameter",
    "group_effect",
    "auxiliary",
)
Units = Literal["location", "scale", "coefficients", "none"]


@dataclass(frozen=True)
class Parameter:
    """One parameter of a model.

    Attributes
    ----------
    name : str
        Its name in the DataTree, in ``summary.csv`` and in prior text.
    role : str
        One of :data:`ROLES`.
    dims : tuple of str
        Dimensions beyond ``(chain, draw)``: ``()`` for a scalar, ``("school",)`` for one value
        per school.
    units : {"location", "scale", "none"}
        How it moves with the response's origin and scale (see the module docstring).
    meaning : str
        A plain description, for the prior table and reports.
    has_prior : bool
        Whether a prior is put on it (a hyperparameter) rather than being derived from others.
    support : {"real", "positive"}
        Where its values lie (checked against prior text).
    """

    name: str
    role: Role
    dims: tuple[str, ...] = ()
    units: Units = "none"
    meaning: str = ""
    has_prior: bool = False
    support: Support = "real"

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"Unknown parameter role {self.role!r}; roles are {ROLES}.")


@dataclass(frozen=True)
class ParameterTable:
    """The parameters of one model, in the order a summary lists them.

    Examples
    --------
    >>> table = ParameterTable((
    ...     Parameter("mu", "coefficient", units="location", has_prior=True),
    ...     Parameter("theta", "group_effect", ("school",), units="location"),
    ... ))
    >>> table.one("coefficient").name, table.names("group_effect")
    ('mu', ['theta'])
    >>> ParameterTable.from_json(table.to_json()) == table
    True
    """

    parameters: tuple[Parameter, ...]

    def __post_init__(self) -> None:
        names = [p.name for p in self.parameters]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"A parameter table names {', '.join(map(repr, repeated))} twice.")

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self.parameters)

    def __len__(self) -> int:
        return len(self.parameters)

    def __contains__(self, name: object) -> bool:
        return any(p.name == name for p in self.parameters)

    def __getitem__(self, name: str) -> Parameter:
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        raise KeyError(f"The model has no parameter {name!r}; it has {self.names()}.")

    def names(self, *roles: str) -> list[str]:
        """Names of the parameters with any of ``roles`` (all parameters when none is given)."""
        return [p.name for p in self.parameters if not roles or p.role in roles]

    def by_role(self, *roles: str) -> list[Parameter]:
        """The parameters with any of ``roles``, in table order."""
        return [p for p in self.parameters if p.role in roles]

    def one(self, role: str) -> Parameter:
        """The single parameter of ``role`` (a ValueError if there is none or several)."""
        found = self.by_role(role)
        if len(found) != 1:
            raise ValueError(
                f"Expected one parameter with the role {role!r}; the model has "
                f"{[p.name for p in found] or 'none'}."
            )
        return found[0]

    def maybe(self, role: str) -> Parameter | None:
        """The single parameter of ``role``, or ``None`` when the model has none."""
        found = self.by_role(role)
        return found[0] if len(found) == 1 else None

    @property
    def reported(self) -> list[Parameter]:
        """Every parameter but the auxiliary ones: what summaries, diagnoses and reports show."""
        return [p for p in self.parameters if p.role != "auxiliary"]

    @property
    def hyperparameters(self) -> list[Parameter]:
        """The reported parameters that are not per group (population and family level)."""
        return [p for p in self.reported if p.role != "group_effect"]

    def to_json(self) -> str:
        """The table as JSON (stored in a fit's DataTree as the ``hbm_parameters`` attribute)."""
        return json.dumps([asdict(p) for p in self.parameters])

    @classmethod
    def from_json(cls, text: str) -> ParameterTable:
        """Read a table written by :meth:`to_json`."""
        raw = json.loads(text)
        if not isinstance(raw, list):
            raise ValueError("A parameter table must be a JSON list.")
        return cls(tuple(Parameter(**{**entry, "dims": tuple(entry["dims"])}) for entry in raw))
