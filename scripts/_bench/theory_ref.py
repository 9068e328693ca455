"""A scipy reference for case 5: the mean-field quantities of one (sigma_w2, sigma_b2) cell computed
with ``scipy.integrate.quad`` / ``dblquad`` per integral, as public reference code does it.

Same integrals as initjax.theory (Poole et al. 2016, eqs. 3-5; Schoenholz et al. 2017, eqs. 7-9),
z ~ N(0, 1), u1 = sqrt(q) z1, u2 = sqrt(q) (c z1 + sqrt(1 - c^2) z2):

    q-map  q' = sigma_w2 E[phi(sqrt(q) z)^2] + sigma_b2            (iterated from q0 = 1 to q*)
    chi_1     = sigma_w2 E[phi'(sqrt(q*) z)^2]
    c-map  c' = (sigma_w2 E[phi(u1) phi(u2)] + sigma_b2) / q*     (iterated from c = 0 to c*,
                                                                  only when chi_1 > 1; else c* = 1)
    chi_c     = sigma_w2 E[phi'(u1) phi'(u2)] at (q*, c*)  (= chi_1 when c* = 1)
    xi_c      = -1 / log(chi_c)                                   (inf when chi_c >= 1)
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate

_LIM = 10.0  # |z| > 10 carries Gaussian mass < 2e-23
_NORM = 1.0 / math.sqrt(2.0 * math.pi)


def _gauss(f) -> float:
    return integrate.quad(lambda z: f(z) * math.exp(-0.5 * z * z) * _NORM, -_LIM, _LIM)[0]


def _gauss2(f) -> float:
    def g(z2, z1):
        return f(z1, z2) * math.exp(-0.5 * (z1 * z1 + z2 * z2)) * _NORM * _NORM

    return integrate.dblquad(g, -_LIM, _LIM, -_LIM, _LIM, epsabs=1e-10, epsrel=1e-8)[0]


def _dtanh(x: float) -> float:
    return 1.0 - math.tanh(x) ** 2


def tanh_cell(
    sigma_w2: float, sigma_b2: float, *, q0: float = 1.0, tol: float = 1e-8, max_iter: int = 200
) -> dict[str, float]:
    """q*, chi_1, c*, chi_c, xi_c for tanh at one cell (see module docstring)."""
    q = q0
    for _ in range(max_iter):
        sq = math.sqrt(q)
        q_new = sigma_w2 * _gauss(lambda z, sq=sq: math.tanh(sq * z) ** 2) + sigma_b2
        done = abs(q_new - q) <= tol * max(1.0, q)
        q = q_new
        if done:
            break
    sq = math.sqrt(q)
    chi_1 = sigma_w2 * _gauss(lambda z: _dtanh(sq * z) ** 2)
    if chi_1 <= 1.0 or q == 0.0:
        c, chi_c = 1.0, chi_1
    else:
        c = 0.0
        for _ in range(max_iter):
            s = math.sqrt(max(0.0, 1.0 - c * c))
            e = _gauss2(
                lambda z1, z2, c=c, s=s: math.tanh(sq * z1) * math.tanh(sq * (c * z1 + s * z2))
            )
            c_new = (sigma_w2 * e + sigma_b2) / q
            done = abs(c_new - c) <= 1e-6
            c = c_new
            if done:
                break
        s = math.sqrt(max(0.0, 1.0 - c * c))
        chi_c = sigma_w2 * _gauss2(lambda z1, z2: _dtanh(sq * z1) * _dtanh(sq * (c * z1 + s * z2)))
    xi_c = math.inf if chi_c >= 1.0 else (-1.0 / math.log(chi_c) if chi_c > 0 else 0.0)
    return {"q_star": q, "chi_1": chi_1, "c_star": c, "chi_c": chi_c, "xi_c": xi_c}


def rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|b|, 1e-12) over entries where both are finite (nan if none)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    if not ok.any():
        return float("nan")
    return float(np.max(np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-12)))
