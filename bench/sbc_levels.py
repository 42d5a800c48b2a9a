"""Simulation-based calibration of the nested model ``y ~ x + (1 | d/s)`` (three levels).

For each simulation: draw the truth from the priors (``beta``, the sds of districts and of
schools within districts, ``sigma``), the district effects and the school effects, and rows
``y = beta0 + beta1 x + u_d + u_ds + e`` for a fixed design of 5 districts of 2 to 4 schools
(labels "1".."4" repeat across districts) of 1 to 12 rows, with ``x`` fixed and centred over all
rows; fit with hbm's model; record the rank of each true value among ``L = 99`` thinned posterior
draws. If the nested marginal likelihood and the exact top-down effect draws are right, every
rank is uniform on ``0..L`` (and so for the non-centered form). Tests as in ``bench/sbc.py``
(chi-square on 20 bins and ArviZ's ``pot_c`` ECDF test, Bonferroni over the p-values).

The truth is simulated with numpy, independently of PyMC. Each parametrization's model is built
by hbm and compiled by nutpie once; each simulation swaps in its data (``with_data``).

    python bench/sbc_levels.py --sims 400

writes ``bench/results/sbc_levels_ranks.csv``, ``bench/results/sbc_levels_summary.csv`` and
``bench/results/sbc_levels_ranks_<parametrization>.png``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import sbc  # noqa: E402
from sbc import Settings  # noqa: E402

from hbm.data.model_data import ModelData  # noqa: E402
from hbm.model.design import build_model_data  # noqa: E402
from hbm.model.formula import parse_formula  # noqa: E402
from hbm.model.linear_build import build_linear  # noqa: E402
from hbm.model.linear_nested import draw_exact_effects  # noqa: E402
from hbm.model.linear_priors import resolve_linear_priors  # noqa: E402
from hbm.model.priors import Prior  # noqa: E402

FORMULA = "y ~ x + (1 | d/s)"
#: rows per school, per district: 5 districts of 2 to 4 schools of 1 to 12 rows
SIZES = ((1, 6), (2, 3, 12), (4, 5, 2, 8), (3, 10), (1, 2, 7))
DISTRICTS = tuple(f"D{d + 1}" for d in range(len(SIZES)))
PRIORS = {
    "beta[Intercept]": "normal(0, 3)",
    "beta[x]": "normal(0, 1)",
    "sd_d[Intercept]": "halfnormal(1)",
    "sd_d:s[Intercept]": "halfnormal(1)",
    "sigma": "halfnormal(1)",
}
#: The population parameters, a district's effect and the effects of a small and a large school.
PARAMETERS = (
    "beta[Intercept]",
    "beta[x]",
    "sd_d[Intercept]",
    "sd_d:s[Intercept]",
    "sigma",
    "u_d[D1, Intercept]",
    "u_d:s[D1:1, Intercept]",
    "u_d:s[D2:3, Intercept]",
)
PARAMETRIZATIONS = ("marginal", "noncentered")


def layout() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per row: its district, its school (over all schools); the schools' ``d:s`` labels."""
    district, school, labels = [], [], []
    for d, sizes in enumerate(SIZES):
        for s, n in enumerate(sizes):
            district += [d] * n
            school += [len(labels)] * n
            labels.append(f"{DISTRICTS[d]}:{s + 1}")
    return np.array(district), np.array(school), labels


def design_x() -> np.ndarray:
    """The fixed covariate: evenly spread over the rows, centred."""
    x = np.sin(np.arange(sum(map(sum, SIZES))) * 1.7)
    return x - x.mean()


def table_of(y: np.ndarray) -> pd.DataFrame:
    district, school, labels = layout()
    return pd.DataFrame(
        {
            "d": np.asarray(DISTRICTS)[district],
            "s": [labels[j].split(":")[1] for j in school],
            "x": design_x(),
            "y": y,
        }
    )


