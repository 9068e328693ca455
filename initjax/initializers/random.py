"""Plain random initializers with fixed (fan-independent) scales, jax semantics."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from initjax.initializers import _sampling
from initjax.initializers._registry import register

__all__ = ["normal"]


@register(
    "normal",
    family="random",
    defaults={"stddev": 1e-2},
    reference="jax.nn.initializers.normal",
    variance=lambda fi, fo, stddev: stddev**2,
    formula="stddev^2",
    fan_based=False,
)
def normal(stddev):
    """Builder: N(0, stddev^2), any shape. ``stddev`` may be traced.

    Raises: ValueError if a concrete ``stddev`` is negative.
    """
    _sampling.check_scalar("normal", "stddev", stddev, nonneg=True)

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        return _sampling.normal(key, shape, dtype, stddev)

    return init
