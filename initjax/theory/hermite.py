"""The equal-length c-map as a Hermite (Mehler) power series in c, with an exact-endpoint tail.

For u1, u2 with equal variance q and correlation c, Mehler's formula gives

    E[phi(u1) phi(u2)] = sum_k b_k^2 c^k,   b_k = E[phi(sqrt(q) z) He_k(z)] / sqrt(k!),

(z ~ N(0, 1), He_k the probabilists' Hermite polynomials; e.g. Poole et al. 2016, SM; Daniely
et al. 2016 "dual activations"). A 1-D integral per coefficient replaces the 2-D integral per c, so
once the K coefficients of a cell are known every c-map evaluation costs O(K).

The first K terms are summed exactly; the tail sum_{k>=K} b_k^2 c^k is modelled as T c^m with T
and m matched to its two known values at c = 1:

    sum_k b_k^2 = E[phi(u)^2],      sum_k k b_k^2 = q E[phi'(u)^2]       (Price's theorem),

so the series is exact at c = 1 and at c = 0, and the tail's error elsewhere is bounded by T c^K.
The fixed-point solver uses it only to *start* Newton's method on the exact quadrature c-map
(fixed_points.c_star_), which makes the costly 2-D evaluations per cell one or two.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from initjax.activations import Activation
from initjax.theory.quadrature import (
    Q_SMALL,
    Z_MAX,
    Layout,
    features,
    gaussian_rule,
    static_rule,
)

__all__ = ["CMapSeries", "c_map_series_coefficients", "series_cross_moment", "series_deficit"]

# Terms summed exactly. The tail model carries the rest; 24 keeps every coefficient's 1-D
# integrand well resolved by the 2 x 32-node rule (degree <= 23 polynomial times a smooth phi).
DEFAULT_TERMS = 24


class CMapSeries(NamedTuple):
    """Coefficients of E[phi(u1) phi(u2)] in powers of c at equal length q.

    Attributes:
      b2: shape (..., K), b_k^2 for k < K.
      tail: shape (...,), T = sum_{k>=K} b_k^2 = E[phi^2] - sum_{k<K} b_k^2 (>= 0).
      power: shape (...,), m = sum_{k>=K} k b_k^2 / T, clamped to >= K. Where T is below
        rounding, m = K and T = that slope sum / K instead.
    """

    b2: jax.Array
    tail: jax.Array
    power: jax.Array


# The Gaussian ladder of the Hermite rule: h_j h_k (degree up to 2K - 2 = 46) oscillate on a
# scale ~ 1/sqrt(K) out to |z| ~ 9, so this ladder is denser than the moments' one.
HERMITE_LADDER = (-8.5, -7.0, -5.5, -4.0, -2.5, -1.0, 0.0, 1.0, 2.5, 4.0, 5.5, 7.0, 8.5)
# Without the activation ladder for q <= Q_SMALL (as the moments' rules), with it above.
HERMITE_SMALL = Layout(HERMITE_LADDER, 0)
HERMITE_FULL = Layout(HERMITE_LADDER, 9)


@functools.lru_cache(maxsize=8)
def _truncation_defects(terms: int) -> tuple[np.ndarray, np.ndarray]:
    """-int_{|z| > Z_MAX} h_j h_k dN(z) and the same for h_j' h_k', shape (K, K), float64.

    The rules stop at |z| = Z_MAX = 10, where the highest h_k still carry weight (2e-2 of
    E[h_23^2]); the residual integrals below add these known defects back. Computed once by a
    composite Gauss–Legendre rule on [10, 40] (the integrand is below 1e-150 at 40).
    """
    t, wt = np.polynomial.legendre.leggauss(40)
    edges = np.linspace(Z_MAX, 40.0, 61)
    a, b = edges[:-1, None], edges[1:, None]
    z = (a + 0.5 * (b - a) * (t + 1.0)).ravel()
    w = (0.5 * (b - a) * wt).ravel() * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)
    h, dh = _hermite_np(z, terms)
    parity = 1.0 + (-1.0) ** np.add.outer(np.arange(terms), np.arange(terms))  # both tails
    return -parity * ((h * w) @ h.T), -parity * ((dh * w) @ dh.T)


def _hermite_np(z: np.ndarray, terms: int) -> tuple[np.ndarray, np.ndarray]:
    h = np.zeros((terms + 1, z.size))
    h[0] = 1.0
    h[1] = z
    for k in range(1, terms):
        h[k + 1] = (z * h[k] - np.sqrt(k) * h[k - 1]) / np.sqrt(k + 1)
    dh = np.sqrt(np.arange(terms))[:, None] * np.vstack([np.zeros_like(z), h[: terms - 1]])
    return h[:terms], dh


def _project(z: jax.Array, w: jax.Array, f: jax.Array, terms: int) -> jax.Array:
    """b_k = sum_n w f h_k(z) for k < terms: shape z.shape[:-1] + (terms,).

    h_k(z) = He_k(z) / sqrt(k!) by the normalised recurrence
    h_{k+1} = (z h_k - sqrt(k) h_{k-1}) / sqrt(k + 1), whose values stay O(z^k / sqrt(k!)), far
    from overflow on |z| <= 10. A ``lax.scan`` over k: unrolled, XLA would fuse the chain into
    every consumer and recompute it.
    """
    wf = w * f

    def step(carry, k):
        h_prev, h = carry
        nxt = (z * h - jnp.sqrt(k) * h_prev) / jnp.sqrt(k + 1.0)
        return (h, nxt), jnp.sum(wf * h, axis=-1)

    ks = jnp.arange(terms, dtype=z.dtype)
    _, b = jax.lax.scan(step, (jnp.zeros_like(z), jnp.ones_like(z)), ks)
    return jnp.moveaxis(b, 0, -1)


def _residuals(z: jax.Array, b: jax.Array, f: jax.Array, df: jax.Array):
    """f - sum_k b_k h_k and df - sum_k b_k h_k' (h_k' = sqrt(k) h_{k-1}), pointwise."""

    def step(carry, xs):
        h_prev, h, r, rd = carry
        k, bk = xs
        r = r - bk[..., None] * h
        rd = rd - bk[..., None] * jnp.sqrt(k) * h_prev
        nxt = (z * h - jnp.sqrt(k) * h_prev) / jnp.sqrt(k + 1.0)
        return (h, nxt, r, rd), None

    ks = jnp.arange(b.shape[-1], dtype=z.dtype)
    init = (jnp.zeros_like(z), jnp.ones_like(z), f, df)
    (_, _, r, rd), _ = jax.lax.scan(step, init, (ks, jnp.moveaxis(b, -1, 0)))
    return r, rd


def c_map_series_coefficients(
    act: Activation, q: jax.Array, nodes: int, terms: int = DEFAULT_TERMS
) -> CMapSeries:
    """Mehler coefficients b_k^2 (k < terms) and the two-moment tail of the series.

    Args:
      act: resolved activation.
      q: equal pre-activation variance of both inputs, any shape, float; q > 0.
      nodes: Gauss–Legendre nodes per panel (quadrature.py); the Hermite rule uses a denser
        Gaussian ladder than the moments' rules.
      terms: K, the number of exactly summed terms.

    Returns:
      :class:`CMapSeries` with leading shape ``q.shape``, dtype of ``q``.
    """
    dtype = q.dtype
    sq = jnp.sqrt(q)
    gram, gram_d = (jnp.asarray(a, dtype) for a in _truncation_defects(terms))

    def integrals(layout):
        feat = features(act)
        static = static_rule(feat, nodes, layout)
        if static is None:
            z, w = gaussian_rule(None, sq, feat, nodes, layout)
        else:  # constant nodes: the Hermite table once, as for a fixed rule
            z, w = (jnp.asarray(x, dtype) for x in static)
        u = sq[..., None] * z
        phi = act.fn(u)
        if static is None:
            b = _project(z, w, phi, terms)  # (..., K)
            resid, resid_d = _residuals(z, b, phi, sq[..., None] * act.derivative(u))
        else:
            h, dh = (jnp.asarray(x, dtype) for x in _hermite_np(static[0], terms))
            b = (w * phi) @ h.T
            resid = phi - b @ h
            resid_d = sq[..., None] * act.derivative(u) - b @ dh
        # The tail's value and slope at c = 1 are the second moments of the residual function
        # f - sum_k b_k h_k and of its z-derivative (orthonormality: sum_k b_k^2 = E[f^2] and
        # sum_k k b_k^2 = E[f'(z)^2], f(z) = phi(sqrt(q) z)). Integrating the pointwise
        # residual, not differencing the totals, keeps T's relative error near eps / sqrt(T)
        # instead of eps / T; the quadratic forms add back what the rules' cut at |z| = 10
        # misses of the residual (-sum_k b_k h_k grows there), exactly: the defects are known.
        tail = jnp.sum(w * resid * resid, axis=-1) - jnp.sum((b @ gram) * b, axis=-1)
        slope = jnp.sum(w * resid_d * resid_d, axis=-1) - jnp.sum((b @ gram_d) * b, axis=-1)
        return b, tail, slope, jnp.sum(w * phi * phi, axis=-1)

    b, tail, slope_tail, m0 = jax.lax.cond(
        jnp.all(q <= Q_SMALL),
        lambda: integrals(HERMITE_SMALL),
        lambda: integrals(HERMITE_FULL),
    )
    tail = jnp.maximum(tail, 0.0)
    slope_tail = jnp.maximum(slope_tail, 0.0)
    # A T below (16 eps)^2 E[phi^2] is rounding noise, while the tail's slope (about K T) can still
    # matter near c = 1, where the c* solver works: keep the slope, with m = K.
    eps = jnp.finfo(dtype).eps
    resolved = tail > 256.0 * eps * eps * m0
    power = jnp.maximum(slope_tail / jnp.where(resolved, tail, 1.0), float(terms))
    power = jnp.where(resolved, power, float(terms))
    tail = jnp.where(resolved, tail, slope_tail / terms)
    return CMapSeries(b * b, tail, power)


def _powers(s: CMapSeries, c: jax.Array):
    """c^m for the tail and 1 - c = d, computed without cancellation (c in [0, 1])."""
    d = jnp.maximum(1.0 - c, jnp.finfo(c.dtype).tiny)
    log_c = jnp.log1p(-d)
    return d, log_c, jnp.exp(s.power * log_c)


def series_cross_moment(s: CMapSeries, c: jax.Array) -> tuple[jax.Array, jax.Array]:
    """E[phi(u1) phi(u2)] and its derivative in c from the series, for c in [0, 1].

    Args:
      s: coefficients from :func:`c_map_series_coefficients` (leading shape S).
      c: correlations, shape S.

    Returns:
      (value, d value / dc), each shape S.
    """
    terms = s.b2.shape[-1]
    val = jnp.zeros_like(c)
    der = jnp.zeros_like(c)
    for k in range(terms - 1, -1, -1):  # Horner, value and derivative together
        der = der * c + val
        val = val * c + s.b2[..., k]
    _, _, cm = _powers(s, c)
    cpos = jnp.maximum(c, jnp.finfo(c.dtype).tiny)
    return val + s.tail * cm, der + s.tail * s.power * cm / cpos


def series_deficit(s: CMapSeries, c: jax.Array) -> tuple[jax.Array, jax.Array]:
    """G(c) = (E[phi(u)^2] - E[phi(u1) phi(u2)]) / (1 - c) and G'(c), for c in [0, 1).

    Computed without the cancellation of the difference: with suffix sums B_j = sum_{k>j} b_k^2,
    G(c) = sum_j B_j c^j + T (1 - c^m) / (1 - c), every term positive. The c* solver needs
    exactly this quantity (h(c) = sigma_w2 G(c) / q^l - 1 without dropout), and near c = 1 the
    direct difference loses all its digits in float32.

    Returns:
      (G, dG/dc), each of the shape of ``c``; G(1-) = q E[phi'^2] (Price's theorem).
    """
    terms = s.b2.shape[-1]
    suffix = jnp.cumsum(s.b2[..., ::-1], axis=-1)[..., ::-1]  # B'_j = sum_{k>=j} b_k^2
    val = jnp.zeros_like(c)
    der = jnp.zeros_like(c)
    for j in range(terms - 1, 0, -1):  # coefficient of c^(j-1) is B'_j
        der = der * c + val
        val = val * c + suffix[..., j]
    d, log_c, cm = _powers(s, c)
    r = -jnp.expm1(s.power * log_c) / d  # (1 - c^m) / (1 - c) = 1 + c + ... (m terms)
    cpos = jnp.maximum(c, jnp.finfo(c.dtype).tiny)
    dr = (r - s.power * cm / cpos) / d
    return val + s.tail * r, der + s.tail * dr
