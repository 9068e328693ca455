"""Constant initializers: the baseline the suite exists to show failing (symmetry never breaks)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from initjax.initializers import _sampling
from initjax.initializers._registry import register

__all__ = ["zeros", "ones", "constant"]

_REF = "baseline; symmetric init never breaks unit symmetry (e.g. Goodfellow et al. 2016, §8.4)"


@register(
    "zeros",
    family="constant",
    defaults={},
    reference=_REF,
    variance=lambda fi, fo: 0.0,
    formula="0",
    deterministic=True,
    fan_based=False,
    aliases=("zero",),
)
def zeros():
    """Builder: all zeros, any shape."""

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        del key
        return jnp.zeros(shape, dtype)

    return init


@register(
    "ones",
    family="constant",
    defaults={},
    reference=_REF,
    variance=lambda fi, fo: 0.0,
    formula="0",
    deterministic=True,
    fan_based=False,
)
def ones():
    """Builder: all ones, any shape."""

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        del key
        return jnp.ones(shape, dtype)

    return init


@register(
    "constant",
    family="constant",
    defaults={"value": 0.0},
    reference=_REF,
    variance=lambda fi, fo, value: 0.0,
    formula="0",
    deterministic=True,
    fan_based=False,
)
def constant(value):
    """Builder: every element equal to ``value`` (may be traced), any shape."""
    _sampling.check_scalar("constant", "value", value)

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        del key
        return jnp.full(shape, value, dtype)

    return init
