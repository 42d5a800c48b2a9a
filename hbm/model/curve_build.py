"""Building a curve model: ``CurveData`` + ``CurveSpec`` + priors -> ``pm.Model``.

1. ``beta`` (one entry per free curve parameter, on its pooled scale) from its per-term priors;
2. ``sd_<g>`` per varying term, and when several vary an LKJ Cholesky factor ``L``
   (:mod:`hbm.model.lkj`) and ``corr_<g>``;
3. the group effects ``u_<g> ~ N(0, F F')`` with ``F = diag(sd) L``, non-centered
   (``u = z F'``, ``z ~ N(0, 1)``), centered, or ``partial``: centered for the groups whose rows
   pin their effects and non-centered for the others (:func:`informative_groups`); a centered
   group is sampled in its own frame (:mod:`hbm.model.curve_frames`: an affine map, fixed before
   sampling from a fit of the group's rows, that takes out the correlations of its parameters
   with each other and with the shared ones);
4. per row, the curve's parameters ``beta + u[g[i]]`` (varying) or ``beta`` (shared), taken to
   their natural scale, give the expected value ``mu[i] = f(t[i]; ...)``; the linear predictor
   is ``mu[i]`` itself (normal) or ``log mu[i]`` (count families, log link;
   :meth:`hbm.model.curves.Curve.log_evaluate`, which keeps its digits where ``mu`` underflows);
5. the outcome's likelihood, chosen by family name in :func:`observe_curve` (one place): the
   count families' own log density (:mod:`hbm.model.families.poisson`,
   :mod:`hbm.model.families.negbinomial`) as one potential.

Starting values: NUTS starts ``beta`` at a pooled least-squares fit of the curve to all rows
(:func:`pooled_start`, from the priors' centres), not at the priors' centres, so that chains do
not start where the curve is far from every point (the usual cause of divergent first steps in
nonlinear models).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from hbm.core.names import BETA, BETA_DIM, SIGMA, corr_name, effect_name, pair_dim, sd_name
from hbm.core.names import term_dim as term_dim_of
from hbm.data.curve_data import CurveData
from hbm.model.curve_frames import GroupFrames, group_frames, row_precision
from hbm.model.curve_terms import CURVE_PARAMETRIZATIONS, CurveSpec, curve_pairs
from hbm.model.families import get_family
from hbm.model.linear_effects import prior_vector, solve_lower
from hbm.model.lkj import lkj_cholesky
from hbm.model.priors import Prior

if TYPE_CHECKING:
    import pymc as pm

__all__ = [
    "COUNT_LIKELIHOOD",
    "FRAME_DATA",
    "build_curve",
    "centered_frames",
    "informative_groups",
    "observe_curve",
    "pooled_start",
    "sd_prior_scale",
]

#: The potential that holds a count family's log likelihood.
COUNT_LIKELIHOOD = "y_counts"


def build_curve(
    data: CurveData,
    spec: CurveSpec,
    priors: Mapping[str, Prior],
    parametrization: str,
    start: Mapping[str, float] | None = None,
    centered: np.ndarray | None = None,
    frames: GroupFrames | None = None,
) -> pm.Model:
    """The PyMC model of the curve ``spec`` on ``data`` with resolved ``priors``; with
    ``partial``, ``centered`` marks the groups sampled centered; ``frames`` (for those groups, in
    their order) samples them in their own frames (:mod:`hbm.model.curve_frames`)."""
    import pymc as pm
    import pytensor.tensor as pt

    if parametrization not in CURVE_PARAMETRIZATIONS:
        raise ValueError(
            f"The 'parametrization' option of a curve model must be one of 'auto', "
            f"{', '.join(map(repr, CURVE_PARAMETRIZATIONS))}; got {parametrization!r}."
        )
    if parametrization != "partial" or centered is None:
        centered = np.full(data.n_groups, parametrization == "centered")
    curve, g = spec.shape, data.group
    terms, varying = spec.free_terms, spec.varying_terms
    coords: dict[str, list[str]] = {BETA_DIM: list(terms)}
    if varying:
        coords[g] = list(data.labels)
        coords[term_dim_of(g)] = list(varying)
    pairs = curve_pairs(spec)
    if pairs:
        coords[pair_dim(g)] = [f"{a}, {b}" for a, b in pairs]
    with pm.Model(coords=coords) as model:
        beta = prior_vector(BETA, terms, [priors[f"{BETA}[{t}]"] for t in terms], BETA_DIM)
        population = [beta[terms.index(t)] for t in varying]
        shared = [beta[terms.index(t)] for t in frames.shared] if frames is not None else []
        u = _effects(g, varying, priors, centered, population, frames, shared) if varying else None
        codes = pm.Data("data_codes", data.codes)
        t = pm.Data("data_t", data.t)
        natural: dict[str, Any] = dict(spec.fixed)
        for i, name in enumerate(spec.free):
            p = curve.parameter(name)
            if p.term in varying:  # to the natural scale per group, then to the rows
                own = beta[i] + u[:, varying.index(p.term)]  # type: ignore[index]
                natural[name] = p.to_natural(own, pt)[codes]
            else:
                natural[name] = p.to_natural(beta[i], pt)
        if spec.link == "log":
            eta = curve.log_evaluate(t, natural, pt)
        else:
            eta = curve.evaluate(t, natural, pt)
        observe_curve(spec.family, eta, data.y, priors)
    if start:
        _set_start(model, terms, start, varying, g, int(np.sum(centered)), frames is not None)
    return model


def _effects(
    g: str,
    varying: tuple[str, ...],
    priors: Mapping[str, Prior],
    centered: np.ndarray,
    population: list[Any],
    frames: GroupFrames | None = None,
    shared: list[Any] | None = None,
) -> Any:
    """``u_<g>`` (J, q): ``N(0, F F')`` per group, ``F = diag(sd) L``; the groups marked in
    ``centered`` are sampled as their own parameters ``theta = beta + u`` (``u_<g>_c``, with the
    normal density of ``u`` as a potential; ``population`` is ``beta``'s varying entries), the
    others as ``u = F z`` (``u_<g>_z``)."""
    import pymc as pm
    import pytensor.tensor as pt

    q = len(varying)
    sd = prior_vector(
        sd_name(g), varying, [priors[f"{sd_name(g)}[{t}]"] for t in varying], term_dim_of(g)
    )
    lower: list[list[Any]] = [[1.0 if i == j else 0.0 for j in range(q)] for i in range(q)]
    if q > 1:
        eta = pm.Data(f"{corr_name(g)}_raw_prior", np.asarray(priors[corr_name(g)].params[0]))
        lower = lkj_cholesky(f"{corr_name(g)}_raw", q, eta)
        values = [
            sum(lower[i][k] * lower[j][k] for k in range(i + 1))
            for i in range(q)
            for j in range(i + 1, q)
        ]
        pm.Deterministic(corr_name(g), pt.stack(values), dims=pair_dim(g))
    scaled = [[sd[i] * lower[i][j] if j <= i else 0.0 for j in range(q)] for i in range(q)]
    mask = np.asarray(centered, bool)
    which_c, which_n = np.flatnonzero(mask), np.flatnonzero(~mask)
    parts = []
    if which_c.size:
        # centered: the groups' own parameters are sampled, u = theta - beta follows
        theta = pm.Flat(f"{effect_name(g)}_c", shape=(which_c.size, q))
        if frames is not None:
            theta = _in_frames(theta, frames, shared or [])
        u_c = theta - pt.stack(list(population))[None, :]
        standardized = solve_lower(scaled, [u_c[:, i] for i in range(q)])
        log_density = -0.5 * sum((v**2).sum() for v in standardized) - which_c.size * sum(
            pt.log(scaled[i][i]) for i in range(q)
        )
        pm.Potential(f"{effect_name(g)}_c_prior", log_density)
        parts.append(u_c)
    if which_n.size:
        z = pm.Normal(f"{effect_name(g)}_z", 0.0, 1.0, shape=(which_n.size, q))
        columns = [
            sum(scaled[i][k] * z[:, k] for k in range(i + 1) if not _zero(scaled[i][k]))
            for i in range(q)
        ]
        parts.append(pt.stack(columns, axis=1))
    order = np.argsort(np.r_[which_c, which_n], kind="stable")
    joined = parts[0] if len(parts) == 1 else pt.concatenate(parts, axis=0)
    return pm.Deterministic(effect_name(g), joined[order], dims=(g, term_dim_of(g)))


#: The frames' arrays as the model's data (``pm.Data``, so that a compiled model's frames can be
#: swapped with its rows, as the SBC bench does): name -> GroupFrames attribute; the last two
#: only when the curve has shared terms.
FRAME_DATA = {
    "frame_centre": "centre",
    "frame_scale": "scale",
    "frame_shear": "shear",
    "frame_start": "shared_start",
}


def _in_frames(zeta: Any, frames: GroupFrames, shared: list[Any]) -> Any:
    """The centered groups' parameters from their frame coordinates ``zeta`` (k, q):
    ``centre + scale @ zeta + shear @ (s - s0)``, a constant-Jacobian map."""
    import pymc as pm
    import pytensor.tensor as pt

    used = FRAME_DATA if shared else dict(list(FRAME_DATA.items())[:2])
    data = {name: pm.Data(name, getattr(frames, field)) for name, field in used.items()}
    theta = data["frame_centre"] + pt.sum(data["frame_scale"] * zeta[:, None, :], axis=2)
    if shared:
        moved = pt.stack(shared) - data["frame_start"]
        theta = theta + pt.sum(data["frame_shear"] * moved[None, None, :], axis=2)
    return theta


def _zero(value: Any) -> bool:
    return isinstance(value, float) and value == 0.0


def informative_groups(
    data: CurveData,
    spec: CurveSpec,
    priors: Mapping[str, Prior],
    start: Mapping[str, float],
) -> np.ndarray:
    """Which groups' own rows pin their varying parameters: the standard error of each varying
    term from the group's rows alone (Fisher information at the pooled start) below half the
    scale of its between-group sd's prior, for every varying term.

    A row's information on a term is ``(d mu / d term)^2 / Var(y)``: the normal family's rows'
    variance is estimated from successive differences within groups, robustly; a count family's
    is its own at the start's mean (its ``information`` of the linear predictor ``log mu``,
    ``mu`` for the Poisson, ``mu / (1 + mu / alpha)`` for the negative binomial, with ``alpha``
    from the start's residuals by moments).
    """
    curve = spec.shape
    y, codes = data.y, data.codes
    base = dict(start)

    def mean(values: Mapping[str, float]) -> np.ndarray:
        natural: dict[str, Any] = dict(spec.fixed)
        for name in spec.free:
            p = curve.parameter(name)
            natural[name] = p.to_natural(values[p.term])
        with np.errstate(all="ignore"):
            return np.asarray(curve.evaluate(data.t, natural), dtype=float)

    weight = row_precision(spec.family, y, codes, mean(base))
    pinned = np.ones(data.n_groups, bool)
    for term in spec.varying_terms:
        h = 1e-4 * max(1.0, abs(base[term]))
        slope = (mean({**base, term: base[term] + h}) - mean({**base, term: base[term] - h})) / (
            2 * h
        )
        slope = np.where(np.isfinite(slope), slope, 0.0)
        information = np.bincount(codes, weights=slope**2 * weight, minlength=data.n_groups)
        with np.errstate(divide="ignore"):
            se = 1.0 / np.sqrt(information)
        pinned &= se < 0.5 * sd_prior_scale(priors, data.group, term)
    return pinned


def sd_prior_scale(priors: Mapping[str, Prior], group: str, term: str) -> float:
    """The scale of the prior of ``sd_<group>[<term>]`` (an exponential's mean, else its last
    parameter: the half-normal's or half-t's scale)."""
    prior = priors[f"{sd_name(group)}[{term}]"]
    return float(1.0 / prior.params[0] if prior.family == "exponential" else prior.params[-1])


def centered_frames(
    data: CurveData,
    spec: CurveSpec,
    priors: Mapping[str, Prior],
    start: Mapping[str, float],
    centered: np.ndarray,
) -> GroupFrames | None:
    """The frames of the groups marked in ``centered`` (:func:`hbm.model.curve_frames.group_frames`,
    each varying term's weak prior scale that of its between-group sd's prior); ``None`` when no
    group is centered."""
    if not np.any(centered):
        return None
    scale = {t: sd_prior_scale(priors, data.group, t) for t in spec.varying_terms}
    return group_frames(data, spec, start, scale, centered)


def observe_curve(family: str, eta: Any, y: np.ndarray, priors: Mapping[str, Prior]) -> None:
    """The likelihood of the rows given their linear predictors ``eta``, by family name.

    ``normal``: ``y ~ Normal(eta, sigma)`` (identity link: ``eta`` is the curve) with ``sigma``
    from its prior. ``poisson`` / ``negbinomial``: ``eta = log f(t)`` and the family's log density
    per row (without ``-log y!``, which no parameter touches) summed in the potential
    :data:`COUNT_LIKELIHOOD`, the family's parameters (``alpha``) from their priors.
    """
    import pymc as pm

    if family == "normal":
        sigma = priors[SIGMA].to_pymc(SIGMA)
        pm.Normal("y", mu=eta, sigma=sigma, observed=y)
        return
    module = get_family(family)
    if module.LINK != "log":
        raise ValueError(f"The curve model has no likelihood for the family {family!r}.")
    params = {p.name: priors[p.name].to_pymc(p.name) for p in module.PARAMETERS}
    pm.Potential(COUNT_LIKELIHOOD, module.logp(y, 1.0, eta, params).sum())


def pooled_start(data: CurveData, spec: CurveSpec, priors: Mapping[str, Prior]) -> dict[str, float]:
    """Starting values of ``beta`` (by term): least squares of the curve through all rows,
    started at the priors' centres and kept within 3 prior sds of them.

    Returns the priors' centres for terms whose prior is not normal, or if the fit fails.
    """
    from scipy.optimize import least_squares

    curve = spec.shape
    centres, low, high = [], [], []
    for term in spec.free_terms:
        prior = priors[f"{BETA}[{term}]"]
        m, s = (prior.params[0], prior.params[1]) if prior.family == "normal" else (0.0, 10.0)
        centres.append(m)
        low.append(m - 3 * s)
        high.append(m + 3 * s)
    x0 = np.asarray(centres, dtype=float)

    def residuals(x: np.ndarray) -> np.ndarray:
        natural: dict[str, Any] = dict(spec.fixed)
        for name, value in zip(spec.free, x, strict=True):
            natural[name] = curve.parameter(name).to_natural(value)
        with np.errstate(all="ignore"):
            r = curve.evaluate(data.t, natural) - data.y
        return np.where(np.isfinite(r), r, 1e150**0.5)

    try:
        fit = least_squares(residuals, x0, bounds=(low, high), loss="soft_l1", max_nfev=200)
        best = fit.x if np.all(np.isfinite(fit.x)) else x0
    except (ValueError, FloatingPointError):
        best = x0
    return {term: float(v) for term, v in zip(spec.free_terms, best, strict=True)}


def _set_start(
    model: Any,
    terms: tuple[str, ...],
    start: Mapping[str, float],
    varying: tuple[str, ...],
    g: str,
    n_centered: int,
    in_frames: bool = False,
) -> None:
    """``beta`` at the pooled fit, and centered groups' parameters at it too (in their frames:
    at each group's own fit, ``zeta = 0``)."""
    beta = model.named_vars.get(BETA)
    if beta is not None and beta in model.free_RVs:
        model.set_initval(beta, np.asarray([start[t] for t in terms], dtype=float))
    theta = model.named_vars.get(f"{effect_name(g)}_c")
    if theta is not None:
        origin = np.zeros(len(varying)) if in_frames else [start[t] for t in varying]
        model.set_initval(theta, np.tile(origin, (n_centered, 1)))
