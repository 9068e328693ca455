"""The default quadrature against independent high-precision references, over the stated range.

Claim (quadrature.py, README): in float64 at the default nodes, every Gaussian moment the theory
uses is within 1e-7 of its value for every registered activation, 1e-4 <= q <= 1e4, -1 <= c <= 1
(sin: q <= 1), 2-D moments at equal variances q1 = q2 (the fixed-point theory: c*, chi_c, xi_c)
and at unequal ones, any q1, q2 in the range (trajectories of inputs with different norms).
"Within 1e-7" is relative to the moment itself, except where a moment is ~0 by symmetry or
cancellation, where it is relative to its natural scale: E[phi] to sqrt(E[phi^2]), d E[phi^2]/dq
to E[phi'^2], Hermite coefficients b_k to sqrt(E[phi^2]), 2-D moments to the product of the 1-D
ones (sqrt(E[f(u1)^2] E[g(u2)^2])).

References: scipy.integrate.quad on many pieces (tests/theory/_reference.py, 1e-13 per piece) and
the closed forms (Cho & Saul 2009, Williams 1997, E[sin u1 sin u2]) evaluated by quadrature. The
previous fixed 2 x 32-node rule fails the 1-D test by up to 100% (tanh, erf, hard_tanh, softsign
at q >= 1e3; E[phi'^4] of tanh off by 1e-4 at q = 30).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import gammaln

from initjax import activations
from initjax.theory import hermite, moments, quadrature
from initjax.theory._common import DEFAULT_NODES, Rule
from initjax.theory.quadrature import FULL, SMALL, expect_1d, expect_2d, gaussian_rule
from tests.theory import _reference as ref

# Hundreds of float64 programs compared with scipy; run with -m slow (XLA:CPU crashed xdist
# workers compiling them beside the rest of the suite).
pytestmark = pytest.mark.slow

QUAD = Rule("quadrature", DEFAULT_NODES)
AUTO = Rule("auto", DEFAULT_NODES)
TOL = 1e-7
# Variance ratios q2 / q1 of the 2-D tests (both orders: the rule puts the larger variance outside).
RATIOS = (1.0, 3.7, 1.0 / 3.7, 1e3, 1e-3)
Q_GRID = np.logspace(-4.0, 4.0, 17)
SIN_Q_MAX = 1.0  # sin's oscillation is resolved to 1e-7 up to here (4e-7 at q = 3.2); its
# closed forms, exact, are the default


def _q_grid(name):
    return Q_GRID[Q_GRID <= SIN_Q_MAX] if name == "sin" else Q_GRID


def test_reference_covers_the_registry():
    # A new activation must come with an independent reference (and, if kinked, its Features).
    assert sorted(ref.ACTIVATIONS) == activations.names()
    for name, (_, _, kinks) in ref.ACTIVATIONS.items():
        feat = quadrature.features(activations.get(name))
        assert set(kinks) <= set(feat.points), name
        assert set(feat.kinks) == {k for k in kinks}, name


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("name", activations.names())
def test_1d_moments_match_scipy_over_the_q_range(name):
    act = activations.get(name)
    qs = _q_grid(name)

    def all_moments(q):
        return {
            "phi2": moments.second_moment(act, q, QUAD),
            "phi": jnp.sqrt(moments.squared_mean(act, q, QUAD)),
            "dphi2": moments.deriv_power_moment(act, q, 1, QUAD),
            "dphi4": moments.deriv_power_moment(act, q, 2, QUAD),
            "slope": moments.second_moment_slope(act, q, QUAD),
        }

    # vmap: every q takes its own panel layout (both are computed, the batch selects).
    got = jax.jit(jax.vmap(all_moments))(jnp.asarray(qs))
    want = [ref.moments_1d(name, float(q)) for q in qs]
    for i, q in enumerate(qs):
        w = want[i]
        scale = {
            "phi2": w["phi2"],
            "phi": math.sqrt(w["phi2"]),
            "dphi2": w["dphi2"],
            "dphi4": w["dphi4"],
            "slope": max(abs(w["slope"]), w["dphi2"]),
        }
        for key, s in scale.items():
            value = abs(w[key]) if key == "phi" else w[key]
            err = abs(float(got[key][i]) - value) / s
            assert err <= TOL, f"{name} {key} at q={q:.3g}: {float(got[key][i])!r} vs {value!r}"


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("q", [3.9, 4.1, 1e4])
def test_unbatched_calls_pick_their_layout(q):
    # Scalar calls branch (lax.cond) instead of selecting; the value is the same to 1e-7 on both
    # sides of Q_SMALL = 4.
    act = activations.get("tanh")
    got = float(moments.deriv_power_moment(act, jnp.float64(q), 2, QUAD))
    assert got == pytest.approx(ref.moments_1d("tanh", q)["dphi4"], rel=TOL)


@pytest.mark.usefixtures("x64")
def test_known_failures_of_the_fixed_rule():
    # Values the previous fixed rule got wrong, against references derived without initjax:
    # hard_tanh at (1.332, 0.263): chi_1 = sigma_w2 P(|u| < 1) at the scipy fixed point q*.
    from scipy.optimize import brentq

    from initjax import theory

    def q_map(q, sw, sb):
        return sw * ref.moments_1d("hard_tanh", q)["phi2"] + sb

    qs = brentq(lambda q: q_map(q, 1.332, 0.263) - q, 0.3, 3.0, xtol=1e-14)
    chi = 1.332 * math.erf(1.0 / math.sqrt(2.0 * qs))
    assert chi < 1.0  # ordered (the fixed rule said chaotic: 1.016)
    assert float(theory.chi_1("hard_tanh", 1.332, 0.263)) == pytest.approx(chi, rel=TOL)
    # tanh at sigma_w2 = 1e4 (q* ~ 1e4): chi_1 = sigma_w2 E[tanh'^2](q*).
    qs = brentq(lambda q: 1e4 * ref.moments_1d("tanh", q)["phi2"] - q, 9e3, 1e4, xtol=1e-9)
    chi = 1e4 * ref.moments_1d("tanh", qs)["dphi2"]
    assert float(theory.chi_1("tanh", 1e4, 0.0)) == pytest.approx(chi, rel=TOL)


def _relu_hermite(q, terms):
    """b_k of relu(sqrt(q) z): sqrt(q) times those of relu(z): 1/sqrt(2 pi), 1/2, then
    (-1)^(k/2 + 1) (k - 3)!! / sqrt(2 pi k!) for even k >= 2, 0 for odd k >= 3."""
    b = np.zeros(terms)
    b[0], b[1] = 1.0 / math.sqrt(2.0 * math.pi), 0.5
    for k in range(2, terms, 2):
        dfact = math.prod(range(k - 3, 0, -2)) if k > 2 else 1
        b[k] = (-1) ** (k // 2 + 1) * dfact / math.sqrt(2.0 * math.pi * math.factorial(k))
    return math.sqrt(q) * b


@pytest.mark.usefixtures("x64")
def test_hermite_coefficients_in_closed_form():
    # relu at every q; sin (b_k^2 = e^-q q^k / k!, odd k) up to SIN_Q_MAX. The tail T is the rest
    # of E[phi^2].
    k = hermite.DEFAULT_TERMS
    ks = np.arange(k)
    for name, qs in (("relu", Q_GRID), ("sin", Q_GRID[Q_GRID <= SIN_Q_MAX])):
        act = activations.get(name)
        s = jax.vmap(lambda q, act=act: hermite.c_map_series_coefficients(act, q, DEFAULT_NODES))(
            jnp.asarray(qs)
        )
        for i, q in enumerate(qs):
            if name == "relu":
                b2, m0 = _relu_hermite(q, k) ** 2, q / 2.0
            else:
                b2 = np.where(ks % 2 == 1, np.exp(-q + ks * np.log(q) - gammaln(ks + 1.0)), 0.0)
                m0 = -0.5 * math.expm1(-2.0 * q)
            got = np.asarray(s.b2[i])
            assert np.abs(np.sqrt(got) - np.sqrt(b2)).max() <= TOL * math.sqrt(m0), (name, q)
            tail = m0 - b2.sum()
            if tail > 1e-12 * m0:  # below that, T holds the slope model instead (hermite.py)
                assert float(s.tail[i]) == pytest.approx(tail, abs=TOL * m0), (name, q)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("name", ["tanh", "hard_tanh", "softsign", "gelu", "selu"])
def test_hermite_coefficients_match_scipy(name):
    act = activations.get(name)
    qs = np.array([1e-3, 1.0, 4.5, 1e2, 1e4])
    k = hermite.DEFAULT_TERMS
    s = jax.vmap(lambda q: hermite.c_map_series_coefficients(act, q, DEFAULT_NODES))(
        jnp.asarray(qs)
    )
    for i, q in enumerate(qs):
        want = ref.hermite_coefficients(name, float(q), k)
        scale = math.sqrt(ref.moments_1d(name, float(q))["phi2"])
        got = np.sqrt(np.asarray(s.b2[i]))
        assert np.abs(got - np.abs(want)).max() <= TOL * scale, (name, q)


C_GRID = [-1.0, -0.9999, -0.5, 0.0, 0.5, 0.9, 0.99, 0.9999, 0.999999, 1.0]


def _pairs_in_range(qs, ratios):
    """(q1, q2) with q2 = r q1 for each ratio, both in [qs.min(), qs.max()], plus the corners."""
    lo, hi = qs.min() * (1 - 1e-9), qs.max() * (1 + 1e-9)
    out = [(q, r * q) for r in ratios for q in qs if lo <= r * q <= hi]
    return out + [(qs.min(), qs.max()), (qs.max(), qs.min())]


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("name", ["relu", "leaky_relu", "erf", "linear", "sin"])
def test_2d_moments_match_closed_forms(name):
    # The closed forms evaluated by quadrature, at equal and unequal variances (q2 / q1 from 1e-8
    # to 1e8 at the corners of the range), every c.
    act = activations.get(name)
    qs = _q_grid(name) if name != "sin" else np.array([1e-4, 1e-2, 1.0])
    pairs = _pairs_in_range(qs, RATIOS)
    a, cc = np.meshgrid(np.arange(len(pairs)), C_GRID, indexing="ij")
    q1 = jnp.asarray([pairs[i][0] for i in a.ravel()])
    q2 = jnp.asarray([pairs[i][1] for i in a.ravel()])
    c = jnp.asarray(cc.ravel())

    def both(a, b, cc, rule):
        return (
            moments.cross_moment(act, a, b, cc, rule),
            moments.deriv_cross_moment(act, a, b, cc, rule),
            moments.second_moment(act, a, rule),
            moments.second_moment(act, b, rule),
            moments.deriv_power_moment(act, a, 1, rule),
            moments.deriv_power_moment(act, b, 1, rule),
        )

    quad = jax.jit(jax.vmap(lambda a, b, cc: both(a, b, cc, QUAD)))(q1, q2, c)
    exact = both(q1, q2, c, AUTO)
    scale_k = np.sqrt(np.asarray(exact[2]) * np.asarray(exact[3]))
    scale_d = np.sqrt(np.asarray(exact[4]) * np.asarray(exact[5]))
    err_k = np.abs(np.asarray(quad[0]) - np.asarray(exact[0])) / scale_k
    err_d = np.abs(np.asarray(quad[1]) - np.asarray(exact[1])) / scale_d
    for err in (err_k, err_d):
        i = int(err.argmax())
        assert err[i] <= TOL, (name, float(err[i]), float(q1[i]), float(q2[i]), float(c[i]))


@pytest.mark.usefixtures("x64")
def test_2d_tests_would_fail_with_the_outer_rule_at_the_smaller_variance():
    # Negative control for the closed-form test: E[erf'(u1) erf'(u2)] at q1 = 10, q2 = 1e4,
    # c = 0.9999 with the roles not swapped (outer integral at the smaller variance: the inner
    # integral then has erf's transition at the scale 1 / sqrt(q2) of z1) is off by 3.2e-5
    # relative (measured; the earlier rule, with a finer outer ladder, 2.6e-6); swapped: 2e-10.
    act = activations.get("erf")
    d = act.derivative
    q1, q2, c = jnp.float64(10.0), jnp.float64(1e4), jnp.float64(0.9999)
    (swapped,) = expect_2d([(d, d)], q1, q2, c, DEFAULT_NODES, quadrature.features(act))
    # f is not g (two distinct callables): the swap still applies, with the roles traded.
    (other,) = expect_2d([(d, lambda u: d(u))], q1, q2, c, DEFAULT_NODES, quadrature.features(act))
    exact = moments.deriv_cross_moment(act, q1, q2, c, AUTO)
    scale = math.sqrt(
        float(moments.deriv_power_moment(act, q1, 1, AUTO))
        * float(moments.deriv_power_moment(act, q2, 1, AUTO))
    )
    assert abs(float(swapped) - float(exact)) <= TOL * scale
    assert abs(float(other) - float(exact)) <= TOL * scale
    # The same integral posed with the small variance outside, by hand: u2 = sqrt(q2) (c z1 +
    # s z2) conditioned on the outer z1 ~ N(0, 1) at the outer rule for q1.
    z1, w1 = gaussian_rule(None, jnp.sqrt(q1), quadrature.Features(), DEFAULT_NODES, FULL)
    s = jnp.sqrt(1 - c * c)
    m2, sd2 = jnp.sqrt(q2) * c * z1, jnp.broadcast_to(jnp.sqrt(q2) * s, z1.shape)
    z2, w2 = gaussian_rule(m2, sd2, quadrature.Features(), DEFAULT_NODES, FULL)
    inner = jnp.sum(w2 * d(m2[:, None] + sd2[:, None] * z2), axis=-1)
    unswapped = float(jnp.sum(w1 * d(jnp.sqrt(q1) * z1) * inner))
    assert abs(unswapped - float(exact)) > 10 * TOL * scale


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("name", ["relu", "erf"])
def test_deficit_matches_closed_forms_relative_to_itself(name):
    # E[(phi(u1) - phi(u2))^2] / 2 is what the c* solver divides by 1 - c: it must be accurate
    # relative to itself as c -> 1, not only to E[phi^2].
    act = activations.get(name)
    q, c = (
        jnp.asarray(x.ravel())
        for x in np.meshgrid(Q_GRID[::2], [0.0, 0.5, 0.9, 0.99, 0.9999, 0.999999], indexing="ij")
    )
    d, _ = jax.vmap(lambda a, b: moments.deficit_and_deriv_cross(act, a, b, QUAD))(q, c)
    want = np.asarray(moments.second_moment(act, q, AUTO)) - np.asarray(
        moments.cross_moment(act, q, q, c, AUTO)
    )
    # The reference differences two moments: good to ~1e-16 E[phi^2] / D relative.
    err = np.abs(np.asarray(d) - want) / want
    assert err.max() <= TOL


# (q, c) points for the smooth and kinked activations without closed forms; the full grid is slow.
FAST_2D = [(3.0, 0.9999), (1e3, 0.99)]
SLOW_2D = [
    (q, c) for q in (1e-4, 1e-2, 1.0, 3.0, 30.0, 1e3, 1e4) for c in (-0.5, 0.5, 0.99, 0.9999)
]


def _check_2d(name, points):
    act = activations.get(name)
    q = jnp.asarray([p[0] for p in points])
    c = jnp.asarray([p[1] for p in points])
    k, kd = jax.vmap(
        lambda a, b: (
            moments.cross_moment(act, a, a, b, QUAD),
            moments.deriv_cross_moment(act, a, a, b, QUAD),
        )
    )(q, c)
    for i, (qq, cc) in enumerate(points):
        want_k, want_d = ref.cross_2d(name, qq, cc)
        m = ref.moments_1d(name, qq)
        assert abs(float(k[i]) - want_k) <= TOL * m["phi2"], (name, qq, cc)
        assert abs(float(kd[i]) - want_d) <= TOL * m["dphi2"], (name, qq, cc)


# Unequal variances: the previous worst case (q2 / q1 = 1e3, |c| ~ 1), a moderate ratio at
# c ~ -1, the corner q2 / q1 = 1e8 and the larger variance first.
UNEQUAL_2D = [(10.0, 1e4, 0.9999), (1e3, 3.7e3, -0.9999), (1e-4, 1e4, 0.5), (1e4, 1.0, -0.99)]


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("name", sorted(set(activations.names()) - {"sin"}))
def test_2d_moments_at_unequal_variances_match_nested_scipy(name):
    act = activations.get(name)
    phi, dphi, kinks = ref.ACTIVATIONS[name]
    f, d = ref._scalar(phi), ref._scalar(dphi)
    q1, q2, c = (jnp.asarray([p[i] for p in UNEQUAL_2D]) for i in range(3))
    k, kd = jax.vmap(
        lambda a, b, cc: (
            moments.cross_moment(act, a, b, cc, QUAD),
            moments.deriv_cross_moment(act, a, b, cc, QUAD),
        )
    )(q1, q2, c)
    for i, (a, b, cc) in enumerate(UNEQUAL_2D):
        ma, mb = ref.moments_1d(name, a), ref.moments_1d(name, b)
        want_k, want_d = ref.gauss_2d(f, f, a, b, cc, kinks), ref.gauss_2d(d, d, a, b, cc, kinks)
        assert abs(float(k[i]) - want_k) <= TOL * math.sqrt(ma["phi2"] * mb["phi2"]), (a, b, cc)
        assert abs(float(kd[i]) - want_d) <= TOL * math.sqrt(ma["dphi2"] * mb["dphi2"]), (a, b, cc)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("name", ["tanh", "hard_tanh"])
def test_2d_moments_match_nested_scipy(name):
    _check_2d(name, FAST_2D)


@pytest.mark.slow
@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("name", sorted(set(activations.names()) - {"sin"}))
def test_2d_moments_match_nested_scipy_full_grid(name):
    _check_2d(name, SLOW_2D)


@pytest.mark.usefixtures("x64")
def test_rule_integrates_gaussian_moments_exactly():
    # E[z^2] = 1 and E[z^4] = 3 (polynomials times the Gaussian, up to the 1e-23 tail cut) on
    # both layouts and any variance; E[u1 u2] = c sqrt(q1 q2).
    for layout in (SMALL, FULL):
        for q in (1e-3, 1.0, 1e3):
            z, w = gaussian_rule(None, jnp.float64(math.sqrt(q)), quadrature.Features(), 8, layout)
            assert float(jnp.sum(w)) == pytest.approx(1.0, abs=1e-15)
            # SMALL's outer panel [3, 10] with 12 nodes: 1e-9 (measured), within the 1e-7 claim.
            assert float(jnp.sum(w * z**2)) == pytest.approx(1.0, rel=1e-8)
            assert float(jnp.sum(w * z**4)) == pytest.approx(3.0, rel=1e-8)
    for q1, q2 in ((2.0, 3.0), (2e3, 3e3)):
        (e,) = expect_2d([(lambda u: u, lambda u: u)], jnp.float64(q1), jnp.float64(q2), 0.3, 8)
        assert float(e) == pytest.approx(0.3 * math.sqrt(q1 * q2), rel=1e-8)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("name", ["tanh", "softplus", "erf", "hard_tanh"])
def test_second_moment_slope_is_the_derivative(name):
    # Stein form E[z phi phi'] / sqrt(q) vs a central difference of E[phi^2] (h = 1e-5 q: error
    # O(h^2) relative to the curvature scale), away from Q_SMALL (the two layouts differ by 1e-9).
    act = activations.get(name)
    for q in (0.2, 1.0, 3.0, 50.0):
        h = 1e-5 * q
        fd = (
            moments.second_moment(act, jnp.float64(q + h), QUAD)
            - moments.second_moment(act, jnp.float64(q - h), QUAD)
        ) / (2 * h)
        got = moments.second_moment_slope(act, jnp.float64(q), QUAD)
        assert float(got) == pytest.approx(float(fd), rel=1e-6)


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
    (e,) = expect_2d([(ident, ident, half_sq)], jnp.float64(2.0), jnp.float64(3.0), 0.3, 8)
    assert float(e) == pytest.approx(2.5 - 0.3 * np.sqrt(6.0), rel=1e-8)
    # The c* solver's deficit E[phi^2] - E[phi(u1) phi(u2)] against scipy, and its cross term.
    act = activations.get("tanh")
    for c in (0.3, 0.9, 0.999):
        d, kd = moments.deficit_and_deriv_cross(act, jnp.float64(1.5), jnp.float64(c), QUAD)
        want_k, want_d = ref.cross_2d("tanh", 1.5, c)
        want = ref.moments_1d("tanh", 1.5)["phi2"] - want_k
        assert float(d) == pytest.approx(want, rel=1e-7, abs=1e-12)
        assert float(kd) == pytest.approx(want_d, rel=1e-8)


def test_float32_accuracy_is_rounding_bound():
    # float32 (the default): the rule's error is far below rounding; measured max over the
    # registry and q grid (sin: q <= 10) is 2e-6 relative (sigmoid's slope, softplus), typically
    # 2e-7 to 5e-7. Bound here: 5e-6.
    for name in ("tanh", "hard_tanh"):
        act = activations.get(name)
        qs = Q_GRID[::4]
        got = jax.vmap(lambda q, act=act: moments.deriv_power_moment(act, q, 1, QUAD))(
            jnp.asarray(qs, jnp.float32)
        )
        for i, q in enumerate(qs):
            want = ref.moments_1d(name, float(np.float32(q)))["dphi2"]
            assert float(got[i]) == pytest.approx(want, rel=5e-6), (name, q)
