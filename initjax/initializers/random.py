"""Plain random initializers with fixed (fan-independent) scales, jax semantics.

All accept any shape (rank 0 and 1 included); scalar hyper-parameters may be traced.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from initjax.initializers import _sampling
from initjax.initializers._registry import register

__all__ = ["normal", "uniform", "uniform_symmetric", "truncated_normal"]


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

    Raises: ValueError if a concrete ``stddev`` is negative or not finite.
    """
    _sampling.check_scalar("normal", "stddev", stddev, nonneg=True)

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        return _sampling.normal(key, shape, dtype, stddev)

    return init


@register(
    "uniform",
    family="random",
    defaults={"scale": 1e-2},
    reference="jax.nn.initializers.uniform (U[0, scale), not centred)",
    variance=lambda fi, fo, scale: scale**2 / 12.0,
    formula="scale^2 / 12 (mean scale / 2)",
    fan_based=False,
)
def uniform(scale):
    """Builder: U[0, scale) as ``jax.nn.initializers.uniform``, any shape; mean scale / 2.

    Delegates to jax, which draws the uniform in the requested dtype (so a low-precision draw
    never rounds up to ``scale``). ``scale`` may be traced.

    Raises: ValueError if a concrete ``scale`` is negative or not finite.
    """
    _sampling.check_scalar("uniform", "scale", scale, nonneg=True)

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        # Drawn flat and reshaped: the same values, compiled faster (see _sampling).
        return jax.nn.initializers.uniform(scale)(key, _sampling.flat(shape), dtype).reshape(shape)

    return init


@register(
    "uniform_symmetric",
    family="random",
    defaults={"limit": 1e-2},
    reference="U(-limit, limit); Glorot & Bengio 2010 'standard' init has limit = 1/sqrt(n)",
    variance=lambda fi, fo, limit: limit**2 / 3.0,
    formula="limit^2 / 3",
    fan_based=False,
)
def uniform_symmetric(limit):
    """Builder: U(-limit, +limit), any shape. ``limit`` may be traced.

    Raises: ValueError if a concrete ``limit`` is negative or not finite.
    """
    _sampling.check_scalar("uniform_symmetric", "limit", limit, nonneg=True)

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        return _sampling.uniform_symmetric(key, shape, dtype, limit)

    return init


def _tn_variance(fi, fo, stddev, lower, upper):
    return stddev**2 * _sampling.truncnorm_moments(lower, upper)[1]


@register(
    "truncated_normal",
    family="random",
    defaults={"stddev": 1e-2, "lower": -2.0, "upper": 2.0},
    reference="jax.nn.initializers.truncated_normal (bounds in units of stddev)",
    variance=_tn_variance,
    formula="stddev^2 Var[N(0,1) | lower <= z <= upper]",
    fan_based=False,
)
def truncated_normal(stddev, lower, upper):
    """Builder: ``stddev * z``, z ~ N(0, 1) truncated to [lower, upper], any shape.

    As ``jax.nn.initializers.truncated_normal``: the bounds are in units of ``stddev`` and the
    standard deviation is NOT corrected for the truncation, so
    Var[w] = stddev^2 Var[z | lower <= z <= upper] (0.774 stddev^2 for the default +-2).
    Samples lie strictly inside (stddev*lower, stddev*upper) in every dtype. ``stddev`` may be
    traced; infinite bounds are allowed.

    Raises: ValueError if a concrete ``stddev`` is <= 0 or ``lower >= upper``.
    """
    _sampling.check_scalar("truncated_normal", "stddev", stddev, positive=True)
    _sampling.check_bounds("truncated_normal", lower, upper)

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        return _sampling.truncated_normal(key, shape, dtype, lower, upper, stddev=stddev)

    return init
