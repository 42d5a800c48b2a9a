"""Prior predictive draws: what the priors alone say about the parameters and the data.

Before any data are used, the model's three levels are simulated top down, once per draw:
the hyperparameters from their priors (:func:`hbm.model.prior_draws.draw_prior`), each group's
effect from level 2 (``theta_j ~ Normal(mu, tau)``), and the data they imply at level 1: one new
row per group (``y ~ Normal(theta_j, sigma)``) and the group's mean over its ``n_j`` rows
(``ybar_j ~ Normal(theta_j, sigma / sqrt(n_j))``), or a new estimate ``Normal(theta_j, se_j)`` in
the summaries form. They are compared with the observed data's range: priors that put much mass
on values far outside it, or on negative values where every observed value is positive (a pass
rate, a count, a score), are flagged, and so are priors so tight that the data fall outside what
they imply. This is the seed example's reasoning ("hyperparameters from past data"), checked.

*Memory*: draws x groups values per array; past ``DEFAULTS.loo_max_values`` (10M) the number of
draws is cut to fit (1,000 draws at 10,000 groups), and the result says so. Draws come from a
stream of their own seeded by ``random_seed``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from hbm.analysis.units import Units
from hbm.core.defaults import DEFAULTS
from hbm.core.names import OBSERVED
from hbm.core.seeds import stream
from hbm.data.grouped import GroupedData
from hbm.model.families.normal import replicate_means, sampling_variance
from hbm.model.parameters import ParameterTable
from hbm.model.prior_draws import draw_prior
from hbm.model.priors import Prior

__all__ = ["FORMAT", "PriorPredictive", "prior_predictive"]

#: The layout of a saved prior predictive result (``prior.nc``).
FORMAT = "hbm-prior/1"
#: Mixed into the seed so the prior draws use a stream of their own.
PRIOR_STREAM = 0x9A10
#: Quantiles shown per quantity.
PROBS = (0.03, 0.5, 0.97)
#: The implied data's variables: one new row (or estimate) per group, and each group's mean.
ROW, MEAN = OBSERVED[0], OBSERVED[1]
#: More than this share of implied values in an implausible region is flagged.
FLAG_SHARE = 0.05


@dataclass(frozen=True, eq=False)
class PriorPredictive:
    """Prior and prior predictive draws of one model for one dataset (see the module docstring).

    Attributes
    ----------
    data : GroupedData or Units
        The observed data (their group sizes or standard errors shape the implied data).
    priors : dict of Prior
    parameters : ParameterTable
    idata : xarray.DataTree
        ``prior`` (hyperparameters and group effects), ``prior_predictive`` (``y``: one new row or
        estimate per group and draw; ``ybar``: each group's mean, rows form), ``observed_data``
        and ``group_data``, with the priors and seed as JSON attributes.
    observed : ndarray
        The observed rows (rows form, where kept) or estimates; else the group means.
    random_seed : int
    n_draws, draws_asked : int
        Draws made, and asked for (fewer for very many groups, see *Memory*).
    model : str
        The model in words, where the data do not say it (formula models).
    notes : dict of str
        Per element label, what its picture should say instead of its prior's text (a
        coefficient whose prior is on another scale).
    """

    data: GroupedData | Units
    priors: dict[str, Prior]
    parameters: ParameterTable
    idata: xr.DataTree
    observed: np.ndarray = field(repr=False)
    random_seed: int = 0
    n_draws: int = 0
    draws_asked: int = 0
    model: str = ""
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def unit_word(self) -> str:
        """What one implied value is: a row or an estimate."""
        return "estimate" if self.data.kind == "summaries" else "row"

    def implied(self, name: str = ROW) -> np.ndarray:
        """Flattened draws of an implied quantity: ``y`` (single rows or estimates), ``ybar``
        (group means) or a parameter's name."""
        tree = self.idata
        group = "prior_predictive" if name in tree["prior_predictive"] else "prior"
        return np.asarray(tree[group][name].values, dtype=float).reshape(-1)

    def elements(self, *, effects: bool = True) -> list[tuple[str, Prior | None, np.ndarray]]:
        """Each hyperparameter element (``beta[Days]``, ``sd_g[x]``, ``corr_g[a, b]``, ``sigma``)
        and, with ``effects``, each group effect per term pooled over the groups: its label, its
        prior (None for the effects) and its draws, flattened."""
        prior = self.idata["prior"].to_dataset()
        out: list[tuple[str, Prior | None, np.ndarray]] = []
        chosen = list(self.parameters.hyperparameters)
        if effects:
            chosen += self.parameters.by_role("group_effect")
        for parameter in chosen:
            array = prior[parameter.name]
            pooled = parameter.role == "group_effect"
            split = [str(d) for d in (array.dims[3:] if pooled else array.dims[2:])]
            if not split:
                values = np.asarray(array.values, dtype=float).reshape(-1)
                out.append((parameter.name, self._prior_of(parameter.name, pooled), values))
                continue
            for index in np.ndindex(*(array.sizes[d] for d in split)):
                labels = [str(array[d].values[i]) for d, i in zip(split, index, strict=True)]
                label = f"{parameter.name}[{', '.join(labels)}]"
                part = array.isel(dict(zip(split, index, strict=True)))
                values = np.asarray(part.values, dtype=float).reshape(-1)
                out.append((label, self._prior_of(label, pooled, parameter.name), values))
        return out

    def _prior_of(self, label: str, pooled: bool, base: str | None = None) -> Prior | None:
        if pooled or label in self.notes:
            return None
        return self.priors.get(label) or self.priors.get(base or label)

    def summary(self) -> pd.DataFrame:
        """One row per quantity: the priors' parameters (element by element), the group effects
        (per term, pooled over the groups) and the implied data, with mean, sd, 3%, 50% and 97%
        quantiles, and for the data the share below the observed minimum, above the observed
        maximum, far outside (beyond the observed range widened by its width on both sides) and,
        where every observed value is >= 0, below zero."""
        rows = []
        for label, _, values in self.elements():
            rows.append(self._row(label, f"prior of {label}", values, data=False))
        rows.append(self._row(ROW, f"a new {self.unit_word}", self.implied(ROW), data=True))
        if MEAN in self.idata["prior_predictive"]:
            rows.append(self._row(MEAN, "a group's mean", self.implied(MEAN), data=True))
        return pd.DataFrame(rows)

    def advice(self) -> list[str]:
        """What the implied data say about the priors, in sentences."""
        values, word = self.implied(ROW), self.unit_word
        low, high = float(self.observed.min()), float(self.observed.max())
        width = high - low
        far = _share(values, low - width, high + width)
        quantiles = np.quantile(values, [0.005, 0.995])
        out = []
        if far > FLAG_SHARE:
            out.append(
                f"{far:.0%} of the implied {word}s lie far outside the observed range "
                f"[{low:.4g}, {high:.4g}] (beyond [{low - width:.4g}, {high + width:.4g}]); 99% "
                f"of them lie in [{quantiles[0]:.4g}, {quantiles[1]:.4g}]. If such values are "
                "impossible, the priors put mass on them: tighten them with what past data say "
                "about the levels (the seed example's hyperparameters)."
            )
        negative = float(np.mean(values < 0))
        if low >= 0 and negative > 0.01:
            out.append(
                f"{negative:.0%} of the implied {word}s are negative, but every observed one is "
                ">= 0: if negative values are impossible here (a rate, a count, a score), the "
                "priors put mass on impossible values."
            )
        inner = np.quantile(values, [0.005, 0.995])
        outside = float(np.mean((self.observed < inner[0]) | (self.observed > inner[1])))
        if outside > FLAG_SHARE:
            out.append(
                f"{outside:.0%} of the observed {word}s lie outside the central 99% of what the "
                f"priors imply ([{inner[0]:.4g}, {inner[1]:.4g}]): the priors are tighter than "
                "the data; widen them unless they encode real knowledge."
            )
        if not out:
            out.append(
                f"The priors imply {word}s mostly within and around the observed range "
                f"[{low:.4g}, {high:.4g}] (99% in [{quantiles[0]:.4g}, {quantiles[1]:.4g}], "
                f"{far:.1%} far outside): weakly informative at the scale of the data."
            )
        if self.n_draws < self.draws_asked:
            out.append(
                f"{self.n_draws:,} draws were made instead of {self.draws_asked:,}, to keep "
                f"{self.data.n_groups:,} groups within memory."
            )
        return out

    def _row(self, name: str, what: str, values: np.ndarray, *, data: bool) -> dict[str, Any]:
        q = np.quantile(values, PROBS)
        row: dict[str, Any] = {
            "quantity": name,
            "what": what,
            "mean": float(values.mean()),
            "sd": float(values.std(ddof=1)),
            "q3": q[0],
            "q50": q[1],
            "q97": q[2],
        }
        if data:
            low, high = float(self.observed.min()), float(self.observed.max())
            width = high - low
            row["below_observed"] = float(np.mean(values < low))
            row["above_observed"] = float(np.mean(values > high))
            row["far_outside"] = _share(values, low - width, high + width)
            row["negative"] = float(np.mean(values < 0)) if low >= 0 else np.nan
        return row


