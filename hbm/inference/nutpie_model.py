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
for bit to ``pm.sample(nuts_sampler="nutpie")``'s. Anything this module cannot handle (a nutpie
or PyTensor whose internals moved, shared variables that are not numeric arrays) makes
:func:`compile_model` return ``None`` and :func:`hbm.inference.sampling.sample` falls back to
``pm.sample``.

One compile for every dataset
-----------------------------
hbm's builders put the data in shared variables (:mod:`hbm.model.families.normal_likelihood`),
which PyTensor's compiled functions take as arguments. The callbacks here read them from nutpie's
``user_data`` (pointer, size and shape of each array), as nutpie's own callbacks do, and their
source holds no size and no value: their cache key, like the log density's, depends on the
model's structure only, so a new dataset loads both from the disk cache.
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

    from hbm.inference.config import SampleConfig

__all__ = ["compile_model", "pm_sample_seed", "sample_compiled"]

#: Part of every cache key: bump it when the callback source below changes meaning.
CALLBACK_VERSION = "hbm-nutpie-callbacks-2"

# The callbacks read everything that varies between datasets from nutpie's ``user_data``: a
# record of uint64 words [n_dim, n_expanded, data pointer of each shared array, its size, its
# shape]. Their source, and so their cache key, holds only the number of shared arrays, their
# dtypes and dimensionalities: the same compiled callbacks serve any dataset of any size.
_LOGP_SOURCE = """
def hbm_nutpie_logp(dim, x_, out_, logp_, user_data_):
    words = carray(user_data_, ({n_words},), np.uint64)
    n_dim = np.intp(words[0])
    if dim != n_dim:
        return -1
    try:
        x = carray(x_, (n_dim,))
        out = carray(out_, (n_dim,))
        logp = carray(logp_, ())
{unpack}
        logp_value, grad = inner(x{arguments})
        logp[()] = logp_value
        finite = True
        for i in range(n_dim):
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
    words = carray(user_data_, ({n_words},), np.uint64)
    n_dim = np.intp(words[0])
    n_expanded = np.intp(words[1])
    if dim != n_dim:
        return -1
    if expanded != n_expanded:
        return -1
    try:
        x = carray(x_, (n_dim,))
        out = carray(out_, (n_expanded,))
{unpack}
        (values,) = inner(x{arguments})
        for i in range(n_expanded):
            out[i] = values[i]
    except Exception:
        return -2
    return 0
"""


def compile_model(model: pm.Model) -> Any | None:
    """nutpie's compiled form of ``model`` with disk-cached callbacks, or ``None``.

    Shared variables (``pm.Data``) are passed to the callbacks through nutpie's ``user_data``,
    as nutpie's own callbacks do, so the callbacks (like PyTensor's compiled log density) are
    keyed on the model's structure, not on the data. ``None`` means "use ``pm.sample``": the
    installed nutpie / PyTensor lack the pieces used here, or a shared variable is of a kind the
    callbacks do not read (not a numeric array). Call it inside
    ``pytensor.config.change_flags(numba__fastmath=False)`` (see :mod:`hbm.inference.sampling`).
    """
    try:
        import numba
        import nutpie
        from nutpie.compile_pymc import (
            CompiledPyMCModel,
            _make_functions,
            _prepare_dims_and_coords,
            _wrap_with_lock,
            address_as_void_pointer,
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
    shared_vars: list[Any] = []
    for var in [*logp_fn.get_shared(), *expand_fn.get_shared()]:
        if var not in shared_vars:
            shared_vars.append(var)
    shared_data: dict[str, np.ndarray] = {}
    shared_var_keys: dict[Any, str] = {}
    for index, var in enumerate(shared_vars):
        value = np.array(var.get_value(), order="C", copy=True)
        dtype = getattr(var.type, "dtype", None)
        if value.dtype.kind not in "fiub" or value.dtype != dtype:
            return None  # not a numeric array: nutpie's own callbacks handle it
        value.flags.writeable = False
        shared_var_keys[var] = f"s{index}"
        shared_data[f"s{index}"] = value
    layout = _user_data(n_dim, n_expanded, shared_var_keys, shared_data)
    if layout is None:
        return None
    user_data, offsets = layout
    n_words = user_data.dtype.itemsize // 8

    double_p = numba.types.CPointer(numba.types.double)
    logp_signature = numba.types.int64(
        numba.types.uint64, double_p, double_p, double_p, numba.types.voidptr
    )
    expand_signature = numba.types.int64(
        numba.types.uint64, numba.types.uint64, double_p, double_p, numba.types.voidptr
    )

    def callback(template: str, name: str, function: Any, signature: Any) -> Any:
        keys = [shared_var_keys[var] for var in function.get_shared()]
        unpack, arguments = _unpack_source(keys, shared_data, offsets)
        source = template.format(n_words=n_words, unpack=unpack, arguments=arguments)
        inner = function.vm.jit_fn
        py_func = getattr(inner, "py_func", None)
        inner_key = CACHED_SRC_FUNCTIONS.get(py_func) if py_func is not None else None
        key = None
        if inner_key is not None:
            versions = (numba.__version__, nutpie.__version__)
            # The module's name too: numba's cache entry refers to the module whose globals the
            # callback uses, and an entry written under another name would not load.
            text = "|".join((CALLBACK_VERSION, __name__, *versions, str(inner_key), source))
            key = hashlib.sha256(text.encode()).hexdigest()
        env = {
            "np": np,
            "carray": numba.carray,
            "inner": inner,
            "address": address_as_void_pointer,
        }
        compiled = compile_numba_function_src(
            source, name, global_env=globals() | env, cache_key=key
        )
        return numba.cfunc(signature, cache=key is not None)(compiled)

    logp_c = callback(_LOGP_SOURCE, "hbm_nutpie_logp", logp_fn, logp_signature)
    expand_c = callback(_EXPAND_SOURCE, "hbm_nutpie_expand", expand_fn, expand_signature)
    dims, coords = _prepare_dims_and_coords(model, shape_info, reparameterized)
    return CompiledPyMCModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=logp_c,
        compiled_expand_func=expand_c,
        initial_point_func=initial_point_fn,
        shared_data=shared_data,
        shared_var_keys=shared_var_keys,
        user_data=user_data,
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=logp_fn,
        expand_func=expand_fn,
        reparameterized_names=reparameterized,
    )


