"""Gaussian probe inputs with an exact second moment q0 and exact pairwise correlation c0.

Poole et al. (2016) follow the length q^l of one input and the correlation c^l of a pair. Drawing
inputs with these exact values removes input sampling noise from layer 0: every example has
``mean(x**2) == q0`` and every pair has cosine ``c0``, so the input projection starts the maps at
q^0 = sigma_w2 q0 + sigma_b2 and c^0 = (sigma_w2 q0 c0 + sigma_b2) / q^0 in expectation.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from initjax.initializers.sampling import standard_normal

__all__ = ["gaussian_inputs", "token_inputs", "check_c0"]


def check_c0(c0: float | None, batch: int, dim: int) -> None:
    """Validate ``c0`` for ``batch`` examples of ``dim`` features.

    Raises:
      ValueError: c0 outside [-1/(batch-1), 1] (the equicorrelation matrix would not be positive
        semi-definite), batch < 2, or batch > dim (no ``batch`` orthonormal directions).
    """
    if c0 is None:
        return
    if isinstance(c0, bool) or not isinstance(c0, int | float):
        raise TypeError(f"c0 must be a real number in [-1, 1] or None, got {c0!r}")
    if batch < 2:
        raise ValueError(f"c0 needs batch >= 2 inputs (a pair at least), got batch={batch}")
    lo = -1.0 / (batch - 1)
    if not (lo <= c0 <= 1.0):
        raise ValueError(
            f"c0 must lie in [{lo:g}, 1] for batch={batch} equicorrelated inputs, got {c0!r}"
        )
    if batch > dim:
        raise ValueError(
            f"c0 with batch={batch} needs at least {batch} input features, got {dim}; lower batch"
        )


def _gram_sqrt(c0: float, batch: int) -> np.ndarray:
    """Symmetric square root of the equicorrelation matrix (1 - c0) I + c0 11^T (float64)."""
    g = (1.0 - c0) * np.eye(batch) + c0 * np.ones((batch, batch))
    w, v = np.linalg.eigh(g)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def gaussian_inputs(
    key: jax.Array,
    batch: int,
    in_shape: tuple[int, ...],
    *,
    q0: float = 1.0,
    c0: float | None = None,
    dtype=jnp.float32,
) -> jax.Array:
    """``batch`` inputs of shape ``in_shape`` with mean square exactly ``q0`` each.

    Args:
      key: PRNG key (``keys.role(seed_key, keys.INPUTS)``).
      batch: number of examples B.
      in_shape: per-example shape; n = prod(in_shape) features.
      q0: per-example mean square, ``mean(x_b ** 2) = q0`` (> 0).
      c0: None for independent Gaussian directions (cosines ~ N(0, 1/n)); else the exact cosine
        of every pair, built as X = G^(1/2) U with U's rows orthonormal (Haar, from a QR) and
        G = (1 - c0) I + c0 11^T.

    Returns:
      Array ``(batch, *in_shape)`` of ``dtype``.
    """
    n = math.prod(in_shape)
    check_c0(c0, batch, n)
    if c0 is None:
        u = standard_normal(key, (batch, n))
        u = u / jnp.linalg.norm(u, axis=1, keepdims=True)
    else:
        q, r = jnp.linalg.qr(standard_normal(key, (n, batch)))
        q = q * jnp.sign(jnp.diagonal(r))  # Haar-distributed orthonormal columns
        u = jnp.asarray(_gram_sqrt(float(c0), batch), jnp.float32) @ q.T
    x = u * jnp.float32(math.sqrt(n * q0))
    return x.reshape((batch, *in_shape)).astype(dtype)


def token_inputs(
    key: jax.Array,
    batch: int,
    tokens: int,
    width: int,
    *,
    q0: float = 1.0,
    c0: float = 0.0,
    dtype=jnp.float32,
) -> jax.Array:
    """``batch`` sequences of ``tokens`` tokens of ``width`` features, with exact token moments.

    Within every sequence each token has mean square exactly ``q0`` (|x_t|^2 / width = q0) and
    every pair of its tokens has cosine exactly ``c0``: the residual-stream moments
    (q, p = c0 q0) of :mod:`initjax.theory.transformer` start without sampling noise. Each
    sequence is :func:`gaussian_inputs` with ``tokens`` examples, from ``fold_in(key, b)``.

    Returns:
      Array ``(batch, tokens, width)`` of ``dtype``.

    Raises:
      ValueError: batch < 1, tokens < 2, tokens > width, or c0 outside [-1/(tokens-1), 1].
    """
    for name, v, lo in (("batch", batch, 1), ("tokens", tokens, 2), ("width", width, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    check_c0(c0, tokens, width)
    seqs = [
        gaussian_inputs(jax.random.fold_in(key, b), tokens, (width,), q0=q0, c0=c0, dtype=dtype)
        for b in range(batch)
    ]
    return jnp.stack(seqs)
