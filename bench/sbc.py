"""Simulation-based calibration (Talts et al. 2018) of hbm's three parametrizations.

For each simulation: draw ``mu``, ``tau``, ``sigma`` from their priors and ``theta[j] ~ Normal(mu,
tau)``, then rows ``y ~ Normal(theta[group], sigma)`` for a fixed design of 8 groups of 2 to 40
rows (small groups put the centered form in its funnel); fit with hbm's model; record the rank
of each true value among ``L = 99`` thinned posterior draws. If the model and the sampler are
right, every rank is uniform on ``0..L``. Uniformity is tested twice: a chi-square test on equal
bins of ranks, and an ECDF test, ArviZ's ``uniformity_test`` (method ``pot_c``: a pointwise
test of every order statistic of the randomized PIT values ``(rank + U) / (L + 1)``, combined
with a Cauchy combination; Tesso and Vehtari), which is sensitive to the pile-up at one end of
the ranks that a funnel causes and that coarse bins dilute. A parametrization passes when every
one of its 10 p-values (5 parameters x 2 tests) is at least ``0.01 / 10`` (Bonferroni: a 1%
chance that a correct one fails).

The truth is simulated with numpy from the model as DESIGN.md states it, independently of PyMC,
so SBC checks that hbm's builders (priors, likelihood from sufficient statistics) and its exact
``theta`` draws for the marginal form implement that model. To be fast, each parametrization's
model is built by hbm once and compiled once by nutpie with its observed statistics as shared
data; each simulation swaps in new statistics (``with_data``) and samples with the settings
hbm's ``sample`` uses (numba fastmath off).

    python bench/sbc.py --sims 500

writes ``bench/results/sbc_ranks.csv`` (one row per simulation and parameter),
``bench/results/sbc_summary.csv`` (chi-square, p-value, divergences per parametrization and
parameter) and ``bench/results/sbc_ranks_<parametrization>.png`` (rank histograms).

The second half of this module is what every SBC driver (``bench/sbc_*.py``) shares: the
settings, prior draws, nutpie sampling of a compiled-once model, the rank loop
(:func:`collect_ranks`), the uniformity tests, the rank histograms (and ECDF differences), and
the command line (:func:`run_main`).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from hbm.data.grouped import GroupedData, grouped_data
from hbm.model.build import build_model
from hbm.model.families.normal import draw_group_means as draw_theta
from hbm.model.families.normal import resolve_priors
from hbm.model.priors import Prior

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SIZES = (2, 2, 3, 3, 5, 8, 15, 40)
LABELS = tuple(f"g{j + 1}" for j in range(len(SIZES)))
PRIORS = {"mu": "normal(0, 3)", "tau": "halfnormal(1)", "sigma": "halfnormal(2)"}
#: The weakest (2 rows) and the strongest (40 rows) group.
PARAMETERS = ("mu", "tau", "sigma", f"theta[{LABELS[0]}]", f"theta[{LABELS[-1]}]")
PARAMETRIZATIONS = ("centered", "noncentered", "marginal")
ALPHA = 0.01


@dataclass(frozen=True, kw_only=True)
class Settings:
    """How many simulations and how each is sampled."""

    sims: int = 500
    chains: int = 2
    draws: int = 500
    tune: int = 500
    thin: int = 10
    ranks_of: int = 99
    bins: int = 20
    target_accept: float = 0.9
    seed: int = 20261125

    def __post_init__(self) -> None:
        if self.chains * (self.draws // self.thin) < self.ranks_of:
            raise ValueError("chains * draws / thin must be at least ranks_of.")
        if (self.ranks_of + 1) % self.bins:
            raise ValueError("bins must divide ranks_of + 1 (equal bins of ranks).")


def simulate(rng: np.random.Generator, priors: dict[str, Prior]) -> tuple[dict, pd.DataFrame]:
    """True parameters from the priors and a rows-form table from the model."""
    truth = {name: draw_prior(priors[name], rng) for name in ("mu", "tau", "sigma")}
    theta = rng.normal(truth["mu"], truth["tau"], len(SIZES))
    values = np.repeat(theta, SIZES) + rng.normal(0.0, truth["sigma"], sum(SIZES))
    truth.update({f"theta[{label}]": t for label, t in zip(LABELS, theta, strict=True)})
    return truth, pd.DataFrame({"group": np.repeat(LABELS, SIZES), "value": values})


class Compiled:
    """hbm's model for one parametrization, compiled once, with swappable data."""

    def __init__(self, parametrization: str, data: GroupedData, priors: dict[str, Prior]):
        import nutpie
        import pytensor

        self.parametrization = parametrization
        self.priors = priors
        # hbm's builders put the data in shared variables (hbm.models): swap them per dataset.
        model = build_model(data, priors, parametrization=parametrization).model
        with pytensor.config.change_flags(numba__fastmath=False):
            self.compiled = nutpie.compile_pymc_model(model)

    def draws(
        self, data: GroupedData, seed: int, settings: Settings
    ) -> tuple[dict[str, np.ndarray], int]:
        """Posterior draws ``(chain, draw)`` of every parameter, and the divergences."""
        # the new dataset's values of the model's shared variables (same design, same shapes)
        model = build_model(data, self.priors, parametrization=self.parametrization).model
        compiled = self.compiled.with_data(**{v.name: v.get_value() for v in model.data_vars})
        trace = sample_nutpie(compiled, seed, settings)
        posterior = trace["posterior"].to_dataset()
        if self.parametrization == "marginal":
            theta = draw_theta(posterior, data, seed).values
        else:
            theta = posterior["theta"].values
        out = {name: posterior[name].values for name in ("mu", "tau", "sigma")}
        for j, label in enumerate(LABELS):
            out[f"theta[{label}]"] = theta[..., j]
        return out, int(trace["sample_stats"]["diverging"].values.sum())


