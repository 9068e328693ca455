"""Residual-stream theory of Transformer blocks against Monte Carlo over random blocks.

Monte Carlo: ``SEEDS`` independent stacks of width ``D`` (the initjax Transformer's own blocks,
query/key kernels zero so attention is exactly uniform, Gaussian value/out/MLP kernels with
Var = 1/fan_in, zero biases), one input sequence of ``T`` tokens with exact per-token second
moment q0 and pairwise cosine c0. Criteria: |mean over seeds - theory| <= 4 SE (SE = sample std
/ sqrt(SEEDS)) plus, where the theory is a large-width limit, a finite-width allowance stated
at the check. A negative control shows a wrong branch multiplier fails the same check.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from initjax import keys
from initjax.models import Transformer, stack_of
from initjax.theory import transformer as TT

D, T, L, SEEDS = 256, 8, 8, 64
Q0, C0 = 1.0, 0.2


def _tokens() -> jax.Array:
    """T tokens of width D, each |x_t|^2 / D = Q0, every pair with cosine C0 (exactly)."""
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((D, T + 1)))
    x = math.sqrt(C0) * q[:, :1].T + math.sqrt(1 - C0) * q[:, 1:].T
    return jnp.asarray(x * math.sqrt(Q0 * D), jnp.float32)[None]  # (1, T, D)


@functools.partial(jax.jit, static_argnums=0)
def _trajectory(st, seed_keys, z0):
    """Per seed and layer 0..L: (q, p, mean token cosine) of the residual stream."""

    def stats(z):
        zz = z[0].astype(jnp.float32)
        g = zz @ zz.T / D
        off = ~jnp.eye(T, dtype=bool)
        n = jnp.sqrt(jnp.diagonal(g))
        cos = g / (n[:, None] * n[None, :])
        return jnp.stack([jnp.mean(jnp.diagonal(g)), jnp.sum(g * off) / (T * (T - 1)),
                          jnp.sum(cos * off) / (T * (T - 1))])  # fmt: skip

    def one(k):
        root = keys.role(k, keys.PARAMS)

        def step(z, i):
            z = st.layer_apply(st.layer_init(keys.layer(root, i), 1.0, 0.0), z)
            return z, stats(z)

        _, s = jax.lax.scan(step, z0, jnp.arange(1, st.depth + 1, dtype=jnp.int32))
        return jnp.concatenate([stats(z0)[None], s])

    return jax.vmap(one)(seed_keys)


def _monte_carlo(**kw) -> np.ndarray:
    m = Transformer(width=D, depth=L, heads=4, kernel_init="normal", sigma_w2=1.0,
                    inits={"query": "zeros", "key": "zeros"}, **kw)  # fmt: skip
    out = _trajectory(stack_of(m), keys.seed_keys(SEEDS), _tokens())
    return np.asarray(out, np.float64)  # (SEEDS, L + 1, 3)


def _close(mc: np.ndarray, theory: np.ndarray, extra: float = 0.0) -> np.ndarray:
    """Per layer: |mean - theory| <= 4 SE + extra (+ float32 rounding of the input)."""
    mean, se = mc.mean(0), mc.std(0, ddof=1) / math.sqrt(mc.shape[0])
    return np.abs(mean - theory) <= 4 * se + extra + 1e-6 * np.abs(theory)  # float32 input


@pytest.fixture(scope="module")
def attention_only():
    """Unnormalised attention-only stacks, unscaled and with branch multiplier 1/sqrt(L)."""
    return {e: _monte_carlo(norm="none", mlp_width=0, branch_exponent=e) for e in (0.0, 0.5)}


def test_attention_only_moments_match_the_closed_form(attention_only):
    # Exact in expectation at any width: q^l and p^l are linear in the previous Gram matrix.
    for e, mc in attention_only.items():
        th = TT.linear_attention_moments(L, tokens=T, q0=Q0, p0=Q0 * C0, x=L ** (-2 * e))
        assert np.all(_close(mc[..., 0], th.q)), (e, mc[..., 0].mean(0), th.q)
        assert np.all(_close(mc[..., 1], th.p)), (e, mc[..., 1].mean(0), th.p)
        # The cosine is a ratio: theory p/q is its large-width limit (allowance 0.01 at D=256).
        assert np.all(_close(mc[..., 2], th.rho, extra=0.01)), (e, mc[..., 2].mean(0), th.rho)
    # The recursion and the closed form agree.
    rec = TT.residual_moments(L, norm="none", tokens=T, q0=Q0, p0=Q0 * C0, branch=L**-0.5)
    th = TT.linear_attention_moments(L, tokens=T, q0=Q0, p0=Q0 * C0, x=1.0 / L)
    np.testing.assert_allclose(rec.q, th.q, rtol=1e-12)
    np.testing.assert_allclose(rec.p, th.p, rtol=1e-12)


def test_rank_collapse_unscaled_vs_bounded_cosine_under_inv_sqrt_depth(attention_only):
    unscaled, scaled = attention_only[0.0][:, -1, 2], attention_only[0.5][:, -1, 2]
    th1 = TT.linear_attention_moments(L, tokens=T, q0=Q0, p0=Q0 * C0, x=1.0).rho[-1]
    assert th1 == pytest.approx(1 - 0.8 / (1 + 0.3 * 255))  # m0 = 0.3, G = 2^8 - 1
    assert unscaled.mean() > 0.98
    lim = TT.cosine_depth_limit(tokens=T, q0=Q0, p0=Q0 * C0, x=1.0)
    assert lim < 0.5 and scaled.mean() < lim + 0.02  # bounded as L grows (limit 0.472)
    # The depth limit is approached from below: rho^L(x / L) increases to it.
    r = [TT.linear_attention_moments(n, tokens=T, q0=Q0, p0=Q0 * C0, x=1.0 / n).rho[-1]
         for n in (4, 64, 4096)]  # fmt: skip
    assert r[0] < r[1] < r[2] < lim and lim - r[2] < 1e-3


def test_negative_control_wrong_branch_multiplier_fails(attention_only):
    th = TT.linear_attention_moments(L, tokens=T, q0=Q0, p0=Q0 * C0, x=1.0)  # unscaled theory
    assert not np.all(_close(attention_only[0.5][..., 0], th.q))


@pytest.fixture(scope="module")
def with_mlp():
    return {n: _monte_carlo(norm=n, activation="relu") for n in ("pre", "post")}


@pytest.mark.slow
def test_pre_and_post_ln_blocks_with_relu_mlp_match_the_recursion(with_mlp):
    mlp = TT.MLPVariances("relu", sigma_12=1.0, sigma_22=1.0)
    for norm, mc in with_mlp.items():
        th = TT.residual_moments(L, norm=norm, tokens=T, q0=Q0, p0=Q0 * C0, mlp=mlp)
        # Large-width limit (LayerNorm's centring, token-norm fluctuations): allowance 2 % of
        # the value for q, 0.02 for the cosine at D = 256.
        if norm == "pre":
            assert np.all(_close(mc[..., 0], th.q, extra=0.02 * th.q)), (mc[..., 0].mean(0), th.q)
        assert np.all(_close(mc[..., 2], th.rho, extra=0.02)), (norm, mc[..., 2].mean(0), th.rho)
    # Pre-LN: q grows linearly, between the orthogonal- and collapsed-token slopes.
    lo, hi = TT.pre_ln_q_bounds(L, tokens=T, q0=Q0, mlp=mlp)
    q = with_mlp["pre"][..., 0].mean(0)
    assert np.all(lo[1:] * 0.98 <= q[1:]) and np.all(q[1:] <= hi[1:] * 1.02), (lo, q, hi)


def test_bad_arguments():
    with pytest.raises(ValueError, match="norm must be one of"):
        TT.residual_moments(2, norm="middle", tokens=4, q0=1.0, p0=0.0)
    with pytest.raises(ValueError, match="p0"):
        TT.residual_moments(2, norm="pre", tokens=4, q0=1.0, p0=2.0)
    with pytest.raises(ValueError, match="q0"):
        TT.residual_moments(2, norm="pre", tokens=4, q0=0.0, p0=0.0)
