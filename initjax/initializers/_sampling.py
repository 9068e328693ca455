"""Sampling primitives shared by the initializers: one place to make the PRNG path fast.

Every sampler draws in float32 (or float64 when that is requested) and casts once to the
requested dtype, so low-precision results are correctly rounded draws of the float32 law.

Speed: for jax's default key type (threefry2x32, partitionable bit layout) the float32 samplers
compute the random bits with an unrolled threefry (:func:`threefry_bits`) instead of calling
``jax.random``, whose CPU lowering runs the 20 rounds as a rolled 5-step loop: the loop state goes
through memory between steps and the hash cannot fuse with the transform (45-95 M normals/s on
this project's 2-core CPU). The unrolled hash fuses into one elementwise loop with the uniform /
erf_inv transform and runs 2-3x faster (BENCHMARKS.md, "PRNG"). The bits and the transform are
the same operations as jax.random's, so every draw is bit-identical to ``jax.random.normal`` /
``uniform`` / ``truncated_normal`` with the same key (tests/initializers and tests/scripts hold
this); other key types, float64 and the non-partitionable layout go through ``jax.random``.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "compute_dtype",
    "normal",
    "standard_normal",
    "standard_uniform",
    "uniform_symmetric",
    "truncated_normal",
    "truncnorm_moments",
    "check_scalar",
    "check_bounds",
    "is_concrete",
    "sqrt",
    "threefry_bits",
    "fast_bits_ok",
]


def compute_dtype(dtype) -> jnp.dtype:
    """float64 stays float64; every other floating dtype is computed in float32."""
    dt = jnp.dtype(dtype)
    return dt if dt == jnp.float64 else jnp.dtype(jnp.float32)


# The samplers run as one compiled program per (size, dtype): scalars (stddev, bounds) are
# traced arguments, so entries with different scales share compilations, and eager calls do not
# dispatch (and compile) op by op. They draw a flat vector and reshape: jax's counter-based
# threefry gives bit-identical values either way, and XLA:CPU compiles the rank-1 sampler 4-7x
# faster than a rank-3/4 one (0.25 s vs 1-1.7 s measured for jax.random.normal).
_static = functools.partial(jax.jit, static_argnums=(1, 2))


def flat(shape) -> tuple[int]:
    """The rank-1 shape with the same number of elements."""
    return (math.prod(shape),)


# --- threefry2x32 bits, unrolled (bit-identical to jax.random with the default key type) -------

# Rotation constants of Threefry-2x32 (Salmon et al. 2011, "Parallel random numbers: as easy as
# 1, 2, 3", Table 4); rounds alternate between the two rows, 4 rounds per key injection.
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_KS_PARITY = np.uint32(0x1BD11BDA)  # Skein key-schedule parity constant


def _rotl(x: jax.Array, d: int) -> jax.Array:
    return (x << np.uint32(d)) | (x >> np.uint32(32 - d))


def _threefry2x32(k1, k2, x1, x2):
    """The Threefry-2x32 block function, 20 rounds, written out (no loop) so XLA fuses it."""
    ks = (k1, k2, k1 ^ k2 ^ _KS_PARITY)
    x1 = x1 + ks[0]
    x2 = x2 + ks[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x1 = x1 + x2
            x2 = _rotl(x2, r) ^ x1
        x1 = x1 + ks[(i + 1) % 3]
        x2 = x2 + ks[(i + 2) % 3] + np.uint32(i + 1)
    return x1, x2


def fast_bits_ok(key, dtype, n: int) -> bool:
    """Whether :func:`threefry_bits` reproduces jax.random's bits for this draw.

    True for a typed key of jax's ``threefry2x32`` implementation with the partitionable bit
    layout (jax's default since 0.5), a float32 computation and fewer than 2**32 draws.
    """
    if not (isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)):
        return False
    if key.ndim != 0 or str(jax.random.key_impl(key)) != "threefry2x32":
        return False
    if not jax.config.jax_threefry_partitionable:
        return False
    return compute_dtype(dtype) == jnp.float32 and 0 < n < 2**32


def threefry_bits(key: jax.Array, n: int) -> jax.Array:
    """``jax.random.bits(key, (n,), jnp.uint32)`` for a threefry2x32 key, unrolled.

    With the partitionable layout, element i hashes the 64-bit counter (hi, lo) = (0, i) and
    returns the XOR of the two output words. Valid when :func:`fast_bits_ok` holds.
    """
    kd = jax.random.key_data(key)
    lo = jax.lax.iota(jnp.uint32, n)
    b1, b2 = _threefry2x32(kd[0], kd[1], jnp.zeros_like(lo), lo)
    return b1 ^ b2


def _uniform_from_bits(bits: jax.Array, minval, maxval) -> jax.Array:
    """float32 U[minval, maxval) from 32 random bits, as jax.random.uniform computes it:
    23 mantissa bits give f in [1, 2); u = max(minval, (f - 1) (maxval - minval) + minval)."""
    f32 = jnp.float32
    one_bits = np.array(1.0, np.float32).view(np.uint32)
    fb = jax.lax.shift_right_logical(bits, np.uint32(32 - 23)) | one_bits
    floats = jax.lax.bitcast_convert_type(fb, f32) - np.float32(1.0)
    lo = jax.lax.convert_element_type(minval, f32)
    hi = jax.lax.convert_element_type(maxval, f32)
    return jax.lax.max(lo, floats * (hi - lo) + lo)


def _std_normal(key, shape, cd) -> jax.Array:
    """``jax.random.normal(key, shape, cd)`` (flat shape), bit for bit."""
    n = shape[0]
    if not fast_bits_ok(key, cd, n):
        return jax.random.normal(key, shape, cd)
    lo = np.nextafter(np.float32(-1.0), np.float32(0.0))
    u = _uniform_from_bits(threefry_bits(key, n), lo, np.float32(1.0))
    return np.float32(np.sqrt(2)) * jax.lax.erf_inv(u)


@_static
def _standard_normal(key, shape, dtype):
    if dtype != jnp.float32:  # jax.random draws 16- and 64-bit floats from other bit widths
        return jax.random.normal(key, shape, dtype)
    return _std_normal(key, flat(shape), dtype).reshape(shape)


@_static
def _standard_uniform(key, shape, dtype):
    n = math.prod(shape)
    if dtype != jnp.float32 or not fast_bits_ok(key, dtype, n):
        return jax.random.uniform(key, shape, dtype)
    u = _uniform_from_bits(threefry_bits(key, n), np.float32(0.0), np.float32(1.0))
    return u.reshape(shape)


def standard_normal(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
    """N(0, 1) draws equal bit for bit to ``jax.random.normal(key, shape, dtype)``.

    Through the unrolled sampler for a float32 draw where :func:`fast_bits_ok` holds (a typed
    threefry2x32 key, the partitionable layout), else ``jax.random.normal`` itself (other
    dtypes and key types). Inside a larger program the unrolled hash compiles as one
    elementwise loop instead of jax's rolled hash loop, which XLA:CPU compiles as separate
    kernels (0.1-0.25 s of compile time per draw site); an eager call compiles one program per
    (shape, dtype). Threefry-2x32: Salmon et al. 2011; the transform sqrt(2) erfinv(u) is
    jax.random's.

    Args:
      key: a PRNG key (scalar key array; may be traced or vmapped).
      shape: the output shape (ints).
      dtype: a floating dtype. Default float32 (also under x64, unlike ``jax.random``).

    Returns:
      Array of ``shape`` and ``dtype``.

    Raises:
      Whatever ``jax.random.normal`` raises for the same arguments (a non-float dtype, a bad
      key).
    """
    return _standard_normal(key, tuple(int(d) for d in shape), jnp.dtype(dtype))


def standard_uniform(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
    """U[0, 1) draws equal bit for bit to ``jax.random.uniform(key, shape, dtype)``: through the
    unrolled sampler as :func:`standard_normal` does, else ``jax.random.uniform`` itself.

    Args and errors as :func:`standard_normal` (dtype default float32).

    Returns:
      Array of ``shape`` and ``dtype`` in [0, 1).
    """
    return _standard_uniform(key, tuple(int(d) for d in shape), jnp.dtype(dtype))


@_static
def _normal(key, shape, dtype, stddev):
    cd = compute_dtype(dtype)
    return (_std_normal(key, shape, cd) * jnp.asarray(stddev, cd)).astype(dtype)


def normal(key: jax.Array, shape: tuple[int, ...], dtype, stddev) -> jax.Array:
    """N(0, stddev^2) samples of exactly ``dtype`` (``stddev`` may be traced)."""
    return _normal(key, flat(shape), jnp.dtype(dtype), stddev).reshape(shape)


@_static
def _uniform_symmetric(key, shape, dtype, limit):
    cd = compute_dtype(dtype)
    if fast_bits_ok(key, cd, shape[0]):
        u = _uniform_from_bits(threefry_bits(key, shape[0]), np.float32(-1.0), np.float32(1.0))
    else:
        u = jax.random.uniform(key, shape, cd, minval=-1.0, maxval=1.0)
    return (u * jnp.asarray(limit, cd)).astype(dtype)


def uniform_symmetric(key: jax.Array, shape: tuple[int, ...], dtype, limit) -> jax.Array:
    """U(-limit, +limit) samples of exactly ``dtype`` (``limit`` may be traced)."""
    return _uniform_symmetric(key, flat(shape), jnp.dtype(dtype), limit).reshape(shape)


def _std_truncated_normal(key, lower, upper, shape, cd) -> jax.Array:
    """``jax.random.truncated_normal(key, lower, upper, shape, cd)`` (flat shape), bit for bit:
    u ~ U[erf(lower/sqrt2), erf(upper/sqrt2)), z = sqrt2 erf_inv(u) clipped inside the bounds."""
    if not fast_bits_ok(key, cd, shape[0]):
        return jax.random.truncated_normal(key, lower, upper, shape, cd)
    sqrt2 = np.float32(np.sqrt(2))
    a = jax.lax.erf(lower / sqrt2)
    b = jax.lax.erf(upper / sqrt2)
    z = sqrt2 * jax.lax.erf_inv(_uniform_from_bits(threefry_bits(key, shape[0]), a, b))
    lo = jax.lax.nextafter(jax.lax.stop_gradient(lower), np.float32(np.inf))
    hi = jax.lax.nextafter(jax.lax.stop_gradient(upper), np.float32(-np.inf))
    return jnp.clip(z, lo, hi)


@_static
def _truncated_normal(key, shape, dtype, lower, upper, mean, stddev, a, b):
    cd = compute_dtype(dtype)
    z = _std_truncated_normal(key, jnp.asarray(lower, cd), jnp.asarray(upper, cd), shape, cd)
    x = (jnp.asarray(mean, cd) + jnp.asarray(stddev, cd) * z).astype(dtype)
    # The bounds rounded to dtype may fall on either side of the real bounds: step inside them.
    inf = jnp.asarray(np.inf, dtype)
    lo = jnp.nextafter(jnp.asarray(a, cd).astype(dtype), inf)
    hi = jnp.nextafter(jnp.asarray(b, cd).astype(dtype), -inf)
    return jnp.clip(x, lo, hi)


def truncated_normal(
    key: jax.Array,
    shape: tuple[int, ...],
    dtype,
    lower,
    upper,
    *,
    mean=0.0,
    stddev=1.0,
    bounds=None,
) -> jax.Array:
    """``mean + stddev * z`` with z ~ N(0, 1) truncated to [lower, upper] (stddev units).

    The result lies strictly inside the absolute interval ``bounds`` (default
    ``(mean + stddev*lower, mean + stddev*upper)``; pass the caller's own absolute bounds when it
    has them, so no rounding of the conversion moves them) after the cast to ``dtype``: samples
    are clipped to the next representable values inside, so a sample never equals a bound by
    rounding, in any dtype. All scalars may be traced.
    """
    if bounds is None:
        bounds = (mean + stddev * lower, mean + stddev * upper)
    a, b = bounds
    out = _truncated_normal(key, flat(shape), jnp.dtype(dtype), lower, upper, mean, stddev, a, b)
    return out.reshape(shape)


def sqrt(x):
    """math.sqrt for concrete numbers, jnp.sqrt for traced values."""
    if isinstance(x, int | float | np.floating | np.integer):
        return math.sqrt(x)
    return jnp.sqrt(x)


def check_scalar(entry: str, arg: str, value, *, positive: bool = False, nonneg: bool = False):
    """Eagerly reject negative (or non-positive) concrete scalars; traced values pass through.

    Raises:
      ValueError: naming the initializer and argument.
    """
    if isinstance(value, jax.core.Tracer):
        return
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"initializer {entry!r}: {arg} must be a real number, got {value!r}"
        ) from None
    if not np.isfinite(v):
        raise ValueError(f"initializer {entry!r}: {arg} must be finite, got {value!r}")
    if positive and v <= 0:
        raise ValueError(f"initializer {entry!r}: {arg} must be > 0, got {value!r}")
    if nonneg and v < 0:
        raise ValueError(f"initializer {entry!r}: {arg} must be >= 0, got {value!r}")


def is_concrete(value) -> bool:
    """True unless ``value`` is a jax tracer (inside jit / vmap / grad)."""
    return not isinstance(value, jax.core.Tracer)


def check_bounds(entry: str, lower, upper, *, names: tuple[str, str] = ("lower", "upper")):
    """Eagerly reject NaN bounds and ``lower >= upper`` (traced values pass through).

    Infinite bounds are allowed (a half-truncated or untruncated normal).

    Raises:
      ValueError: naming the initializer and both bounds.
      TypeError: a bound is not a real number.
    """
    lo_name, hi_name = names
    if not (is_concrete(lower) and is_concrete(upper)):
        return
    vals = []
    for arg, v in ((lo_name, lower), (hi_name, upper)):
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise TypeError(
                f"initializer {entry!r}: {arg} must be a real number, got {v!r}"
            ) from None
        if math.isnan(f):
            raise ValueError(f"initializer {entry!r}: {arg} must not be NaN")
        vals.append(f)
    if vals[0] >= vals[1]:
        raise ValueError(
            f"initializer {entry!r}: {lo_name}={lower!r} must be < {hi_name}={upper!r} "
            "(the truncation interval is empty)"
        )


def _phi(x: float) -> float:
    return 0.0 if math.isinf(x) else math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _x_phi(x: float) -> float:
    return 0.0 if math.isinf(x) else x * _phi(x)


def truncnorm_moments(lower: float, upper: float) -> tuple[float, float]:
    """Mean and variance of N(0, 1) truncated to [lower, upper] (bounds may be infinite).

    With Z = Phi(upper) - Phi(lower):
    mean = (phi(lower) - phi(upper)) / Z and
    var = 1 + (lower phi(lower) - upper phi(upper)) / Z - mean^2
    (e.g. Johnson, Kotz & Balakrishnan, Continuous Univariate Distributions, Vol. 1, ch. 13).
    Z is computed from the tail on the side away from the mode so far tails keep precision.
    """
    a, b = float(lower), float(upper)
    if not a < b:
        raise ValueError(f"lower={lower!r} must be < upper={upper!r}")
    if a >= 0.0:  # both in the right tail: Z = Q(a) - Q(b) with Q the upper tail
        z = 0.5 * (math.erfc(a / math.sqrt(2.0)) - math.erfc(b / math.sqrt(2.0)))
    elif b <= 0.0:  # mirror image
        z = 0.5 * (math.erfc(-b / math.sqrt(2.0)) - math.erfc(-a / math.sqrt(2.0)))
    else:
        z = 1.0 - 0.5 * math.erfc(-a / math.sqrt(2.0)) - 0.5 * math.erfc(b / math.sqrt(2.0))
    mean = (_phi(a) - _phi(b)) / z
    var = 1.0 + (_x_phi(a) - _x_phi(b)) / z - mean * mean
    return mean, var
