"""``FitSpec``: what was asked for a fit, the record kept in every result.

A frozen, JSON-serialisable record of a fit that ran: the columns, the options, the priors and
the seed as used, and where the data came from. The model itself is described by
:class:`hbm.model.description.ModelDescription`, stored beside it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from hbm.core.defaults import DEFAULTS
from hbm.inference.config import SampleConfig
from hbm.model.description import ModelDescription

__all__ = ["FitSpec"]


@dataclass(frozen=True, kw_only=True)
class FitSpec:
    """Everything needed to repeat a fit, except the table itself.

    ``priors`` holds the prior text of every parameter *as used* (defaults filled in), so the
    record is complete. ``random_seed`` is the seed that ran, also when the user gave none.
    """

    group: str
    value: str
    se: str | None = None
    parametrization: str = DEFAULTS.parametrization
    likelihood: str = DEFAULTS.likelihood
    priors: dict[str, str] = field(default_factory=dict)
    draws: int = DEFAULTS.draws
    tune: int = DEFAULTS.tune
    chains: int = DEFAULTS.chains
    target_accept: float = DEFAULTS.target_accept
    random_seed: int | None = None
    sampler: str = DEFAULTS.sampler
    order: str = DEFAULTS.order
    missing: str = DEFAULTS.missing
    data: str | None = None
    formula: str | None = None

    @classmethod
    def of(
        cls,
        description: ModelDescription,
        config: SampleConfig,
        *,
        order: str = DEFAULTS.order,
        source: str | None = None,
    ) -> FitSpec:
        """The record of a fit of ``description`` run with ``config`` (its seed filled in)."""
        return cls(
            group=description.group_factors[0],
            value=description.response,
            se=description.known_se,
            parametrization=description.parametrization,
            likelihood=description.likelihood,
            priors=dict(description.priors),
            draws=config.draws,
            tune=config.tune,
            chains=config.chains,
            target_accept=float(config.target_accept),
            random_seed=config.random_seed,
            sampler=config.sampler,
            order=order,
            data=source,
            formula=None if description.is_seed_model else description.formula,
        )

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of the fields."""
        return asdict(self)

    def to_json(self) -> str:
        """The spec as a JSON text (stored in saved fits)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FitSpec:
        """Read a spec written by :meth:`to_json`; unknown keys are an error that names them."""
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"The fit spec is not valid JSON: {error}.") from None
        if not isinstance(raw, dict):
            raise ValueError("The fit spec must be a JSON object.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"The fit spec has unknown key(s) {', '.join(map(repr, unknown))}.")
        return cls(**raw)
