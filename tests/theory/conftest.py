import jax
import numpy as np
import pytest
from scipy import integrate

# Reference integrals for the tests: scipy adaptive quadrature, independent of initjax's rules.
_N = lambda z: np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)  # noqa: E731


@pytest.fixture
def x64():
    """float64 for the duration of one test (x64 stays off by default)."""
    with jax.enable_x64(True):
        yield


def gauss_1d(f, q):
    """E[f(sqrt(q) z)], z ~ N(0, 1), by scipy.integrate.quad split at z = 0."""
    g = lambda z: f(np.sqrt(q) * z) * _N(z)  # noqa: E731
    a = integrate.quad(g, -14, 0, epsabs=1e-15, epsrel=1e-13, limit=500)[0]
    b = integrate.quad(g, 0, 14, epsabs=1e-15, epsrel=1e-13, limit=500)[0]
    return a + b


def gauss_2d(f, g, q1, q2, c):
    """E[f(u1) g(u2)] by nested scipy quad; the inner integral is split where u2 = 0."""
    s = np.sqrt(max(1.0 - c * c, 0.0))

    def inner(z1):
        m = np.sqrt(q2) * c * z1
        if s == 0.0:
            return g(m)
        h = lambda z2: g(m + np.sqrt(q2) * s * z2) * _N(z2)  # noqa: E731
        split = float(np.clip(-c * z1 / s, -14, 14))
        return sum(
            integrate.quad(h, lo, hi, epsabs=1e-14, epsrel=1e-12, limit=300)[0]
            for lo, hi in ((-14, split), (split, 14))
            if hi > lo
        )

    out = lambda z1: f(np.sqrt(q1) * z1) * inner(z1) * _N(z1)  # noqa: E731
    a = integrate.quad(out, -12, 0, epsabs=1e-14, epsrel=1e-12, limit=300)[0]
    b = integrate.quad(out, 0, 12, epsabs=1e-14, epsrel=1e-12, limit=300)[0]
    return a + b
