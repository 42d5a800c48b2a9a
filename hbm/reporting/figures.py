"""The report's figures, drawn once each and encoded as PNG."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hbm.analysis.outcome_draws import family_of, is_outcome_fit
from hbm.reporting.levels_section import LEVEL_FIGURES, league_key
from hbm.reporting.loo_section import report_loo_pit
from hbm.results.tree import as_result
from hbm.viz import plot_league, plot_pooling, plot_ppc, plot_shrinkage, plot_trace
from hbm.viz.calibration import plot_calibration
from hbm.viz.coefficients import plot_coefficients
from hbm.viz.effects_league import plot_effects_league
from hbm.viz.institutional_funnel import plot_institutional_funnel
from hbm.viz.levels import plot_level_shrinkage, plot_variance_decomposition
from hbm.viz.lines import line_term, plot_lines
from hbm.viz.outcome_ppc import plot_outcome_ppc
from hbm.viz.rates_league import plot_rates_league
from hbm.viz.rates_shrinkage import plot_rates_shrinkage
from hbm.viz.rootogram import plot_rootogram
from hbm.viz.shrinkage2d import plot_shrinkage_2d

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

__all__ = [
    "FIGURES",
    "FORMULA_FIGURES",
    "OUTCOME_FIGURES",
    "figure_keys",
    "figure_png",
    "render_figures",
]

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
#: The figures of a formula model's report (``lines`` when it has a covariate to draw against).
FORMULA_FIGURES: dict[str, tuple[Callable[..., MplFigure | None], dict[str, str]]] = {
    "shrinkage": (plot_shrinkage_2d, {}),
    "coefficients": (plot_coefficients, {}),
    "lines": (plot_lines, {}),
    "league": (plot_effects_league, {}),
    "trace": (plot_trace, {"kind": "trace"}),
    "rank": (plot_trace, {"kind": "rank"}),
    "loo_pit": (report_loo_pit, {}),
    "variance": (plot_variance_decomposition, {}),
    "levels": (plot_level_shrinkage, {}),
}
#: The figures of an outcome family's report (binomial, Poisson, negative binomial, Student-t):
#: the funnel plot for rates, the rootogram for counts, the calibration plot for probabilities.
OUTCOME_FIGURES: dict[str, tuple[Callable[..., MplFigure | None], dict[str, str]]] = {
    "shrinkage": (plot_rates_shrinkage, {}),
    "coefficients": (plot_coefficients, {}),
    "league": (plot_rates_league, {}),
    "funnel": (plot_institutional_funnel, {}),
    "ppc": (plot_outcome_ppc, {}),
    "rootogram": (plot_rootogram, {}),
    "calibration": (plot_calibration, {}),
    "trace": (plot_trace, {"kind": "trace"}),
    "rank": (plot_trace, {"kind": "rank"}),
}


def figure_keys(result: Any) -> tuple[str, ...]:
    """The figures a fit's report has (with several grouping factors, the levels' figures and a
    league table per further factor, ``league_2``, ...)."""
    result = as_result(result)
    keys = _figure_keys(result)
    if result.idata["posterior"].sizes.get("chain", 1) < 2:  # rank plots compare chains
        keys = tuple(k for k in keys if k != "rank")
    return keys


def _figure_keys(result: Any) -> tuple[str, ...]:
    if result.description.is_seed_model:
        return tuple(FIGURES)
    if is_outcome_fit(result):
        name = family_of(result).NAME
        drop = {
            "funnel": name == "studentt",
            "rootogram": name not in ("poisson", "negbinomial")
            or not result.model_data.outcome.has_rows,  # type: ignore[union-attr]
            "calibration": name != "binomial",
        }
        return tuple(k for k in OUTCOME_FIGURES if not drop.get(k, False))
    keys = tuple(FORMULA_FIGURES)
    if line_term(result) is None:
        keys = tuple(k for k in keys if k != "lines")
    factors = result.model_data.factors
    if len(factors) < 2:
        return tuple(k for k in keys if k not in LEVEL_FIGURES)
    return keys + tuple(league_key(position) for position in range(1, len(factors)))


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
    """The report's figures as PNG bytes, drawn once each (all of this fit's by default; those
    this fit's report does not show are left out)."""
    result = as_result(result)
    figures = (
        FIGURES
        if result.description.is_seed_model
        else OUTCOME_FIGURES
        if is_outcome_fit(result)
        else FORMULA_FIGURES
    )
    out = {}
    for key in keys or figure_keys(result):
        plot: Callable[..., MplFigure | None]
        if key not in figures and key.startswith("league_"):  # a further factor's league table
            factor = result.model_data.factors[int(key.removeprefix("league_")) - 1].name
            plot, kwargs = plot_effects_league, {"factor": factor}
        else:
            plot, kwargs = figures[key]
        figure = plot(result, **kwargs)
        if figure is not None:
            out[key] = figure_png(figure)
    return out
