"""Transformer: key scheme, Linen init == init_params, forward semantics against Flax's own
attention and LayerNorm, causality, residual schemes, roles, bad input."""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from initjax import initializers, keys
from initjax.models import Transformer, build, draw_kernel, init_params, stack_of
from initjax.models.transformer import ROLES, param_roles, sinusoidal_positions


@functools.cache
def _seed() -> jax.Array:
    """Seed 1 of the key scheme (drawn on first use: no compiling while tests are collected)."""
    return keys.seed_keys(2)[1]


def _equal(a, b) -> bool:
    same = jax.tree.map(lambda u, v: bool(np.array_equal(u, v, equal_nan=True)), a, b)
    return jax.tree.structure(a) == jax.tree.structure(b) and all(jax.tree.leaves(same))


# Shared models (compiled once per test session): a pre-LN GPT-2-initialised patch model and a
# post-LN, causal, QK-normed DeepNorm token model read out at the last token.
PRE = Transformer(width=16, depth=2, heads=2, norm="pre", recipe="gpt2", patch=4, readout=3)
X_PRE = np.random.default_rng(0).standard_normal((3, 12), np.float32)
POST = Transformer(width=16, depth=2, heads=4, vocab=11, causal=True, readout=5, pool="last",
                   recipe="deepnorm", qk_norm=True)  # fmt: skip
X_POST = np.array([[1, 2, 3, 4, 5], [10, 0, 0, 7, 2]], np.float32)


@pytest.fixture(scope="module")
def pre_params():
    return init_params(PRE, _seed(), X_PRE)


@pytest.fixture(scope="module")
def post_params():
    return init_params(POST, _seed(), X_POST)


def test_linen_init_equals_init_params(pre_params, post_params):
    for model, x, v in ((PRE, X_PRE, pre_params), (POST, X_POST, post_params)):
        linen = model.init({"params": keys.role(_seed(), keys.PARAMS)}, x)
        assert _equal(linen, v)


def test_role_keys_recomputed_by_hand(pre_params):
    v = pre_params["params"]
    root = keys.role(_seed(), keys.PARAMS)
    n = initializers.get("normal", stddev=0.02)
    for layer in (1, 2):
        lk = keys.layer(root, layer)
        for role, mult, path in (
            ("value", None, ("attn", "value")),
            ("mlp_out", 4**-0.5, ("mlp", "out")),  # GPT-2: 1/sqrt(2L), L = 2
        ):
            rk = jax.random.fold_in(lk, ROLES[role].index)
            shape = (64, 16) if role == "mlp_out" else (16, 16)
            w = draw_kernel(
                n, jax.random.fold_in(rk, keys.KERNEL), shape, *shape, None, jnp.float32, mult
            )
            got = v["hidden"][path[0]][path[1]]["kernel"][layer - 1]
            np.testing.assert_allclose(got, w, rtol=1e-6)
    pk = jax.random.fold_in(keys.layer(root, 0), ROLES["pos"].index)
    np.testing.assert_allclose(v["input"]["pos"], n(pk, (3, 16)), rtol=1e-6)


def _ln(x, p, eps):
    return nn.LayerNorm(epsilon=eps, use_bias="bias" in p).apply({"params": p}, x)


