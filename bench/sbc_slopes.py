"""Simulation-based calibration of the correlated varying-slopes model ``y ~ x + (1 + x | g)``.

For each simulation: draw the truth from the priors (``beta``, the two group sds, the correlation
from ``lkj(2)``, ``sigma``), the group effects ``u_j ~ N(0, Sigma)``, and rows
``y = beta0 + u_j0 + (beta1 + u_j1) x + e`` for a fixed design of 10 groups of 2 to 30 rows, with
``x`` fixed and centred over all rows (so the intercept at the covariates' means is ``beta0``);
fit with hbm's model; record the rank of each true value among ``L = 99`` thinned posterior draws.
If the model, the marginal likelihood and the exact effect draws are right, every rank is uniform
on ``0..L``. The tests are those of ``bench/sbc.py`` (chi-square on 20 equal bins and ArviZ's
``pot_c`` ECDF test); a parametrization passes when every p-value is at least ``0.01`` divided by
the number of p-values (Bonferroni).

The truth is simulated with numpy, independently of PyMC (for a 2 x 2 correlation matrix,
``lkj(eta)`` means ``(r + 1) / 2 ~ Beta(eta, eta)``). Each parametrization's model is built by
hbm and compiled by nutpie once; each simulation swaps in its data (``with_data``).

    python bench/sbc_slopes.py --sims 400

writes ``bench/results/sbc_slopes_ranks.csv``, ``bench/results/sbc_slopes_summary.csv`` and
``bench/results/sbc_slopes_ranks_<parametrization>.png``.
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
from hbm.model.families.normal_cells_conditional import draw_effects  # noqa: E402
from hbm.model.formula import parse_formula  # noqa: E402
from hbm.model.linear_build import build_linear  # noqa: E402
from hbm.model.linear_priors import resolve_linear_priors  # noqa: E402
from hbm.model.priors import Prior  # noqa: E402

FORMULA = "y ~ x + (1 + x | g)"
SIZES = (2, 3, 3, 4, 5, 6, 8, 12, 20, 30)
LABELS = tuple(f"g{j + 1:02d}" for j in range(len(SIZES)))
PRIORS = {
    "beta[Intercept]": "normal(0, 3)",
    "beta[x]": "normal(0, 1)",
    "sd_g[Intercept]": "halfnormal(1)",
    "sd_g[x]": "halfnormal(0.5)",
    "corr_g": "lkj(2)",
    "sigma": "halfnormal(1)",
}
#: The population parameters, and the effects of the smallest and the largest group.
PARAMETERS = (
    "beta[Intercept]",
    "beta[x]",
    "sd_g[Intercept]",
    "sd_g[x]",
    "corr_g[Intercept, x]",
    "sigma",
    f"u_g[{LABELS[0]}, Intercept]",
    f"u_g[{LABELS[0]}, x]",
    f"u_g[{LABELS[-1]}, x]",
)
PARAMETRIZATIONS = ("marginal", "noncentered")


def design_x() -> np.ndarray:
    """The fixed covariate: evenly spread within each group, centred over all rows."""
    x = np.concatenate([np.linspace(-1.5, 1.5, n) + 0.1 * j for j, n in enumerate(SIZES)])
    return x - x.mean()


def simulate(rng: np.random.Generator, priors: dict[str, Prior]) -> tuple[dict, pd.DataFrame]:
    """True parameters from the priors and a table from the model."""
    truth = {name: sbc.draw_prior(priors[name], rng) for name in PRIORS if name != "corr_g"}
    eta = priors["corr_g"].params[0]
    truth["corr_g[Intercept, x]"] = 2.0 * rng.beta(eta, eta) - 1.0
    sd = np.array([truth["sd_g[Intercept]"], truth["sd_g[x]"]])
    r = truth["corr_g[Intercept, x]"]
    chol = np.array([[1.0, 0.0], [r, np.sqrt(1.0 - r * r)]]) * sd[:, None]
    u = rng.standard_normal((len(SIZES), 2)) @ chol.T
    for j, label in enumerate(LABELS):
        truth[f"u_g[{label}, Intercept]"], truth[f"u_g[{label}, x]"] = u[j]
    g = np.repeat(np.arange(len(SIZES)), SIZES)
    x = design_x()
    mean = truth["beta[Intercept]"] + u[g, 0] + (truth["beta[x]"] + u[g, 1]) * x
    y = mean + rng.normal(0.0, truth["sigma"], len(x))
    return truth, pd.DataFrame({"g": np.asarray(LABELS)[g], "x": x, "y": y})


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
            u = draw_effects(posterior, data, seed).values
        else:
            u = posterior["u_g"].values
        beta, sd = posterior["beta"].values, posterior["sd_g"].values
        out = {
            "beta[Intercept]": beta[..., 0],
            "beta[x]": beta[..., 1],
            "sd_g[Intercept]": sd[..., 0],
            "sd_g[x]": sd[..., 1],
            "corr_g[Intercept, x]": posterior["corr_g"].values[..., 0],
            "sigma": posterior["sigma"].values,
        }
        for j, label in enumerate(LABELS):
            out[f"u_g[{label}, Intercept]"], out[f"u_g[{label}, x]"] = u[..., j, 0], u[..., j, 1]
        return out, int(trace["sample_stats"]["diverging"].values.sum())


def run_sbc(
    parametrizations: tuple[str, ...] | list[str], settings: Settings, *, verbose: bool = False
) -> pd.DataFrame:
    """Ranks of the true values: one row per parametrization, simulation and parameter."""
    placeholder = pd.DataFrame(
        {"g": np.repeat(LABELS, SIZES), "x": design_x(), "y": np.arange(sum(SIZES), dtype=float)}
    )
    design = model_data(placeholder)
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
        name="sbc_slopes",
        run=run_sbc,
        parametrizations=PARAMETRIZATIONS,
        sims=400,
        seed=20261202,
        parameters=PARAMETERS,
        model=FORMULA,
        grid=(2, 5),
        with_bins=False,
    )


if __name__ == "__main__":
    main()
