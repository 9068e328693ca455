"""Jacobian spectrum moments vs direct products of random matrices (Pennington et al. 2017)."""

import numpy as np
import pytest

from initjax.theory import jacobian_spectrum_moments


def _finite_n_linear_variance(n: int, depth: int) -> float:
    """E[m2 - m1^2] of the squared singular values of G_L...G_1, G_ij ~ N(0, 1/n), exactly.

    Wick's theorem for A = G M G^T gives E tr(A^2)/n = (1 + 1/n) tr(M^2)/n + (tr M/n)^2 and
    E (tr A/n)^2 = (tr M/n)^2 + 2 tr(M^2)/n^3; iterate from M = I. As n -> inf: m2 = L + 1
    (Fuss–Catalan), variance L.
    """
    m2, t = 1.0, 1.0
    for _ in range(depth):
        m2, t = (1 + 1 / n) * m2 + t, t + 2 * m2 / n**2
    return m2 - t


def _spectral_stats(jac: np.ndarray) -> tuple[float, float]:
    n = jac.shape[0]
    m1 = np.sum(jac**2) / n  # tr(J J^T) / n
    a = jac @ jac.T
    return m1, np.sum(a**2) / n - m1**2  # tr((J J^T)^2) / n - m1^2


def _haar(rng, n):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def test_linear_gaussian_mean_and_variance():
    sw, depth, n, samples = 1.3, 4, 128, 64
    # Off criticality the linear net has no finite q* (q grows 1.3x per layer); D_l = I at any q.
    th = jacobian_spectrum_moments("linear", sw, 0.0, depth, q=1.0)
    assert float(th.mean) == pytest.approx(sw**depth, rel=1e-6)
    assert float(th.variance) == pytest.approx(depth * sw ** (2 * depth), rel=1e-6)
    # The free-probability limit is the n -> inf limit of the exact finite-n expectation.
    big = _finite_n_linear_variance(10**7, depth) * sw ** (2 * depth)
    assert float(th.variance) == pytest.approx(big, rel=1e-5)
    rng = np.random.default_rng(0)
    stats = []
    for _ in range(samples):
        jac = np.eye(n)
        for _ in range(depth):
            jac = rng.standard_normal((n, n)) * np.sqrt(sw / n) @ jac
        stats.append(_spectral_stats(jac))
    stats = np.array(stats)
    mean, se = stats.mean(0), stats.std(0, ddof=1) / np.sqrt(samples)
    # E[m1] = sw^L exactly at any n; E[variance] is the exact finite-n value (Wick). 64 samples:
    # 5 standard errors.
    assert abs(mean[0] - sw**depth) <= 5 * se[0]
    exact = _finite_n_linear_variance(n, depth) * sw ** (2 * depth)
    assert abs(mean[1] - exact) <= 5 * se[1]


def test_linear_orthogonal_has_zero_variance():
    sw, depth, n = 0.9, 5, 64
    th = jacobian_spectrum_moments("linear", sw, 0.0, depth, "orthogonal", q=1.0)
    assert float(th.variance) == 0.0 and float(th.mean) == pytest.approx(sw**depth, rel=1e-6)
    rng = np.random.default_rng(1)
    jac = np.eye(n)
    for _ in range(depth):
        jac = np.sqrt(sw) * _haar(rng, n) @ jac
    m1, var = _spectral_stats(jac)
    assert m1 == pytest.approx(sw**depth, rel=1e-12) and abs(var) < 1e-12


def test_relu_gaussian_at_criticality():
    # ReLU at (2, 0): mu1 = mu2 = 1/2, chi_1 = 1, variance / L = 2 - 1 + 1 = 2 (no isometry).
    depth, n, samples = 3, 128, 64
    th = jacobian_spectrum_moments("relu", 2.0, 0.0, depth)
    assert float(th.mean) == pytest.approx(1.0) and float(th.variance) == pytest.approx(2 * depth)
    rng = np.random.default_rng(2)
    stats = []
    for _ in range(samples):
        x, jac = rng.standard_normal(n), np.eye(n)
        for _ in range(depth):
            w = rng.standard_normal((n, n)) * np.sqrt(2.0 / n)
            h = w @ x
            jac = ((h > 0)[:, None] * w) @ jac
            x = np.maximum(h, 0.0)
        stats.append(_spectral_stats(jac))
    stats = np.array(stats)
    mean, se = stats.mean(0), stats.std(0, ddof=1) / np.sqrt(samples)
    # Finite-width corrections are O(L/n): for the linear network at this (n, L) the exact
    # correction is 1.2%; allow 5% for ReLU's extra D_l fluctuations, plus 5 standard errors.
    assert abs(mean[0] - 1.0) <= 5 * se[0] + 0.05
    assert abs(mean[1] - 2 * depth) <= 5 * se[1] + 0.05 * 2 * depth


def test_orthogonal_tanh_is_nearly_isometric_at_small_q():
    # Pennington et al. 2017: orthogonal tanh at small q* approaches dynamical isometry, Gaussian
    # does not: variance / L -> 0 vs -> 1 as q* -> 0 (mu2/mu1^2 -> 1).
    from initjax.theory import critical_point

    sw, sb = critical_point("tanh", 1e-3)
    orth = jacobian_spectrum_moments("tanh", sw, sb, 100, "orthogonal")
    gauss = jacobian_spectrum_moments("tanh", sw, sb, 100, "gaussian")
    assert float(orth.mean) == pytest.approx(1.0, rel=1e-3)
    assert float(orth.variance) / 100 < 1e-2 and float(gauss.variance) / 100 > 0.99


def test_bad_weights_and_depth():
    with pytest.raises(ValueError, match="weights"):
        jacobian_spectrum_moments("tanh", 1.0, 0.0, 3, "uniform")
    with pytest.raises(ValueError, match="depth"):
        jacobian_spectrum_moments("tanh", 1.0, 0.0, -1)


@pytest.mark.slow
@pytest.mark.parametrize("weights", ["orthogonal", "gaussian"])
def test_tanh_at_criticality_matches_monte_carlo(weights):
    """Critical tanh with q* = 0.5: sampled J J^T spectra vs the free-probability variance."""
    from initjax.theory import critical_point

    depth, n, samples, q = 8, 256, 24, 0.5
    sw, sb = (float(a) for a in critical_point("tanh", q))
    th = jacobian_spectrum_moments("tanh", sw, sb, depth, weights)
    assert float(th.q_star) == pytest.approx(q, rel=1e-5)
    rng = np.random.default_rng(3)
    stats = []
    for _ in range(samples):
        h, jac = rng.standard_normal(n) * np.sqrt(q), np.eye(n)
        for _ in range(depth):
            w = (
                _haar(rng, n)
                if weights == "orthogonal"
                else rng.standard_normal((n, n)) / np.sqrt(n)
            )
            w = w * np.sqrt(sw)
            jac = ((1.0 - np.tanh(h) ** 2)[:, None] * w) @ jac  # D_l W_l with D at h^{l-1}
            h = w @ np.tanh(h) + rng.standard_normal(n) * np.sqrt(sb)
        stats.append(_spectral_stats(jac))
    stats = np.array(stats)
    mean, se = stats.mean(0), stats.std(0, ddof=1) / np.sqrt(samples)
    # Finite-width corrections O(L/n) = 3%: allow 10% plus 5 standard errors.
    assert abs(mean[0] - float(th.mean)) <= 5 * se[0] + 0.1 * float(th.mean)
    assert abs(mean[1] - float(th.variance)) <= 5 * se[1] + 0.1 * float(th.variance)
