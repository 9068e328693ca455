"""Independent references for the quadrature tests: every registered activation written again in
numpy/scipy (with its derivative in closed form), and Gaussian expectations by
scipy.integrate.quad on many pieces (tolerance 1e-13 per piece).

The pieces split z at 0, at the activation's kinks mapped to z = kink / sqrt(q), at a geometric
ladder of activation scales 2^j / sqrt(q) and at a ladder of Gaussian scales: adaptive
Gauss–Kronrod then only has smooth pieces to resolve. Nothing here uses initjax's rules.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial.hermite_e import hermeval
from scipy import integrate, special

SQRT_2PI = math.sqrt(2.0 * math.pi)
SELU_LAMBDA = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717
Z_REF = 14.0  # Gaussian mass beyond: 1.6e-44


def _npdf(z):
    return np.exp(-0.5 * z * z) / SQRT_2PI


# name -> (phi, phi', kinks), numpy elementwise.
ACTIVATIONS = {
    "linear": (lambda x: x, lambda x: np.ones_like(x), ()),
    "tanh": (np.tanh, lambda x: 1.0 / np.cosh(np.minimum(np.abs(x), 350.0)) ** 2, ()),
    "relu": (lambda x: np.maximum(x, 0.0), lambda x: (x > 0) * 1.0, (0.0,)),
    "leaky_relu": (
        lambda x: np.where(x > 0, x, 0.01 * x),
        lambda x: np.where(x > 0, 1.0, 0.01),
        (0.0,),
    ),
    "erf": (special.erf, lambda x: 2.0 / math.sqrt(math.pi) * np.exp(-x * x), ()),
    "sigmoid": (special.expit, lambda x: special.expit(x) * special.expit(-x), ()),
    "selu": (
        lambda x: SELU_LAMBDA * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0.0))),
        lambda x: SELU_LAMBDA * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(x, 0.0))),
        (0.0,),
    ),
    "elu": (
        lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
        lambda x: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0.0))),
        (0.0,),
    ),
    "gelu": (lambda x: x * special.ndtr(x), lambda x: special.ndtr(x) + x * _npdf(x), ()),
    "silu": (
        lambda x: x * special.expit(x),
        lambda x: special.expit(x) * (1.0 + x * special.expit(-x)),
        (),
    ),
    "softplus": (lambda x: np.logaddexp(0.0, x), special.expit, ()),
    "hard_tanh": (
        lambda x: np.clip(x, -1.0, 1.0),
        lambda x: ((x > -1.0) & (x < 1.0)) * 1.0,
        (-1.0, 1.0),
    ),
    "sin": (np.sin, np.cos, ()),
    "softsign": (lambda x: x / (1.0 + np.abs(x)), lambda x: 1.0 / (1.0 + np.abs(x)) ** 2, (0.0,)),
}


def _scalar(f):
    return lambda u: float(f(np.float64(u)))


def z_breaks(q: float, kinks=()) -> list[float]:
    """Piece boundaries in z for u = sqrt(q) z on [-Z_REF, Z_REF]."""
    s = math.sqrt(q)
    pts = {0.0, *(k / s for k in kinks)}
    for j in range(-4, 14):
        pts |= {2.0**j / s, -(2.0**j) / s}
    pts |= {v for a in (0.5, 1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13) for v in (a, -a)}
    inner = sorted(p for p in pts if -Z_REF < p < Z_REF)
    return [-Z_REF, *inner, Z_REF]


def gauss_1d(f, q: float, kinks=()) -> float:
    """E[f(sqrt(q) z)], z ~ N(0, 1), f a scalar function of u."""
    s = math.sqrt(q)

    def g(z):
        return f(s * z) * math.exp(-0.5 * z * z) / SQRT_2PI

    br = z_breaks(q, kinks)
    return math.fsum(
        integrate.quad(g, a, b, epsabs=1e-300, epsrel=1e-13, limit=200)[0]
        for a, b in zip(br[:-1], br[1:], strict=True)
    )


def moments_1d(name: str, q: float) -> dict[str, float]:
    """The 1-D Gaussian moments the theory uses, for activation ``name`` at variance q."""
    phi, dphi, kinks = ACTIVATIONS[name]
    f, d = _scalar(phi), _scalar(dphi)
    s = math.sqrt(q)
    return {
        "phi2": gauss_1d(lambda u: f(u) ** 2, q, kinks),
        "phi": gauss_1d(f, q, kinks),
        "dphi2": gauss_1d(lambda u: d(u) ** 2, q, kinks),
        "dphi4": gauss_1d(lambda u: d(u) ** 4, q, kinks),
        # d/dq E[phi^2] = E[z phi phi'] / sqrt(q) (Stein).
        "slope": gauss_1d(lambda u: u / s * f(u) * d(u), q, kinks) / s,
    }


def hermite_coefficients(name: str, q: float, terms: int) -> np.ndarray:
    """b_k = E[phi(sqrt(q) z) He_k(z)] / sqrt(k!), k < terms."""
    phi, _, kinks = ACTIVATIONS[name]
    f = _scalar(phi)
    out = []
    for k in range(terms):
        c = np.zeros(k + 1)
        c[k] = 1.0 / math.sqrt(math.factorial(k))
        out.append(gauss_1d(lambda u, c=c: f(u) * hermeval(u / math.sqrt(q), c), q, kinks))
    return np.array(out)


def gauss_2d(f, g, q1: float, q2: float, c: float, kinks=()) -> float:
    """E[f(u1) g(u2)] by nested scipy quad on pieces; f, g scalar functions."""
    s1, s2 = math.sqrt(q1), math.sqrt(q2)
    sc = math.sqrt(max((1.0 - c) * (1.0 + c), 0.0))

    def inner(z1):
        m, sd = s2 * c * z1, s2 * sc
        if sd == 0.0:
            return g(m)
        pts = {0.0, *(v for a in (0.5, 1, 2, 3, 4, 6, 8, 10, 12) for v in (a, -a))}
        for u in (0.0, *kinks, *(v for j in range(-4, 14) for v in (2.0**j, -(2.0**j)))):
            pts.add((u - m) / sd)
        br = [-Z_REF, *sorted(p for p in pts if -Z_REF < p < Z_REF), Z_REF]

        def h(z2):
            return g(m + sd * z2) * math.exp(-0.5 * z2 * z2) / SQRT_2PI

        return math.fsum(
            integrate.quad(h, a, b, epsabs=1e-300, epsrel=1e-12, limit=100)[0]
            for a, b in zip(br[:-1], br[1:], strict=True)
        )

    def outer(z1):
        return f(s1 * z1) * inner(z1) * math.exp(-0.5 * z1 * z1) / SQRT_2PI

    # The inner integral, as a function of z1, varies on g's scale seen through u2 = s2 c z1 + ...:
    # break at the activation ladder and kinks mapped through s2 c too (q2 >> q1, |c| ~ 1).
    br = set(z_breaks(q1, kinks))
    if c != 0.0:
        br |= set(z_breaks(q2 * c * c, kinks))  # symmetric in z
    br = sorted({-12.0, *(b for b in br if abs(b) <= 12.0), 12.0})
    return math.fsum(
        integrate.quad(outer, a, b, epsabs=1e-300, epsrel=1e-12, limit=100)[0]
        for a, b in zip(br[:-1], br[1:], strict=True)
    )


def cross_2d(name: str, q: float, c: float) -> tuple[float, float]:
    """(E[phi(u1) phi(u2)], E[phi'(u1) phi'(u2)]) at equal variance q, correlation c."""
    phi, dphi, kinks = ACTIVATIONS[name]
    f, d = _scalar(phi), _scalar(dphi)
    return gauss_2d(f, f, q, q, c, kinks), gauss_2d(d, d, q, q, c, kinks)