def run_sbc(
    parametrizations: tuple[str, ...] | list[str],
    settings: Settings,
    *,
    truth_priors: dict[str, str] | None = None,
    verbose: bool = False,
) -> pd.DataFrame:
    """Ranks of the true values: one row per parametrization, simulation and parameter.

    ``truth_priors`` simulates the truth from other priors than the model's (a negative
    control: the ranks must then fail the uniformity test).
    """
    design = _design()
    priors = resolve_priors(design, PRIORS)
    simulated = resolve_priors(design, {**PRIORS, **(truth_priors or {})})
    return collect_ranks(
        parametrizations,
        settings,
        compile=lambda parametrization: Compiled(parametrization, design, priors),
        simulate=lambda rng: simulate(rng, simulated),
        prepare=lambda table: grouped_data(table, group="group", value="value"),
        parameters=PARAMETERS,
        verbose=verbose,
    )


def _design() -> GroupedData:
    """The fixed design, with placeholder values that every simulation replaces."""
    values = np.arange(sum(SIZES), dtype=float)
    table = pd.DataFrame({"group": np.repeat(LABELS, SIZES), "value": values})
    return grouped_data(table, group="group", value="value")


def plot_ranks(ranks: pd.DataFrame, parametrization: str, settings: Settings) -> Figure:
    """Rank histograms of one parametrization, with the 99% band of each bin's count."""
    return plot_rank_histograms(ranks, parametrization, settings, PARAMETERS)


def main(argv: list[str] | None = None) -> None:
    run_main(
        argv,
        description=__doc__.splitlines()[0],
        name="sbc",
        run=run_sbc,
        parametrizations=PARAMETRIZATIONS,
        sims=Settings.sims,
        seed=Settings.seed,
        parameters=PARAMETERS,
    )


# --------------------------------------------------------------------------------------------
# What every SBC driver shares (bench/sbc_*.py): ranks, the uniformity tests, the pictures.
# --------------------------------------------------------------------------------------------


class SupportsDraws(Protocol):
    """A model compiled once: posterior draws ``(chain, draw)`` per parameter, divergences."""

    def draws(
        self, data: Any, seed: int, settings: Settings
    ) -> tuple[dict[str, np.ndarray], int]: ...


def draw_prior(prior: Prior, rng: np.random.Generator) -> float:
    """One draw from a normal or half-normal prior (numpy, independently of PyMC)."""
    if prior.family == "normal":
        return float(rng.normal(prior.params[0], prior.params[1]))
    if prior.family == "halfnormal":
        return float(abs(rng.normal(0.0, prior.params[0])))
    raise ValueError(f"SBC simulates normal and halfnormal priors only; got {prior.text()}.")


def sample_nutpie(compiled: Any, seed: int, settings: Settings) -> Any:
    """nutpie's trace of a compiled model with ``settings``, as hbm samples (fastmath off)."""
    import nutpie
    import pytensor

    with pytensor.config.change_flags(numba__fastmath=False):
        return nutpie.sample(
            compiled,
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            seed=seed,
            target_accept=settings.target_accept,
            progress_bar=False,
        )


def rank_of(draws: np.ndarray, truth: float, settings: Settings) -> int:
    """How many of the ``ranks_of`` thinned draws ``(chain, draw)`` lie below the true value."""
    kept = np.asarray(draws)[:, :: settings.thin].ravel()[: settings.ranks_of]
    return int(np.sum(kept < truth))


