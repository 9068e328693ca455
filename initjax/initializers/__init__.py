"""Initializers: pure ``(key, shape, dtype) -> Array`` functions, looked up from one registry.

``get(name, **hparams)`` binds hyper-parameters; ``names()`` lists canonical names; ``register``
adds an entry; ``fans`` computes (fan_in, fan_out). Every entry follows the
``jax.nn.initializers.Initializer`` protocol: it plugs into ``flax.linen.Dense(kernel_init=...)``.
"""

# Importing the entry modules registers them (order = listing order within a family).
from initjax.initializers import constant as _constant  # noqa: F401
from initjax.initializers import random as _random  # noqa: F401
from initjax.initializers import variance_scaling as _variance_scaling  # noqa: F401
from initjax.initializers._registry import (
    BoundInitializer,
    Entry,
    aliases,
    entry,
    get,
    names,
    register,
)
from initjax.initializers.fans import fans

__all__ = [
    "BoundInitializer",
    "Entry",
    "aliases",
    "entry",
    "fans",
    "get",
    "names",
    "register",
]
