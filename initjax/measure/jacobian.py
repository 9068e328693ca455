"""Singular values of a deep network's input-output Jacobian without the float32 floor.

Forming J = J_L ... J_1 J_0 explicitly in float32 and taking its SVD resolves only singular
values above about eps_32 * sigma_max (eps_32 = 1.19e-7): every smaller one is rounding noise,
wrong by orders of magnitude on an ill-conditioned network. Here J is never formed. The
tangents are carried as an orthonormal basis and a row-scaled triangular factor,

    J_l ... J_0 = Q_l diag(2^g_l) P_l,

Q_l ``(N, k)`` orthonormal columns, g_l ``(k,)`` integer log2 row scales, P_l ``(k, n)`` whose
rows have their largest entry in [1/2, 1), k = min(N, n) (N features, n inputs). Layer l + 1
pushes the k columns of Q_l through its Jacobian (forward-mode tangents), re-orthonormalizes
them by a Householder QR, J_{l+1} Q_l = Q_{l+1} R, and folds R into the factor: row i of
R diag(2^g) P is summed with every term scaled by a power of two bounding its row's largest
(exact scalings), so nothing overflows and no small row is swamped by a large one (the QR
method for Lyapunov spectra, Benettin et al. 1980; Geist, Parlitz & Lauterborn 1990).

The singular values of J are those of diag(2^g) P, a row-graded matrix, computed on the host in
float64 by LAPACK's preconditioned Jacobi SVD (``dgejsv``), which gets every singular value of a
column-scaled matrix B D to a relative accuracy of about eps_64 * cond(B), however large the
grading (Demmel & Veselic 1992; Drmac & Veselic 2008).

Accuracy (float32 layers): a Householder QR is backward stable and the scalings are exact, so a
layer's rounding acts like a perturbation of its Jacobian of O(eps_32) relative to its norm, the
precision to which float32 defines it; small singular values then carry *relative* errors
(amplified by the layers' conditioning), not the absolute eps_32 * sigma_max of the explicit
product. Per seed the computation reports

- ``rtol`` = eps_32 * (cond(C) + sum over layers of max |r_ii| / min |r_ii|): an estimate of
  the largest relative error of any singular value. C is the final factor P with unit columns
  (the sensitivity of the spectrum to float32 rounding of the factor, Demmel & Veselic 1992);
  the sum bounds from below each layer's conditioning, through which its rounding errors enter.
  Measured against 50-digit references (tests/measure/test_jacobian.py): random tanh networks
  of width 16 and depth 20-40 (spans 1e18-1e43) have errors of 0.1-0.5 rtol (at most 1e-4).
- ``floor``, the value below which a singular value is not resolved: sigma_max * sqrt(k) *
  eps_32 when rtol >= 1/2 (the factor no longer determines small values, e.g. a rank-deficient
  Jacobian; only the normwise bound of the explicit product holds), else the float64 range
  limit sigma_max * 2^-960 (smaller values underflow in the final SVD).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["start", "step", "spectrum", "EPS32", "RANGE_FLOOR"]

EPS32 = float(np.finfo(np.float32).eps)
# Relative size below sigma_max where the float64 SVD of the scaled factor underflows.
RANGE_FLOOR = 2.0**-960
_HI = jax.lax.Precision.HIGHEST


def _rows(p: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(g, rows scaled by 2^-g so their largest entry lies in [1/2, 1)); exact (powers of two).

    g is float32 holding integers (log2 scales); an all-zero row gets g = -inf and stays 0.
    """
    _, e = jnp.frexp(jnp.max(jnp.abs(p), axis=1))
    nz = jnp.any(p != 0, axis=1)
    g = jnp.where(nz, e.astype(jnp.float32), -jnp.inf)
    return g, jnp.ldexp(p, jnp.where(nz, -e, 0)[:, None])


