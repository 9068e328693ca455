"""Initializers: pure ``(key, shape, dtype) -> Array`` functions, looked up from one registry.

``get(name, **hparams)`` binds hyper-parameters; ``names()`` lists canonical names (``aliases()``
the other spellings); ``entry(name)`` gives the metadata (family, defaults, reference, promised
variance); ``register`` adds an entry (``register_callable`` a plain ``init(key, shape, dtype)``
function); a name ``"package.module:function"`` or ``"path/file.py:function"`` is imported and
registered on first use; ``fans`` computes (fan_in, fan_out);
``calculate_gain`` is PyTorch's gain table and ``derived_gain`` the gain 1 / sqrt(E[phi(z)^2])
of any activation; ``with_variance`` declares the variance of an unregistered callable.
Every entry follows the ``jax.nn.initializers.Initializer`` protocol: it plugs
into ``flax.linen.Dense(kernel_init=...)``, except family ``"data_dependent"`` (lsuv, metainit,
gradinit): these refine a base initializer's weights of a whole network on data, and run through
the models, ``propagate`` and ``train`` (:mod:`initjax.initializers.data_dependent`).
``initjax list`` prints the registry.
"""

# Importing the entry modules registers them (order = listing order within a family).
from initjax.initializers import constant as _constant  # noqa: F401
from initjax.initializers import gradinit as _gradinit  # noqa: F401
from initjax.initializers import lsuv as _lsuv  # noqa: F401
from initjax.initializers import metainit as _metainit  # noqa: F401
from initjax.initializers import orthogonal as _orthogonal  # noqa: F401
from initjax.initializers import random as _random  # noqa: F401
from initjax.initializers import structured as _structured  # noqa: F401
from initjax.initializers import torch_presets as _torch_presets  # noqa: F401
from initjax.initializers import variance_scaling as _variance_scaling  # noqa: F401
from initjax.initializers._registry import (
    SHAPE_KINDS,
    BoundInitializer,
    Entry,
    aliases,
    entry,
    get,
    names,
    register,
    register_callable,
)
from initjax.initializers.data_dependent import (
    DataDependentMethod,
    is_data_dependent,
    method_of,
    sampler_of,
)
from initjax.initializers.declared import with_variance
from initjax.initializers.fans import fans
from initjax.initializers.gains import calculate_gain, derived_gain

__all__ = [
    "BoundInitializer",
    "DataDependentMethod",
    "Entry",
    "SHAPE_KINDS",
    "aliases",
    "calculate_gain",
    "derived_gain",
    "entry",
    "fans",
    "get",
    "is_data_dependent",
    "method_of",
    "names",
    "register",
    "sampler_of",
    "register_callable",
    "with_variance",
]
