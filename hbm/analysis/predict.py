"""Posterior predictive draws for new rows in existing groups and for groups never seen.

For every posterior draw ``s`` (of ``mu``, ``tau``, ``sigma`` and ``theta``):

- an **existing** group ``j`` keeps its own mean: ``theta_j^(s)``, the posterior draw;
- a **new** group gets a fresh mean from the population,
  ``theta_new^(s) ~ Normal(mu^(s), tau^(s))``, drawn independently for each new group;
- each predicted value is ``y^(s) ~ Normal(theta^(s), scale^(s))``, where ``scale`` is ``sigma^(s)``
  in the rows form (a new row, e.g. one more student) and, in the summaries form, the standard
  error ``se`` the caller gives for the new estimate.

Summaries-form fits have no ``sigma``: the data are estimates with known standard errors, and
there is no "new row". A prediction there is a *new estimate* of the group's effect from a study
with standard error ``se``, so ``se`` is required (``se=0`` predicts the group's true mean
``theta`` itself). Rows-form fits use ``sigma`` and refuse ``se``.

New-group and existing-group predictions are separate, explicit choices (``groups=`` and
``new_groups=``): a label that is not in the fit is an error unless it is passed as a new group,
and a label that *is* in the fit cannot be passed as a new one (its data would be ignored).

The draws come from their own random stream derived from ``random_seed``: the same fit and seed
give the same predictions bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from hbm.analysis.draws import role_draws
from hbm.core.defaults import DEFAULTS
from hbm.core.files import atomic_write
from hbm.core.names import OBSERVED
from hbm.core.seeds import check_seed, new_seed, stream
from hbm.model.families.normal import draw_rows
from hbm.results.fit_result import FitResult
from hbm.results.tree import as_result

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

__all__ = ["PREDICTION", "predict", "prediction_summary", "write_predictions"]

#: Mixed into the user's seed so predictions use a random stream of their own.
PREDICT_STREAM = 0x9D1C7
#: Name of the predicted variable: ``y``, as in the model's ``y[i] ~ Normal(theta, sigma)``.
PREDICTION = OBSERVED[0]


def predict(
    fit: Any,
    groups: str | Sequence[str] | None = None,
    *,
    new_groups: str | Sequence[str] | None = None,
    rows: int = 1,
    se: float | None = None,
    draws: int | None = None,
    random_seed: int | None = None,
    kind: Literal["datatree", "dataframe"] = "datatree",
) -> xr.DataTree | pd.DataFrame:
    """Posterior predictive draws for existing groups and/or new groups.

    Parameters
    ----------
    fit : FitResult or Fit
    groups : str or sequence of str, optional
        Existing group labels to predict new values for. ``None`` (the default) means every
        existing group when ``new_groups`` is not given either, and none when it is.
    new_groups : str or sequence of str, optional
        Labels for groups never seen: each gets ``theta_new ~ Normal(mu, tau)`` per draw.
    rows : int
        Predicted values per group and draw (new rows, or new estimates), sharing the group's
        ``theta`` draw.
    se : float, optional
        Summaries form only, and required there: the standard error of the predicted estimate
        (``0`` predicts ``theta`` itself).
    draws : int, optional
        Use this many posterior draws, picked at random without replacement (seeded); the result
        then has one chain. ``None`` uses every draw and keeps the chains.
    random_seed : int, optional
        Seed of the predictions; ``None`` draws one, recorded in the result's attributes.
    kind : {"datatree", "dataframe"}
        A DataTree with a ``predictions`` group (``y`` with dims ``chain, draw, <group>, row``
        and ``theta`` with dims ``chain, draw, <group>``; the coordinate ``new_group`` says which
        groups are new), or the same in long form: one row per draw, group and predicted row.

    Returns
    -------
    xarray.DataTree or pandas.DataFrame

    Raises
    ------
    ValueError
        For an unknown label (unless passed in ``new_groups``), an existing label in
        ``new_groups``, a missing or misplaced ``se``, or bad ``rows`` / ``draws`` / ``kind``.

    Examples
    --------
    >>> pred = fit.predict(["Ashford"], new_groups=["new school"], random_seed=1)  # doctest: +SKIP
    >>> pred["predictions"]["y"].mean(("chain", "draw", "row"))  # doctest: +SKIP
    """
    import xarray as xr

    result = as_result(fit)
    data = result.grouped
    old = _labels(groups, "groups")
    new = _labels(new_groups, "new_groups")
    if groups is None:
        old = list(data.labels) if new_groups is None else []
    _check_labels(old, new, data.labels, data.group)
    scale_name = _check_scale(result, se)
    rows = _count(rows, "rows")
    if kind not in ("datatree", "dataframe"):
        raise ValueError(f"The 'kind' option must be 'datatree' or 'dataframe'; got {kind!r}.")
    random_seed = check_seed(random_seed)
    if random_seed is None:
        random_seed = new_seed()
    rng = stream(random_seed, PREDICT_STREAM)

    posterior = result.idata["posterior"].to_dataset()
    chains, n_draws = posterior.sizes["chain"], posterior.sizes["draw"]
    chain_idx, draw_idx = np.meshgrid(np.arange(chains), np.arange(n_draws), indexing="ij")
    if draws is not None:
        draws = _count(draws, "draws")
        if draws > chains * n_draws:
            raise ValueError(
                f"The 'draws' option can be at most the fit's {chains * n_draws} posterior draws "
                f"({chains} chains x {n_draws}); got {draws}."
            )
        pick = np.sort(rng.choice(chains * n_draws, size=draws, replace=False))
        chain_idx = chain_idx.reshape(-1)[pick][None, :]
        draw_idx = draw_idx.reshape(-1)[pick][None, :]

    def take(role: str) -> np.ndarray:
        values = role_draws(result, role)
        return values.reshape(chains, n_draws, *values.shape[1:])[chain_idx, draw_idx]

    mu, tau = take("coefficient"), take("group_sd")
    label_index = {label: j for j, label in enumerate(data.labels)}
    # Only the groups asked for: exact draws a fit does not hold are made again from its seed,
    # bit for bit (hbm.results.group_draws), never every group's.
    wanted = np.array([label_index[label] for label in old], dtype=np.int64)
    effects = result.group_draws()
    if not effects.held and effects.n_draws * wanted.size > DEFAULTS.group_draws_max_values:
        raise ValueError(
            f"Predicting {wanted.size:,} existing groups needs {effects.n_draws:,} draws x "
            f"{wanted.size:,} groups of {effects.name}, more than the "
            f"{DEFAULTS.group_draws_max_values:,} values hbm makes at once: name fewer groups."
        )
    theta_old = effects.columns(wanted)[:, :, 0].reshape(chains, n_draws, wanted.size)
    theta_old = theta_old[chain_idx, draw_idx]
    theta_new = mu[..., None] + tau[..., None] * rng.standard_normal((*mu.shape, len(new)))
    theta = np.concatenate([theta_old, theta_new], axis=-1)
    if scale_name == "se":
        scale: np.ndarray | float = float(se)  # type: ignore[arg-type]
    else:
        scale = take("residual_scale")[..., None, None]
    y = draw_rows(rng, theta, scale, rows)

    sample_shape = mu.shape
    coords = {
        "chain": np.arange(sample_shape[0]),
        "draw": np.arange(sample_shape[1]),
        data.group: old + new,
        "row": np.arange(rows),
        "new_group": (data.group, np.array([False] * len(old) + [True] * len(new))),
    }
    if draws is not None:
        coords["source_chain"] = (("chain", "draw"), posterior["chain"].values[chain_idx])
        coords["source_draw"] = (("chain", "draw"), posterior["draw"].values[draw_idx])
    dataset = xr.Dataset(
        {
            PREDICTION: (("chain", "draw", data.group, "row"), y),
            result.parameters.one("group_effect").name: (("chain", "draw", data.group), theta),
        },
        coords=coords,
    )
    dataset.attrs.update(
        random_seed=int(random_seed),
        value=data.value,
        scale=scale_name,
        se=float(se) if se is not None else "none",
        form=data.kind,
    )
    tree = xr.DataTree.from_dict({"predictions": dataset})
    return to_frame(tree) if kind == "dataframe" else tree


def to_frame(prediction: xr.DataTree) -> pd.DataFrame:
    """A prediction in long form: one row per draw, group and predicted row (or per draw and
    new row, for a formula model's predictions)."""
    dataset = prediction["predictions"].to_dataset()
    if "expected" in dataset:  # a formula model's rows: chain, draw, row, y, expected, ...
        frame = dataset.to_dataframe().reset_index()
        frame.attrs.update(dataset.attrs)
        return frame
    group, effect = _group_and_effect(dataset)
    frame = dataset.to_dataframe().reset_index()
    extra = [c for c in ("source_chain", "source_draw") if c in frame.columns]
    frame = frame[["chain", "draw", group, "row", "new_group", effect, PREDICTION, *extra]]
    frame.attrs.update(dataset.attrs)
    return frame


def prediction_summary(prediction: xr.DataTree) -> pd.DataFrame:
    """Per group: whether it is new, and the mean, sd and 3%, 50%, 97% quantiles of ``y``."""
    import pandas as pd

    dataset = prediction["predictions"].to_dataset()
    group, _ = _group_and_effect(dataset)
    y = dataset[PREDICTION].stack(sample=("chain", "draw", "row")).transpose(group, "sample")
    values = y.values
    quantiles = np.quantile(values, [0.03, 0.5, 0.97], axis=1)
    return pd.DataFrame(
        {
            "new_group": dataset["new_group"].values,
            "mean": values.mean(axis=1),
            "sd": values.std(axis=1, ddof=1),
            "q3%": quantiles[0],
            "median": quantiles[1],
            "q97%": quantiles[2],
            "draws": values.shape[1],
        },
        index=pd.Index([str(v) for v in dataset[group].values], name=str(group)),
    )


def write_predictions(prediction: xr.DataTree, path: str | Path) -> Path:
    """Write a prediction to ``path``: ``.csv`` in long form (:func:`to_frame`), ``.nc`` as netCDF.

    Written through a temporary file that is then renamed, so there is never a half-written file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".nc"):
        raise ValueError(f"Predictions are written to .csv or .nc files; got {str(path)!r}.")
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a folder; expected a .csv or .nc file name.")
    if suffix == ".nc":
        return atomic_write(path, lambda name: prediction.to_netcdf(name, engine="h5netcdf"))
    return atomic_write(path, lambda name: to_frame(prediction).to_csv(name, index=False))


def _group_and_effect(dataset: xr.Dataset) -> tuple[str, str]:
    """The group dimension and the group-effect variable of a prediction."""
    effect = next(str(name) for name in dataset.data_vars if name != PREDICTION)
    return str(dataset[PREDICTION].dims[2]), effect


def _labels(labels: str | Sequence[str] | None, option: str) -> list[str]:
    if labels is None:
        return []
    if isinstance(labels, str):
        labels = [labels]
    out = []
    for label in labels:
        if isinstance(label, bool) or not isinstance(label, str | int | np.integer):
            raise TypeError(f"The '{option}' option takes group labels (text); got {label!r}.")
        out.append(str(label))
    repeated = sorted({label for label in out if out.count(label) > 1})
    if repeated:
        raise ValueError(f"The '{option}' option names {', '.join(map(repr, repeated))} twice.")
    return out


def _check_labels(old: list[str], new: list[str], known: tuple[str, ...], column: str) -> None:
    if not old and not new:
        raise ValueError("Nothing to predict: 'groups' and 'new_groups' are both empty.")
    unknown = [label for label in old if label not in known]
    if unknown:
        shown = ", ".join(map(repr, known[:10])) + (", ..." if len(known) > 10 else "")
        raise ValueError(
            f"The fit has no {column} {', '.join(map(repr, unknown))}; its {column} labels are "
            f"{shown}. To predict for a group never seen, pass it as a new group "
            "(new_groups=..., CLI: --new)."
        )
    clash = [label for label in new if label in known]
    if clash:
        raise ValueError(
            f"{', '.join(map(repr, clash))} is an existing {column} in the fit; predicting it as a "
            f"new group would ignore its data. Pass it in 'groups' (CLI: without --new), or give "
            "the new group another label."
        )
    both = sorted(set(old) & set(new))
    if both:
        raise ValueError(f"{', '.join(map(repr, both))} is in both 'groups' and 'new_groups'.")


def _check_scale(fit: FitResult, se: float | None) -> str:
    """``"sigma"`` (rows form: the residual sd's name) or ``"se"`` (summaries form), after
    checking ``se``."""
    if fit.grouped.kind == "rows":
        if se is not None:
            raise ValueError(
                "The 'se' option applies only to fits of the summaries form; this fit has rows, "
                "and new rows are predicted with the fitted sigma."
            )
        return fit.parameters.one("residual_scale").name
    if se is None:
        raise ValueError(
            f"This fit is of the summaries form ({fit.grouped.value!r} with known standard "
            f"errors {fit.grouped.se!r}), so it has no sigma: a prediction is a new estimate, and "
            "needs its standard error. Pass se=... (CLI: --se), or se=0 to predict the group's "
            "true mean."
        )
    if (
        isinstance(se, bool)
        or not isinstance(se, int | float | np.number)
        or not (np.isfinite(se) and se >= 0)
    ):
        raise ValueError(f"The 'se' option must be a finite number >= 0; got {se!r}.")
    return "se"


def _count(value: int, option: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"The '{option}' option must be a positive integer; got {value!r}.")
    return int(value)