def collect_ranks(
    parametrizations: tuple[str, ...] | list[str],
    settings: Settings,
    *,
    compile: Callable[[str], SupportsDraws],
    simulate: Callable[[np.random.Generator], tuple[dict, Any]],
    prepare: Callable[[Any], Any] | None = None,
    parameters: tuple[str, ...],
    verbose: bool = False,
) -> pd.DataFrame:
    """Ranks of the true values: one row per parametrization, simulation and parameter.

    ``compile(parametrization)`` gives the model, ``simulate(rng)`` the truth and a table,
    ``prepare(table)`` the model's data from it; every parametrization sees the same simulated
    datasets (one seed per simulation).
    """
    rows = []
    for parametrization in parametrizations:
        start = time.perf_counter()
        model = compile(parametrization)
        for sim, child in enumerate(np.random.SeedSequence(settings.seed).spawn(settings.sims)):
            rng = np.random.default_rng(child)
            truth, data = simulate(rng)
            data = prepare(data) if prepare else data
            draws, divergences = model.draws(data, int(rng.integers(2**31)), settings)
            for name in parameters:
                rows.append(
                    {
                        "parametrization": parametrization,
                        "sim": sim,
                        "parameter": name,
                        "truth": truth[name],
                        "rank": rank_of(draws[name], truth[name], settings),
                        "divergences": divergences,
                    }
                )
        if verbose:
            seconds = time.perf_counter() - start
            print(f"sbc: {parametrization}: {settings.sims} fits in {seconds:.0f} s", flush=True)
    return pd.DataFrame(rows)


def uniformity(ranks: pd.DataFrame, settings: Settings, *, with_bins: bool = True) -> pd.DataFrame:
    """Chi-square and ECDF (``pot_c``) tests of uniform ranks per parametrization and parameter.

    A parameter passes when both p-values are at least ``ALPHA`` over the number of p-values of
    its parametrization (two per parameter: Bonferroni). ``with_bins`` reports the bins used.
    """
    from arviz_stats.base import array_stats
    from scipy import stats

    rows = []
    tests = 2 * ranks.groupby("parametrization", sort=False)["parameter"].nunique()
    # Randomized PIT values for the ECDF test (ranks are discrete), reproducible from the seed.
    ranks = ranks.assign(pit=pit_values(ranks, settings))
    for (parametrization, name), group in ranks.groupby(
        ["parametrization", "parameter"], sort=False
    ):
        counts = bin_counts(group["rank"].to_numpy(), settings)
        chi2, p = stats.chisquare(counts)
        ecdf_p = float(array_stats.uniformity_test(group["pit"].to_numpy(), method="pot_c")[0])
        per_sim = group.drop_duplicates("sim")["divergences"]
        rows.append(
            {
                "parametrization": parametrization,
                "parameter": name,
                "sims": len(group),
                **({"bins": settings.bins} if with_bins else {}),
                "chi2": round(float(chi2), 3),
                "p_value": float(p),
                "ecdf_p_value": ecdf_p,
                "passes": bool(min(p, ecdf_p) >= ALPHA / tests[parametrization]),
                "sims_with_divergences": int((per_sim > 0).sum()),
                "divergences": int(per_sim.sum()),
            }
        )
    return pd.DataFrame(rows)


def pit_values(ranks: pd.DataFrame, settings: Settings) -> np.ndarray:
    """Randomized PIT values ``(rank + U) / (L + 1)`` of the rows of ``ranks`` (seeded)."""
    jitter = np.random.default_rng([settings.seed, 2]).uniform(size=len(ranks))
    return (ranks["rank"].to_numpy() + jitter) / (settings.ranks_of + 1)


