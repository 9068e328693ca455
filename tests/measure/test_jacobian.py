"""Jacobian spectra below the float32 floor: a known ill-conditioned case, 50-digit references."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import pytest

from initjax import keys
from initjax.measure import jacobian as J
from initjax.measure import plot, propagate
from initjax.models import MLP, apply_stack, init_params

mpmath = pytest.importorskip("mpmath")
matplotlib.use("Agg")

EPS32 = float(np.finfo(np.float32).eps)
N, FACTORS = 32, 30  # width; input projection + 29 hidden layers
D = np.geomspace(0.5, 2.0, N)  # per-layer singular values: the product's span 4^30 = 1.2e18


@functools.cache
def _shared_basis_kernel() -> tuple[np.ndarray, np.ndarray]:
    """W = U diag(D) U^T in float64 and rounded to float32 (both exactly symmetric)."""
    u, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((N, N)))
    w = (u * D) @ u.T
    w = (w + w.T) / 2
    return w, w.astype(np.float32)


def _linear_net(w: np.ndarray) -> MLP:
    def kernel(key, shape, dtype=jnp.float32):
        return jnp.asarray(w, dtype)

    return MLP(width=N, depth=FACTORS - 1, activation="linear", kernel_init=kernel)


@functools.cache
def _known_case():
    w = _shared_basis_kernel()[1]
    return w, propagate(_linear_net(w), seeds=1, metrics="jac_sv", batch=2)


def _explicit_float32_spectrum(model: MLP, x: jax.Array) -> np.ndarray:
    """The former method: the Jacobian formed in float32, then a float32 SVD."""
    st = model.stack()
    p = init_params(model, keys.seed_keys(1)[0], x)["params"]

    @jax.jit  # the Jacobian and its SVD: one compiled program (not one per operation)
    def sv(p, x0):
        jac = jax.jacfwd(lambda v: apply_stack(st, p, v[None])[0])(x0)
        return jnp.linalg.svd(jac.astype(jnp.float32), compute_uv=False)

    return np.asarray(sv(p, x[0]), np.float64)


def test_deep_linear_net_with_shared_singular_vectors_has_its_exact_spectrum():
    # z^L = x W^30 (W symmetric), so the singular values are |lambda_i(W)|^30 exactly. W is
    # U diag(D) U^T rounded to float32: by Weyl its eigenvalues lie within ||dW||_2 of D, so the
    # exact answer for the float32 network is D^30 to a relative (1 + ||dW|| / D)^30 - 1.
    w, r = _known_case()
    exact = np.sort(D**FACTORS)[::-1]
    dw = np.linalg.norm(w.astype(np.float64) - _shared_basis_kernel()[0], 2)
    weyl = (1 + dw / np.sort(D)[::-1]) ** FACTORS - 1
    sv, rtol = r.arrays["jac_sv"][0], r.arrays["jac_sv_rtol"][0]
    assert exact[0] / exact[-1] > 1e18
    rel = np.abs(sv - exact) / exact
    assert np.all(rel <= weyl + rtol), (rel.max(), weyl.max(), rtol)
    assert rtol < 1e-4 and np.all(sv > r.arrays["jac_sv_floor"][0])
    # The explicit float32 product gets every value below ~eps * sigma_max wrong.
    old = _explicit_float32_spectrum(_linear_net(w), jnp.ones((1, N)))
    wrong = np.abs(old - exact) / exact > 10.0
    assert wrong.mean() > 0.4, wrong.mean()
    assert not np.any(np.abs(sv - exact) / exact > 1e-3)


def _reference_spectrum(model: MLP, x: jax.Array, seed: int, seeds: int) -> np.ndarray:
    """50-digit singular values of the product of the float32 network's layer Jacobians."""
    p = init_params(model, keys.seed_keys(seeds)[seed], x)["params"]
    z = np.asarray(x[:1] @ p["input"]["kernel"] + p["input"]["bias"])[0]
    mats = [np.asarray(p["input"]["kernel"], np.float64)]
    for i in range(model.depth):
        w = p["hidden"]["kernel"][i]
        mats.append((1 - np.tanh(z.astype(np.float64)) ** 2)[:, None] * np.asarray(w, np.float64))
        z = np.asarray(jnp.tanh(z) @ w + p["hidden"]["bias"][i])
    mats.append(np.diag(1 - np.tanh(z.astype(np.float64)) ** 2))
    with mpmath.workdps(50):
        t = mpmath.matrix(mats[0].tolist())
        for a in mats[1:]:
            t = t * mpmath.matrix(a.tolist())
        s = mpmath.svd_r(t, compute_uv=False)
        return np.array(sorted((float(v) for v in s), reverse=True))


