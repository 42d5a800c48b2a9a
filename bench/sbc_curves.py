"""Simulation-based calibration of a curve model: exponential decline, ``log qi`` and ``log di``
varying (correlated) by group.

For each simulation: draw the truth from the priors (``beta[log_qi]``, ``beta[log_di]``, the two
group sds, the correlation from ``lkj(2)``, ``sigma``), the group effects ``u_j ~ N(0, Sigma)``,
and rows ``y = exp(log_qi + u_j0) * exp(-exp(log_di + u_j1) * t) + e`` for a fixed design of 10
groups with 3 to 24 monthly points (``t = 0, 1, ...``); fit with hbm's curve model
(:func:`hbm.model.curve_build.build_curve`); record the rank of each true value among ``L = 99``
thinned posterior draws. If the model is right, every rank is uniform on ``0..L``. The tests are
those of ``bench/sbc.py`` (chi-square on 20 equal bins and ArviZ's ``pot_c`` ECDF test); a
parametrization passes when every p-value is at least ``0.01`` divided by the number of p-values
(Bonferroni).

The truth is simulated with numpy, independently of PyMC (for a 2 x 2 correlation matrix,
``lkj(eta)`` means ``(r + 1) / 2 ~ Beta(eta, eta)``). The model is built by hbm with the
simulation's priors (fixed, not the data-dependent defaults) and compiled by nutpie once, its
outcome a shared variable; each simulation swaps in its rows (``with_data``). NUTS starts at
nutpie's default (not hbm's pooled least-squares start, which depends on the data).

``partial`` is what ``auto`` fits: per simulation, the groups whose own rows pin their effects
(:func:`hbm.model.curve_build.informative_groups` at hbm's pooled least-squares fit, as
``hbm.fit_curve`` decides) are sampled centered, the others non-centered; one model is compiled
per set of centered groups met, and reused. The choice depends on the data, not on the truth, and
no parametrization changes the posterior, so the ranks must be uniform all the same. Centered
groups are sampled in their own frames, as ``hbm.fit_curve`` does
(:mod:`hbm.model.curve_frames`): each simulation's frames from its own rows, swapped in with them.

    python bench/sbc_curves.py --sims 400
    python bench/sbc_curves.py --sims 200 --parametrizations partial --out bench/results/partial

writes ``bench/results/sbc_curves_ranks.csv``, ``bench/results/sbc_curves_summary.csv`` and
``bench/results/sbc_curves_ranks_<parametrization>.png``.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import sbc  # noqa: E402
from sbc import Settings  # noqa: E402

from hbm.data.curve_data import CurveData, curve_data  # noqa: E402
from hbm.model.curve_build import (  # noqa: E402
    FRAME_DATA,
    build_curve,
    centered_frames,
    informative_groups,
    pooled_start,
)
from hbm.model.curve_frames import GroupFrames  # noqa: E402
from hbm.model.curve_priors import curve_default_priors, resolve_curve_priors  # noqa: E402
from hbm.model.curve_terms import CurveSpec  # noqa: E402
from hbm.model.priors import Prior  # noqa: E402

SPEC = CurveSpec("exponential", ("qi", "di"))
SIZES = (3, 3, 4, 5, 6, 8, 10, 12, 18, 24)
LABELS = tuple(f"g{j + 1:02d}" for j in range(len(SIZES)))
TERMS = ("log_qi", "log_di")
PRIORS = {
    "beta[log_qi]": "normal(4.6, 0.5)",
    "beta[log_di]": "normal(-2.3, 0.5)",
    "sd_g[log_qi]": "halfnormal(0.5)",
    "sd_g[log_di]": "halfnormal(0.5)",
    "corr_g": "lkj(2)",
    "sigma": "halfnormal(5)",
}
#: The population parameters, and the effects of the smallest and the largest group.
PARAMETERS = (
    "beta[log_qi]",
    "beta[log_di]",
    "sd_g[log_qi]",
    "sd_g[log_di]",
    "corr_g[log_qi, log_di]",
    "sigma",
    f"u_g[{LABELS[0]}, log_qi]",
    f"u_g[{LABELS[0]}, log_di]",
    f"u_g[{LABELS[-1]}, log_di]",
)
PARAMETRIZATIONS = ("noncentered", "centered", "partial")


def times() -> np.ndarray:
    """The fixed design: group j observed at months ``0 .. SIZES[j] - 1``."""
    return np.concatenate([np.arange(n, dtype=float) for n in SIZES])


def simulate(rng: np.random.Generator, priors: dict[str, Prior]) -> tuple[dict, pd.DataFrame]:
    """True parameters from the priors and a table from the model."""
    truth = {name: sbc.draw_prior(priors[name], rng) for name in priors if name != "corr_g"}
    eta = priors["corr_g"].params[0]
    truth["corr_g[log_qi, log_di]"] = 2.0 * rng.beta(eta, eta) - 1.0
    sd = np.array([truth["sd_g[log_qi]"], truth["sd_g[log_di]"]])
    r = truth["corr_g[log_qi, log_di]"]
    chol = np.array([[1.0, 0.0], [r, np.sqrt(1.0 - r * r)]]) * sd[:, None]
    u = rng.standard_normal((len(SIZES), 2)) @ chol.T
    for j, label in enumerate(LABELS):
        truth[f"u_g[{label}, log_qi]"], truth[f"u_g[{label}, log_di]"] = u[j]
    g = np.repeat(np.arange(len(SIZES)), SIZES)
    t = times()
    qi = np.exp(truth["beta[log_qi]"] + u[g, 0])
    di = np.exp(truth["beta[log_di]"] + u[g, 1])
    y = qi * np.exp(-di * t) + rng.normal(0.0, truth["sigma"], len(t))
    return truth, pd.DataFrame({"g": np.asarray(LABELS)[g], "t": t, "y": y})


def rows(table: pd.DataFrame) -> CurveData:
    return curve_data(table, group="g", time="t", value="y")


def resolved_priors(data: CurveData) -> dict[str, Prior]:
    """The simulation's priors on every parameter (the defaults' names, overridden)."""
    defaults = curve_default_priors(data, SPEC.shape, SPEC.free, SPEC.varying)
    return resolve_curve_priors(defaults, "g", PRIORS)


class Compiled:
    """hbm's curve model for one parametrization, compiled once, with swappable rows."""

    def __init__(self, parametrization: str, data: CurveData, centered: np.ndarray | None = None):
        import nutpie
        import pytensor

        self.parametrization = parametrization
        if parametrization != "partial" or centered is None:
            centered = np.full(data.n_groups, parametrization == "centered")
        self.centered = centered
        shared = pytensor.shared(np.asarray(data.y, float), name="sbc_y")
        model = build_curve(
            dataclasses.replace(data, y=shared),  # type: ignore[arg-type]
            SPEC,
            resolved_priors(data),
            parametrization,
            centered=centered,
            frames=self.frames(data),
        )
        with pytensor.config.change_flags(numba__fastmath=False):
            self.compiled = nutpie.compile_pymc_model(model)

    def frames(self, data: CurveData) -> GroupFrames | None:
        """The centered groups' frames on ``data`` (as hbm.fit_curve computes them)."""
        priors = resolved_priors(data)
        start = pooled_start(data, SPEC, priors)
        return centered_frames(data, SPEC, priors, start, self.centered)

    def draws(
        self, data: CurveData, seed: int, settings: Settings
    ) -> tuple[dict[str, np.ndarray], int]:
        """Posterior draws ``(chain, draw)`` of every ranked parameter, and the divergences."""
        if data.labels != LABELS or not np.array_equal(data.t, times()):
            raise ValueError("The simulated rows must keep the fixed design's order.")
        swapped = {"sbc_y": np.asarray(data.y, float)}
        frames = self.frames(data)
        if frames is not None:  # the centered groups' frames from this simulation's rows
            swapped.update({n: getattr(frames, f) for n, f in list(FRAME_DATA.items())[:2]})
        compiled = self.compiled.with_data(**swapped)
        trace = sbc.sample_nutpie(compiled, seed, settings)
        posterior = trace["posterior"].to_dataset()
        beta, sd, u = (posterior[n].values for n in ("beta", "sd_g", "u_g"))
        out = {
            "beta[log_qi]": beta[..., 0],
            "beta[log_di]": beta[..., 1],
            "sd_g[log_qi]": sd[..., 0],
            "sd_g[log_di]": sd[..., 1],
            "corr_g[log_qi, log_di]": posterior["corr_g"].values[..., 0],
            "sigma": posterior["sigma"].values,
        }
        for j, label in enumerate(LABELS):
            out[f"u_g[{label}, log_qi]"], out[f"u_g[{label}, log_di]"] = u[..., j, 0], u[..., j, 1]
        return out, int(trace["sample_stats"]["diverging"].values.sum())


