"""How to run NUTS: one frozen configuration, its defaults read from :data:`hbm.core.defaults.
DEFAULTS`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from hbm.core.defaults import DEFAULTS
from hbm.core.seeds import check_seed

__all__ = ["SAMPLERS", "SampleConfig"]

Sampler = Literal["nutpie", "pymc"]
SAMPLERS: tuple[str, ...] = ("nutpie", "pymc")


@dataclass(frozen=True, kw_only=True)
class SampleConfig:
    """How to run NUTS.

    Parameters
    ----------
    draws, tune : int
        Draws kept per chain, and tuning (warm-up) steps per chain.
    chains : int
        Independent chains (4 lets R-hat and ESS be estimated well).
    target_accept : float
        NUTS's target acceptance rate; higher means smaller steps and fewer divergences.
    random_seed : int or None
        Seed of every random choice; ``None`` draws a fresh one that the result records.
    sampler : {"nutpie", "pymc"}
        ``nutpie`` (default, fast Rust NUTS) or PyMC's own NUTS.
    progressbar : bool
        Show sampling progress.

    Examples
    --------
    >>> from dataclasses import replace
    >>> config = SampleConfig(draws=500, random_seed=1)
    >>> replace(config, target_accept=0.95).target_accept
    0.95
    """

    draws: int = DEFAULTS.draws
    tune: int = DEFAULTS.tune
    chains: int = DEFAULTS.chains
    target_accept: float = DEFAULTS.target_accept
    random_seed: int | None = None
    sampler: Sampler = DEFAULTS.sampler  # type: ignore[assignment]
    progressbar: bool = True

    def __post_init__(self) -> None:
        for name, minimum in (("draws", 1), ("tune", 0), ("chains", 1)):
            value = getattr(self, name)
            integer = isinstance(value, int | np.integer) and not isinstance(value, bool)
            if not integer or value < minimum:
                what = "a positive integer" if minimum else "an integer >= 0"
                raise ValueError(f"The '{name}' option must be {what}; got {value!r}.")
        if not isinstance(self.target_accept, float | int) or not 0 < self.target_accept < 1:
            raise ValueError(
                f"The 'target_accept' option must be a number between 0 and 1 (exclusive); "
                f"got {self.target_accept!r}."
            )
        if self.sampler not in SAMPLERS:
            raise ValueError(
                f"The 'sampler' option must be one of {', '.join(map(repr, SAMPLERS))}; "
                f"got {self.sampler!r}."
            )
        check_seed(self.random_seed)
