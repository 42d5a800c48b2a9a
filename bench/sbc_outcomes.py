"""Simulation-based calibration (Talts et al. 2018) of the outcome families, through ``hbm.fit``.

For each family and parametrization (``noncentered`` and ``auto``; ``centered`` on request), and
each simulation: draw the parameters from the priors below, the group effects and then the data
from the model as :mod:`hbm.model.families` states it (numpy, independently of PyMC), fit with
``hbm.fit`` (the whole pipeline: reading the response, the exact reduction, ``auto``'s choice and
its refit), and record the rank of each true value among ``L = 99`` thinned posterior draws.
Uniformity is tested as in ``bench/sbc.py`` (chi-square on equal bins and ArviZ's ECDF test
``pot_c``, Bonferroni over a family's parameters and the two tests at 1%).

The design is fixed: 8 groups of 1, 2, 3, 5, 8, 12, 20 and 30 units (sparse groups put the
centered form in its funnel), a covariate ``x`` fixed across simulations:

- ``binomial``: ``p(y, n) ~ 1 + (1 | g)`` with ``n`` trials per row (rows reduce to one cell
  per group): the exact reduction;
- ``poisson``: ``y ~ x + offset(np.log(e)) + (1 | g)``, fixed exposures: the rows form;
- ``negbinomial``: ``y ~ 1 + (1 | g)``, shape ``alpha``;
- ``studentt``: ``y ~ x + (1 | g)``, ``sigma`` and ``nu`` (sampled in standard units, restored).

Priors are given explicitly (SBC needs priors that do not depend on the data; hbm's defaults do).
The intercept's prior is on its value at the covariates' means (hbm's convention), so ``x`` is
centred in the simulation too; hbm reports ``beta[Intercept]`` at ``x = 0`` (the formula's
meaning, as lme4), so the true value ranked is ``b0 - b_x * mean(x)``. (Ranking the centred value
against the reported one made the Student-t and Poisson intercepts look biased.)

    nice python bench/sbc_outcomes.py --sims 200             # the full check (hours on 2 cores)
    nice python bench/sbc_outcomes.py --sims 20 --families binomial   # a smoke run
    nice python bench/sbc_outcomes.py --sims 100 --families poisson --forms auto --append
                                                      # one case, the others' ranks kept

writes ``sbc_outcomes_ranks.csv``, ``sbc_outcomes_summary.csv`` and
``sbc_outcomes_ranks_<family>_<parametrization>.png`` (rank histograms over ECDF differences)
under ``--out`` (``bench/results/``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import special

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sbc import Settings, plot_rank_histograms, rank_of, uniformity  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.figure import Figure

RESULTS = HERE / "results"

SIZES = np.array([1, 2, 3, 5, 8, 12, 20, 30])
LABELS = np.array([f"G{j}" for j in range(len(SIZES))])
FORMULAS = {
    "binomial": "p(y, n) ~ 1 + (1 | g)",
    "poisson": "y ~ x + offset(np.log(e)) + (1 | g)",
    "negbinomial": "y ~ 1 + (1 | g)",
    "studentt": "y ~ x + (1 | g)",
}
PRIORS = {
    "binomial": {"beta[Intercept]": "normal(-1, 1)", "sd_g[Intercept]": "halfnormal(1)"},
    "poisson": {
        "beta[Intercept]": "normal(1, 0.5)",
        "beta[x]": "normal(0, 0.5)",
        "sd_g[Intercept]": "halfnormal(0.7)",
    },
    "negbinomial": {
        "beta[Intercept]": "normal(1, 0.5)",
        "sd_g[Intercept]": "halfnormal(0.7)",
        "alpha": "gamma(4, 1)",
    },
    "studentt": {
        "beta[Intercept]": "normal(0, 2)",
        "beta[x]": "normal(0, 1)",
        "sd_g[Intercept]": "halfnormal(1)",
        "sigma": "halfnormal(1)",
        "nu": "gamma(4, 0.5)",
    },
}


def design(rng: np.random.Generator) -> pd.DataFrame:
    """The fixed rows: group, covariate, trials, exposure."""
    g = np.repeat(np.arange(len(SIZES)), SIZES)
    return pd.DataFrame(
        {
            "g": LABELS[g],
            "x": rng.normal(0, 1, g.size).round(3),
            "n": rng.integers(1, 4, g.size),
            "e": rng.uniform(0.5, 2.0, g.size).round(3),
        }
    )


def _draw(text: str, rng: np.random.Generator) -> float:
    family, _, rest = text.partition("(")
    a, *b = (float(v) for v in rest.rstrip(")").split(","))
    if family == "normal":
        return float(rng.normal(a, b[0]))
    if family == "halfnormal":
        return float(abs(rng.normal(0, a)))
    if family == "gamma":
        return float(rng.gamma(a, 1.0 / b[0]))
    raise ValueError(text)


def simulate(
    family: str, rows: pd.DataFrame, rng: np.random.Generator
) -> tuple[dict, pd.DataFrame]:
    truth = {name: _draw(text, rng) for name, text in PRIORS[family].items()}
    u = rng.normal(0, truth["sd_g[Intercept]"], len(SIZES))
    codes = np.repeat(np.arange(len(SIZES)), SIZES)
    x = rows["x"].to_numpy()
    eta = truth["beta[Intercept]"] + truth.get("beta[x]", 0.0) * (x - x.mean()) + u[codes]
    table = rows.copy()
    if family == "binomial":
        table["y"] = rng.binomial(table["n"].to_numpy(), special.expit(eta))
    elif family == "poisson":
        table["y"] = rng.poisson(table["e"].to_numpy() * np.exp(eta))
    elif family == "negbinomial":
        alpha = truth["alpha"]
        table["y"] = rng.poisson(rng.gamma(alpha, np.exp(eta) / alpha))
    else:
        table["y"] = eta + truth["sigma"] * rng.standard_t(truth["nu"], len(table))
    truth |= {f"u_g[{LABELS[0]}]": u[0], f"u_g[{LABELS[-1]}]": u[-1]}
    # hbm reports beta[Intercept] as the formula reads it, at x = 0 (as lme4 does); the prior
    # above is on the intercept at x's mean, so the true value to rank is moved the same way
    truth["beta[Intercept]"] -= truth.get("beta[x]", 0.0) * x.mean()
    return truth, table


def posterior_of(fit, name: str) -> np.ndarray:
    post = fit.idata["posterior"]
    if name.startswith("u_g["):
        label = name[4:-1]
        values = post["u_g"]
        return values.sel({values.dims[2]: label}).values[..., 0]
    base, _, term = name.partition("[")
    values = post[base]
    if term:
        values = values.sel({values.dims[-1]: term.rstrip("]")})
    return values.values


def run(
    families: list[str], forms: list[str], settings: Settings, verbose: bool = True
) -> pd.DataFrame:
    import hbm

    rows = []
    for family in families:
        fixed = design(np.random.default_rng([settings.seed, 1]))
        for form in forms:
            start = time.perf_counter()
            seeds = np.random.SeedSequence([settings.seed, len(family)]).spawn(settings.sims)
            for sim, child in enumerate(seeds):
                rng = np.random.default_rng(child)
                truth, table = simulate(family, fixed, rng)
                fit = hbm.fit(
                    table,
                    FORMULAS[family],
                    family=family,
                    priors=PRIORS[family],
                    parametrization=form,
                    draws=settings.draws,
                    tune=settings.tune,
                    chains=settings.chains,
                    target_accept=settings.target_accept,
                    random_seed=int(rng.integers(2**31)),
                    progressbar=False,
                )
                diagnosis = fit.diagnose()
                for name, value in truth.items():
                    rows.append(
                        {
                            "family": family,
                            "parametrization": form,
                            "chosen": fit.parametrization,
                            "sim": sim,
                            "parameter": name,
                            "truth": value,
                            "rank": rank_of(posterior_of(fit, name), value, settings),
                            "divergences": diagnosis.divergences,
                            "runs": len(diagnosis.attempts),
                        }
                    )
            if verbose:
                print(
                    f"sbc: {family} {form}: {settings.sims} fits in "
                    f"{time.perf_counter() - start:.0f} s",
                    flush=True,
                )
    return pd.DataFrame(rows)


def summarise(ranks: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """The uniformity tests per family and parametrization (Bonferroni over the family's)."""
    out = []
    for (family, form), group in ranks.groupby(["family", "parametrization"], sort=False):
        table = uniformity(group, settings)
        out.append(table.assign(family=family, parametrization=form))
    return pd.concat(out, ignore_index=True)


def plot(ranks: pd.DataFrame, family: str, form: str, settings: Settings) -> Figure:
    """Rank histograms and ECDF differences of one family and parametrization."""
    group = ranks[(ranks["family"] == family) & (ranks["parametrization"] == form)]
    parameters = tuple(group["parameter"].unique())
    return plot_rank_histograms(
        group, form, settings, parameters, model=f"{family}: {FORMULAS[family]}", ecdf=True
    )


def write(ranks: pd.DataFrame, settings: Settings, out: Path) -> pd.DataFrame:
    """Test ``ranks``, write the ranks, the summary and one picture per family and
    parametrization under ``out``; the summary."""
    out.mkdir(parents=True, exist_ok=True)
    ranks.to_csv(out / "sbc_outcomes_ranks.csv", index=False)
    summary = summarise(ranks, settings)
    summary.to_csv(out / "sbc_outcomes_summary.csv", index=False)
    cases = ranks[["family", "parametrization"]].drop_duplicates()
    for family, form in cases.itertuples(index=False):
        plot(ranks, family, form, settings).savefig(
            out / f"sbc_outcomes_ranks_{family}_{form}.png", dpi=100
        )
    return summary


def merged(previous: Path, ranks: pd.DataFrame) -> pd.DataFrame:
    """The ranks in ``previous`` (a ranks file) but for the cases ``ranks`` has, then ``ranks``."""
    if not previous.exists():
        return ranks
    earlier = pd.read_csv(previous)
    cases = ["family", "parametrization"]
    rerun = earlier.set_index(cases).index.isin(ranks.set_index(cases).index)
    return pd.concat([earlier[~rerun], ranks], ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=200)
    parser.add_argument("--families", nargs="*", default=list(FORMULAS))
    parser.add_argument("--forms", nargs="*", default=["noncentered", "auto"])
    parser.add_argument("--bins", type=int, default=20)
    parser.add_argument("--seed", type=int, default=Settings.seed)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--append",
        action="store_true",
        help="keep the other cases of OUT/sbc_outcomes_ranks.csv (one case at a time)",
    )
    args = parser.parse_args()
    settings = Settings(sims=args.sims, bins=args.bins, seed=args.seed)
    ranks = run(args.families, args.forms, settings)
    if args.append:
        ranks = merged(args.out / "sbc_outcomes_ranks.csv", ranks)
    summary = write(ranks, settings, args.out)
    columns = ["family", "parametrization", "parameter", "sims", "p_value", "ecdf_p_value",
               "passes", "sims_with_divergences"]  # fmt: skip
    print(summary[columns].round(4).to_string(index=False))
    chosen = ranks.drop_duplicates(["family", "parametrization", "sim"])
    print(chosen.groupby(["family", "parametrization"])["chosen"].value_counts().to_string())


if __name__ == "__main__":
    main()
