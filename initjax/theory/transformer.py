"""Residual-stream moments of Transformer blocks at initialization (uniform attention).

State of a layer's residual stream z (T tokens of width d): the per-token second moment and the
mean cross moment of two different tokens,

    q = mean_t |z_t|^2 / d,      p = mean_{t != s} <z_t, z_s> / d,      rho = p / q,

rho being (up to the fluctuation of token norms) the mean token cosine of
:func:`initjax.measure.sequence_metrics.token_cosine`. The maps below give the expectation of
(q, p) over one block's random weights given its input, in the standard parameterization
(kernels Var = sigma2 / fan_in, zero-mean and independent, biases N(0, sigma_b2)); a block is
``z <- s z + b Attn(n(z))``, then ``z <- s z + b MLP(n(z))`` (pre-LN: n = LN; post-LN: LN
applied after each sum; none) with b the branch multiplier (tau * alpha) and s the skip scale.

Assumption (stated, as in Noci et al. 2022, arXiv:2206.03126, §4): **uniform attention**,
A = 1 1^T / T, which is exact when the query or key kernels are zero and is the limit of small
logits. Then every token receives the same attention output o = mean_t(u_t) W_v + b_v, so

    E|o W_o + b_o|^2 / d = sigma_o2 (sigma_v2 m + sigma_bv2) + sigma_bo2,   m = (Q + (T-1) P) / T

with (Q, P) the attention input's moments, added to q and p alike (the output is independent of
the stream given the stream, and zero-mean: no cross term). The MLP adds, per token, the
mean-field q- and c-maps of :mod:`initjax.theory.maps` (Poole et al. 2016, eqs. 3, 5) with
pre-activation moments (sigma_12 Q + sigma_b12, sigma_12 P + sigma_b12); exact in expectation
for Gaussian kernels when the tokens' (Q, P) are the same for every token and pair.

LayerNorm is taken at its large-width limit: it maps a token to second moment 1 and keeps the
cosine of two tokens (it also centres each token over its features; the mean of a token's
features is O(d^(-1/2)) here, so the difference is O(1/d)), and eps is neglected.

Closed forms (derived from these maps, Noci et al. 2022, §4 for the uniform-attention model):

- Attention-only blocks without normalisation, zero biases, x = b^2 sigma_v2 sigma_o2 and skip
  s = 1: the mean Gram entry m^l = m^0 (1 + x)^l, so with G = (1 + x)^L - 1,
  q^L = q^0 + m^0 G and p^L = p^0 + m^0 G. Unscaled (b = 1, x = 1): G = 2^L - 1 and
  1 - rho^L = (q^0 - p^0) / (q^0 + m^0 G) -> 0 exponentially (rank collapse). With
  b = 1 / sqrt(L): G -> e^x - 1 as L -> infinity and rho^L tends to a limit below 1
  (:func:`cosine_depth_limit`).
- Pre-LN: every sub-layer's input has Q = 1, so each block adds a branch variance that does not
  depend on q: q^L = q^0 + b^2 sum_l (A^l + M), growing linearly in L; A^l lies between
  sigma_o2 (sigma_v2 / T + sigma_bv2) + sigma_bo2 (orthogonal tokens) and
  sigma_o2 (sigma_v2 + sigma_bv2) + sigma_bo2 (collapsed tokens), and M = q_map(phi, sigma_22,
  sigma_b22, sigma_12 + sigma_b12) is constant (:func:`pre_ln_q_bounds`).

Everything is float64 numpy (no underflow where a float32 measurement does).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import numpy as np

from initjax.theory.maps import c_map, q_map

__all__ = [
    "AttentionVariances",
    "MLPVariances",
    "Moments",
    "attention_increment",
    "mlp_increment",
    "residual_moments",
    "linear_attention_moments",
    "cosine_depth_limit",
    "pre_ln_q_bounds",
    "NORMS",
]

NORMS = ("pre", "post", "none")


@dataclasses.dataclass(frozen=True)
class AttentionVariances:
    """Value / output kernel variances (times fan_in) and bias variances of the attention."""

    sigma_v2: float = 1.0
    sigma_o2: float = 1.0
    sigma_bv2: float = 0.0
    sigma_bo2: float = 0.0


@dataclasses.dataclass(frozen=True)
class MLPVariances:
    """MLP: activation, first / second kernel variances (times fan_in) and bias variances."""

    phi: Any = "relu"
    sigma_12: float = 2.0
    sigma_22: float = 1.0
    sigma_b12: float = 0.0
    sigma_b22: float = 0.0


@dataclasses.dataclass(frozen=True)
class Moments:
    """Per-layer moments, layer 0 (the input stream) to L: arrays of shape (L + 1,), float64."""

    q: np.ndarray
    p: np.ndarray

    @property
    def rho(self) -> np.ndarray:
        """Token cosine p / q."""
        return self.p / self.q


def _check(name: str, v: float, *, positive: bool = False) -> float:
    v = float(v)
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        raise ValueError(
            f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {v!r}"
        )
    return v


def attention_increment(q_in: float, p_in: float, tokens: int, a: AttentionVariances) -> float:
    """E|attention output|^2 / d for uniform attention over ``tokens`` (= its cross moment)."""
    m = (q_in + (tokens - 1) * p_in) / tokens
    return a.sigma_o2 * (a.sigma_v2 * m + a.sigma_bv2) + a.sigma_bo2


def mlp_increment(q_in: float, p_in: float, m: MLPVariances) -> tuple[float, float]:
    """(E|h_t|^2 / d, E<h_t, h_s> / d) of the MLP output h for inputs with moments (q_in, p_in).

    Computed with :func:`initjax.theory.q_map` / :func:`c_map` in float64.
    """
    q1 = m.sigma_12 * q_in + m.sigma_b12
    if q1 <= 0:  # zero input and no bias: the MLP outputs its bias only
        return m.sigma_b22, m.sigma_b22
    c1 = float(np.clip((m.sigma_12 * p_in + m.sigma_b12) / q1, -1.0, 1.0))
    with jax.enable_x64(True):
        dq = float(q_map(m.phi, m.sigma_22, m.sigma_b22, q1))
        c2 = float(c_map(m.phi, m.sigma_22, m.sigma_b22, q1, q1, c1))
    return dq, c2 * dq


def residual_moments(
    depth: int,
    *,
    norm: str,
    tokens: int,
    q0: float,
    p0: float,
    branch: float = 1.0,
    skip: float = 1.0,
    attention: AttentionVariances | None = AttentionVariances(),
    mlp: MLPVariances | None = None,
) -> Moments:
    """Expected (q^l, p^l), l = 0..depth, of a stack of identical blocks (module docstring).

    Args:
      depth: number of blocks L (>= 0).
      norm: "pre", "post" or "none".
      tokens: sequence length T (>= 1).
      q0, p0: moments of the input stream z^0 (q0 > 0, |p0| <= q0).
      branch: the branch multiplier b = tau * alpha.
      skip: the skip-path multiplier s (DeepNorm's alpha).
      attention: attention variances, or None for MLP-only blocks.
      mlp: MLP variances, or None for attention-only blocks.

    Returns:
      :class:`Moments` (float64). For post-LN, q^l = 1 for l >= 1.

    Raises:
      ValueError: bad norm, depth < 0, tokens < 1, q0 <= 0, |p0| > q0, non-finite multipliers.
    """
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(map(repr, NORMS))}, got {norm!r}")
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        raise ValueError(f"depth must be an integer >= 0, got {depth!r}")
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
        raise ValueError(f"tokens must be an integer >= 1, got {tokens!r}")
    q, p = _check("q0", q0, positive=True), float(p0)
    if not abs(p) <= q:
        raise ValueError(f"p0 must satisfy |p0| <= q0 = {q}, got {p0!r}")
    b2, s2 = float(branch) ** 2, _check("skip", skip) ** 2
    if not math.isfinite(b2):
        raise ValueError(f"branch must be finite, got {branch!r}")

    def sublayers():
        if attention is not None:
            yield lambda qi, pi: (attention_increment(qi, pi, tokens, attention),) * 2
        if mlp is not None:
            yield lambda qi, pi: mlp_increment(qi, pi, mlp)

    qs, ps = [q], [p]
    for _ in range(depth):
        for f in sublayers():
            if norm == "pre":
                dq, dp = f(1.0, p / q)
                q, p = s2 * q + b2 * dq, s2 * p + b2 * dp
            elif norm == "post":
                dq, dp = f(q, p)
                qt, pt = s2 * q + b2 * dq, s2 * p + b2 * dp
                q, p = 1.0, pt / qt
            else:
                dq, dp = f(q, p)
                q, p = s2 * q + b2 * dq, s2 * p + b2 * dp
        qs.append(q)
        ps.append(p)
    return Moments(np.asarray(qs, np.float64), np.asarray(ps, np.float64))


def linear_attention_moments(depth: int, *, tokens: int, q0: float, p0: float, x: float) -> Moments:
    """Closed form for attention-only, unnormalised blocks with zero biases and skip 1.

    x = branch^2 sigma_v2 sigma_o2. m^0 = (q0 + (T-1) p0) / T, G_l = (1 + x)^l - 1:
    q^l = q0 + m^0 G_l, p^l = p0 + m^0 G_l.
    """
    _check("x", x)
    m0 = (q0 + (tokens - 1) * p0) / tokens
    g = np.power(1.0 + float(x), np.arange(depth + 1, dtype=np.float64)) - 1.0
    return Moments(q0 + m0 * g, p0 + m0 * g)


def cosine_depth_limit(*, tokens: int, q0: float, p0: float, x: float) -> float:
    """lim_{L -> inf} rho^L of :func:`linear_attention_moments` with branch 1/sqrt(L), i.e. with
    x replaced by x / L: G -> e^x - 1 and rho -> (p0 + m0 (e^x - 1)) / (q0 + m0 (e^x - 1))."""
    m0 = (q0 + (tokens - 1) * p0) / tokens
    g = math.expm1(float(x))
    return (p0 + m0 * g) / (q0 + m0 * g)


def pre_ln_q_bounds(
    depth: int,
    *,
    tokens: int,
    q0: float,
    branch: float = 1.0,
    attention: AttentionVariances | None = AttentionVariances(),
    mlp: MLPVariances | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Linear growth of q^l in a pre-LN stack (skip 1): lower and upper bounds, l = 0..depth.

    Per block q grows by b^2 (A + M): M the MLP's q-map at unit input (constant), A the
    attention increment, between its values for orthogonal (p = 0) and collapsed (p = q = 1)
    LayerNorm outputs.
    """
    mq = mlp_increment(1.0, 0.0, mlp)[0] if mlp is not None else 0.0
    lo = hi = 0.0
    if attention is not None:
        lo = attention_increment(1.0, 0.0, tokens, attention)
        hi = attention_increment(1.0, 1.0, tokens, attention)
    b2 = float(branch) ** 2
    layers = np.arange(depth + 1, dtype=np.float64)
    return q0 + layers * b2 * (lo + mq), q0 + layers * b2 * (hi + mq)
