"""Model builders: ``GroupedData`` + priors -> ``pm.Model``, one per parametrization.

A model is assembled in three steps, the same for every parametrization:

1. the hyperparameters, one PyMC variable per parameter of the parameter table that takes a prior
   (in the table's order), each from its prior (:meth:`hbm.model.priors.Prior.to_pymc`);
2. the group effects as the parametrization writes them (:mod:`hbm.model.parametrizations`), or
   none in the marginal form;
3. the family's likelihood terms (:func:`hbm.model.families.normal.observe`, or
   :func:`~hbm.model.families.normal.observe_marginal` with the group effects integrated out).

Every builder names its variables from the parameter table, so everything downstream works on any
of them: ``mu``, ``tau``, ``sigma`` (rows form only) and ``theta``, with a dimension named after the
group column whose coordinates are the group labels. :func:`rebuild` makes the model again from a
saved fit's description and data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from hbm.core.defaults import DEFAULTS
from hbm.data.grouped import GroupedData
from hbm.model.description import ModelDescription
from hbm.model.families import get_family, normal
from hbm.model.parameters import ParameterTable
from hbm.model.parametrizations import (
    centered_effects,
    check_likelihood,
    check_parametrization,
    choose_parametrization,
    noncentered_effects,
)
from hbm.model.priors import Prior

if TYPE_CHECKING:
    import pymc as pm

__all__ = ["BuiltModel", "build_model", "centered", "marginal", "noncentered", "rebuild"]

PriorsLike = Mapping[str, "str | float | Prior"] | str | None


class BuiltModel(NamedTuple):
    """A built model, the parametrization that was used and why, and its parameter table."""

    model: pm.Model
    parametrization: str
    reason: str
    parameters: ParameterTable


def centered(
    data: GroupedData,
    priors: PriorsLike = None,
    *,
    likelihood: str = DEFAULTS.likelihood,
) -> pm.Model:
    """The centered model: ``theta ~ Normal(mu, tau)``.

    Examples
    --------
    >>> import hbm
    >>> from hbm.data.grouped import grouped_data
    >>> data = grouped_data(hbm.datasets.load("eight_schools"), group="school", value="effect",
    ...                     se="stderr")
    >>> model = centered(data)
    >>> sorted(v.name for v in model.free_RVs + model.observed_RVs)
    ['mu', 'tau', 'theta', 'y']
    >>> sorted(v.name for v in model.data_vars)  # the data, as shared variables
    ['data_y_log_scale', 'data_y_scale', 'data_y_scaled', 'mu_prior', 'tau_prior']
    """
    return _conditional(data, priors, likelihood, "centered")


def noncentered(
    data: GroupedData,
    priors: PriorsLike = None,
    *,
    likelihood: str = DEFAULTS.likelihood,
) -> pm.Model:
    """The non-centered model: ``theta = mu + tau * theta_z``, ``theta_z ~ Normal(0, 1)``."""
    return _conditional(data, priors, likelihood, "noncentered")


def marginal(
    data: GroupedData,
    priors: PriorsLike = None,
    *,
    likelihood: str = DEFAULTS.likelihood,
) -> pm.Model:
    """The marginal model: ``theta`` integrated out; only ``mu``, ``tau``, ``sigma`` are sampled.

    ``theta`` is not a variable of this model: draw it afterwards with
    :func:`hbm.model.families.normal.draw_group_means` (``hbm.fit`` does this for you).
    """
    import pymc as pm

    check_likelihood(likelihood)
    if likelihood == "rows":
        raise ValueError(
            "The 'likelihood' option 'rows' is available for the centered and noncentered "
            "parametrizations; the marginal one is always written with the sufficient statistics, "
            "which is exact for the normal model."
        )
    resolved = _resolved(data, priors)
    table = normal.parameter_table(data, "marginal")
    with pm.Model(coords={data.group: list(data.labels)}) as model:
        hyper = _hyperparameters(table, resolved)
        location, scale = hyper[table.one("coefficient").name], hyper[table.one("group_sd").name]
        residual = _residual(table, hyper)
        normal.observe_marginal(data, location, scale, residual)
    if not model.free_RVs:
        fixed = " and ".join(table.names("coefficient", "group_sd"))
        raise ValueError(
            f"With {fixed} both fixed the marginal model has nothing to sample; use "
            f"parametrization='centered' ({table.one('group_effect').name}'s posterior is then "
            "independent normals)."
        )
    return model


BUILDERS = {"centered": centered, "noncentered": noncentered, "marginal": marginal}


def build_model(
    data: GroupedData,
    priors: PriorsLike = None,
    *,
    parametrization: str = DEFAULTS.parametrization,
    likelihood: str = DEFAULTS.likelihood,
) -> BuiltModel:
    """Build the model in the given parametrization (``auto`` chooses one and says why).

    Examples
    --------
    >>> import hbm
    >>> from hbm.data.grouped import grouped_data
    >>> data = grouped_data(hbm.datasets.load("schools"), group="school", value="score")
    >>> built = build_model(data)
    >>> built.parametrization, sorted(v.name for v in built.model.free_RVs)
    ('marginal', ['mu', 'sigma', 'tau'])
    """
    check_parametrization(parametrization)
    check_likelihood(likelihood)
    resolved = _resolved(data, priors)
    if parametrization == "auto":
        name, reason = choose_parametrization(data, resolved, likelihood=likelihood)
    else:
        name, reason = parametrization, "asked for"
    model = BUILDERS[name](data, resolved, likelihood=likelihood)
    return BuiltModel(model, name, reason, normal.parameter_table(data, name))


def rebuild(description: ModelDescription, data: GroupedData, parametrization: str) -> BuiltModel:
    """The model of a saved fit, made again from its description and data (for checks).

    ``parametrization`` is the one that ran (a description records what was asked).
    """
    get_family(description.family)  # a family this hbm does not know is a clear error
    if not description.is_seed_model:
        raise ValueError(
            f"This hbm builds the model 'value ~ 1 + (1 | group)' only; the saved description is "
            f"{description.formula!r}."
        )
    built = build_model(
        data,
        dict(description.priors),
        parametrization=parametrization,  # type: ignore[arg-type]
        likelihood=description.likelihood,  # type: ignore[arg-type]
    )
    return built


def _conditional(
    data: GroupedData, priors: PriorsLike, likelihood: str, parametrization: str
) -> pm.Model:
    """The centered or non-centered model: group effects as variables, then the likelihood."""
    import pymc as pm

    check_likelihood(likelihood)
    resolved = _resolved(data, priors)
    table = normal.parameter_table(data, parametrization)
    effects = centered_effects if parametrization == "centered" else noncentered_effects
    with pm.Model(coords={data.group: list(data.labels)}) as model:
        hyper = _hyperparameters(table, resolved)
        location, scale = hyper[table.one("coefficient").name], hyper[table.one("group_sd").name]
        theta = effects(table, location, scale)
        normal.observe(data, theta, _residual(table, hyper), likelihood)
    return model


def _hyperparameters(table: ParameterTable, priors: Mapping[str, Prior]) -> dict[str, Any]:
    """One variable per parameter that takes a prior, in the table's order."""
    return {p.name: priors[p.name].to_pymc(p.name) for p in table if p.has_prior}


def _residual(table: ParameterTable, hyper: Mapping[str, Any]) -> Any:
    residual = table.maybe("residual_scale")
    return None if residual is None else hyper[residual.name]


def _resolved(data: GroupedData, priors: PriorsLike) -> dict[str, Prior]:
    if not isinstance(data, GroupedData):
        raise TypeError(
            f"Builders take a GroupedData (see hbm.grouped_data); got {type(data).__name__}."
        )
    return normal.resolve_priors(data, priors)
