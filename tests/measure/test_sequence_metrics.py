"""Rank-collapse and attention metrics: on constructed inputs with known values, and inside
propagate against independent computations (Flax's attention weights, jax.grad)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from initjax import keys
from initjax.measure import propagate
from initjax.measure import sequence_metrics as SM
from initjax.models import MLP, Transformer, apply_stack, init_params, stack_of

# The metric functions as one compiled program per input shape (op by op, a call compiled
# dozens of small programs).
JSM = SimpleNamespace(**{
    n: jax.jit(getattr(SM, n))
    for n in ("token_cosine", "token_cross_moment", "effective_rank", "attention_entropy",
              "attention_logit_std")
})  # fmt: skip


def _orthonormal(n: int, k: int, seed: int = 0) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, k)))
    return q  # (n, k), orthonormal columns


@pytest.mark.parametrize("c", [0.0, 0.3, 0.9, 1.0])
def test_token_cosine_of_equicorrelated_tokens(c):
    # x_i = sqrt(c) u + sqrt(1 - c) e_i with u, e_1..e_T orthonormal: every pair has cosine c.
    t, d = 6, 32
    q = _orthonormal(d, t + 1)
    u, e = q[:, 0], q[:, 1:].T
    x = math.sqrt(c) * u[None] + math.sqrt(1 - c) * e  # (T, d)
    z = jnp.asarray(np.stack([x, 3.0 * x]), jnp.float32)  # cosine is scale-free
    np.testing.assert_allclose(JSM.token_cosine(z), c, atol=2e-6)


@pytest.mark.parametrize("c", [0.0, 0.3, 1.0])
def test_token_cross_moment_of_equicorrelated_tokens(c):
    # Unit tokens with pairwise cosine c: <x_i, x_j> = c; example 2 is 3 x example 1 (9 c).
    t, d = 6, 32
    q = _orthonormal(d, t + 1)
    x = math.sqrt(c) * q[:, :1].T + math.sqrt(1 - c) * q[:, 1:].T  # (T, d), |x_i| = 1
    z = jnp.asarray(np.stack([x, 3.0 * x]), jnp.float32)
    np.testing.assert_allclose(JSM.token_cross_moment(z), (c + 9 * c) / 2 / d, atol=2e-6)
    assert np.isnan(JSM.token_cross_moment(z[:, :1]))  # one token: no pairs


def test_effective_rank_of_matrices_with_known_singular_values():
    t, d = 8, 24
    s = np.array([5.0, 3.0, 2.0, 1.0, 0.5, 0.25, 0.0, 0.0])
    m = _orthonormal(t, t, 1) @ np.diag(s) @ _orthonormal(d, t, 2).T  # (T, d), singular values s
    p = s[s > 0] / s.sum()
    expected = math.exp(-np.sum(p * np.log(p)))  # Roy & Vetterli 2007, eq. 1-2
    ones = np.ones((t, d))  # rank one: all tokens equal -> erank 1
    equal = _orthonormal(d, t, 3).T  # T orthonormal tokens -> erank T
    got = [float(JSM.effective_rank(jnp.asarray(a[None], jnp.float32))) for a in (m, ones, equal)]
    np.testing.assert_allclose(got, [expected, 1.0, t], rtol=2e-5)
    assert float(JSM.token_cosine(jnp.asarray(ones[None], jnp.float32))) == pytest.approx(1.0)


def test_attention_entropy_and_logit_std_on_known_rows():
    t = 5
    full = jnp.ones((t, t), bool)
    causal = jnp.tril(full)
    # Uniform attention: entropy log(allowed keys); logit spread 0.
    logits = jnp.zeros((1, 1, t, t))
    p_full = jax.nn.softmax(logits, -1)
    p_causal = jax.nn.softmax(jnp.where(causal, logits, -jnp.inf), -1)
    np.testing.assert_allclose(JSM.attention_entropy(p_full, full), math.log(t), rtol=1e-6)
    want = np.mean([math.log(q + 1) for q in range(t)])
    np.testing.assert_allclose(JSM.attention_entropy(p_causal, causal), want, rtol=1e-6)
    assert float(JSM.attention_logit_std(logits, full)) == 0.0
    # One-hot attention: entropy 0. Rows with logits (a, -a, a, -a, ...) over 4 keys have
    # variance a^2; the causal rows 1.. (2, 3, 4 keys) have population variances computed here.
    onehot = jax.nn.one_hot(jnp.arange(t), t)[None, None]
    assert float(JSM.attention_entropy(onehot, full)) == pytest.approx(0.0, abs=1e-7)
    a = 1.7
    row = jnp.array([a, -a, a, -a])
    lg = jnp.broadcast_to(row, (2, 3, 4, 4))
    np.testing.assert_allclose(JSM.attention_logit_std(lg, jnp.ones((4, 4), bool)), a, rtol=1e-6)
    tri = jnp.tril(jnp.ones((4, 4), bool))
    var = [np.var(np.asarray(row[: q + 1])) for q in range(1, 4)]
    np.testing.assert_allclose(JSM.attention_logit_std(lg, tri), math.sqrt(np.mean(var)), rtol=1e-6)


def test_metrics_are_nan_not_errors_on_nonfinite_input():
    z = jnp.ones((2, 4, 8)).at[0, 1, 2].set(jnp.inf)
    assert np.isnan(JSM.effective_rank(z))
    p = jnp.full((1, 1, 3, 3), jnp.nan)
    assert np.isnan(JSM.attention_entropy(p, jnp.ones((3, 3), bool)))


# -- inside propagate ----------------------------------------------------------------------------

SEQ = "q,token_cos,erank,attn"


# The registry-wide contract (tests/models/test_model_registry.py) checks fused == materialized
# for the registered pre-LN example with every supported metric in the default run; every norm
# placement here is slow.
@pytest.mark.slow
@pytest.mark.parametrize("norm", ["post", "pre", "none"])
def test_fused_equals_materialized_for_every_norm_placement(norm):
    m = Transformer(width=8, depth=3, heads=2, norm=norm, patch=2, seq_len=4,
                    alpha=0.5 if norm == "none" else None)  # fmt: skip
    kw = dict(seeds=2, metrics=SEQ, batch=3)
    a, b = propagate(m, **kw), propagate(m, path="materialized", **kw)
    assert set(a.arrays) == {"q", "token_cos", "erank", "attn_entropy", "attn_logit_std"} | {
        "underflow",
        "nonfinite",
        "diverged",
    }
    for k in a.arrays:
        np.testing.assert_array_equal(a.arrays[k], b.arrays[k], err_msg=k)
    assert np.all(np.isnan(a.arrays["attn_entropy"][:, 0]))  # no attention at the embedding
    assert np.all(np.isfinite(a.arrays["attn_entropy"][:, 1:]))
    # NaN by definition at layer 0 is neither non-finite nor a divergence.
    assert not a.arrays["nonfinite"].any() and not a.diverged.any()


def test_propagate_attention_and_qkv_gradients_against_independent_computations():
    m = Transformer(width=8, depth=2, heads=2, norm="pre", patch=2, seq_len=4, readout=3)
    seeds = keys.seed_keys(2)
    r = propagate(m, seeds=seeds, metrics="attn,qkv_grad", batch=3)
    st = stack_of(m)
    # The shared inputs propagate draws (seed 0's INPUTS key), rebuilt here.
    from initjax.measure.inputs import gaussian_inputs

    x = gaussian_inputs(keys.role(seeds[0], keys.INPUTS), 3, (8,))
    s = 1
    v = init_params(m, seeds[s], x)["params"]

    # Attention of block 1 on its input z^0 with Flax's weights function (one compiled program,
    # not one per operation).
    @jax.jit
    def attention_weights(v):
        z0 = st.input_apply(v["input"], x)
        p1 = jax.tree.map(lambda a: a[0], v["hidden"])
        h = nn.LayerNorm(epsilon=st.norm_eps).apply({"params": p1["ln1"]}, z0)
        q = (h @ p1["attn"]["query"]["kernel"] + p1["attn"]["query"]["bias"]).reshape(3, 4, 2, 4)
        k = (h @ p1["attn"]["key"]["kernel"] + p1["attn"]["key"]["bias"]).reshape(3, 4, 2, 4)
        return nn.dot_product_attention_weights(q, k, precision="highest")

    w = np.asarray(attention_weights(v), np.float64)
    ent = np.mean(-np.sum(w * np.log(w), axis=-1))
    np.testing.assert_allclose(r.arrays["attn_entropy"][s, 1], ent, rtol=1e-5)
    # q/k/v kernel gradient norms of the loss <ct, logits> with propagate's cotangent key.
    ct = jax.random.normal(keys.role(seeds[s], keys.COTANGENT), (3, 3), jnp.float32)
    g = jax.jit(jax.grad(lambda p: jnp.sum(ct * apply_stack(st, p, x))))(v)["hidden"]["attn"]
    for col, role in (("grad_wq", "query"), ("grad_wk", "key"), ("grad_wv", "value")):
        want = np.sqrt(np.sum(np.square(np.asarray(g[role]["kernel"], np.float64)), (1, 2)))
        np.testing.assert_allclose(r.arrays[col][s, 1:], want, rtol=1e-4, err_msg=col)
        assert np.isnan(r.arrays[col][s, 0])


@pytest.mark.slow
def test_fused_equals_materialized_with_gradient_metrics():
    m = Transformer(width=8, depth=2, heads=2, norm="pre", patch=2, seq_len=4, readout=3,
                    causal=True, qk_norm=True)  # fmt: skip
    kw = dict(seeds=2, metrics="grad_sq,token_cos,attn,qkv_grad", batch=3)
    a, b = propagate(m, **kw), propagate(m, path="materialized", **kw)
    for k in a.arrays:
        np.testing.assert_array_equal(a.arrays[k], b.arrays[k], err_msg=k)


def test_sequence_metrics_refused_for_models_without_tokens_or_attention():
    with pytest.raises(ValueError, match="token sequences"):
        propagate(MLP(width=8, depth=2), seeds=1, metrics="token_cos")
    from initjax.models import ConvNet

    with pytest.raises(ValueError, match="attention blocks"):
        propagate(ConvNet(channels=4, depth=1, ndim=1), seeds=1, metrics="attn",
                  input_shape=(6, 1))  # fmt: skip