def _reference(st, params, x):
    """Unrolled forward pass with Flax's dot_product_attention and LayerNorm."""
    p_in = params["input"]
    if st.vocab is not None:
        h = p_in["embed"][x.astype(jnp.int32)]
    else:
        h = x.reshape(x.shape[0], -1, st.patch) @ p_in["patch"]["kernel"] + p_in["patch"]["bias"]
    h = h + p_in["pos"]
    b, t, d = h.shape
    mask = jnp.tril(jnp.ones((t, t), bool)) if st.causal else None
    for i in range(st.depth):
        p = jax.tree.map(lambda a, i=i: a[i], params["hidden"])

        def attn(u, p=p):
            a = p["attn"]
            q, k, v = (
                (u @ a[r]["kernel"] + a[r]["bias"]).reshape(b, t, st.heads, -1)
                for r in ("query", "key", "value")
            )
            if st.qk_norm:
                q = _ln(q, a["query_norm"], st.norm_eps)
                k = _ln(k, a["key_norm"], st.norm_eps)
            o = nn.dot_product_attention(q, k, v, mask=mask, precision="highest")
            return o.reshape(b, t, d) @ a["out"]["kernel"] + a["out"]["bias"]

        def mlp(u, p=p):
            m = p["mlp"]
            hid = st.activation(u @ m["in"]["kernel"] + m["in"]["bias"])
            return hid @ m["out"]["kernel"] + m["out"]["bias"]

        for ln, f in (("ln1", attn), ("ln2", mlp)):
            if st.norm == "pre":
                h = h + f(_ln(h, p[ln], st.norm_eps))
            else:
                h = _ln(st.skip_scale * h + f(h), p[ln], st.norm_eps)
    r = params["readout"]
    if st.norm == "pre":
        h = _ln(h, r["norm"], st.norm_eps)
    pooled = h[:, -1] if st.pool == "last" else h.mean(1)
    return pooled @ r["dense"]["kernel"] + r["dense"]["bias"]


def test_forward_matches_flax_attention_and_layernorm(pre_params, post_params):
    for model, x, v in ((PRE, X_PRE, pre_params), (POST, X_POST, post_params)):
        st = stack_of(model)
        # Both sides compiled (one program each instead of one per operation).
        ref = jax.jit(lambda p, st=st, x=x: _reference(st, p, x))(v["params"])
        out = jax.jit(model.apply)(v, x)
        np.testing.assert_allclose(out, ref, rtol=2e-5, atol=2e-5)
    assert stack_of(POST).skip_scale == pytest.approx(4.0**0.25)  # DeepNorm (2L)^(1/4)


def test_causal_outputs_ignore_later_tokens(post_params):
    m = POST.clone(readout=None)  # features (B, T, width)
    v = {"params": {k: post_params["params"][k] for k in ("input", "hidden")}}
    x = jnp.concatenate(
        [X_POST[:1], jnp.asarray(X_POST[:1]).at[0, 3:].set(9.0)]
    )  # later tokens changed
    y = m.apply(v, x)
    np.testing.assert_array_equal(y[0, :3], y[1, :3])
    assert not np.allclose(y[0, 3:], y[1, 3:])
    yb = m.clone(causal=False).apply(v, x)  # bidirectional attention sees them
    assert not np.allclose(yb[0, :3], yb[1, :3])


def test_zero_branch_gain_makes_blocks_identities():
    # ReZero / SkipInit (alpha = 0) without norm: z^L = z^0; also Linen init == init_params.
    m = Transformer(width=8, depth=3, heads=2, norm="none", alpha=0.0, positions="sinusoidal",
                    recipe="torch", mlp_width=0, branch_exponent=0.5)  # fmt: skip
    x = np.random.default_rng(1).standard_normal((2, 6, 5), np.float32)
    v = init_params(m, _seed(), x)
    assert _equal(m.init({"params": keys.role(_seed(), keys.PARAMS)}, x), v)
    p = v["params"]
    z0 = x @ p["input"]["patch"]["kernel"] + p["input"]["patch"]["bias"]
    z0 = z0 + sinusoidal_positions(6, 8)
    np.testing.assert_array_equal(m.apply(v, x), z0)
    assert p["hidden"]["alpha"].shape == (3,) and "mlp" not in p["hidden"]
    roles = jax.tree.leaves(param_roles(p))
    assert "alpha" in roles and len(roles) == len(jax.tree.leaves(p))


def test_branch_multiplier_and_logit_scale():
    st = stack_of(Transformer(width=12, depth=9, heads=3, branch_exponent=0.5))
    assert st.branch_multiplier == pytest.approx(1 / 3)
    assert st.logit_scale == pytest.approx(4**-0.5)
    st = stack_of(Transformer(width=12, depth=9, heads=3, attn_logit_scale="inv_dhead"))
    assert st.logit_scale == pytest.approx(0.25) and st.branch_multiplier == 1.0