class Partial:
    """``partial``: each simulation's rows choose the centered groups as ``auto`` does
    (:func:`centered_groups`); a model per choice, compiled when first met."""

    def __init__(self, data: CurveData, *, verbose: bool = False):
        self.design, self.verbose = data, verbose
        self.models: dict[tuple[bool, ...], Compiled] = {}
        self.counts: list[int] = []

    def draws(
        self, data: CurveData, seed: int, settings: Settings
    ) -> tuple[dict[str, np.ndarray], int]:
        """Posterior draws as :meth:`Compiled.draws`, under this simulation's choice."""
        mask = centered_groups(data)
        key = tuple(bool(v) for v in mask)
        if key not in self.models:
            self.models[key] = Compiled("partial", self.design, mask)
            if self.verbose:
                chosen = ", ".join(np.asarray(LABELS)[mask]) or "none"
                print(f"sbc: partial: model {len(self.models)} compiled, centered: {chosen}")
        self.counts.append(int(mask.sum()))
        return self.models[key].draws(data, seed, settings)


def centered_groups(data: CurveData) -> np.ndarray:
    """The groups ``auto`` samples centered on these rows: their own rows pin both effects at
    hbm's pooled least-squares start (what :func:`hbm.workflow.fit_curve.fit_curve_table` does)."""
    priors = resolved_priors(data)
    return informative_groups(data, SPEC, priors, pooled_start(data, SPEC, priors))


