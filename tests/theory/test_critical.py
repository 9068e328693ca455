"""Known critical points (published and exact) and an independent scipy computation."""

import math

import numpy as np
import pytest
from scipy import optimize

from initjax.theory import chi_1, critical_point, critical_sigma_w2, depth_scales, q_star
from tests.theory.conftest import gauss_1d


@pytest.mark.usefixtures("x64")
def test_exact_critical_points():
    # ReLU: chi_1 = sigma_w2 / 2 -> 2 (He et al. 2015). tanh, erf at sigma_b2 = 0: q* -> 0 in the
    # ordered phase and chi_1 = sigma_w2 phi'(0)^2 -> 1 and pi / 4 (phi'(0) = 2 / sqrt(pi)).
    assert float(critical_sigma_w2("relu", 0.0)) == pytest.approx(2.0, rel=1e-9)
    assert float(critical_sigma_w2("tanh", 0.0)) == pytest.approx(1.0, rel=1e-6)
    assert float(critical_sigma_w2("erf", 0.0)) == pytest.approx(math.pi / 4, rel=1e-6)
    assert float(critical_sigma_w2("linear", 0.0)) == pytest.approx(1.0, rel=1e-9)


def test_tanh_sigma_b2_005_matches_schoenholz_fig1():
    # Published: sigma_w2 ~ 1.76 at sigma_b2 = 0.05 (two decimals: tolerance half a unit).
    assert float(critical_sigma_w2("tanh", 0.05)) == pytest.approx(1.76, abs=0.005)


@pytest.mark.usefixtures("x64")
def test_tanh_critical_line_matches_scipy_reference():
    """chi_1(sigma_w2) = 1 solved with scipy quad + brentq, q* by plain fixed-point iteration."""

    def q_star_ref(sw, sb):
        q = 1.0
        for _ in range(10_000):
            q_new = sw * gauss_1d(lambda u: np.tanh(u) ** 2, q) + sb
            if abs(q_new - q) < 1e-14:
                return q_new
            q = q_new
        raise AssertionError("reference q* did not converge")

    def chi_minus_1(sw, sb):
        q = q_star_ref(sw, sb)
        return sw * gauss_1d(lambda u: (1.0 - np.tanh(u) ** 2) ** 2, q) - 1.0

    for sb in (0.05, 0.2):
        ref = optimize.brentq(chi_minus_1, 1.2, 3.0, args=(sb,), xtol=1e-12)
        assert float(critical_sigma_w2("tanh", sb)) == pytest.approx(ref, rel=1e-7)


@pytest.mark.usefixtures("x64")
def test_criticality_gives_infinite_xi_c():
    # chi_1 = 1 exactly: ReLU at (2, 0) and the linear network at (1, 0).
    assert np.isinf(float(depth_scales("relu", 2.0, 0.0).xi_c))
    assert np.isinf(float(depth_scales("linear", 1.0, 0.0).xi_c))


@pytest.mark.usefixtures("x64")
def test_critical_point_for_chosen_q_star():
    q = np.array([0.01, 0.1, 1.0])
    sw, sb = (np.asarray(a) for a in critical_point("tanh", q))
    # Checked by the q* solver and chi_1 at that q* (two small programs; the full analysis
    # would compile the c* solver too, which this check does not need).
    qs = q_star("tanh", sw, sb).value
    np.testing.assert_allclose(np.asarray(qs), q, rtol=1e-9)
    np.testing.assert_allclose(np.asarray(chi_1("tanh", sw, sb, q=qs)), 1.0, rtol=1e-9)
    # ReLU: the q*-free critical point is (2, 0) whatever q*.
    sw, sb = critical_point("relu", 0.7)
    assert float(sw) == pytest.approx(2.0) and float(sb) == pytest.approx(0.0, abs=1e-15)


def test_bracket_without_crossing_is_nan():
    assert np.isnan(float(critical_sigma_w2("tanh", 0.05, bracket=(2.0, 3.0))))
