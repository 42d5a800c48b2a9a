"""Each pinned group's own frame for the sampler: a fixed affine map from standard coordinates
to the group's curve parameters, from a Gauss–Newton fit of the group's rows before sampling.

A group whose rows pin its curve (:func:`hbm.model.curve_build.informative_groups`) is sampled
centered, but its parameters are then strongly correlated with each other (a well's ``log qi``
with its ``log di``) and with every parameter the groups share (Arps's ``b``: a change of ``b``
is made up by every well's ``di``). With a diagonal mass matrix NUTS takes long trajectories
along those ridges. The group's parameters ``theta_j`` (its varying terms, pooled scale) are
instead written as

    ``theta_j = m_j + L_j zeta_j + C_j (s - s0)``

with ``zeta_j`` sampled: ``m_j`` the group's own least-squares fit with the shared terms ``s`` at
the pooled start ``s0``, ``L_j`` the Cholesky factor of its inverse Gauss–Newton information
(the posterior covariance of ``theta_j`` given ``s``, approximately), and ``C_j`` the slope of
the group's optimum in ``s`` (``-A_j^{-1} B_j``, ``B_j`` the cross information of ``theta_j``
and ``s``). The map is affine with a constant Jacobian, so the posterior is exactly the same;
only the sampler's geometry changes (near ``zeta ~ N(0, I)`` independent of ``s`` where the
group's likelihood is near Gaussian). A group whose fit fails keeps the plain frame
(``m_j`` the start, ``L_j`` the prior scale, ``C_j = 0``).

>>> import numpy as np, pandas as pd
>>> from hbm.data.curve_data import curve_data
>>> from hbm.model.curve_terms import CurveSpec
>>> t = np.tile(np.arange(30.0), 2)
>>> rate = np.r_[100 * np.exp(-0.1 * t[:30]), 50 * np.exp(-0.05 * t[30:])]
>>> table = pd.DataFrame({"w": np.repeat(["a", "b"], 30), "t": t, "y": rate})
>>> data = curve_data(table, group="w", time="t", value="y")
>>> spec = CurveSpec("exponential", ("qi", "di"))
>>> frames = group_frames(data, spec, {"log_qi": 4.0, "log_di": -2.5}, {"log_qi": 1.0,
...     "log_di": 1.0}, np.array([True, True]))
>>> np.exp(frames.centre[:, 0]).round(1), np.exp(frames.centre[:, 1]).round(3)
(array([100.,  50.]), array([0.1 , 0.05]))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hbm.data.curve_data import CurveData
from hbm.model.curve_terms import CurveSpec
from hbm.model.families import get_family

__all__ = ["GroupFrames", "group_frames", "row_precision"]

#: Levenberg–Marquardt steps of each group's fit (vectorised over groups).
FIT_STEPS = 40


@dataclass(frozen=True, eq=False)
class GroupFrames:
    """The affine frames of the centered groups (``k`` groups, ``q`` varying terms, ``r`` shared
    terms): ``theta = centre + scale @ zeta + shear @ (s - shared_start)``.

    Attributes
    ----------
    centre : ndarray (k, q)
    scale : ndarray (k, q, q), lower triangular
    shear : ndarray (k, q, r)
    shared : tuple of str
        The shared free terms ``s`` (``beta``'s entries that do not vary), in ``beta``'s order.
    shared_start : ndarray (r,)
    fitted : ndarray of bool (k,)
        Whether the group's own fit gave a finite frame (otherwise it has the plain one).
    """

    centre: np.ndarray
    scale: np.ndarray
    shear: np.ndarray
    shared: tuple[str, ...]
    shared_start: np.ndarray
    fitted: np.ndarray


def group_frames(
    data: CurveData,
    spec: CurveSpec,
    start: Mapping[str, float],
    prior_scale: Mapping[str, float],
    centered: np.ndarray,
) -> GroupFrames:
    """The frames of the groups marked in ``centered`` (see the module docstring).

    ``start`` holds every free term's pooled start, ``prior_scale`` each varying term's
    between-group scale (a weak prior, ``N(start, scale^2)``, that keeps a group's fit finite).
    The rows are weighted by their precision (:func:`row_precision`): the normal family's from
    the data once, a count family's at the group's current fit (iteratively reweighted).
    """
    varying = spec.varying_terms
    shared = tuple(t for t in spec.free_terms if t not in varying)
    rows = _Rows.of(data, spec, np.asarray(centered, bool), shared)
    origin = np.asarray([start[v] for v in varying], float)
    s0 = np.asarray([start[s] for s in shared], float)
    precision = np.diag(1.0 / np.asarray([prior_scale[v] for v in varying], float) ** 2)
    theta, value, weight = _fit(rows, origin, s0, precision)
    q = len(varying)
    slopes = _slopes(rows.mean, theta, s0, q, len(shared), rows.at)
    info = _information(slopes[:, :q], slopes[:, :q], weight, rows.at, rows.k) + precision
    cross = _information(slopes[:, :q], slopes[:, q:], weight, rows.at, rows.k)
    covariance = _inverse(info)
    scale = _cholesky(covariance)
    shear = -(covariance @ cross)
    fitted = (
        np.isfinite(value)
        & np.all(np.isfinite(theta), axis=1)
        & np.all(np.isfinite(scale), axis=(1, 2))
        & np.all(np.isfinite(shear), axis=(1, 2))
    )
    theta[~fitted] = origin
    scale[~fitted] = np.diag(1.0 / np.sqrt(np.diag(precision)))
    shear[~fitted] = 0.0
    return GroupFrames(theta, scale, shear, shared, s0, fitted)


@dataclass(frozen=True, eq=False)
class _Rows:
    """The centered groups' rows: times, values, local group index ``at`` (0..k-1), and the
    curve's mean given per-group varying terms ``theta (k, q)`` and shared terms ``s (r,)``."""

    spec: CurveSpec
    shared: tuple[str, ...]
    t: np.ndarray
    y: np.ndarray
    at: np.ndarray
    k: int
    #: The normal family's precision per row, from every group's successive differences.
    noise_weight: np.ndarray

    @classmethod
    def of(
        cls, data: CurveData, spec: CurveSpec, centered: np.ndarray, shared: tuple[str, ...]
    ) -> _Rows:
        which = np.flatnonzero(centered)
        local = np.full(data.n_groups, -1)
        local[which] = np.arange(which.size)
        rows = np.flatnonzero(local[data.codes] >= 0)
        at = local[data.codes[rows]]
        noise = row_precision("normal", data.y, data.codes, data.y)[rows]
        return cls(spec, shared, data.t[rows], data.y[rows], at, int(which.size), noise)

    def mean(self, theta: np.ndarray, s: np.ndarray) -> np.ndarray:
        values = {v: theta[self.at, i] for i, v in enumerate(self.spec.varying_terms)}
        values.update({name: s[i] for i, name in enumerate(self.shared)})
        natural: dict[str, Any] = dict(self.spec.fixed)
        for name in self.spec.free:
            p = self.spec.shape.parameter(name)
            natural[name] = p.to_natural(values[p.term])
        with np.errstate(all="ignore"):
            mu = np.asarray(self.spec.shape.evaluate(self.t, natural), float)
        return mu * np.ones_like(self.t)

    def weight(self, mu: np.ndarray) -> np.ndarray:
        """The rows' precision: the data's (normal) or the count family's at ``mu``."""
        if self.spec.family == "normal":
            return self.noise_weight
        return row_precision(self.spec.family, self.y, self.at, mu)


def _fit(
    rows: _Rows, origin: np.ndarray, s0: np.ndarray, precision: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each group's penalised least-squares fit, Levenberg–Marquardt vectorised over groups
    (:data:`FIT_STEPS` steps, a group's damping divided by 3 after a step that lowers its
    objective, multiplied by 4 otherwise): the fit ``(k, q)``, its objective and the rows'
    precision at it."""
    q, k, at = origin.size, rows.k, rows.at

    def objective(theta: np.ndarray, weight: np.ndarray) -> np.ndarray:
        residual = rows.y - rows.mean(theta, s0)
        d = theta - origin
        value = 0.5 * np.bincount(at, weights=weight * residual**2, minlength=k)
        value = value + 0.5 * np.einsum("ja,ab,jb->j", d, precision, d)
        return np.where(np.isfinite(value), value, np.inf)

    theta = np.tile(origin, (k, 1))
    damping = np.full(k, 1e-3)
    for _ in range(FIT_STEPS):
        mu = rows.mean(theta, s0)
        weight = rows.weight(mu)
        current = objective(theta, weight)
        slopes = _slopes(rows.mean, theta, s0, q, 0, at)
        info = _information(slopes, slopes, weight, at, k) + precision
        pull = np.stack(
            [
                np.bincount(at, weights=weight * (rows.y - mu) * slopes[:, a], minlength=k)
                for a in range(q)
            ],
            axis=1,
        )
        gradient = pull - (theta - origin) @ precision
        damped = info + damping[:, None, None] * _diag(np.einsum("jaa->ja", info))
        trial = theta + _solve(damped, gradient)
        value = objective(trial, weight)
        better = value < current
        theta = np.where(better[:, None], trial, theta)
        damping = np.where(better, damping / 3.0, damping * 4.0)
    weight = rows.weight(rows.mean(theta, s0))
    return theta, objective(theta, weight), weight


def row_precision(family: str, y: np.ndarray, codes: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``1 / Var(y_i)`` per row: the normal family's rows' variance from successive differences
    within groups (``codes``), robustly (``mu`` unused); a count family's own at the means
    ``mu`` (its ``information`` of ``log mu`` per ``mu^2``: ``1 / mu`` for the Poisson,
    ``1 / (mu + mu^2 / alpha)`` for the negative binomial, ``alpha`` by moments from ``y - mu``).
    """
    if family == "normal":
        same = codes[1:] == codes[:-1]
        steps = np.abs(np.diff(y))[same]
        noise = float(np.median(steps)) / (0.6745 * np.sqrt(2)) if steps.size else 0.0
        noise = noise if noise > 0 else float(np.std(y)) or 1.0
        return np.full(y.shape, 1.0 / noise**2)
    module = get_family(family)
    mu = np.where(np.isfinite(mu) & (mu > 0), mu, np.nan)
    params: dict[str, float] = {}
    if module.PARAMETERS:  # the negative binomial's alpha by moments: E(y-mu)^2 = mu + mu^2/alpha
        excess = float(np.nansum((y - mu) ** 2 - mu)) / float(np.nansum(mu**2) or 1.0)
        params[module.PARAMETERS[0].name] = 1.0 / excess if excess > 0 else np.inf
    with np.errstate(all="ignore"):
        eta = np.log(mu)
        # information of eta, per unit of (d eta)^2 = (d mu / mu)^2
        precision = module.information(eta, np.ones_like(mu), params) / mu**2
    return np.where(np.isfinite(precision), precision, 0.0)


def _slopes(
    mean: Any, theta: np.ndarray, s: np.ndarray, q: int, r: int, at: np.ndarray
) -> np.ndarray:
    """Each row's derivative of its mean by every varying term, then every shared term (central
    differences), shape ``(rows, q + r)``; non-finite entries as 0."""
    columns = []
    for a in range(q):
        steps = 1e-5 * np.maximum(1.0, np.abs(theta[:, a]))
        up, down = theta.copy(), theta.copy()
        up[:, a] += steps
        down[:, a] -= steps
        columns.append((mean(up, s) - mean(down, s)) / (2 * steps[at]))
    for b in range(r):
        h = 1e-5 * max(1.0, abs(float(s[b])))
        up, down = s.copy(), s.copy()
        up[b] += h
        down[b] -= h
        columns.append((mean(theta, up) - mean(theta, down)) / (2 * h))
    out = np.stack(columns, axis=1) if columns else np.zeros((at.size, 0))
    return np.where(np.isfinite(out), out, 0.0)


def _information(
    left: np.ndarray, right: np.ndarray, weight: np.ndarray, at: np.ndarray, k: int
) -> np.ndarray:
    """Per group ``sum_rows w * left_a * right_b``, shape ``(k, a, b)``."""
    out = np.zeros((k, left.shape[1], right.shape[1]))
    for a in range(left.shape[1]):
        for b in range(right.shape[1]):
            out[:, a, b] = np.bincount(at, weights=weight * left[:, a] * right[:, b], minlength=k)
    return out


def _diag(values: np.ndarray) -> np.ndarray:
    return values[:, :, None] * np.eye(values.shape[1])[None]


def _solve(matrices: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Stacked solves; NaN for a group whose matrix is singular or not finite."""
    ok = np.all(np.isfinite(matrices), axis=(1, 2)) & np.all(np.isfinite(vectors), axis=1)
    out = np.full(vectors.shape, np.nan)
    if ok.any():
        with np.errstate(all="ignore"):
            try:
                out[ok] = np.linalg.solve(matrices[ok], vectors[ok][..., None])[..., 0]
            except np.linalg.LinAlgError:
                for j in np.flatnonzero(ok):
                    try:
                        out[j] = np.linalg.solve(matrices[j], vectors[j])
                    except np.linalg.LinAlgError:
                        pass
    return out


def _inverse(matrices: np.ndarray) -> np.ndarray:
    eye = np.broadcast_to(np.eye(matrices.shape[1]), matrices.shape)
    return np.stack([_solve(matrices, eye[:, :, c]) for c in range(matrices.shape[1])], axis=2)


def _cholesky(matrices: np.ndarray) -> np.ndarray:
    """Stacked lower Cholesky factors; NaN for a group whose matrix is not positive definite."""
    try:
        return np.linalg.cholesky(matrices)
    except np.linalg.LinAlgError:
        pass
    out = np.full(matrices.shape, np.nan)
    for j in range(matrices.shape[0]):
        try:
            out[j] = np.linalg.cholesky(matrices[j])
        except np.linalg.LinAlgError:
            pass
    return out
