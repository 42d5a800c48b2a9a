"""The report's figures, drawn once each and encoded as PNG."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hbm.reporting.loo_section import report_loo_pit
from hbm.viz import plot_league, plot_pooling, plot_ppc, plot_shrinkage, plot_trace

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

__all__ = ["FIGURES", "figure_png", "render_figures"]

#: The report's figures: key -> (plot function of :mod:`hbm.viz`, keyword arguments); a function
#: may return None for a figure this fit's report does not show.
FIGURES: dict[str, tuple[Callable[..., MplFigure | None], dict[str, str]]] = {
    "shrinkage": (plot_shrinkage, {}),
    "league": (plot_league, {}),
    "pooling": (plot_pooling, {}),
    "ppc": (plot_ppc, {}),
    "trace": (plot_trace, {"kind": "trace"}),
    "rank": (plot_trace, {"kind": "rank"}),
    "loo_pit": (report_loo_pit, {}),
}


def figure_png(figure: MplFigure, dpi: int = 100, *, palette: bool = True) -> bytes:
    """A figure as PNG bytes; with ``palette`` reduced to 256 colours (about a third of the
    size, no visible change for these plots: lines, markers and text on white)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # A label in a script the font lacks (CJK with DejaVu Sans) is drawn as boxes; the
        # report's tables still carry the text, so this is no reason to fail or to alarm.
        warnings.filterwarnings("ignore", r"Glyph \d+ .* missing from font", UserWarning)
        figure.savefig(buffer, format="png", dpi=dpi)
    if not palette:
        return buffer.getvalue()
    from PIL import Image

    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    compact = io.BytesIO()
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(compact, format="PNG")
    return compact.getvalue()


def render_figures(result: Any, keys: tuple[str, ...] | None = None) -> dict[str, bytes]:
    """The report's figures as PNG bytes, drawn once each (all of :data:`FIGURES` by default;
    those this fit's report does not show are left out)."""
    out = {}
    for key in keys or tuple(FIGURES):
        plot, kwargs = FIGURES[key]
        figure = plot(result, **kwargs)
        if figure is not None:
            out[key] = figure_png(figure)
    return out
