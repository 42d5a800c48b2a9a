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
``hbm --help`` are fast. The package is laid out in the order of the flow (see README's Layout):
``core`` → ``data`` → ``model`` → ``inference`` → ``diagnostics`` → ``results`` → ``analysis`` →
``viz`` → ``reporting`` → ``workflow`` → ``api`` → ``cli``; imports run one way.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hbm.core.version import __version__

if TYPE_CHECKING:
    from hbm.api import Fit, fit, fit_grouped, fit_spec, load
    from hbm.data import datasets
    from hbm.data.grouped import GroupedData, grouped_data
    from hbm.diagnostics.diagnosis import Diagnosis, diagnose
    from hbm.inference.config import SampleConfig
    from hbm.model.build import build_model, centered, marginal, noncentered
    from hbm.model.description import ModelDescription
    from hbm.model.families.normal import resolve_priors
    from hbm.model.parameters import ParameterTable
    from hbm.model.priors import Prior, parse_prior
    from hbm.results.fit_result import FitResult
    from hbm.results.fit_spec import FitSpec
    from hbm.workflow.batch import run_batch
    from hbm.workflow.compare import compare
    from hbm.workflow.reduce import Statistics
    from hbm.workflow.reduce import reduce_source as reduce
    from hbm.workflow.specs import ModelSpec, read_spec

__all__ = [
    "Diagnosis",
    "Fit",
    "FitResult",
    "FitSpec",
    "GroupedData",
    "ModelDescription",
    "ModelSpec",
    "ParameterTable",
    "Prior",
    "SampleConfig",
    "Statistics",
    "__version__",
    "build_model",
    "centered",
    "compare",
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
    "reduce",
    "resolve_priors",
    "run_batch",
]

_LAZY = {
    "Diagnosis": ("hbm.diagnostics.diagnosis", "Diagnosis"),
    "diagnose": ("hbm.diagnostics.diagnosis", "diagnose"),
    "Fit": ("hbm.api", "Fit"),
    "fit": ("hbm.api", "fit"),
    "fit_grouped": ("hbm.api", "fit_grouped"),
    "fit_spec": ("hbm.api", "fit_spec"),
    "load": ("hbm.api", "load"),
    "reduce": ("hbm.workflow.reduce", "reduce_source"),
    "Statistics": ("hbm.workflow.reduce", "Statistics"),
    "FitResult": ("hbm.results.fit_result", "FitResult"),
    "FitSpec": ("hbm.results.fit_spec", "FitSpec"),
    "GroupedData": ("hbm.data.grouped", "GroupedData"),
    "grouped_data": ("hbm.data.grouped", "grouped_data"),
    "ModelDescription": ("hbm.model.description", "ModelDescription"),
    "ParameterTable": ("hbm.model.parameters", "ParameterTable"),
    "Prior": ("hbm.model.priors", "Prior"),
    "parse_prior": ("hbm.model.priors", "parse_prior"),
    "resolve_priors": ("hbm.model.families.normal", "resolve_priors"),
    "SampleConfig": ("hbm.inference.config", "SampleConfig"),
    "build_model": ("hbm.model.build", "build_model"),
    "centered": ("hbm.model.build", "centered"),
    "noncentered": ("hbm.model.build", "noncentered"),
    "marginal": ("hbm.model.build", "marginal"),
    "datasets": ("hbm.data.datasets", None),
    "ModelSpec": ("hbm.workflow.specs", "ModelSpec"),
    "read_spec": ("hbm.workflow.specs", "read_spec"),
    "run_batch": ("hbm.workflow.batch", "run_batch"),
    "compare": ("hbm.workflow.compare", "compare"),
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