def simulate(rng: np.random.Generator, priors: dict[str, Prior]) -> tuple[dict, pd.DataFrame]:
    """True parameters from the priors and a table from the model."""
    truth = {name: sbc.draw_prior(priors[name], rng) for name in PRIORS}
    district, school, labels = layout()
    u_d = rng.normal(0.0, truth["sd_d[Intercept]"], len(SIZES))
    u_s = rng.normal(0.0, truth["sd_d:s[Intercept]"], len(labels))
    for d, label in enumerate(DISTRICTS):
        truth[f"u_d[{label}, Intercept]"] = u_d[d]
    for j, label in enumerate(labels):
        truth[f"u_d:s[{label}, Intercept]"] = u_s[j]
    mean = truth["beta[Intercept]"] + truth["beta[x]"] * design_x() + u_d[district] + u_s[school]
    y = mean + rng.normal(0.0, truth["sigma"], len(mean))
    return truth, table_of(y)


def model_data(table: pd.DataFrame) -> ModelData:
    return build_model_data(table, parse_formula(FORMULA))


class Compiled:
    """hbm's model for one parametrization, compiled once, with swappable data."""

    def __init__(self, parametrization: str, data: ModelData):
        import nutpie
        import pytensor

        self.parametrization = parametrization
        self.priors = resolve_linear_priors(data, PRIORS)
        model = build_linear(data, self.priors, parametrization).model
        with pytensor.config.change_flags(numba__fastmath=False):
            self.compiled = nutpie.compile_pymc_model(model)

    def draws(
        self, data: ModelData, seed: int, settings: Settings
    ) -> tuple[dict[str, np.ndarray], int]:
        """Posterior draws ``(chain, draw)`` of every ranked parameter, and the divergences."""
        model = build_linear(data, resolve_linear_priors(data, PRIORS), self.parametrization)
        values = {v.name: v.get_value() for v in model.model.data_vars}
        compiled = self.compiled.with_data(**values)
        trace = sbc.sample_nutpie(compiled, seed, settings)
        posterior = trace["posterior"].to_dataset()
        if self.parametrization == "marginal":
            effects = {e.name: e for e in draw_exact_effects(posterior, data, seed)}
        else:
            effects = {name: posterior[name] for name in ("u_d", "u_d:s")}
        beta = posterior["beta"].values
        out = {
            "beta[Intercept]": beta[..., 0],
            "beta[x]": beta[..., 1],
            "sd_d[Intercept]": posterior["sd_d"].values[..., 0],
            "sd_d:s[Intercept]": posterior["sd_d:s"].values[..., 0],
            "sigma": posterior["sigma"].values,
        }
        for name in PARAMETERS[5:]:
            variable, _, label = name.partition("[")
            group = label.split(",")[0]
            values = effects[variable]
            out[name] = values.sel({values.dims[2]: group}).values[..., 0]
        return out, int(trace["sample_stats"]["diverging"].values.sum())


def run_sbc(
    parametrizations: tuple[str, ...] | list[str], settings: Settings, *, verbose: bool = False
) -> pd.DataFrame:
    """Ranks of the true values: one row per parametrization, simulation and parameter."""
    design = model_data(table_of(np.sin(np.arange(len(design_x())) * 0.3)))
    priors = resolve_linear_priors(design, PRIORS)

    return sbc.collect_ranks(
        parametrizations,
        settings,
        compile=lambda parametrization: Compiled(parametrization, design),
        simulate=lambda rng: simulate(rng, priors),
        prepare=model_data,
        parameters=PARAMETERS,
        verbose=verbose,
    )


def main(argv: list[str] | None = None) -> None:
    sbc.run_main(
        argv,
        description=__doc__.splitlines()[0],
        name="sbc_levels",
        run=run_sbc,
        parametrizations=PARAMETRIZATIONS,
        sims=400,
        seed=20261202,
        parameters=PARAMETERS,
        model=FORMULA,
        grid=(2, 4),
        with_bins=False,
    )


if __name__ == "__main__":
    main()