def run_sbc(
    parametrizations: tuple[str, ...] | list[str], settings: Settings, *, verbose: bool = False
) -> pd.DataFrame:
    """Ranks of the true values: one row per parametrization, simulation and parameter."""
    placeholder = pd.DataFrame(
        {"g": np.repeat(LABELS, SIZES), "t": times(), "y": 50.0 + np.arange(len(times()))}
    )
    design = rows(placeholder)
    priors = {name: resolved_priors(design)[name] for name in PRIORS if name != "corr_g"}
    priors["corr_g"] = resolved_priors(design)["corr_g"]

    return sbc.collect_ranks(
        parametrizations,
        settings,
        compile=lambda parametrization: (
            Partial(design, verbose=verbose)
            if parametrization == "partial"
            else Compiled(parametrization, design)
        ),
        simulate=lambda rng: simulate(rng, priors),
        prepare=rows,
        parameters=PARAMETERS,
        verbose=verbose,
    )


def main(argv: list[str] | None = None) -> None:
    sbc.run_main(
        argv,
        description=__doc__.splitlines()[0],
        name="sbc_curves",
        run=run_sbc,
        parametrizations=PARAMETRIZATIONS,
        sims=400,
        seed=20261202,
        parameters=PARAMETERS,
        model="exponential decline, log qi and log di varying",
        grid=(2, 5),
        with_bins=False,
    )


if __name__ == "__main__":
    main()
