"""Closed forms (linear, ReLU/leaky ReLU, erf, sin) against independently derived values."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm

from initjax import activations
from initjax.theory import c_map, closed_forms, moments, q_map
from initjax.theory._common import Rule

AUTO = Rule("auto", 32)
QUAD = Rule("quadrature", 32)


# The moment functions under one jit per (function, activation, rule), shared by the cases below:
# called eagerly, every call traces the quadrature's lax.cond afresh and compiles it again
# (about 0.5 s a call on CPU); traced once, the values are the same computation. Moments that
# the tests always compare together share one program: E[phi(u1) phi(u2)] and E[phi'(u1) phi'(u2)]
# at the same (q1, q2, c); mu_1 and mu_2 at the same q. Compiled as two programs they took 1.6-1.8
# times as long (the quadrature's nodes and panel layout are built once in one program). For
# erf and sin, whose tests compare the 1-D moments too, one program per rule also returns
# E[phi(u)^2], mu_1 and mu_2 at q1 (erf: 2 programs instead of 6; sin: 2 instead of 4).
def _pair_(act, q1, q2, c, rule):
    return (
        moments.cross_moment(act, q1, q2, c, rule),
        moments.deriv_cross_moment(act, q1, q2, c, rule),
    )


_pair = jax.jit(_pair_, static_argnums=(0, 4))
_all = jax.jit(
    lambda act, q1, q2, c, rule: (
        _pair_(act, q1, q2, c, rule)
        + (moments.second_moment(act, q1, rule),)
        + tuple(moments.deriv_power_moment(act, q1, k, rule) for k in (1, 2))
    ),
    static_argnums=(0, 4),
)
GRID = list(itertools.product([0.1, 1.0, 3.0], [0.4, 2.0], [-0.95, -0.5, 0.0, 0.5, 0.95, 1.0]))


def _relu_pair_ref(q1, q2, c, sign1=1.0, sign2=1.0):
    """E[relu(sign1 u1) relu(sign2 u2)] by a 1-D scipy integral.

    Given z1, u2 = m + sd Z with m = sqrt(q2) c z1, sd = sqrt(q2 (1 - c^2)), and
    E[relu(a + b Z)] = a Phi(a/|b|) + |b| phi(a/|b|) (rectified Gaussian mean), so only z1 with
    sign1 z1 > 0 contributes. Independent of the arc-cosine formula.
    """
    sd = math.sqrt(q2 * max(1.0 - c * c, 0.0))

    def inner(z1):
        a = sign2 * math.sqrt(q2) * c * z1
        if sd == 0.0:
            return max(a, 0.0)
        return a * norm.cdf(a / sd) + sd * norm.pdf(a / sd)

    f = lambda z1: sign1 * math.sqrt(q1) * z1 * inner(z1) * norm.pdf(z1)  # noqa: E731
    lo, hi = (0.0, 40.0) if sign1 > 0 else (-40.0, 0.0)
    return integrate.quad(f, lo, hi, epsabs=1e-15, epsrel=1e-13, limit=200)[0]


def _orthant_ref(c, sign1=1.0, sign2=1.0):
    """P(sign1 u1 > 0, sign2 u2 > 0) = E[1{sign1 z1 > 0} Phi(sign2 c z1 / s)] by scipy quad."""
    s = math.sqrt(max(1.0 - c * c, 0.0))
    if s == 0.0:
        return 0.5 if sign1 * sign2 * c > 0 else 0.0
    f = lambda z1: norm.cdf(sign2 * c * z1 / s) * norm.pdf(z1)  # noqa: E731
    lo, hi = (0.0, 40.0) if sign1 > 0 else (-40.0, 0.0)
    return integrate.quad(f, lo, hi, epsabs=1e-15, epsrel=1e-13)[0]


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("q1, q2, c", GRID)
def test_erf_closed_form_matches_quadrature(q1, q2, c):
    # Williams (1997) vs the split rule on a smooth activation: agree to 1e-6.
    act = activations.get("erf")
    args = (jnp.float64(q1), jnp.float64(q2), jnp.float64(c))
    closed, quad = _all(act, *args, AUTO), _all(act, *args, QUAD)
    # cross moment, then derivative cross moment
    for a, b in zip(closed[:2], quad[:2], strict=True):
        assert float(a) == pytest.approx(float(b), rel=1e-6, abs=1e-12)
    assert float(closed[2]) == pytest.approx(float(quad[2]), rel=1e-6)  # E[phi(u1)^2]
    a = c_map("erf", 1.7, 0.1, q1, q2, c)
    b = c_map("erf", 1.7, 0.1, q1, q2, c, method="quadrature")
    assert float(a) == pytest.approx(float(b), rel=1e-6)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("q1, q2, c", GRID + [(1.0, 1.0, 0.9999), (2.0, 0.5, -0.9999)])
def test_relu_closed_form_matches_independent_reference(q1, q2, c):
    act = activations.get("relu")
    got, dcross = _pair(act, jnp.float64(q1), jnp.float64(q2), jnp.float64(c), AUTO)
    assert float(got) == pytest.approx(_relu_pair_ref(q1, q2, c), rel=1e-9, abs=1e-13)
    assert float(dcross) == pytest.approx(_orthant_ref(c), rel=1e-9, abs=1e-13)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("c", [-0.8, 0.0, 0.6, 0.999])
def test_leaky_relu_closed_form(c):
    # phi(x) = relu(x) - a relu(-x): expand the product into four rectified-pair integrals.
    a, q1, q2 = 0.2, 1.3, 0.7
    ref = (
        _relu_pair_ref(q1, q2, c)
        - a * _relu_pair_ref(q1, q2, c, 1.0, -1.0)
        - a * _relu_pair_ref(q1, q2, c, -1.0, 1.0)
        + a * a * _relu_pair_ref(q1, q2, c, -1.0, -1.0)
    )
    act = activations.get("leaky_relu", negative_slope=a)
    got, dcross = _pair(act, jnp.float64(q1), jnp.float64(q2), jnp.float64(c), AUTO)
    assert float(got) == pytest.approx(ref, rel=1e-9)
    dref = (
        _orthant_ref(c)
        + a * (_orthant_ref(c, 1.0, -1.0) + _orthant_ref(c, -1.0, 1.0))
        + a * a * _orthant_ref(c, -1.0, -1.0)
    )
    assert float(dcross) == pytest.approx(dref, rel=1e-9)


@pytest.mark.usefixtures("x64")
def test_relu_maps_use_the_closed_form_automatically():
    relu = activations.get("relu")
    assert closed_forms.lookup(relu) is not None
    assert closed_forms.lookup(activations.get(lambda x: jnp.maximum(x, 0.0))) is None
    # q-map: sigma_w2 q / 2 + sigma_b2 exactly.
    assert float(q_map("relu", 2.0, 0.3, 1.7)) == pytest.approx(1.7 + 0.3, rel=1e-15)
    # c-map at c = 0.9999: the closed form is exact to rounding; the reference is independent.
    q, c, sw, sb = 1.2, 0.9999, 1.6, 0.1
    ref = (sw * _relu_pair_ref(q, q, c) + sb) / (sw * q / 2 + sb)
    assert float(c_map("relu", sw, sb, q, q, c)) == pytest.approx(ref, rel=1e-12)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("q1, q2, c", [(0.2, 0.5, 0.3), (1.0, 1.0, -0.9), (0.7, 0.7, 1.0)])
def test_sin_closed_form_matches_quadrature(q1, q2, c):
    act = activations.get("sin")
    args = (jnp.float64(q1), jnp.float64(q2), jnp.float64(c))
    closed, quad = _all(act, *args, AUTO), _all(act, *args, QUAD)
    # cross moment, then derivative cross moment
    for a, b in zip(closed[:2], quad[:2], strict=True):
        assert float(a) == pytest.approx(float(b), rel=1e-9)
    # mu_1, mu_2
    for a, b in zip(closed[3:], quad[3:], strict=True):
        assert float(a) == pytest.approx(float(b), rel=1e-9)


@pytest.mark.usefixtures("x64")
def test_erf_power_moments():
    # mu_k = E[(2/sqrt(pi))^(2k) exp(-2k u^2)] = (4/pi)^k / sqrt(1 + 4 k q).
    act = activations.get("erf")
    # mu_1, mu_2 at q1 = 0.8 from the erf moments' program (the cross moments at q2, c unused).
    args = (jnp.float64(0.8), jnp.float64(0.8), jnp.float64(0.5))
    closed, quad = _all(act, *args, AUTO)[3:], _all(act, *args, QUAD)[3:]
    for k, a, b in zip((1, 2), closed, quad, strict=True):
        assert float(a) == pytest.approx(float(b), rel=1e-10)
        assert float(a) == pytest.approx((4 / np.pi) ** k / np.sqrt(1 + 3.2 * k), rel=1e-14)


def test_registry_rejects_duplicates():
    assert {"linear", "relu", "leaky_relu", "erf", "sin"} <= set(closed_forms.registered())
    with pytest.raises(ValueError, match="already registered"):
        closed_forms.register_closed_form("relu")(lambda: None)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("name", ["relu", "leaky_relu", "erf", "linear"])
def test_c_map_gradient_at_c_one_is_the_closed_form_slope(name):
    # d c^l / d c = sigma_w2 sqrt(q1 q2) E[phi' phi'] / sqrt(q1^l q2^l) (Price's theorem): at
    # c = 1 and q = 1, ReLU (2, 0): 2 * 1/2 / 1 = 1. Autodiff through arccos / sqrt(1 - c^2)
    # would give nan there; jax.grad must give the closed-form slope, finite, at every c.
    from initjax.theory import c_map_slope

    for c in (1.0, 0.999999, 0.5, -1.0):
        grad = float(jax.grad(lambda cc: c_map(name, 1.7, 0.1, 1.3, 1.3, cc))(jnp.float64(c)))
        want = float(c_map_slope(name, 1.7, 0.1, 1.3, 1.3, c))
        assert math.isfinite(grad) and grad == pytest.approx(want, rel=1e-10), (name, c)
    if name == "relu":  # chi_1 = sigma_w2 / 2 at c = 1 for any q
        assert float(jax.grad(lambda cc: c_map("relu", 2.0, 0.0, 1.0, 1.0, cc))(1.0)) == 1.0


def test_erf_slope_is_finite_in_float32_at_large_q():
    # The determinant (1 + 2 q1)(1 + 2 q2) - 4 q1 q2 c^2 overflowed to inf - inf = nan in float32
    # near q = 1e19; the scale-invariant form stays finite and matches float64.
    from initjax.theory import c_map_slope

    qs = np.array([1e10, 1e19, 1e25, 1e30], np.float32)
    for c in (0.0, 0.5, 0.999, 1.0):
        got = np.asarray(c_map_slope("erf", 1.0, 0.0, qs, qs, np.float32(c)))
        with jax.enable_x64(True):
            want = np.asarray(c_map_slope("erf", 1.0, 0.0, qs.astype(np.float64), qs, c))
        assert got.dtype == np.float32 and np.isfinite(got).all(), (c, got)
        np.testing.assert_allclose(got, want, rtol=2e-5)
