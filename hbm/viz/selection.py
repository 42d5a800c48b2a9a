"""Which groups a per-group figure draws when there are too many to read.

Up to :attr:`~hbm.core.defaults.Defaults.max_drawn_groups` (300) groups every figure draws them
all. Past that a figure draws what a person can read, labelled: the groups at both ends of the
figure's ordering (the best and the worst, the furthest outside their interval) and a seeded
random sample of the rest, 70 in all (:attr:`~hbm.core.defaults.Defaults.max_labelled_groups`),
and says so in its title; the figure's densities and counts still use every group, and every
number is in ``summary.csv`` and ``groups.csv``.

>>> picked = drawn_groups(np.arange(1000.0), limit=100, show=10, extremes=2)
>>> picked.index.tolist()[:2], picked.index.tolist()[-2:], len(picked.index)
([0, 1], [998, 999], 10)
>>> print(picked.note)
10 of 1,000 groups drawn: the 2 lowest, the 2 highest and 6 at random
(every group is in groups.csv and summary.csv)
>>> picked.rows().tolist()
[0.0, 1.0, 2.6, 3.6, 4.6, 5.6, 6.6, 7.6, 9.2, 10.2]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hbm.core.defaults import DEFAULTS

__all__ = ["Drawn", "drawn_groups"]

#: The groups at each end of a figure's ordering that are always drawn.
EXTREMES = 20
#: Space between the ends and the sample, in rows.
GAP = 0.6
#: The sample's seed: the same fit draws the same groups in every run.
SAMPLE_SEED = 20261202


@dataclass(frozen=True)
class Drawn:
    """The groups to draw (``index``, ascending in the key) and what was left out (``note``);
    ``ends`` groups at each end of the ordering."""

    index: np.ndarray
    note: str
    ends: int = 0

    def rows(self) -> np.ndarray:
        """Positions of the drawn groups on a figure's axis, with a gap between the ends and the
        sample (evenly spaced when all are drawn)."""
        y = np.arange(self.index.size, dtype=float)
        if self.ends:
            y += GAP * (y >= self.ends) + GAP * (y >= self.index.size - self.ends)
        return y

    @property
    def all(self) -> bool:
        """Whether every group is drawn."""
        return not self.note


def drawn_groups(
    key: np.ndarray,
    *,
    limit: int = DEFAULTS.max_drawn_groups,
    show: int = DEFAULTS.max_labelled_groups,
    extremes: int = EXTREMES,
    low: str = "lowest",
    high: str = "highest",
) -> Drawn:
    """The groups to draw, ordered by ``key`` (NaN last): all, or the ends and a sample.

    Parameters
    ----------
    key : ndarray (J,)
        What the figure orders the groups by.
    limit : int
        Up to this many groups, all are drawn.
    show : int
        Groups drawn past ``limit``.
    extremes : int
        Groups always drawn at each end of the ordering.
    low, high : str
        What the ends are called in the note (``"worst"``, ``"best"``).
    """
    key = np.asarray(key, dtype=float)
    order = np.argsort(key, kind="stable")  # NaN sort last
    total = key.size
    if total <= limit:
        return Drawn(index=order, note="")
    ends = min(extremes, show // 4)
    middle = order[ends : total - ends]
    rng = np.random.default_rng(SAMPLE_SEED)
    sample = np.sort(rng.choice(middle.size, size=show - 2 * ends, replace=False))
    index = np.concatenate([order[:ends], middle[sample], order[total - ends :]])
    note = (
        f"{show:,} of {total:,} groups drawn: the {ends} {low}, the {ends} {high} and "
        f"{show - 2 * ends:,} at random\n(every group is in groups.csv and summary.csv)"
    )
    return Drawn(index=index, note=note, ends=ends)
