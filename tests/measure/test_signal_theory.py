"""Signal propagation against closed forms (expectations derived independently, see each test).

Tolerances: a seed average is compared with its expectation within 5 standard errors, the
standard error estimated from the measured spread over seeds (false-failure probability about
6e-7 per comparison for a normal mean; the seeds are fixed, so the tests are deterministic).
Exact identities (orthogonal maps) are checked to float32 accuracy.
"""

from __future__ import annotations

import math

import jax
import numpy as np

from initjax.measure import propagate
from initjax.models import MLP, ConvNet

Z = 5.0  # standard errors


def _within(samples: np.ndarray, expected, axis=0) -> np.ndarray:
    """|mean - expected| < Z * sd / sqrt(n), per column."""
    s = np.asarray(samples, np.float64)
    n = s.shape[axis]
    se = s.std(axis=axis, ddof=1) / math.sqrt(n)
    return np.abs(s.mean(axis=axis) - expected) < Z * se + 1e-12


def _gaussian_linear(depth: int, **kw):
    """64 seeds of a linear width-64 MLP with Gaussian Var = sigma_w2 / fan_in weights: q and
    the Jacobian's singular values (one compiled program per depth, for both tests below)."""
    m = MLP(width=64, depth=depth, activation="linear", kernel_init="normal", sigma_w2=1.0)
    return propagate(m, seeds=64, metrics=("q", "jac_sv"), c0=0.0, **kw)


def test_deep_linear_net_preserves_q_in_expectation():
    # z^l = W_l z^{l-1} with Var[W] = 1/fan_in (Gaussian): E[q^l | z^{l-1}] = q^{l-1}, hence
    # E[q^l] = q^0 = sigma_w2 * q0 = 1 at every layer.
    r = _gaussian_linear(16)
    assert r.arrays["q"].shape == (64, 17)
    assert np.all(_within(r.arrays["q"], 1.0))
    # Sensitivity: sigma_w2 = 1.2 gives E[q^16] = 1.2^17 = 22, far outside the tolerance.
    r2 = _gaussian_linear(16, sigma_w2=1.2)
    assert not _within(r2.arrays["q"][:, -1:], 1.0)[0]
    assert np.all(_within(r2.arrays["q"], 1.2 ** np.arange(1, 18)))


def test_relu_he_keeps_q_and_glorot_halves_it():
    # One compiled grid: glorot_normal on square layers has Var = 2 / (N + N) = 1/N (Glorot),
    # and the same draw rescaled to sigma_w2 = 2 has Var = 2/N: He's truncated normal exactly.
    # He on ReLU: symmetric weights give E[relu(z)^2] = q/2, so E[q^l] = 2 E[q^{l-1}] / 2 stays
    # level with depth (He et al. 2015, eq. 10), equal to q^0 = 2 q0 = 2. Glorot: E[q^l] =
    # E[q^{l-1}] / 2, so q^l 2^l stays at q^0 = q0 = 1 (the halving of He et al. 2015, §2.2).
    m = MLP(width=128, depth=50, activation="relu", kernel_init="glorot_normal")
    r = propagate(m, seeds=32, metrics="q,act_saturation", sigma_w2=np.array([2.0, 1.0]))
    he, glorot = r.arrays["q"].astype(np.float64)
    assert np.all(_within(he[:, 1:] - he[:, 1:2], 0.0))
    assert _within(he[:, 1:2], 2.0)[0]
    assert np.all(_within(glorot * 2.0 ** np.arange(51), 1.0))
    # z is symmetric about 0, so the fraction of non-positive (dead) units is 1/2 at every layer.
    # Given the previous layer the 128 units are independent (rows of W): a per-seed standard
    # error of sqrt(1/4 / 128) = 0.044 (inputs become collinear with depth, so no credit for the
    # batch), 0.0078 for the mean of 32 seeds; 5 standard errors = 0.04.
    np.testing.assert_allclose(r.arrays["act_saturation"].mean(axis=1), 0.5, atol=0.04)


def test_orthogonal_linear_net_is_an_isometry():
    # W orthogonal, phi = identity, no bias: J = W_L ... W_0 is orthogonal, so every singular
    # value is 1; inner products are preserved (q^l = q0, c^l = c0); backward norms are kept.
    m = MLP(width=32, depth=16, activation="linear", kernel_init=jax.nn.initializers.orthogonal())
    r = propagate(m, seeds=4, metrics=("q", "c", "grad_sq", "jac_sv"), c0=0.5, q0=1.5)
    np.testing.assert_allclose(r.arrays["jac_sv"], 1.0, atol=1e-4)
    np.testing.assert_allclose(r.arrays["q"], 1.5, rtol=1e-4)
    np.testing.assert_allclose(r.arrays["c"], 0.5, atol=1e-4)
    g = r.arrays["grad_sq"]
    np.testing.assert_allclose(g, np.broadcast_to(g[:, -1:], g.shape), rtol=1e-4)