def bin_counts(ranks: np.ndarray, settings: Settings) -> np.ndarray:
    """Counts of ranks ``0..L`` in ``bins`` equal bins."""
    width = (settings.ranks_of + 1) // settings.bins
    return np.bincount(np.asarray(ranks) // width, minlength=settings.bins)


def plot_rank_histograms(
    ranks: pd.DataFrame,
    parametrization: str,
    settings: Settings,
    parameters: tuple[str, ...],
    *,
    model: str | None = None,
    grid: tuple[int, int] | None = None,
    ecdf: bool = False,
) -> Figure:
    """Rank histograms of one parametrization's ``parameters``, with the 99% band of each bin's
    count, on a ``grid`` of panels (one row by default).

    With ``ecdf``, a second grid below shows each parameter's PIT ECDF minus the uniform CDF
    with ArviZ's simultaneous 99% band (``arviz_stats.ecdf_utils.ecdf_pit``): a funnel's
    pile-up of ranks at one end shows there as an excursion at that edge.
    """
    from matplotlib.figure import Figure
    from scipy import stats

    subset = ranks[ranks["parametrization"] == parametrization]
    sims = subset["sim"].nunique()
    low, high = stats.binom.interval(0.99, sims, 1.0 / settings.bins)
    rows, columns = grid or (1, len(parameters))
    width = 3.0 * columns if grid is None else 13.0
    figure = Figure(figsize=(width, 2.8 * rows * (2 if ecdf else 1)), layout="constrained")
    parts = figure.subfigures(2, 1) if ecdf else [figure]
    histograms = parts[0].subplots(rows, columns, sharey=True, squeeze=False)
    for ax, name in zip(histograms.ravel(), parameters, strict=False):
        counts = bin_counts(subset.loc[subset["parameter"] == name, "rank"].to_numpy(), settings)
        ax.axhspan(low, high, color="0.85", label="99% band per bin")
        ax.axhline(sims / settings.bins, color="0.4", linewidth=0.8)
        ax.bar(np.arange(settings.bins), counts, width=0.9, color="tab:blue")
        ax.set_title(name, fontsize="medium")
    _finish(histograms, len(parameters), f"rank bin ({settings.ranks_of + 1} ranks)")
    histograms[0, 0].set_ylabel("simulations")
    if ecdf:
        differences = parts[1].subplots(rows, columns, sharey=True, squeeze=False)
        _plot_ecdf_differences(differences, subset, parameters, settings)
    title = f"{model}, " if model else ""
    figure.suptitle(f"SBC rank histograms, {title}{parametrization} ({sims} simulations)")
    return figure


def _plot_ecdf_differences(
    axes: np.ndarray, ranks: pd.DataFrame, parameters: tuple[str, ...], settings: Settings
) -> None:
    from arviz_stats.ecdf_utils import ecdf_pit

    ranks = ranks.assign(pit=pit_values(ranks, settings))
    for ax, name in zip(axes.ravel(), parameters, strict=False):
        pit = ranks.loc[ranks["parameter"] == name, "pit"].to_numpy()
        x, ecdf, lower, upper = ecdf_pit(pit, 0.99, 1000, rng=np.random.default_rng(settings.seed))
        ax.fill_between(x, lower - x, upper - x, color="0.85", step="post", label="99% band")
        ax.step(x, ecdf - x, where="post", color="tab:blue")
        ax.axhline(0.0, color="0.4", linewidth=0.8)
        ax.set_title(f"{name}: ECDF - uniform", fontsize="small")
    _finish(axes, len(parameters), "PIT (rank + U) / (L + 1)")
    axes[0, 0].set_ylabel("ECDF difference")


def _finish(axes: np.ndarray, used: int, xlabel: str) -> None:
    """Hide the unused panels of a grid, label the bottom row, put the legend on the first."""
    for ax in axes.ravel()[used:]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel(xlabel)
    axes[0, 0].legend(loc="lower left", fontsize="x-small")


def run_main(
    argv: list[str] | None,
    *,
    description: str,
    name: str,
    run: Callable[..., pd.DataFrame],
    parametrizations: tuple[str, ...],
    sims: int,
    seed: int,
    parameters: tuple[str, ...],
    model: str | None = None,
    grid: tuple[int, int] | None = None,
    with_bins: bool = True,
) -> None:
    """An SBC driver's command line: ``run(parametrizations, settings, verbose=True)``, test,
    write ``{name}_ranks.csv``, ``{name}_summary.csv`` and ``{name}_ranks_<parametrization>.png``
    (the rank histograms of ``parameters``, see :func:`plot_rank_histograms`) under ``--out``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sims", type=int, default=sims)
    parser.add_argument("--parametrizations", nargs="+", default=list(parametrizations))
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    settings = Settings(sims=args.sims, seed=args.seed)
    ranks = run(args.parametrizations, settings, verbose=True)
    summary = uniformity(ranks, settings, with_bins=with_bins)
    args.out.mkdir(parents=True, exist_ok=True)
    ranks.to_csv(args.out / f"{name}_ranks.csv", index=False)
    summary.to_csv(args.out / f"{name}_summary.csv", index=False)
    for parametrization in args.parametrizations:
        figure = plot_rank_histograms(
            ranks, parametrization, settings, parameters, model=model, grid=grid
        )
        figure.savefig(args.out / f"{name}_ranks_{parametrization}.png", dpi=100)
    print(summary.to_string(index=False))
    for parametrization, passes in summary.groupby("parametrization", sort=False)["passes"]:
        print(f"sbc: {parametrization}: {'passes' if passes.all() else 'FAILS'}")
    print(f"sbc: wrote {args.out}/ ({name}_ranks.csv, {name}_summary.csv, {name}_ranks_*.png)")


if __name__ == "__main__":
    main()
