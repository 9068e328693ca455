"""Public sampling primitives of the initializers (for benchmarks and user initializers).

The fast float32 samplers every built-in initializer draws from, bit-identical to
``jax.random.normal`` / ``uniform`` / ``truncated_normal`` with the same key (see the
implementation module for how and when the fast path applies):

- ``normal(key, shape, dtype, stddev)``: N(0, stddev^2).
- ``uniform_symmetric(key, shape, dtype, limit)``: U(-limit, limit).
- ``standard_normal(key, shape, dtype=float32)``, ``standard_uniform(key, shape,
  dtype=float32)``: ``jax.random.normal`` and ``jax.random.uniform`` (U[0, 1)), bit for bit,
  for draws inside larger programs (model layers, measurement programs).
- ``truncated_normal(key, shape, dtype, lower, upper, ...)``: standard normal truncated to
  [lower, upper] (in units of stddev), times ``stddev``.
- ``truncnorm_moments(lower, upper)``: (mean, variance) of the standard normal truncated there.
- ``threefry_bits(key, n)``: n uint32 random bits, as ``jax.random.bits(key, (n,))``.
- ``fast_bits_ok(key, dtype, n)``: whether the fast path applies to this key type and dtype.
"""

from initjax.initializers._sampling import (
    fast_bits_ok,
    normal,
    standard_normal,
    standard_uniform,
    threefry_bits,
    truncated_normal,
    truncnorm_moments,
    uniform_symmetric,
)

__all__ = [
    "fast_bits_ok",
    "normal",
    "standard_normal",
    "standard_uniform",
    "threefry_bits",
    "truncated_normal",
    "truncnorm_moments",
    "uniform_symmetric",
]