def _user_data(
    n_dim: int,
    n_expanded: int,
    shared_var_keys: dict[Any, str],
    shared_data: dict[str, np.ndarray],
) -> tuple[np.ndarray, dict[str, tuple[int, int, int]]] | None:
    """nutpie's ``user_data`` record with a header ``hbm = [n_dim, n_expanded]`` in front.

    The ``shared`` part is laid out as nutpie's ``make_user_data`` lays it out (so nutpie's
    ``with_data`` can update it). Returns the record and, for each key, the word index of its
    data pointer, of its size and of its first shape entry; ``None`` if nutpie's
    ``update_user_data`` no longer fills this layout.
    """
    from nutpie.compile_pymc import update_user_data

    keys = list(shared_var_keys.values())
    ndims = {key: shared_data[key].ndim for key in keys}
    record = np.dtype(
        [
            ("hbm", np.uint64, (2,)),
            (
                "shared",
                [
                    ("data", [(key, np.uint64) for key in keys]),
                    ("size", [(key, np.uint64) for key in keys]),
                    ("shape", [(key, np.uint64, (ndims[key],)) for key in keys]),
                ],
            ),
        ]
    )
    fields: Any = record.fields
    shared = fields["shared"]  # (dtype, byte offset)
    offsets = {}
    for key in keys:
        words = []
        for part in ("data", "size", "shape"):
            field: Any = shared[0].fields[part]
            words.append((shared[1] + field[1] + field[0].fields[key][1]) // 8)
        offsets[key] = (words[0], words[1], words[2])
    user_data = np.zeros((), dtype=record)
    user_data["hbm"] = (n_dim, n_expanded)
    user_data = update_user_data(user_data, shared_data)
    if record.itemsize % 8 or user_data.dtype != record:
        return None  # nutpie's user_data is no longer what the callbacks read
    return user_data, offsets


def _unpack_source(
    keys: list[str], shared_data: dict[str, np.ndarray], offsets: dict[str, tuple[int, int, int]]
) -> tuple[str, str]:
    """Source lines that rebuild each shared array from ``words``, and the call's arguments."""
    lines = []
    for index, key in enumerate(keys):
        value = shared_data[key]
        data, size, shape = offsets[key]
        dims = "".join(f"np.intp(words[{shape + axis}]), " for axis in range(value.ndim))
        lines.append(
            f"        a{index} = carray(address(words[{data}]), (np.intp(words[{size}]),), "
            f"np.{value.dtype.name}).reshape(({dims}))"
        )
    arguments = "".join(f", a{index}" for index in range(len(keys)))
    return "\n".join(lines), arguments


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
