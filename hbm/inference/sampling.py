"""NUTS sampling with a frozen configuration, reproducible from the seed.

Reproducibility note (why :func:`sample` turns numba's ``fastmath`` off)
------------------------------------------------------------------------
With PyTensor's numba backend (what nutpie uses, and PyMC's default), the log density and its
gradient are JIT-compiled with LLVM "fast-math" flags by default. Those flags let LLVM reassociate
and contract floating-point operations, and the machine code it produces for a *fresh* compile is
not the same as the code loaded back from numba's on-disk cache in later runs: the log density and
gradient differ in the last bits. NUTS trajectories are chaotic, so one-ulp differences in the
gradient grow into different draws. That is why the first run of a freshly compiled model differed
from later runs under the same seed. With ``numba__fastmath=False`` both paths compute with strict
IEEE semantics and agree bit for bit (``tests/test_reproducibility.py`` checks it with an empty
compile cache in a subprocess). The models here are small after the sufficient-statistics reduction,
so the cost is negligible.
"""

from __future__ import annotations

import platform
import time
from importlib import metadata
from typing import TYPE_CHECKING

from hbm.inference.config import SampleConfig
from hbm.inference.nutpie_model import compile_model, sample_compiled

if TYPE_CHECKING:
    import pymc as pm
    import xarray as xr

__all__ = ["sample", "versions"]


def sample(model: pm.Model, config: SampleConfig) -> tuple[xr.DataTree, float]:
    """Run NUTS on ``model`` as ``config`` says.

    ``config.random_seed`` must be set (``hbm.fit`` fills in :func:`hbm.core.seeds.new_seed` when
    it is ``None``).

    Returns
    -------
    idata : xarray.DataTree
        PyMC's result (``posterior``, ``sample_stats``, ``observed_data``, ...).
    seconds : float
        Wall time of compiling and sampling.
    """
    import pymc as pm
    import pytensor

    if config.random_seed is None:
        raise ValueError("sample() needs config.random_seed; use hbm.core.seeds.new_seed().")
    start = time.perf_counter()
    with pytensor.config.change_flags(numba__fastmath=False):
        # nutpie through hbm's disk-cached callbacks: the same draws as pm.sample(nuts_sampler=
        # "nutpie"), seconds sooner (hbm/inference/nutpie_model.py); pm.sample when that cannot
        # be used.
        compiled = compile_model(model) if config.sampler == "nutpie" else None
        idata = (
            sample_compiled(compiled, model, config)
            if compiled is not None
            else pm.sample(
                draws=config.draws,
                tune=config.tune,
                chains=config.chains,
                random_seed=int(config.random_seed),
                nuts_sampler=config.sampler,
                nuts={"target_accept": float(config.target_accept)},
                progressbar=config.progressbar,
                quiet=not config.progressbar,
                compute_convergence_checks=False,
                model=model,
            )
        )
    got = idata["posterior"].sizes
    if got.get("draw", 0) < config.draws or got.get("chain", 0) < config.chains:
        # nutpie and PyMC catch Ctrl-C themselves and return the draws made so far. A result that
        # looks complete but is not must never be written: re-raise the interrupt.
        raise KeyboardInterrupt(
            f"sampling was interrupted after {got.get('draw', 0)} of {config.draws} draws"
        )
    return idata, time.perf_counter() - start


def versions() -> dict[str, str]:
    """Versions of Python and of the libraries that shape a result."""
    out = {"python": platform.python_version()}
    for package in (
        "hbm",
        "pymc",
        "pytensor",
        "nutpie",
        "arviz",
        "arviz-base",
        "arviz-stats",
        "numpy",
        "numba",
        "xarray",
        "pandas",
    ):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out
