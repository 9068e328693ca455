"""The split Gauss–Legendre rule against scipy's adaptive quadrature (independent reference)."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import erf

from initjax import activations
from initjax.theory import moments
from initjax.theory._common import Rule
from initjax.theory.quadrature import expect_1d, expect_2d, outer_nodes
from tests.theory.conftest import gauss_1d, gauss_2d

RULE = Rule("quadrature", 32)


def gelu(x):
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def softplus(x):
    return np.logaddexp(0.0, x)


@pytest.mark.usefixtures("x64")
def test_rule_integrates_gaussian_moments_exactly():
    # E[z^2] = 1 and E[z^4] = 3: polynomials times the Gaussian, up to the 1e-23 tail cut.
    z, w = outer_nodes(32, jnp.float64)
    assert float(jnp.sum(w)) == pytest.approx(1.0, abs=1e-15)
    assert float(jnp.sum(w * z**2)) == pytest.approx(1.0, rel=1e-13)
    assert float(jnp.sum(w * z**4)) == pytest.approx(3.0, rel=1e-13)
    (e,) = expect_2d([(lambda u: u, lambda u: u)], jnp.float64(2.0), jnp.float64(3.0), 0.3, 32)
    assert float(e) == pytest.approx(0.3 * np.sqrt(6.0), rel=1e-13)  # E[u1 u2] = c sqrt(q1 q2)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("name, ref", [("tanh", np.tanh), ("gelu", gelu), ("softplus", softplus)])
@pytest.mark.parametrize("q", [0.01, 0.3, 1.0, 4.0, 20.0])
def test_second_moment_matches_scipy(name, ref, q):
    # Documented accuracy of 32 nodes per panel: < 1e-9 for q <= 4, < 1e-6 up to q = 20.
    act = activations.get(name)
    got = float(moments.second_moment(act, jnp.float64(q), RULE))
    want = gauss_1d(lambda u: ref(u) ** 2, q)
    assert got == pytest.approx(want, rel=1e-9 if q <= 4 else 1e-6)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize(
    "q1, q2, c", [(1.0, 1.0, 0.5), (0.5, 2.0, -0.7), (4.0, 4.0, 0.99), (2.0, 2.0, 0.9999)]
)
def test_cross_moment_tanh_matches_scipy(q1, q2, c):
    act = activations.get("tanh")
    got = float(moments.cross_moment(act, jnp.float64(q1), jnp.float64(q2), c, RULE))
    want = gauss_2d(np.tanh, np.tanh, q1, q2, c)
    assert got == pytest.approx(want, rel=1e-6)


@pytest.mark.usefixtures("x64")
def test_deriv_cross_moment_tanh_matches_scipy():
    act = activations.get("tanh")
    d = lambda u: 1.0 - np.tanh(u) ** 2  # noqa: E731
    got = float(moments.deriv_cross_moment(act, jnp.float64(1.5), jnp.float64(1.5), 0.8, RULE))
    assert got == pytest.approx(gauss_2d(d, d, 1.5, 1.5, 0.8), rel=1e-6)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("name", ["tanh", "softplus", "erf"])
def test_second_moment_slope_is_the_derivative(name):
    # Stein form E[z phi phi'] / sqrt(q) vs a central difference of E[phi^2] (h = 1e-5: error
    # O(h^2) = 1e-10 relative to the curvature scale).
    act = activations.get(name)
    for q in (0.2, 1.0, 3.0):
        h = 1e-5
        fd = (
            moments.second_moment(act, jnp.float64(q + h), RULE)
            - moments.second_moment(act, jnp.float64(q - h), RULE)
        ) / (2 * h)
        got = moments.second_moment_slope(act, jnp.float64(q), RULE)
        assert float(got) == pytest.approx(float(fd), rel=1e-7)


def test_broadcasting_shapes():
    q = jnp.linspace(0.5, 2.0, 6).reshape(2, 3)
    (m,) = expect_1d([jnp.tanh], q, 8)
    assert m.shape == (2, 3) and m.dtype == jnp.float32
    (k,) = expect_2d([(jnp.tanh, jnp.tanh)], q, 1.0, jnp.zeros((4, 1, 1)), 8)
    assert k.shape == (4, 2, 3)


@pytest.mark.usefixtures("x64")
def test_pointwise_op_and_deficit():
    # E[(u1 - u2)^2] / 2 = (q1 + q2) / 2 - c sqrt(q1 q2): the (f, g, op) form integrates op
    # point by point.
    half_sq = lambda a, b: 0.5 * (a - b) ** 2  # noqa: E731
    ident = lambda u: u  # noqa: E731
    (e,) = expect_2d([(ident, ident, half_sq)], jnp.float64(2.0), jnp.float64(3.0), 0.3, 32)
    assert float(e) == pytest.approx(2.5 - 0.3 * np.sqrt(6.0), rel=1e-13)
    # The c* solver's deficit E[phi^2] - E[phi(u1) phi(u2)] against scipy, and its cross term.
    act = activations.get("tanh")
    for c in (0.3, 0.9, 0.999):
        d, kd = moments.deficit_and_deriv_cross(act, jnp.float64(1.5), jnp.float64(c), RULE)
        # scipy's reference differences two ~0.5 moments each good to ~1e-12.
        ref = gauss_1d(lambda u: np.tanh(u) ** 2, 1.5) - gauss_2d(np.tanh, np.tanh, 1.5, 1.5, c)
        assert float(d) == pytest.approx(ref, rel=1e-7, abs=1e-11)
        dref = gauss_2d(lambda u: 1 - np.tanh(u) ** 2, lambda u: 1 - np.tanh(u) ** 2, 1.5, 1.5, c)
        assert float(kd) == pytest.approx(dref, rel=1e-9)