def test_token_ids_out_of_range_or_fractional_give_nan_rows(post_params):
    # Ids arrive as floats (propagate / train cast inputs); vocab = 11, T = 5.
    st = stack_of(POST)
    ids = jnp.array([[0.0, 10.0, 11.0, 1.5, -1.0]])
    z0 = np.asarray(st.input_apply(post_params["params"]["input"], ids))
    assert np.all(np.isfinite(z0[0, :2])) and np.all(np.isnan(z0[0, 2:]))


def test_sinusoidal_positions_formula():
    pe = np.asarray(sinusoidal_positions(5, 6))
    t, i = 3, 2  # columns 2i and 2i + 1 use frequency 10000^(-2i/6)
    w = 10000.0 ** (-(2 * i) / 6)
    np.testing.assert_allclose(pe[t, 2 * i], np.sin(t * w), rtol=1e-6)
    np.testing.assert_allclose(pe[t, 2 * i + 1], np.cos(t * w), rtol=1e-6)


def test_param_roles_cover_every_leaf(post_params):
    v = post_params["params"]
    roles = param_roles(v)
    flat = jax.tree.leaves(roles)
    assert set(flat) == {"embed", "pos", "query", "key", "value", "out", "mlp_in", "mlp_out",
                         "readout", "query.bias", "key.bias", "value.bias", "out.bias",
                         "mlp_in.bias", "mlp_out.bias", "readout.bias", "norm_scale",
                         "norm_bias", "qk_norm_scale"}  # fmt: skip
    assert roles["hidden"]["attn"]["out"]["bias"] == "out.bias"
    assert len(flat) == len(jax.tree.leaves(v))


def test_build_by_name_and_overrides():
    m = build(
        "transformer",
        width=8,
        depth=2,
        heads=2,
        recipe="gpt2",
        inits={"query": "zeros", "readout_bias": "ones"},
        kernel_init="he_normal",
    )
    st = stack_of(m)
    assert st.role_init("query").init.name == "zeros"
    assert st.role_init("key").init.name == "he_normal"
    assert st.role_init("out").multiplier == pytest.approx(0.5)  # 1/sqrt(2L) stays
    assert st.role_init("readout").bias_init.name == "ones"
    assert st.norm == "pre" and st.norm_eps == 1e-5


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(width=10, heads=4), "divisible"),
        (dict(norm="sandwich"), "norm must be one of"),
        (dict(recipe="gtp2"), "Did you mean 'gpt2'"),
        (dict(inits={"qery": "zeros"}), "unknown role"),
        (dict(inits={"pos_bias": "zeros"}), "has no bias"),
        (dict(vocab=5, patch=2), "not both"),
        (dict(attn_logit_scale="sqrt"), "attn_logit_scale"),
        (dict(mlp_width=-1), "mlp_width"),
        (dict(pool="max"), "pool must be one of"),
        (dict(skip_scale=-1.0), "skip_scale"),
    ],
)
def test_bad_arguments_raise_clear_errors(kw, match):
    args = dict(width=8, depth=2, heads=2) | kw
    with pytest.raises(ValueError, match=match):
        Transformer(**args)


def test_bad_input_shapes_raise_before_compiling():
    with pytest.raises(ValueError, match="multiple of 3"):
        init_params(Transformer(width=8, depth=1, heads=2, patch=3), _seed(), in_shape=(10,))
    with pytest.raises(ValueError, match="token ids"):
        init_params(Transformer(width=8, depth=1, heads=2, vocab=3), _seed(), in_shape=(4, 2))
    with pytest.raises(ValueError, match="features"):
        init_params(Transformer(width=8, depth=1, heads=2), _seed(), in_shape=(10,))
    with pytest.raises(ValueError, match="delta_orthogonal"):
        init_params(
            Transformer(width=8, depth=1, heads=2, kernel_init="delta_orthogonal"),
            _seed(),
            in_shape=(4, 3),
        )
