"""The PyMC variables of a formula model's structure: coefficients, sds, correlations, effects.

Priors are per term (``beta[Days]``, ``sd_Subject[Days]``); terms whose priors share a family are
one vector variable, so a model with the default priors has one variable per kind. Each
correlated block of a factor's terms gets an LKJ prior on its Cholesky factor
(:mod:`hbm.model.lkj`); the factor's effects then have the covariance ``Sigma = F F'`` with
``F = diag(sd) L`` and ``L`` the block diagonal of the blocks' factors (identity for uncorrelated
terms). The ``q x q`` matrices are kept as entries (scalars), and every matrix operation is
written out element by element: ``q`` is small, and elementwise graphs compile in seconds where
numba's linear-algebra kernels take tens of seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hbm.core.names import corr_name
from hbm.data.model_data import FactorData
from hbm.model.linear_terms import correlated_pairs
from hbm.model.lkj import Entries, lkj_cholesky
from hbm.model.priors import Prior

__all__ = [
    "chol_name",
    "correlations",
    "effects",
    "factor_cholesky",
    "inverse_entries",
    "precision_entries",
    "prior_vector",
    "solve_lower",
]


def prior_vector(name: str, labels: Sequence[str], priors: Sequence[Prior], dims: str) -> Any:
    """One vector over ``labels``, each entry with its own prior.

    Entries whose priors share a family are one variable (``name`` when all do, else
    ``<name>_<family>``); fixed entries are constants. Prior parameters are shared data
    (``<variable>_prior``), so the compiled model depends on the families only.
    """
    import pymc as pm
    import pytensor.tensor as pt

    families = list(dict.fromkeys(p.family for p in priors))
    if len(families) == 1 and families[0] != "fixed":
        return _family_vector(name, priors, dims, labels)
    parts: list[Any] = [None] * len(priors)
    for family in families:
        members = [i for i, p in enumerate(priors) if p.family == family]
        if family == "fixed":
            values = pm.Data(f"{name}_fixed", np.array([priors[i].params[0] for i in members]))
            for position, i in enumerate(members):
                parts[i] = values[position]
            continue
        variable = _family_vector(f"{name}_{family}", [priors[i] for i in members], None, None)
        for position, i in enumerate(members):
            parts[i] = variable[position]
    return pm.Deterministic(name, pt.stack(parts), dims=dims)


def _family_vector(
    name: str, priors: Sequence[Prior], dims: str | None, labels: Sequence[str] | None
) -> Any:
    import pymc as pm

    family = priors[0].family
    params = pm.Data(f"{name}_prior", np.array([p.params for p in priors], dtype=float))
    size = len(priors)
    shape = {"dims": dims} if dims is not None else {"shape": size}
    p = [params[:, i] for i in range(len(priors[0].params))]
    if family == "normal":
        return pm.Normal(name, mu=p[0], sigma=p[1], **shape)
    if family == "studentt":
        return pm.StudentT(name, nu=p[0], mu=p[1], sigma=p[2], **shape)
    if family == "halfnormal":
        return pm.HalfNormal(name, sigma=p[0], **shape)
    if family == "halfcauchy":
        return pm.HalfCauchy(name, beta=p[0], **shape)
    if family == "halfstudentt":
        return pm.HalfStudentT(name, nu=p[0], sigma=p[1], **shape)
    if family == "exponential":
        return pm.Exponential(name, lam=p[0], **shape)
    if family == "gamma":
        return pm.Gamma(name, alpha=p[0], beta=p[1], **shape)
    raise ValueError(f"The prior family {family!r} cannot be used for {name!r}.")


def chol_name(factor: str, block: int, n_blocks: int) -> str:
    """The name of a correlated block's unconstrained correlations: ``corr_<g>_raw``
    (``..._raw2`` for a factor's second correlated block)."""
    return f"{corr_name(factor)}_raw" + (str(block + 1) if n_blocks > 1 and block else "")


def factor_cholesky(
    factor: FactorData, sd: Any, lkj: Prior | None
) -> tuple[Entries, list[Entries]]:
    """``F = diag(sd) L`` (entries, q x q lower triangular) for one factor, and the Cholesky
    factors of its correlated blocks."""
    import pymc as pm

    q = factor.n_terms
    lower: Entries = [[1.0 if i == j else 0.0 for j in range(q)] for i in range(q)]
    blocks: list[Entries] = []
    n_correlated = sum(factor.correlated)
    start = 0
    for block, is_correlated in zip(factor.blocks, factor.correlated, strict=True):
        size = len(block)
        if is_correlated:
            if lkj is None:
                raise ValueError(f"The correlations of {factor.name!r} need an LKJ prior.")
            name = chol_name(factor.name, len(blocks), n_correlated)
            eta = pm.Data(f"{name}_prior", np.asarray(lkj.params[0], dtype=float))
            chol = lkj_cholesky(name, size, eta)
            for i in range(size):
                for j in range(i + 1):
                    lower[start + i][start + j] = chol[i][j]
            blocks.append(chol)
        start += size
    scaled = [[_mul(sd[i], lower[i][j]) if j <= i else 0.0 for j in range(q)] for i in range(q)]
    return scaled, blocks


def correlations(factor: FactorData, blocks: list[Entries], dims: str) -> Any:
    """``corr_<g>``: the correlations of every correlated pair, block by block."""
    import pymc as pm
    import pytensor.tensor as pt

    values = []
    for chol in blocks:
        size = len(chol)
        for i in range(size):
            for j in range(i + 1, size):
                values.append(sum(_mul(chol[i][k], chol[j][k]) for k in range(i + 1)))
    if len(values) != len(correlated_pairs(factor)):
        raise ValueError(f"The correlated pairs of {factor.name!r} do not match its blocks.")
    return pm.Deterministic(corr_name(factor.name), pt.stack(values), dims=dims)


def inverse_entries(lower: Entries) -> Entries:
    """``F^-1`` of a lower-triangular matrix given entry by entry (also lower triangular)."""
    q = len(lower)
    inverse: Entries = [[0.0] * q for _ in range(q)]
    for i in range(q):
        inverse[i][i] = 1.0 / lower[i][i]
        for j in range(i):
            total: Any = 0.0
            for k in range(j, i):
                total = total + _mul(lower[i][k], inverse[k][j])
            inverse[i][j] = -total / lower[i][i]
    return inverse


def precision_entries(lower: Entries) -> tuple[Entries, Any]:
    """``Sigma^-1`` (entries) and ``log|Sigma|`` for ``Sigma = F F'``."""
    import pytensor.tensor as pt

    q = len(lower)
    inverse = inverse_entries(lower)
    precision = [
        [sum(_mul(inverse[k][i], inverse[k][j]) for k in range(max(i, j), q)) for j in range(q)]
        for i in range(q)
    ]
    log_det = 2.0 * sum(pt.log(lower[i][i]) for i in range(q))
    return precision, log_det


def effects(
    name: str,
    standard: str,
    dims: tuple[str, str],
    cholesky: Entries,
    parametrization: str,
) -> Any:
    """The group effects ``u`` (J, q): ``N(0, F F')`` per group, centered or not."""
    import pymc as pm
    import pytensor.tensor as pt

    q = len(cholesky)
    if parametrization == "centered":
        u = pm.Flat(name, dims=dims)
        columns = [u[:, i] for i in range(q)]
        standardized = solve_lower(cholesky, columns)
        log_density = -0.5 * sum((v**2).sum() for v in standardized) - u.shape[0] * (
            sum(pt.log(cholesky[i][i]) for i in range(q)) + 0.5 * q * np.log(2 * np.pi)
        )
        pm.Potential(f"{name}_prior", log_density)
        return u
    z = pm.Normal(standard, 0.0, 1.0, dims=dims)
    columns = [
        sum(_mul(cholesky[i][k], z[:, k]) for k in range(i + 1) if not _is_zero(cholesky[i][k]))
        for i in range(q)
    ]
    return pm.Deterministic(name, pt.stack(columns, axis=1), dims=dims)


def solve_lower(lower: Entries, columns: list[Any]) -> list[Any]:
    """``F^-1 b`` for columns ``b`` by forward substitution over the entries."""
    out: list[Any] = []
    for i, value in enumerate(columns):
        for k in range(i):
            if not _is_zero(lower[i][k]):
                value = value - lower[i][k] * out[k]
        out.append(value / lower[i][i])
    return out


def _is_zero(value: Any) -> bool:
    return isinstance(value, float) and value == 0.0


def _mul(a: Any, b: Any) -> Any:
    if _is_zero(a) or _is_zero(b):
        return 0.0
    if isinstance(a, float) and a == 1.0:
        return b
    if isinstance(b, float) and b == 1.0:
        return a
    return a * b
