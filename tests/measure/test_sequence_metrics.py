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

from initjax import keys, models
from initjax.measure import propagate
from initjax.measure import sequence_metrics as SM
from initjax.models import MLP, Transformer, apply_stack, init_params, stack_of
from tests import example_runs

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
    # Inputs built in numpy (float32): the jitted metrics are the only compiled programs.
    t = 5
    full = np.ones((t, t), bool)
    causal = np.tril(full)
    # Uniform attention (the softmax of equal logits over the allowed keys): entropy
    # log(allowed keys); logit spread 0.
    logits = np.zeros((1, 1, t, t), np.float32)
    p_full = np.full((1, 1, t, t), 1 / t, np.float32)
    p_causal = (causal / causal.sum(-1, keepdims=True)).astype(np.float32)[None, None]
    np.testing.assert_allclose(JSM.attention_entropy(p_full, full), math.log(t), rtol=1e-6)
    want = np.mean([math.log(q + 1) for q in range(t)])
    np.testing.assert_allclose(JSM.attention_entropy(p_causal, causal), want, rtol=1e-6)
    assert float(JSM.attention_logit_std(logits, full)) == 0.0
    # One-hot attention: entropy 0. Rows with logits (a, -a, a, -a, ...) over 4 keys have
    # variance a^2; the causal rows 1.. (2, 3, 4 keys) have population variances computed here.
    onehot = np.eye(t, dtype=np.float32)[None, None]
    assert float(JSM.attention_entropy(onehot, full)) == pytest.approx(0.0, abs=1e-7)
    a = 1.7
    row = np.array([a, -a, a, -a], np.float32)
    lg = np.broadcast_to(row, (2, 3, 4, 4))
    np.testing.assert_allclose(JSM.attention_logit_std(lg, np.ones((4, 4), bool)), a, rtol=1e-6)
    tri = np.tril(np.ones((4, 4), bool))
    var = [np.var(row[: q + 1]) for q in range(1, 4)]
    np.testing.assert_allclose(JSM.attention_logit_std(lg, tri), math.sqrt(np.mean(var)), rtol=1e-6)


def test_metrics_are_nan_not_errors_on_nonfinite_input():
    z = np.ones((2, 4, 8), np.float32)
    z[0, 1, 2] = np.inf
    assert np.isnan(JSM.effective_rank(z))
    p = np.full((1, 1, 3, 3), np.nan, np.float32)
    assert np.isnan(JSM.attention_entropy(p, np.ones((3, 3), bool)))


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
    # The example Transformer's shared measured run (tests/example_runs.py: pre-LN, QK-norm,
    # width 8, 2 heads, 4 tokens of 8 features, readout 3; seeds 0 and 1 of the key scheme, given
    # inputs), which holds attn and qkv_grad: no propagate program of its own, and the params
    # come from the init program tests/models/test_model_registry.py compiles for this network.
    r = example_runs.measured("transformer")
    m = models.example("transformer")
    st = stack_of(m)
    assert st.norm == "pre" and st.qk_norm and st.heads == 2 and st.d_head == 4
    x = jnp.asarray(example_runs.inputs("transformer"))  # (4, 4, 8)
    b, t = x.shape[:2]
    seeds = keys.seed_keys(2)
    s = 1
    v = init_params(m, seeds[s], x)["params"]

    # Attention of block 1 on its input z^0 with Flax's LayerNorm (QK-norm over d_head, scale
    # only) and weights function (one compiled program, not one per operation).
    @jax.jit
    def attention_weights(v):
        z0 = st.input_apply(v["input"], x)
        p1 = jax.tree.map(lambda a: a[0], v["hidden"])
        a = p1["attn"]
        h = nn.LayerNorm(epsilon=st.norm_eps).apply({"params": p1["ln1"]}, z0)
        qk_norm = nn.LayerNorm(epsilon=st.norm_eps, use_bias=False)
        q = (h @ a["query"]["kernel"] + a["query"]["bias"]).reshape(b, t, 2, 4)
        k = (h @ a["key"]["kernel"] + a["key"]["bias"]).reshape(b, t, 2, 4)
        q = qk_norm.apply({"params": a["query_norm"]}, q)
        k = qk_norm.apply({"params": a["key_norm"]}, k)
        return nn.dot_product_attention_weights(q, k, precision="highest")

    w = np.asarray(attention_weights(v), np.float64)
    ent = np.mean(-np.sum(w * np.log(w), axis=-1))
    np.testing.assert_allclose(r.arrays["attn_entropy"][s, 1], ent, rtol=1e-5)
    # q/k/v kernel gradient norms of the loss <ct, logits> with propagate's cotangent key.
    ct = jax.random.normal(keys.role(seeds[s], keys.COTANGENT), (b, 3), jnp.float32)
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
