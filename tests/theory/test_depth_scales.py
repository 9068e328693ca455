"""chi_1, chi_c and the depth scales xi_q, xi_c (Schoenholz et al. 2017, eqs. 7-9)."""

import numpy as np
import pytest
from scipy import optimize

from initjax.theory import (
    analyse,
    c_star,
    chi_1,
    chi_c,
    depth_scales,
    q_star,
    trajectories,
)
from tests.theory.conftest import gauss_1d


def _critical_tanh_005():
    """The critical sigma_w2 at sigma_b2 = 0.05 (1.76095) by brentq on chi_1 = 1, i.e. on the
    float64 analysis program the module's other tests compile (critical_sigma_w2's own program
    and its checks: test_critical.py). Call under x64."""
    return optimize.brentq(lambda s: float(chi_1("tanh", s, 0.05)) - 1.0, 1.5, 2.0, xtol=1e-14)


@pytest.mark.usefixtures("x64")
def test_xi_c_diverges_from_both_sides():
    sw_c = _critical_tanh_005()
    deltas = np.array([1e-1, 1e-2, 1e-3])
    for side in (-1.0, 1.0):
        # One cell per call: the programs of the module's other (scalar) tests serve.
        xi = np.array([float(depth_scales("tanh", sw_c + side * d, 0.05).xi_c) for d in deltas])
        assert np.all(np.diff(xi) > 0), xi  # grows as the boundary is approached
        assert xi[-1] > 300.0
        # To first order 1 - chi_c is linear in sigma_w2 - sigma_w2_crit, so xi_c * delta tends
        # to a constant: the last two decades agree within 10%.
        assert xi[-1] * deltas[-1] == pytest.approx(xi[-2] * deltas[-2], rel=0.1)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("sw", [1.3, 2.5])
def test_xi_c_is_the_decay_rate_of_the_iterated_c_map(sw):
    """|c^l - c*| ~ exp(-l / xi_c): measure the rate by iterating the maps from q*, c* + eps."""
    sb = 0.05
    mf = analyse("tanh", sw, sb)
    q, c = float(mf.q_star), float(mf.c_star)
    eps = 1e-6
    _, traj = trajectories("tanh", sw, sb, q, c - eps, 6)
    dev = np.abs(np.asarray(traj)[0] - c)
    rate = dev[6] / dev[5]
    # Linearisation error O(eps * f'' / f') ~ 1e-6 relative; float64 rounding 1e-16 / 1e-6.
    assert rate == pytest.approx(np.exp(-1.0 / float(mf.xi_c)), rel=1e-4)


@pytest.mark.usefixtures("x64")
def test_xi_q_matches_schoenholz_eq7():
    """xi_q^-1 = -log(chi_1 + sigma_w2 E[phi'' phi]) with phi'' = -2 tanh sech^2 (scipy)."""
    sech2 = lambda u: 1.0 - np.tanh(u) ** 2  # noqa: E731
    for sw, sb in [(1.5, 0.05), (3.0, 0.3)]:
        q = float(q_star("tanh", sw, sb).value)
        chi = sw * gauss_1d(lambda u: sech2(u) ** 2, q)
        extra = sw * gauss_1d(lambda u: -2.0 * np.tanh(u) * sech2(u) * np.tanh(u), q)
        xi_q_ref = -1.0 / np.log(chi + extra)
        assert float(depth_scales("tanh", sw, sb).xi_q) == pytest.approx(xi_q_ref, rel=1e-8)
        assert float(chi_1("tanh", sw, sb)) == pytest.approx(chi, rel=1e-9)


@pytest.mark.usefixtures("x64")
def test_chi_c_equals_chi_1_when_ordered_and_less_than_one_when_chaotic():
    ordered = analyse("tanh", 1.4, 0.05)
    assert float(ordered.chi_1) < 1 and float(ordered.c_star) == 1.0
    assert float(ordered.chi_c) == pytest.approx(float(ordered.chi_1), rel=1e-12)
    assert float(ordered.xi_c) == pytest.approx(-1 / np.log(float(ordered.chi_1)), rel=1e-12)
    chaotic = analyse("tanh", 2.5, 0.05)
    assert float(chaotic.chi_1) > 1 > float(chaotic.chi_c)
    # chi_c evaluated directly at the solved (q*, c*) (c_star's value: analyse runs the same
    # solver) against the solver's slope.
    c = float(chaotic.c_star)
    assert c == float(c_star("tanh", 2.5, 0.05).value)
    q = float(chaotic.q_star)
    assert float(chi_c("tanh", 2.5, 0.05, q=q, c=c)) == pytest.approx(
        float(chaotic.chi_c), rel=1e-9
    )


@pytest.mark.usefixtures("x64")
def test_dropout_keeps_xi_c_finite_at_the_critical_point():
    # Schoenholz et al. 2017 section 4: dropout removes the divergence of xi_c.
    sw_c = _critical_tanh_005()
    no_drop = float(depth_scales("tanh", sw_c, 0.05).xi_c)
    drop = [float(depth_scales("tanh", sw_c, 0.05, keep_prob=k).xi_c) for k in (0.99, 0.9)]
    assert no_drop > 1e4
    assert np.isfinite(drop).all() and drop[0] < no_drop / 10 and drop[1] < drop[0]
