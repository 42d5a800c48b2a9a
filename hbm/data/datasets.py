"""Bundled datasets: ``load(name)`` returns a tidy pandas table."""

from __future__ import annotations

from importlib import resources

import pandas as pd

__all__ = ["DATASETS", "FAMILIES", "FORMULAS", "describe", "load"]

#: name -> (file, group column, value column, se column or None, description)
DATASETS: dict[str, tuple[str, str, str, str | None, str]] = {
    "schools": (
        "schools.csv",
        "school",
        "score",
        None,
        "Synthetic student scores in 30 schools of 2 to 300 students (data/make_schools.py).",
    ),
    "eight_schools": (
        "eight_schools.csv",
        "school",
        "effect",
        "stderr",
        "Rubin (1981): estimated coaching effects and standard errors in 8 schools.",
    ),
    "sleepstudy": (
        "sleepstudy.csv",
        "Subject",
        "Reaction",
        None,
        "Belenky et al. (2003), lme4's sleepstudy: reaction times (ms) of 18 subjects over 10 "
        "days of sleep deprivation (180 rows).",
    ),
    "surgical": (
        "surgical.csv",
        "hospital",
        "deaths",
        None,
        "BUGS Examples Vol. 1 'Surgical': deaths in cardiac surgery on babies in 12 hospitals "
        "(operations and deaths per hospital; binomial).",
    ),
    "pastes": (
        "pastes.csv",
        "batch",
        "strength",
        None,
        "Davies & Goldsmith (1972), lme4's Pastes: paste strength, two assays of each of 3 casks "
        "(labels 'a' to 'c' repeat) in each of 10 batches; nested (60 rows).",
    ),
    "penicillin": (
        "penicillin.csv",
        "plate",
        "diameter",
        None,
        "Davies & Goldsmith (1972), lme4's Penicillin: inhibition zone diameters of 6 samples on "
        "each of 24 plates; crossed (144 rows).",
    ),
    "orange": (
        "orange.csv",
        "Tree",
        "circumference",
        None,
        "R's datasets::Orange (Draper and Smith 1998): trunk circumference (mm) of 5 orange "
        "trees at 7 ages (days), 35 rows; a logistic growth curve per tree "
        "(hbm curve --curve logistic --time age --varying asym).",
    ),
    "wells": (
        "wells.csv",
        "well",
        "rate",
        None,
        "Synthetic oil field: monthly rates (bbl/d) of 60 wells with Arps declines and 3 to 120 "
        "months of history (data/make_wells.py; hbm curve --curve arps --time month "
        "--varying qi,di).",
    ),
    "epidemics": (
        "epidemics.csv",
        "country",
        "cases",
        None,
        "Synthetic epidemic: weekly cumulative case counts in 30 countries, logistic curves "
        "with negative binomial reports, some still before their peak (data/make_epidemics.py; "
        "hbm curve --curve logistic --time day --varying asym,xmid --family negbinomial).",
    ),
}
#: A formula for the datasets that are more than a group and a value.
FORMULAS: dict[str, str] = {
    "sleepstudy": "Reaction ~ Days + (Days | Subject)",
    "surgical": "p(deaths, operations) ~ 1 + (1 | hospital)",
    "pastes": "strength ~ 1 + (1 | batch/cask)",
    "penicillin": "diameter ~ 1 + (1 | plate) + (1 | sample)",
}
#: The family of the datasets whose outcome is not normal.
FAMILIES: dict[str, str] = {"surgical": "binomial"}


def load(name: str) -> pd.DataFrame:
    """Load a bundled dataset by name.

    Examples
    --------
    >>> load("eight_schools").columns.tolist()
    ['school', 'effect', 'stderr']
    """
    if name not in DATASETS:
        raise ValueError(
            f"Unknown dataset {name!r}; the bundled datasets are {', '.join(map(repr, DATASETS))}."
        )
    filename, group = DATASETS[name][0], DATASETS[name][1]
    with resources.files("hbm").joinpath("_data", filename).open("rb") as handle:
        return pd.read_csv(handle, dtype={group: str})


def describe() -> pd.DataFrame:
    """The bundled datasets with their columns and a one-line description."""
    return pd.DataFrame(
        [
            {
                "name": name,
                "group": g,
                "value": v,
                "se": se or "",
                "formula": FORMULAS.get(name, ""),
                "family": FAMILIES.get(name, "normal"),
                "description": text,
            }
            for name, (_, g, v, se, text) in DATASETS.items()
        ]
    )
