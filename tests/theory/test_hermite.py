"""The Mehler series of the equal-length c-map against closed-form kernels.

References: erf (Williams 1997): E[erf(u1) erf(u2)] = (2/pi) arcsin(2 q c / (1 + 2 q)); ReLU
(Cho & Saul 2009, arc-cosine kernel of degree 1): q (sqrt(1 - c^2) + (pi - arccos c) c) / (2 pi).
The series sums K terms exactly and models the rest as T c^m with the tail's exact value and slope
at c = 1. For any tail with non-negative coefficients on powers >= K with that value and slope,
Jensen's inequality (c^k convex in k) puts it between T c^m and T c^K: so the series never
exceeds the true kernel, and falls short of it by at most T (c^K - c^m).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from initjax import activations
from initjax.theory import hermite

C_GRID = np.array([0.0, 0.2, 0.5, 0.8, 0.9, 0.97, 0.99, 0.999, 1.0])


@functools.partial(jax.jit, static_argnums=0)
def _series_on_grid(act, q):
    """The coefficients at q (32 nodes, the default terms) and the series on C_GRID: one compiled
    program per activation, shared by the cases (called eagerly, every call traces the rule's
    lax.cond afresh and compiles it again, about 0.5 s a call on CPU, and every jnp operation of
    the series compiles a program of its own)."""
    s = hermite.c_map_series_coefficients(act, q, 32)
    return s, *hermite.series_cross_moment(s, jnp.asarray(C_GRID, q.dtype))


@jax.jit  # one compiled program for every activation's coefficients (same shapes)
def _deficit_checks(s, one_m, c):
    g, dg = hermite.series_deficit(s, 1.0 - one_m)
    v = hermite.series_cross_moment(s, c)[0]
    v1 = hermite.series_cross_moment(s, jnp.ones(1, c.dtype))[0]
    return g, dg, v, v1, hermite.series_deficit(s, c)[0]


def _erf_kernel(q, c):
    a = 2.0 * q / (1.0 + 2.0 * q)
    return 2.0 / np.pi * np.arcsin(a * c), 2.0 / np.pi * a / np.sqrt(1.0 - (a * c) ** 2)


def _relu_kernel(q, c):
    value = q * (np.sqrt(1.0 - c * c) + (np.pi - np.arccos(c)) * c) / (2.0 * np.pi)
    slope = q * (np.pi - np.arccos(c)) / (2.0 * np.pi)  # q E[step(u1) step(u2)]
    return value, slope


def _series(name, q):
    s, value, slope = _series_on_grid(activations.get(name), jnp.float64(q))
    return s, np.asarray(value), np.asarray(slope)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("q", [0.3, 1.0, 3.0])
def test_erf_series_matches_williams_kernel(q):
    s, value, slope = _series("erf", q)
    exact, exact_slope = _erf_kernel(q, C_GRID)
    tail, m, k = float(s.tail), float(s.power), hermite.DEFAULT_TERMS
    quad = 1e-9 * exact[-1]  # the 1-D rule's accuracy at q <= 4 (test_quadrature.py)
    assert np.all(value <= exact + quad)
    assert np.all(exact - value <= tail * (C_GRID**k - C_GRID**m) + quad)
    # Exact at both ends: E[phi]^2 at c = 0 (odd phi: 0) and E[phi^2], q E[phi'^2] at c = 1.
    assert value[0] == pytest.approx(0.0, abs=1e-12)
    assert value[-1] == pytest.approx(exact[-1], rel=1e-9)
    assert slope[-1] == pytest.approx(q * 4.0 / np.pi / np.sqrt(1.0 + 4.0 * q), rel=1e-9)
    np.testing.assert_allclose(slope[:-1], exact_slope[:-1], rtol=1e-4)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("q", [0.5, 2.0])
def test_relu_series_is_bracketed_by_the_jensen_bounds(q):
    # ReLU's Hermite coefficients decay like k^(-5/4): the tail is large, so this is the test
    # that the tail model stays inside its bracket, not that it is accurate.
    s, value, _ = _series("relu", q)
    exact, _ = _relu_kernel(q, C_GRID)
    tail, m, k = float(s.tail), float(s.power), hermite.DEFAULT_TERMS
    assert tail > 1e-4 * exact[-1]  # a real tail
    assert np.all(value <= exact + 1e-10)
    assert np.all(exact - value <= tail * (C_GRID**k - C_GRID**m) + 1e-10)
    assert value[-1] == pytest.approx(exact[-1], rel=1e-9)  # E[relu(u)^2] = q / 2


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("name,kernel", [("erf", _erf_kernel), ("relu", _relu_kernel)])
def test_deficit_has_no_cancellation_near_one(name, kernel):
    """G(c) = (K(1) - K(c)) / (1 - c) -> K'(1) = q E[phi'^2], accurate to 1 - c = 1e-12."""
    q = 1.3
    s = _series_on_grid(activations.get(name), jnp.float64(q))[0]
    one_m = np.array([1e-1, 1e-3, 1e-6, 1e-9, 1e-12])
    c = np.array([0.3, 0.7])
    g, dg, v, v1, g2 = (np.asarray(x) for x in _deficit_checks(s, one_m, c))
    k1 = kernel(q, 1.0)[1]
    # K(1) - K(c) = K'(1)(1 - c) - K''(1)(1 - c)^2 / 2 + ...: G -> K'(1) linearly in 1 - c. The
    # series' second derivative is within a factor of the kernel's, so allow 10 K''-sized terms
    # (ReLU's K'' is infinite at 1: there G - K'(1) ~ sqrt(1 - c)).
    scale = np.sqrt(one_m) if name == "relu" else one_m
    assert np.all(np.abs(g - k1) <= k1 * (10.0 * scale + 1e-9))  # + the rule's 1e-9
    assert np.all(dg > 0)  # G is increasing: every coefficient B_j of c^j is >= 0
    # Away from 1 it is the plain difference quotient of the series.
    np.testing.assert_allclose(g2, (v1 - v) / (1.0 - c), rtol=1e-12)


def test_float32_coefficients_track_float64():
    from initjax.theory.quadrature import expect_1d

    act = activations.get("tanh")

    @jax.jit  # the coefficients and the 1-D rule's E[phi^2] as one compiled program
    def coefficients_and_m0(q):
        m0 = expect_1d([lambda u: jnp.tanh(u) ** 2], q, 32)[0]
        s = hermite.c_map_series_coefficients(act, q, 32)
        return s, jnp.sum(s.b2) + s.tail, m0

    s32, total, m0 = coefficients_and_m0(jnp.float32(1.7))
    assert s32.b2.dtype == jnp.float32 and s32.b2.shape == (hermite.DEFAULT_TERMS,)
    # Orthonormal expansion: sum_k b_k^2 + T = E[phi^2]; here checked against the 1-D rule.
    assert float(total) == pytest.approx(float(m0), rel=1e-6)
