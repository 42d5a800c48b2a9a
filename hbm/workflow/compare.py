"""``hbm.compare`` and ``hbm compare``: fits ranked by ELPD, the table with its picture and files.

:func:`compare` runs :func:`hbm.analysis.compare.compare` and returns a :class:`ModelComparison`:
the table (best first), what it rests on, its plot (:func:`hbm.viz.plot_compare`), and
:meth:`ModelComparison.write`, which writes ``FILE.csv`` and ``FILE.png`` beside it, each
atomically. :func:`model_names` names saved fits on the command line after their folders.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hbm.analysis.compare import Comparison
from hbm.analysis.compare import compare as rank
from hbm.core.files import atomic_write, atomic_write_text
from hbm.reporting.figures import figure_png
from hbm.viz.compare import plot_compare

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from hbm.analysis.loo import LooResult

__all__ = ["ModelComparison", "compare", "model_names"]


class ModelComparison:
    """Fits ranked by leave-one-out ELPD, best first (what :func:`compare` returns).

    Attributes
    ----------
    comparison : hbm.analysis.compare.Comparison
        The record: ``table``, ``unit``, ``loos``.
    """

    __slots__ = ("comparison",)

    def __init__(self, comparison: Comparison) -> None:
        self.comparison = comparison

    @property
    def table(self) -> pd.DataFrame:
        """One row per model, best first: rank, elpd, se, elpd_diff, dse, p_worse, p_loo,
        weight, high_k, unit, warning."""
        return self.comparison.table.copy()

    @property
    def unit(self) -> str:
        return self.comparison.unit

    @property
    def loos(self) -> dict[str, LooResult]:
        return dict(self.comparison.loos)

    @property
    def best(self) -> str:
        return self.comparison.best

    def notes(self) -> list[str]:
        return self.comparison.notes()

    def plot(self) -> Figure:
        """ELPD per model and its difference from the best (:func:`hbm.viz.plot_compare`)."""
        return plot_compare(self.comparison)

    def write(self, path: str | Path) -> tuple[Path, Path]:
        """Write the table to ``path`` (``.csv``) and the plot beside it (``.png``)."""
        path = Path(path)
        if path.suffix.lower() != ".csv":
            raise ValueError(f"The comparison is written to a .csv file; got {str(path)!r}.")
        if not path.parent.is_dir():
            raise ValueError(
                f"Cannot write {str(path)!r}: the folder {str(path.parent)!r} does not exist."
            )
        png = figure_png(self.plot())
        picture = atomic_write(path.with_suffix(".png"), lambda name: Path(name).write_bytes(png))
        text = self.comparison.table.to_csv(index_label="model")
        return atomic_write_text(path, text), picture

    def _repr_html_(self) -> str:
        image = base64.b64encode(figure_png(self.plot(), dpi=80)).decode("ascii")
        return self.comparison._repr_html_() + f'<img src="data:image/png;base64,{image}">'

    def __str__(self) -> str:
        return str(self.comparison)

    def __repr__(self) -> str:
        order = ", ".join(self.comparison.table.index)
        return f"<hbm.ModelComparison by {self.unit}, best first: {order}>"


def compare(models: Mapping[str, Any], *, unit: str | None = None) -> ModelComparison:
    """Rank fits by leave-one-out ELPD: see :func:`hbm.analysis.compare.compare`.

    Examples
    --------
    >>> import hbm
    >>> df = hbm.datasets.load("eight_schools")
    >>> options = dict(group="school", value="effect", se="stderr", random_seed=1,
    ...                draws=500, tune=500, progressbar=False)
    >>> ranked = hbm.compare({"default": hbm.fit(df, **options),
    ...                       "tau fixed at 1": hbm.fit(df, priors={"tau": 1}, **options)})
    >>> ranked.unit, sorted(ranked.table.index)
    ('groups', ['default', 'tau fixed at 1'])
    """
    return ModelComparison(rank(models, unit=unit))


def model_names(paths: Sequence[str | Path]) -> list[str]:
    """Names for saved fits: a result folder's name (``out/plain`` or ``out/plain/fit.nc`` ->
    ``plain``), else the file's stem; the whole path where two would be the same.

    >>> model_names(["out/plain/fit.nc", "out/ses", "other.nc"])
    ['plain', 'ses', 'other']
    >>> model_names(["a/fit.nc", "b/a/fit.nc"])
    ['a/fit.nc', 'b/a/fit.nc']
    """
    names = []
    for path in map(Path, paths):
        if path.name == "fit.nc" and path.parent.name:
            names.append(path.parent.name)
        elif path.suffix.lower() in (".nc", ".zarr"):
            names.append(path.stem)
        else:
            names.append(path.name or str(path))
    if len(set(names)) < len(names):
        return [str(path) for path in paths]
    return names
