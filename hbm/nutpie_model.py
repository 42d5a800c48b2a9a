"""Compile a PyMC model for nutpie with C callbacks that are cached on disk.

Why this module exists
----------------------
``pm.sample(nuts_sampler="nutpie")`` compiles the model's log density and gradient with
PyTensor's numba backend (cached on disk: a warm run loads them) and then wraps them in two
``numba.cfunc`` C callbacks that nutpie's Rust sampler calls. nutpie's callbacks cannot be cached
(they close over Python objects), and compiling them costs seconds in every process, most of it
numba typing ``out[...] = grad`` (a general array assignment with its shape checks) and
``np.all(np.isfinite(out))``. For a small model that was more than half of ``hbm fit``'s time on
a warm cache.

:func:`compile_model` builds the same ``nutpie.CompiledPyMCModel`` with callbacks written as
plain loops, generated as source text and registered in PyTensor's numba cache under a key
derived from the log-density function's own cache key. A warm run loads them from disk in
milliseconds; a cold compile is also several times quicker.

Same seed, same draws
---------------------
The callbacks compute exactly what nutpie's do (same log density and gradient functions, same
return codes for non-finite values), the seed passed to nutpie is derived from the user's seed
exactly as ``pm.sample`` derives it, and the idata is completed with PyMC's own
``patch_nutpie_idata``. ``tests/test_nutpie_model.py`` checks that the draws are identical bit
for bit to ``pm.sample(nuts_sampler="nutpie")``'s. Anything this module cannot handle (models
with shared data, a nutpie or PyTensor whose internals moved) makes :func:`compile_model` return
``None`` and :func:`hbm.sampling.sample` falls back to ``pm.sample``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pymc as pm
    import xarray as xr

    from hbm.sampling import SampleConfig

__all__ = ["compile_model", "pm_sample_seed", "sample_compiled"]

#: Part of every cache key: bump it when the callback source below changes meaning.
CALLBACK_VERSION = "hbm-nutpie-callbacks-1"

_LOGP_SOURCE = """
def hbm_nutpie_logp(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
    try:
        x = carray(x_, ({n_dim},))
        out = carray(out_, ({n_dim},))
        logp = carray(logp_, ())
        logp_value, grad = inner(x)
        logp[()] = logp_value
        finite = True
        for i in range({n_dim}):
            out[i] = grad[i]
            if not np.isfinite(grad[i]):
                finite = False
        if not finite:
            return 3
        if not np.isfinite(logp_value):
            return 4
    except Exception:
        return 1
    return 0
"""

_EXPAND_SOURCE = """
def hbm_nutpie_expand(dim, expanded, x_, out_, user_data_):
    if dim != {n_dim}:
        return -1
    if expanded != {n_expanded}:
        return -1
    try:
        x = carray(x_, ({n_dim},))
        out = carray(out_, ({n_expanded},))
        (values,) = inner(x)
        for i in range({n_expanded}):
            out[i] = values[i]
    except Exception:
        return -2
    return 0
"""


def compile_model(model: pm.Model) -> Any | None:
    """nutpie's compiled form of ``model`` with disk-cached callbacks, or ``None``.

    ``None`` means "use ``pm.sample``": the model has shared (``pm.Data``) variables, or the
    installed nutpie / PyTensor lack the pieces used here. Call it inside
    ``pytensor.config.change_flags(numba__fastmath=False)`` (see :mod:`hbm.sampling`).
    """
    try:
        import numba
        from nutpie.compile_pymc import (
            CompiledPyMCModel,
            _make_functions,
            _prepare_dims_and_coords,
            _wrap_with_lock,
        )
        from pymc.initial_point import make_initial_point_fn
        from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src
    except ImportError:
        return None

    initial_point = make_initial_point_fn(
        model=model,
        overrides=None,
        default_strategy="support_point",
        jitter_rvs=set(model.free_RVs),
        return_transformed=True,
    )
    n_dim, n_expanded, logp_fn, expand_fn, initial_point_fn, shape_info, reparameterized = (
        _make_functions(
            model,
            mode="NUMBA",
            compute_grad=True,
            join_expanded=True,
            pymc_initial_point_fn=_wrap_with_lock(initial_point),
            var_names=None,
        )
    )
    if logp_fn.get_shared() or expand_fn.get_shared():
        return None
    logp_inner, expand_inner = logp_fn.vm.jit_fn, expand_fn.vm.jit_fn

    double_p = numba.types.CPointer(numba.types.double)
    logp_signature = numba.types.int64(
        numba.types.uint64, double_p, double_p, double_p, numba.types.voidptr
    )
    expand_signature = numba.types.int64(
        numba.types.uint64, numba.types.uint64, double_p, double_p, numba.types.voidptr
    )

    def callback(source: str, name: str, inner: Any, signature: Any) -> Any:
        py_func = getattr(inner, "py_func", None)
        inner_key = CACHED_SRC_FUNCTIONS.get(py_func) if py_func is not None else None
        key = None
        if inner_key is not None:
            text = "|".join((CALLBACK_VERSION, numba.__version__, str(inner_key), source))
            key = hashlib.sha256(text.encode()).hexdigest()
        function = compile_numba_function_src(
            source,
            name,
            global_env=globals() | {"np": np, "carray": numba.carray, "inner": inner},
            cache_key=key,
        )
        return numba.cfunc(signature, cache=key is not None)(function)

    logp_c = callback(
        _LOGP_SOURCE.format(n_dim=n_dim), "hbm_nutpie_logp", logp_inner, logp_signature
    )
    expand_c = callback(
        _EXPAND_SOURCE.format(n_dim=n_dim, n_expanded=n_expanded),
        "hbm_nutpie_expand",
        expand_inner,
        expand_signature,
    )
    dims, coords = _prepare_dims_and_coords(model, shape_info, reparameterized)
    no_shared = np.zeros((), dtype=[("shared", [("data", []), ("size", []), ("shape", [])])])
    return CompiledPyMCModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=logp_c,
        compiled_expand_func=expand_c,
        initial_point_func=initial_point_fn,
        shared_data={},
        shared_var_keys={},
        user_data=no_shared,
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=logp_fn,
        expand_func=expand_fn,
        reparameterized_names=reparameterized,
    )


def pm_sample_seed(random_seed: int, chains: int) -> int:
    """The seed ``pm.sample(random_seed=..., chains=...)`` hands to nutpie."""
    from pymc.util import get_random_generator

    # pm.sample draws one seed per chain from spawned generators and gives nutpie the first
    first = get_random_generator(random_seed).spawn(chains)[0]
    return int(first.integers(2**30))


def sample_compiled(compiled: Any, model: pm.Model, config: SampleConfig) -> xr.DataTree:
    """Run nutpie on ``compiled`` as ``pm.sample(nuts_sampler="nutpie", ...)`` would."""
    import nutpie
    from pymc.backends.arviz import patch_nutpie_idata
    from pymc.progress_bar import NutpieProgressBarManager

    if config.random_seed is None:
        raise ValueError("sample_compiled() needs config.random_seed.")
    if config.progressbar:
        logging.getLogger("pymc").info(f"NUTS[nutpie]: {model.free_RVs}")
    cores = min(4, os.cpu_count() or 1, config.chains)
    progress = NutpieProgressBarManager(
        chains=config.chains, draws=config.draws, progressbar=config.progressbar
    )
    start = time.time()
    with progress:
        idata = nutpie.sample(
            compiled,
            draws=config.draws,
            tune=max(config.tune, 1),  # nuts-rs needs at least one tuning step (as in pm.sample)
            chains=config.chains,
            cores=cores,
            seed=pm_sample_seed(int(config.random_seed), config.chains),
            save_warmup=False,
            store_unconstrained=False,
            progress_bar=False,
            progress_callback=progress.update,
            target_accept=float(config.target_accept),
        )
    patch_nutpie_idata(idata, model, sampling_time=time.time() - start)
    return idata