@pytest.mark.parametrize("sigma_w2", [1.0, 3.0])
def test_random_tanh_networks_match_50_digit_references_within_rtol(sigma_w2):
    # The error estimate rtol must cover the observed error of every singular value (spans of
    # 1e18 and more, far below the explicit product's floor of eps * sigma_max = 1e-7).
    m = MLP(width=16, depth=20, activation="tanh", sigma_w2=sigma_w2, sigma_b2=0.05)
    x = jax.random.normal(jax.random.key(3), (2, 16))
    r = propagate(m, x, seeds=2, metrics="jac_sv")
    for s in range(2):
        ref = _reference_spectrum(m, x, s, 2)
        assert ref[0] / ref[-1] > 1e15
        rel = np.abs(r.arrays["jac_sv"][s] - ref) / ref
        assert np.all(rel <= r.arrays["jac_sv_rtol"][s]), (rel.max(), r.arrays["jac_sv_rtol"][s])
        assert r.arrays["jac_sv_rtol"][s] < 1e-3


@functools.cache
def _rank_one_run():
    """A linear width-8 MLP whose every kernel is the rank-1 projection 11^T / 8, 2 seeds (the
    kernel is fixed, so both seeds are the same network): one compiled program for both tests
    below."""
    w = np.full((8, 8), 1 / 8, np.float32)

    def kernel(key, shape, dtype=jnp.float32):
        return jnp.asarray(w, dtype)

    m = MLP(width=8, depth=2, activation="linear", kernel_init=kernel)
    return propagate(m, seeds=2, metrics="jac_sv", batch=2)


def test_rank_deficient_jacobian_values_are_below_the_floor():
    # A rank-1 kernel, every entry 1/8: W = 11^T / 8 is a projection, so J = W^3 = W has one
    # singular value 1 and 7 exact zeros, which must never pass as resolved values.
    r = _rank_one_run()
    sv = r.arrays["jac_sv"]
    np.testing.assert_allclose(sv[:, 0], 1.0, rtol=1e-6)
    frame = r.jacobian_frame()
    assert frame["below_floor"].tolist() == ([False] + [True] * 7) * 2
    assert np.all(r.arrays["jac_sv_floor"] > 0)


def test_factor_steps_reproduce_a_plain_product():
    # start/step against a float64 product of random float32 matrices (well conditioned).
    rng = np.random.default_rng(1)
    mats = [rng.standard_normal((6, 5)).astype(np.float32)] + [
        rng.standard_normal((6, 6)).astype(np.float32) for _ in range(4)
    ]

    @jax.jit  # the factor steps as one compiled program (not one per operation)
    def factor(mats):
        q, g, p, kappa = J.start(mats[0])
        for a in mats[1:]:
            q, g, p, kappa = J.step(a @ q, g, p, kappa)
        return g, p, kappa

    g, p, kappa = factor(mats)
    prod = mats[0].astype(np.float64)
    for a in mats[1:]:
        prod = a.astype(np.float64) @ prod
    sv, floor, rtol = J.spectrum(np.asarray(g), np.asarray(p), np.asarray(kappa))
    ref = np.linalg.svd(prod, compute_uv=False)
    np.testing.assert_allclose(sv, ref, rtol=float(rtol))
    assert floor < ref[-1] and rtol < 1e-4


def test_nonfinite_factor_gives_nan_and_zero_jacobian_gives_zeros():
    g = np.array([[1.0, np.nan], [-np.inf, -np.inf]])
    p = np.zeros((2, 2, 3))
    sv, floor, rtol = J.spectrum(g, p, np.array([1.0, 1.0]))
    assert np.isnan(sv[0]).all() and np.isnan(floor[0])
    assert np.array_equal(sv[1], [0.0, 0.0]) and floor[1] == 0.0


def test_plot_draws_the_floor_and_marks_values_below_it():
    r = _rank_one_run()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    plot._mark_floor(ax, r, "jac_sv", np.asarray(r.arrays["jac_sv"]))
    labels = [ln.get_label() for ln in ax.get_lines()]
    texts = [t.get_text() for t in ax.texts]
    plt.close(fig)
    assert "precision floor" in labels
    assert any("below the floor" in t for t in texts)
