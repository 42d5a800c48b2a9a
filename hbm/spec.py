"""What was asked for a fit, as a frozen, JSON-serialisable record (kept apart from the model)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

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
    parametrization: str = "auto"
    likelihood: str = "sufficient"
    priors: dict[str, str] = field(default_factory=dict)
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    target_accept: float = 0.9
    random_seed: int | None = None
    sampler: str = "nutpie"
    order: str = "first-seen"
    missing: str = "error"
    data: str | None = None

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