def prior_predictive(
    data: GroupedData,
    priors: dict[str, Prior],
    parameters: ParameterTable,
    *,
    draws: int,
    random_seed: int,
) -> PriorPredictive:
    """Simulate the model top down from its priors (see the module docstring).

    Examples
    --------
    >>> import hbm
    >>> from hbm.data.grouped import grouped_data
    >>> from hbm.model.families.normal import parameter_table, resolve_priors
    >>> data = grouped_data(hbm.datasets.load("schools"), group="school", value="score",
    ...                     keep_rows=True)
    >>> check = prior_predictive(data, resolve_priors(data, "seed"), parameter_table(data),
    ...                          draws=1000, random_seed=1)
    >>> check.summary().set_index("quantity").loc["mu", "q50"].round()
    np.float64(60.0)
    """
    n_draws = max(1, min(draws, DEFAULTS.loo_max_values // data.n_groups))
    rng = stream(random_seed, PRIOR_STREAM)
    hyper = {p.name: draw_prior(priors[p.name], rng, n_draws) for p in parameters if p.has_prior}
    location = hyper[parameters.one("coefficient").name]
    scale = hyper[parameters.one("group_sd").name]
    residual = parameters.maybe("residual_scale")
    sigma = None if residual is None else hyper[residual.name]
    effect = parameters.one("group_effect")
    theta = replicate_means(rng, location[:, None], scale[:, None] ** 2 + np.zeros(data.n_groups))
    dims = ("chain", "draw", data.group)
    coords = {"chain": [0], "draw": np.arange(n_draws), data.group: list(data.labels)}
    prior: dict[str, Any] = {name: (dims[:2], values[None]) for name, values in hyper.items()}
    prior[effect.name] = (dims, theta[None])
    predictive: dict[str, Any] = {}
    if sigma is None:
        new = replicate_means(rng, theta, sampling_variance(data, None))
        predictive[ROW] = (dims, new[None])
    else:
        predictive[ROW] = (dims, replicate_means(rng, theta, sigma[:, None] ** 2)[None])
        means = replicate_means(rng, theta, sampling_variance(data, sigma))
        predictive[MEAN] = (dims, means[None])
    observed = data.values if data.values is not None else data.mean
    columns = {"n": data.n, "mean": data.mean, "ss": data.ss}
    if data.stderr is not None:
        columns["se"] = data.stderr
    tree = xr.DataTree.from_dict(
        {
            "prior": xr.Dataset(prior, coords=coords),
            "prior_predictive": xr.Dataset(predictive, coords=coords),
            "observed_data": xr.Dataset(
                {ROW: ((f"{ROW}_dim_0",), np.asarray(observed, dtype=float))}
            ),
            "group_data": xr.Dataset(
                {name: ((data.group,), values) for name, values in columns.items()},
                coords={data.group: list(data.labels)},
            ),
        }
    )
    tree.attrs.update(
        hbm_format=FORMAT,
        hbm_priors=json.dumps({name: p.text() for name, p in priors.items()}),
        hbm_data=json.dumps(data.describe(), sort_keys=True),
        hbm_parameters=parameters.to_json(),
        random_seed=int(random_seed),
        draws=int(n_draws),
    )
    return PriorPredictive(
        data=data,
        priors=dict(priors),
        parameters=parameters,
        idata=tree,
        observed=np.asarray(observed, dtype=float),
        random_seed=int(random_seed),
        n_draws=n_draws,
        draws_asked=int(draws),
    )


def _share(values: np.ndarray, low: float, high: float) -> float:
    return float(np.mean((values < low) | (values > high)))