def start(b: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Factor the first layer's tangents ``b`` ``(N, n)`` (column j = d z^0 / d x_j).

    Returns:
      (Q ``(N, k)``, g ``(k,)``, P ``(k, n)``, kappa ``()``), float32, k = min(N, n); kappa
      sums max |r_ii| / min |r_ii| of every QR so far (the layers' conditioning, for rtol).
    """
    q, r = jnp.linalg.qr(b.astype(jnp.float32))
    g, p = _rows(r)
    return q, g, p, _kappa(r)


def _kappa(r: jax.Array) -> jax.Array:
    """max |r_ii| / min |r_ii|: a lower bound on the condition number of triangular r."""
    d = jnp.abs(jnp.diagonal(r))
    return jnp.max(d) / jnp.min(d)


def step(
    b: jax.Array, g: jax.Array, p: jax.Array, kappa: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Fold one layer in: ``b`` ``(N', k)`` = the layer's Jacobian applied to the previous Q.

    Returns:
      (Q ``(N', k')``, g ``(k',)``, P ``(k', n)``, kappa) with k' = min(N', k).
    """
    q, r = jnp.linalg.qr(b.astype(jnp.float32))
    # Row i of R diag(2^g) P, each term R_ik 2^g_k P_k scaled by 2^-m_i, 2^m_i bounding its
    # largest |R_ik| 2^g_k: factors in (-1, 1), exact (power-of-two scaling; terms below
    # float32's range relative to the row's largest flush to 0); zero terms contribute 0.
    _, e = jnp.frexp(r)
    lg = jnp.where(r != 0, e.astype(jnp.float32) + g[None, :], -jnp.inf)
    m = jnp.max(lg, axis=1)
    m = jnp.where(jnp.isfinite(m), m, 0.0)
    shift = jnp.clip(g[None, :] - m[:, None], -400.0, 400.0)  # |R_ik| 2^shift < 1
    fac = jnp.ldexp(r, jnp.where(jnp.isfinite(shift), shift, -400.0).astype(jnp.int32))
    g_new, p_new = _rows(jnp.matmul(fac, p, precision=_HI))
    return q, m + g_new, p_new, kappa + _kappa(r)


def _svd_graded(a_t: np.ndarray) -> np.ndarray:
    """Singular values (descending) of a tall column-scaled float64 matrix, high relative
    accuracy (``dgejsv``); LAPACK's ``gesdd`` if ``dgejsv`` is unavailable or fails."""
    try:
        from scipy.linalg import lapack

        out = lapack.dgejsv(a_t, joba=0, jobu=3, jobv=3, jobr=0, jobp=0)
        sva, work, info = out[0], out[3], out[-1]
        if info == 0 and work[0] != 0:
            return np.sort(np.asarray(sva) * (work[1] / work[0]))[::-1]
    except (ImportError, AttributeError, ValueError):  # pragma: no cover - old scipy
        pass
    return np.linalg.svd(a_t, compute_uv=False)  # pragma: no cover


def _one(g: np.ndarray, p: np.ndarray, kappa: float) -> tuple[np.ndarray, float, float]:
    k = g.shape[0]
    n = min(k, p.shape[1])
    if np.any(np.isnan(g)) or np.any(g == np.inf) or not np.all(np.isfinite(p)):
        return np.full(n, np.nan), math.nan, math.nan
    fin = np.isfinite(g)  # g = -inf: an exactly zero row (an exact zero singular value)
    sv = np.zeros(n)
    if not fin.any():  # the Jacobian is exactly zero
        return sv, 0.0, 0.0
    gm = int(np.max(g[fin]))
    pf = p[fin]
    with np.errstate(under="ignore"):
        a = np.ldexp(pf, (g[fin] - gm).astype(np.int64)[:, None])
    s = _svd_graded(np.ascontiguousarray(a.T))[: pf.shape[0]]
    cols = np.linalg.norm(pf, axis=0)
    c = pf[:, cols > 0] / cols[cols > 0]
    cs = np.linalg.svd(c, compute_uv=False)
    kc = float(cs[0] / cs[-1]) if cs[-1] > 0 else math.inf
    rtol = EPS32 * (kc + kappa) if math.isfinite(kappa) else math.inf
    with np.errstate(over="ignore", under="ignore"):
        sv[: s.shape[0]] = np.ldexp(s, gm)
    rel = math.sqrt(k) * EPS32 if rtol >= 0.5 else RANGE_FLOOR
    with np.errstate(over="ignore"):
        floor = float(sv[0]) * rel
    return sv, floor, rtol


def spectrum(
    g: np.ndarray, p: np.ndarray, kappa: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Singular values of diag(2^g) P for every leading index.

    Args:
      g: ``(..., k)`` log2 row scales; p: ``(..., k, n)``; kappa: ``(...)`` the sum over layers
      of each QR's max |r_ii| / min |r_ii| (all from :func:`step`).

    Returns:
      (sv ``(..., min(k, n))`` float64 descending, floor ``(...)`` float64, rtol ``(...)``
      float64); NaN where the factor is not finite (a diverged network). See the module
      docstring for floor and rtol.
    """
    g = np.asarray(g, np.float64)
    p = np.asarray(p, np.float64)
    kappa = np.asarray(kappa, np.float64)
    lead = g.shape[:-1]
    n = min(g.shape[-1], p.shape[-1])
    sv = np.empty((*lead, n))
    floor = np.empty(lead)
    rtol = np.empty(lead)
    for idx in np.ndindex(*lead):
        sv[idx], floor[idx], rtol[idx] = _one(g[idx], p[idx], float(kappa[idx]))
    return sv, floor, rtol
