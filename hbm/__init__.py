"""hbm: Bayesian hierarchical (multilevel) normal models on PyMC.

A tidy table of ``(group, value)`` rows becomes a three-level model::

    mu            ~ prior                         (level 3)
    theta[j] | mu ~ Normal(mu, tau)               (level 2)
    y[i] | theta  ~ Normal(theta[group[i]], sigma) (level 1)

sampled with NUTS, diagnosed, plotted and reported.

>>> import hbm
>>> df = hbm.datasets.load("schools")
>>> fit = hbm.fit(df, group="school", value="score", random_seed=1, progressbar=False)
>>> fit.diagnosis.verdict
'ok'

Heavy libraries (PyMC, ArviZ, pandas) are imported on first use, so ``import hbm`` and
``hbm --help`` are fast.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import TYPE_CHECKING, Any

try:
    __version__ = metadata.version("hbm")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

if TYPE_CHECKING:
    from hbm import datasets
    from hbm.batch import run_batch
    from hbm.data import GroupedData, grouped_data
    from hbm.diagnostics import Diagnosis, diagnose
    from hbm.fitting import Fit, fit, fit_grouped
    from hbm.io import load_fit as load
    from hbm.models import build_model, centered, marginal, noncentered
    from hbm.priors import Prior, parse_prior, resolve_priors
    from hbm.sampling import SampleConfig
    from hbm.spec import FitSpec, ModelSpec, fit_spec, read_spec

__all__ = [
    "Diagnosis",
    "Fit",
    "FitSpec",
    "GroupedData",
    "ModelSpec",
    "Prior",
    "SampleConfig",
    "__version__",
    "build_model",
    "centered",
    "datasets",
    "diagnose",
    "fit",
    "fit_grouped",
    "fit_spec",
    "grouped_data",
    "load",
    "marginal",
    "noncentered",
    "parse_prior",
    "read_spec",
    "resolve_priors",
    "run_batch",
]

_LAZY = {
    "Diagnosis": ("hbm.diagnostics", "Diagnosis"),
    "diagnose": ("hbm.diagnostics", "diagnose"),
    "Fit": ("hbm.fitting", "Fit"),
    "fit": ("hbm.fitting", "fit"),
    "fit_grouped": ("hbm.fitting", "fit_grouped"),
    "FitSpec": ("hbm.spec", "FitSpec"),
    "GroupedData": ("hbm.data", "GroupedData"),
    "grouped_data": ("hbm.data", "grouped_data"),
    "Prior": ("hbm.priors", "Prior"),
    "parse_prior": ("hbm.priors", "parse_prior"),
    "resolve_priors": ("hbm.priors", "resolve_priors"),
    "SampleConfig": ("hbm.sampling", "SampleConfig"),
    "build_model": ("hbm.models", "build_model"),
    "centered": ("hbm.models", "centered"),
    "noncentered": ("hbm.models", "noncentered"),
    "marginal": ("hbm.models", "marginal"),
    "load": ("hbm.io", "load_fit"),
    "datasets": ("hbm.datasets", None),
    "ModelSpec": ("hbm.spec", "ModelSpec"),
    "fit_spec": ("hbm.spec", "fit_spec"),
    "read_spec": ("hbm.spec", "read_spec"),
    "run_batch": ("hbm.batch", "run_batch"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'hbm' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