def test_gaussian_linear_jacobian_spectrum_spreads_with_depth():
    # J = W_L ... W_0 with Gaussian Var = 1/N: E[mean sv^2] = E[tr(J J^T)] / N = 1 at every
    # depth, while the largest sv^2 grows (Fuss-Catalan edge (L+2)^(L+2) / (L+1)^(L+1) for
    # L + 1 factors at N -> inf; Pennington et al. 2017: Gaussian weights cannot be isometric).
    # 64 seeds per depth (the Jacobian of a linear net does not depend on its inputs).
    tops, se = [], []
    for depth in (2, 16):
        sv2 = _gaussian_linear(depth).arrays["jac_sv"].astype(np.float64) ** 2
        assert _within(sv2.mean(axis=1)[:, None], 1.0)[0]
        tops.append(sv2[:, 0].mean())
        se.append(sv2[:, 0].std(ddof=1) / math.sqrt(len(sv2)))
    assert tops[1] - tops[0] > Z * math.hypot(se[0], se[1])
    assert tops[0] > 5.0  # three factors: edge 9.48; an orthogonal J would give exactly 1


def test_delta_orthogonal_conv_is_an_isometry():
    # Xiao et al. 2018: a circular conv whose kernel is zero but for an orthogonal centre tap is
    # an orthogonal map of (positions x channels); linear layers compose to an isometry.
    m = ConvNet(
        channels=8,
        depth=10,
        ndim=1,
        kernel_size=3,
        activation="linear",
        kernel_init=jax.nn.initializers.delta_orthogonal(),
    )
    r = propagate(m, seeds=2, metrics=("q", "jac_sv"), input_shape=(8, 8), c0=0.3)
    assert r.arrays["jac_sv"].shape == (2, 64)
    np.testing.assert_allclose(r.arrays["jac_sv"], 1.0, atol=1e-4)
    np.testing.assert_allclose(r.arrays["q"], 1.0, rtol=1e-4)


def test_zero_and_constant_init_never_break_symmetry():
    # Zero weights (sigma_w2 = 0 rescales any draw to exact zeros): every pre-activation equals
    # the bias, identical for all inputs, so rank 1 (0 when the bias is 0) and identical units
    # (distance 0). The third grid cell, random Var = 1/fan_in weights: full rank min(B, N) = 8.
    m = MLP(width=16, depth=4, activation="tanh", kernel_init="normal")
    r = propagate(
        m,
        seeds=2,
        metrics="unit_symmetry",
        sigma_w2=np.array([0.0, 0.0, 1.0]),
        sigma_b2=np.array([0.0, 0.5, 0.0]),
    )
    dist, rank = r.arrays["unit_dist"], r.arrays["act_rank"]
    np.testing.assert_array_equal(dist[:2], 0.0)
    np.testing.assert_array_equal(rank[0], 0.0)
    np.testing.assert_array_equal(rank[1], 1.0)
    np.testing.assert_array_equal(rank[2], 8.0)
    assert np.all(dist[2] > 0.05)
    # A constant init (all ones: unit gain, promise 0, used as is) is as symmetric.
    ones = MLP(width=16, depth=4, activation="tanh", kernel_init="ones", sigma_w2=0.01)
    r2 = propagate(ones, seeds=2, metrics="unit_symmetry")
    np.testing.assert_array_equal(r2.arrays["unit_dist"], 0.0)
    assert np.all(r2.arrays["act_rank"] <= 1.0)


def test_tanh_activation_statistics_match_gaussian_preactivations():
    # Mean field: z_i ~ N(0, q^l) across units, so act_std^2 = E[tanh(z)^2] (odd phi: mean 0)
    # and the saturated fraction is P(|tanh z| > 0.9) = 2 Phi(-atanh(0.9) / sqrt(q)),
    # evaluated at each seed's own measured q^l. Width 512, batch 8: 4096 units per layer, so
    # sampling errors are ~1 %; 0.03 absolute allows for finite-width corrections.
    from scipy.stats import norm

    m = MLP(width=512, depth=6, activation="tanh", kernel_init="normal", sigma_w2=3.0)
    r = propagate(m, seeds=4, metrics=("q", "act_std", "act_saturation"), sigma_b2=0.1)
    q = r.arrays["q"].astype(np.float64)
    x, w = np.polynomial.hermite_e.hermegauss(80)
    e_phi2 = (np.tanh(np.sqrt(q)[..., None] * x) ** 2 @ w) / np.sqrt(2 * np.pi)
    np.testing.assert_allclose(r.arrays["act_std"] ** 2, e_phi2, atol=0.03)
    sat = 2 * norm.cdf(-np.arctanh(0.9) / np.sqrt(q))
    np.testing.assert_allclose(r.arrays["act_saturation"], sat, atol=0.03)
    assert r.arrays["act_saturation"].mean() > 0.15  # sigma_w2 = 3: a saturating regime
