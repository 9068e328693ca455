"""Per-layer statistics: pure functions of one layer's pre-activations (and weights).

Shapes: ``z`` is ``(B, *feature_shape)``, the batch of one layer's pre-activations. Every function
returns a float32 scalar and works under ``jit``/``vmap``. Non-finite inputs give non-finite
outputs (never an exception); :func:`initjax.measure.propagate` turns them into ``diverged``.

Definitions (Poole et al. 2016, arXiv:1606.05340, eqs. 3-5; Glorot & Bengio 2010, §4.2):

- ``q``: q^l = mean over examples and units of (z^l)^2.
- ``c``: mean over pairs a < b of q_ab / sqrt(q_aa q_bb), q_ab = mean_i z_ia z_ib (uncentred, as
  Poole et al.); NaN when an example's pre-activations are all zero (correlation undefined).
- ``act_std``: standard deviation of phi(z^l) over examples and units.
- ``act_saturation``: fraction of saturated units, per ``Activation.saturation``: "abs_gt_0.9"
  counts |phi(z)| > 0.9 (tanh, erf, hard_tanh, softsign: bound 1), "zero" counts z <= 0
  (rectifiers: a zero or leaky slope).
- ``unit_dist``: smallest Euclidean distance between two units' incoming weight vectors.
- ``act_rank``: numerical rank of the (rows, units) activation matrix, with numpy's tolerance
  max(rows, units) * eps(float32) * largest singular value.
- ``grad_sq`` and ``jac_sv`` need the whole network and live in :mod:`initjax.measure.engine`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = [
    "METRICS",
    "PER_LAYER",
    "COLUMNS",
    "second_moment",
    "correlation",
    "activation_std",
    "saturation",
    "min_unit_distance",
    "numerical_rank",
]

# Requestable metric names, in table order; unit_symmetry, attn and qkv_grad yield several
# columns. token_cos, erank, attn, qkv_grad: see initjax.measure.sequence_metrics.
METRICS = (
    "q",
    "c",
    "grad_sq",
    "act_std",
    "act_saturation",
    "unit_symmetry",
    "token_cos",
    "erank",
    "attn",
    "qkv_grad",
    "jac_sv",
)
PER_LAYER = METRICS[:-1]
COLUMNS = {
    "unit_symmetry": ("unit_dist", "act_rank"),
    "attn": ("attn_entropy", "attn_logit_std"),
    "qkv_grad": ("grad_wq", "grad_wk", "grad_wv"),
}
# Metrics of token sequences (features (B, T, d)); attn and qkv_grad also need attention blocks.
SEQUENCE = ("token_cos", "erank", "attn", "qkv_grad")

_HI = jax.lax.Precision.HIGHEST


def second_moment(z: jax.Array) -> jax.Array:
    """q = mean(z**2) over all axes (float32)."""
    return jnp.mean(jnp.square(z.astype(jnp.float32)))


def correlation(z: jax.Array) -> jax.Array:
    """Mean off-diagonal entry of the normalized (uncentred) Gram matrix of the batch ``z``."""
    b = z.shape[0]
    zf = z.reshape(b, -1).astype(jnp.float32)
    g = jnp.matmul(zf, zf.T, precision=_HI) / zf.shape[1]
    d = jnp.sqrt(jnp.diagonal(g))
    cos = g / (d[:, None] * d[None, :])
    iu = jnp.triu_indices(b, k=1)
    return jnp.mean(cos[iu])


def activation_std(a: jax.Array) -> jax.Array:
    """Standard deviation of the activations ``a`` = phi(z) over all axes."""
    return jnp.std(a.astype(jnp.float32))


def saturation(z: jax.Array, a: jax.Array, kind: str) -> jax.Array:
    """Fraction of saturated units; ``kind`` is ``Activation.saturation`` ("abs_gt_0.9"|"zero")."""
    if kind == "abs_gt_0.9":
        s = jnp.abs(a) > 0.9
    elif kind == "zero":
        s = z <= 0
    else:
        raise ValueError(f"unknown saturation kind {kind!r}")
    ok = jnp.all(jnp.isfinite(z))
    return jnp.where(ok, jnp.mean(s.astype(jnp.float32)), jnp.nan)


def min_unit_distance(w: jax.Array) -> jax.Array:
    """Smallest pairwise distance between the columns of ``w`` ``(fan_in, units)``.

    The closest pair is found from the Gram matrix, d_ij^2 = |w_i|^2 + |w_j|^2 - 2 w_i.w_j
    (cost units^2 * fan_in, one matmul); its distance is then computed directly as
    |w_i - w_j|, so identical units give exactly 0 and the value does not depend on how XLA
    tiles the matmul (e.g. sharded vs unsharded). NaN if units < 2.
    """
    wt = w.astype(jnp.float32).T  # (units, fan_in)
    u = wt.shape[0]
    if u < 2:
        return jnp.float32(jnp.nan)
    g = jnp.matmul(wt, wt.T, precision=_HI)
    sq = jnp.diagonal(g)
    d2 = sq[:, None] + sq[None, :] - 2.0 * g
    d2 = jnp.where(jnp.eye(u, dtype=bool), jnp.inf, d2)
    k = jnp.argmin(jnp.where(jnp.isnan(d2), jnp.inf, d2))
    diff = wt[k // u] - wt[k % u]
    return jnp.where(jnp.all(jnp.isfinite(wt)), jnp.sqrt(jnp.sum(jnp.square(diff))), jnp.nan)


def numerical_rank(m: jax.Array) -> jax.Array:
    """Numerical rank of ``m`` ``(rows, units)`` as float32 (NaN if ``m`` is not finite)."""
    mf = m.astype(jnp.float32)
    ok = jnp.all(jnp.isfinite(mf))
    s = jnp.linalg.svd(jnp.where(ok, mf, 0.0), compute_uv=False)
    tol = s[0] * max(mf.shape) * jnp.finfo(jnp.float32).eps
    r = jnp.sum(s > tol).astype(jnp.float32)
    return jnp.where(ok, r, jnp.nan)
