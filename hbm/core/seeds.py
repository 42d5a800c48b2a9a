"""Random seeds: the one check of a seed given by a user, fresh seeds, and named streams.

Every random draw hbm makes outside the sampler (theta's exact draws, predictive checks,
predictions) comes from a stream of its own derived from the fit's seed and a fixed tag, so the
same seed gives the same numbers bit for bit, and streams never overlap.

>>> check_seed(7)
7
>>> stream(1, 0x99C).standard_normal() == stream(1, 0x99C).standard_normal()
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_seed", "new_seed", "stream"]


def check_seed(seed: object, what: str = "The 'random_seed' option") -> int | None:
    """``seed`` as an int (``None`` stays ``None``), or a ValueError naming ``what``.

    Examples
    --------
    >>> check_seed(-1)
    Traceback (most recent call last):
    ...
    ValueError: The 'random_seed' option must be an integer >= 0; got -1.
    """
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"{what} must be an integer >= 0; got {seed!r}.")
    return int(seed)


def new_seed() -> int:
    """A fresh random seed (recorded in the result so the fit can be repeated)."""
    return int(np.random.SeedSequence().generate_state(1)[0])


def stream(seed: int, tag: int) -> np.random.Generator:
    """The random stream ``tag`` of ``seed``: ``default_rng(SeedSequence([seed, tag]))``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(tag)]))
