"""Hidden-unit symmetry of one layer's weights, in jax.numpy: distinct units and weight rank.

With zero or constant weights every unit of a layer computes the same function and receives the
same gradient, so training keeps the units identical (Goodfellow, Bengio, Courville 2016, Deep
Learning, Sec. 8.4). These functions count how many different units a layer has, jit- and
vmap-able, float32 throughout. Registered as the metric ``distinct_units`` in
:mod:`initjax.measure.metrics` (beside ``weight_rank``, the kernel's numerical rank).

- :func:`unit_vectors`: the incoming vector (weights, bias) of each unit, one row per unit.
- :func:`pairwise_distances`: Euclidean distances between rows, from direct differences (never
  from a Gram matrix, whose cancellation error ~sqrt(eps) |v| would hide a 1e-4 relative gap).
- :func:`distinct_units`: connected components of the graph "closer than rel_tol x RMS |v_j|".
- :func:`relative_distance_range`: smallest and largest distance between two units / RMS |v_j|.

Why ``DEFAULT_REL_TOL = 1e-4``: independent random vectors in d dimensions are about sqrt(2)
times their norm apart, while units kept equal by symmetry differ only by float32 rounding of
equal computations (relative 1e-7 per operation; a vmapped ``train`` currently accumulates up to
~1e-8 absolute on a symmetric layer), so the two populations lie three or more orders of
magnitude on either side of the tolerance.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

__all__ = [
    "DEFAULT_REL_TOL",
    "distinct_units",
    "pairwise_distances",
    "relative_distance_range",
    "unit_vectors",
]

DEFAULT_REL_TOL = 1e-4
_HI = jax.lax.Precision.HIGHEST


def unit_vectors(kernel: jax.Array, bias: jax.Array | None = None) -> jax.Array:
    """Incoming vectors of a layer's units, one row per unit: ``(units, fan_in [+ 1])`` float32.

    Args:
      kernel: ``(fan_in, units)``: unit j's incoming weights are column j (Flax dense layout;
        conv kernels flattened to ``(receptive field * C_in, C_out)``).
      bias: ``(units,)`` or None; appended as a last coordinate (units with equal weights but
        different biases compute different functions).

    Raises:
      ValueError: kernel not 2-D, or a bias whose shape is not ``(units,)``.
    """
    k = jnp.asarray(kernel, jnp.float32)
    if k.ndim != 2:
        raise ValueError(f"kernel must be 2-D (fan_in, units), got shape {k.shape}")
    v = k.T
    if bias is not None:
        b = jnp.asarray(bias, jnp.float32)
        if b.shape != (k.shape[1],):
            raise ValueError(f"bias must have shape ({k.shape[1]},), got {b.shape}")
        v = jnp.concatenate([v, b[:, None]], axis=1)
    return v


def pairwise_distances(v: jax.Array) -> jax.Array:
    """``(n, n)`` Euclidean distances |v_i - v_j| between the rows of ``v`` ``(n, dim)``.

    Computed row by row from direct differences (memory n * dim per step): identical rows give
    exactly 0 and a relative gap of 1e-6 stays resolvable in float32.
    """
    v = jnp.asarray(v, jnp.float32)
    return jax.lax.map(lambda vi: jnp.sqrt(jnp.sum(jnp.square(v - vi), axis=1)), v)


def _rms_norm(v: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.mean(jnp.sum(jnp.square(v), axis=1)))


def distinct_units(v: jax.Array, rel_tol: float = DEFAULT_REL_TOL) -> jax.Array:
    """Number of distinct units among the rows of ``v`` ``(units, dim)``, as a float32 scalar.

    Units i and j are linked when |v_i - v_j| <= rel_tol x RMS_j |v_j|; the count is the number
    of connected components (single linkage: a chain of near-copies counts once), found by
    squaring the reachability matrix ceil(log2(units)) times. All-zero rows are one unit (the
    threshold and every distance are 0). NaN if ``v`` is not finite.

    Raises:
      ValueError: rel_tol < 0 or ``v`` not 2-D.
    """
    if not rel_tol >= 0:
        raise ValueError(f"rel_tol must be >= 0, got {rel_tol}")
    v = jnp.asarray(v, jnp.float32)
    if v.ndim != 2:
        raise ValueError(f"v must be 2-D (units, dim), got shape {v.shape}")
    n = v.shape[0]
    if n < 2:
        return jnp.float32(n)
    ok = jnp.all(jnp.isfinite(v))
    v = jnp.where(ok, v, 0.0)
    reach = (pairwise_distances(v) <= rel_tol * _rms_norm(v)).astype(jnp.float32)
    for _ in range(math.ceil(math.log2(n))):  # paths of length <= 2^k after k squarings
        reach = (jnp.matmul(reach, reach, precision=_HI) > 0).astype(jnp.float32)
    # a component's representative is its smallest index: no reachable j < i
    earlier = jnp.tril(reach, k=-1)
    count = jnp.sum(jnp.all(earlier == 0, axis=1)).astype(jnp.float32)
    return jnp.where(ok, count, jnp.nan)


def relative_distance_range(v: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(min, max) distance between two different rows of ``v`` ``(units, dim)`` / RMS row norm.

    (0, 0) for all-zero rows; NaN if ``v`` is not finite or has fewer than 2 rows.
    """
    v = jnp.asarray(v, jnp.float32)
    n = v.shape[0]
    if n < 2:
        return jnp.float32(jnp.nan), jnp.float32(jnp.nan)
    ok = jnp.all(jnp.isfinite(v))
    v = jnp.where(ok, v, 0.0)
    d = pairwise_distances(v)
    off = ~jnp.eye(n, dtype=bool)
    scale = _rms_norm(v)
    safe = jnp.where(scale > 0, scale, 1.0)
    lo = jnp.min(jnp.where(off, d, jnp.inf)) / safe
    hi = jnp.max(jnp.where(off, d, -jnp.inf)) / safe
    return jnp.where(ok, lo, jnp.nan), jnp.where(ok, hi, jnp.nan)
