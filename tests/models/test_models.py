"""Models: key scheme, one layer definition for Linen init and init_params, forward semantics."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from initjax import initializers, keys, models
from initjax.models import (
    MLP,
    ConvNet,
    ResMLP,
    _params,
    build,
    fixup_branch_scale,
    init_params,
    stack_of,
)


@functools.cache
def _seeds():
    """Seeds 0..2 of the key scheme (made on first use: collecting the tests compiles nothing)."""
    return keys.seed_keys(3)


CASES = [
    (MLP(width=8, depth=4, activation="relu", kernel_init="he_normal", sigma_w2=2.0,
         sigma_b2=0.1, readout=3), (2, 5)),
    (ConvNet(channels=4, depth=2, ndim=2, padding="SAME", readout=2, readout_init="zeros",
             kernel_init="delta_orthogonal", sigma_w2=1.5), (2, 6, 6, 3)),
    (ResMLP(width=6, depth=3, branch_layers=3, branch_width=5, alpha=0.5, sigma_w2=1.0,
            sigma_b2=0.2, pre_norm=True, readout=3), (2, 5)),
]  # fmt: skip


def _equal(a, b) -> bool:
    return all(
        jax.tree.leaves(jax.tree.map(lambda u, v: bool(np.array_equal(u, v)), a, b))
    ) and jax.tree.structure(a) == jax.tree.structure(b)


@pytest.mark.parametrize("model,xshape", CASES)
def test_linen_init_equals_init_params(model, xshape):
    x = jnp.ones(xshape)
    linen = model.init({"params": keys.role(_seeds()[1], keys.PARAMS)}, x)
    assert _equal(linen, init_params(model, _seeds()[1], x))
    out = model.apply(linen, x)
    assert out.shape[0] == xshape[0] and np.all(np.isfinite(np.asarray(out)))


def test_vmapped_init_params_over_seeds():
    model, xshape = CASES[0]
    x = jnp.ones(xshape)
    batched = jax.vmap(lambda k: init_params(model, k, x))(_seeds())
    assert _equal(init_params(model, _seeds()[2], x), jax.tree.map(lambda v: v[2], batched))
    k = batched["params"]["input"]["kernel"]
    assert not np.array_equal(k[0], k[1])  # seeds differ


def test_key_scheme_recomputed_by_hand():
    # Layer l's kernel is draw_kernel(init, fold_in(fold_in(role(seed, PARAMS), l), KERNEL)).
    # CASES[0] (he_normal, width 8, depth 4, sigma_w2 2.0, sigma_b2 0.1): its init program is
    # compiled once for this module.
    m = CASES[0][0]
    v = init_params(m, _seeds()[2], in_shape=(5,))["params"]
    root = keys.role(_seeds()[2], keys.PARAMS)
    init = initializers.get("he_normal")
    for layer in (1, 2, 3, 4):
        lk = jax.random.fold_in(root, layer)
        w = _params.draw_kernel(init, jax.random.fold_in(lk, keys.KERNEL), (8, 8), 8, 8, 2.0)
        b = _params.draw_bias(None, jax.random.fold_in(lk, keys.BIAS), (8,), 0.1)
        np.testing.assert_allclose(v["hidden"]["kernel"][layer - 1], w, rtol=1e-6)
        np.testing.assert_allclose(v["hidden"]["bias"][layer - 1], b, rtol=1e-6)
    lk0 = jax.random.fold_in(root, 0)
    w0 = _params.draw_kernel(init, jax.random.fold_in(lk0, keys.KERNEL), (5, 8), 5, 8, 2.0)
    np.testing.assert_allclose(v["input"]["kernel"], w0, rtol=1e-6)


def test_mlp_forward_matches_unrolled_loop():
    m = CASES[0][0]  # relu, readout 3
    x = np.random.default_rng(5).standard_normal((3, 5), np.float32)
    v = init_params(m, _seeds()[0], x)["params"]
    h = x @ v["input"]["kernel"] + v["input"]["bias"]
    for i in range(4):
        h = jax.nn.relu(h) @ v["hidden"]["kernel"][i] + v["hidden"]["bias"][i]
    ref = jax.nn.relu(h) @ v["readout"]["kernel"] + v["readout"]["bias"]
    np.testing.assert_allclose(m.apply({"params": v}, x), ref, rtol=1e-5, atol=1e-6)


def test_conv_circular_padding_is_translation_equivariant():
    m = ConvNet(channels=4, depth=3, ndim=1, kernel_size=3, activation="tanh", sigma_b2=0.1)
    x = np.random.default_rng(1).standard_normal((2, 12, 1), np.float32)
    v = init_params(m, _seeds()[0], x)
    y = m.apply(v, x)
    y_shift = m.apply(v, jnp.roll(x, 5, axis=1))
    np.testing.assert_allclose(jnp.roll(y, 5, axis=1), y_shift, rtol=1e-5, atol=1e-6)
    # Zero padding breaks the symmetry at the borders.
    s = ConvNet(channels=4, depth=3, ndim=1, padding="SAME", activation="tanh", sigma_b2=0.1)
    ys = s.apply(v, x)
    assert not np.allclose(jnp.roll(ys, 5, axis=1), s.apply(v, jnp.roll(x, 5, axis=1)))


def test_resmlp_disabled_branches_keep_the_input_projection():
    x = np.random.default_rng(2).standard_normal((3, 5), np.float32)
    for m in (
        ResMLP(width=6, depth=5, alpha=0.0),  # SkipInit / ReZero
        ResMLP(width=6, depth=5, last_init="zeros", branch_scale=fixup_branch_scale(5, 2)),
    ):
        v = init_params(m, _seeds()[0], x)["params"]
        z0 = x @ v["input"]["kernel"] + v["input"]["bias"]
        np.testing.assert_array_equal(m.apply({"params": v}, x), jax.nn.relu(z0))


def test_resmlp_block_formula_with_pre_norm():
    m = ResMLP(width=6, depth=1, pre_norm=True, activation="tanh", alpha=0.7, sigma_b2=0.1)
    st = stack_of(m)
    p = st.layer_init(jax.random.key(3), None, 0.1)
    z = np.random.default_rng(4).standard_normal((2, 6), np.float32) * 3 + 1

    @jax.jit  # the reference as one compiled program (not one per operation)
    def reference(p):
        n = (z - z.mean(-1, keepdims=True)) / jnp.sqrt(z.var(-1, keepdims=True) + 1e-6)
        a = jnp.tanh(jnp.tanh(n) @ p["dense_0"]["kernel"] + p["dense_0"]["bias"])
        return z + 0.7 * (a @ p["dense_1"]["kernel"] + p["dense_1"]["bias"])

    out = jax.jit(st.layer_apply)(p, z)
    np.testing.assert_allclose(out, reference(p), rtol=1e-5, atol=1e-5)


def test_fixup_branch_scale():
    assert fixup_branch_scale(16, 2) == pytest.approx(0.25)  # 16^(-1/2)
    assert fixup_branch_scale(16, 3) == pytest.approx(0.5)  # 16^(-1/4)
    with pytest.raises(ValueError, match="branch_layers"):
        fixup_branch_scale(16, 1)


def test_build():
    m = build("mlp", width=4, depth=2, activation="relu")
    assert m == MLP(width=4, depth=2, activation="relu")
    with pytest.raises(ValueError, match="arch"):
        build("no_such_family", width=4, depth=2)
    with pytest.raises(TypeError, match="unknown field"):
        build("mlp", width=4, depth=2, heads=3)


@pytest.mark.parametrize(
    "ctor,match",
    [
        (lambda: MLP(width=0, depth=3), "width"),
        (lambda: MLP(width=4, depth=-1), "depth"),
        (lambda: MLP(width=2.5, depth=3), "width"),
        (lambda: MLP(width=4, depth=3, activation="tanhh"), "activation"),
        (lambda: MLP(width=4, depth=3, kernel_init="he_nrmal"), "kernel_init"),
        (lambda: MLP(width=4, depth=3, sigma_w2=-1.0), "sigma_w2"),
        (lambda: MLP(width=4, depth=3, sigma_b2=float("nan")), "sigma_b2"),
        (lambda: MLP(width=4, depth=3, readout=0), "readout"),
        (lambda: MLP(width=4, depth=3, precision="fast"), "precision"),
        (lambda: ConvNet(channels=4, depth=3, padding="VALID"), "padding"),
        (lambda: ConvNet(channels=4, depth=3, ndim=3), "ndim"),
        (lambda: ConvNet(channels=4, depth=3, ndim=2, kernel_size=(3,)), "kernel_size"),
        (lambda: ResMLP(width=4, depth=3, branch_layers=0), "branch_layers"),
        (lambda: ResMLP(width=4, depth=3, branch_scale=-1.0), "branch_scale"),
    ],
)
def test_bad_model_arguments(ctor, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ctor()


def test_incompatible_initializers_fail_before_compiling():
    with pytest.raises(ValueError, match="kernel_init.*input kernel"):
        init_params(
            MLP(width=4, depth=2, kernel_init=jax.nn.initializers.delta_orthogonal()),
            _seeds()[0],
            in_shape=(4,),
        )
    with pytest.raises(ValueError, match="bias_init.*bias"):
        init_params(MLP(width=4, depth=2, bias_init="he_normal"), _seeds()[0], in_shape=(4,))
    with pytest.raises(ValueError, match="x: an MLP"):
        MLP(width=4, depth=2).init({"params": _seeds()[0]}, jnp.ones((2, 3, 3)))


# --- dropout (inverted; masks from the dropout key role) ---------------------------------------


def test_dropout_mask_rate_and_scale():
    """Kept entries are a / rho (to float32 rounding); the dropped share is 1 - rho within 5
    binomial SE."""
    from initjax.models import dropout

    rho, n = 0.7, 200_000
    a = jnp.linspace(0.5, 1.5, n, dtype=jnp.float32)
    d = np.asarray(dropout(a, jax.random.key(3), rho))
    kept = d != 0
    se = np.sqrt(rho * (1 - rho) / n)
    assert abs(kept.mean() - rho) < 5 * se
    np.testing.assert_allclose(d[kept], np.asarray(a)[kept] / np.float32(rho), rtol=2e-7)


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.01, float("nan")])
def test_keep_prob_out_of_range_is_a_value_error(bad):
    with pytest.raises(ValueError, match="keep_prob must lie in"):
        models.MLP(width=4, depth=2, keep_prob=bad)


@pytest.mark.parametrize("bad", [True, "0.5", None])
def test_keep_prob_wrong_type_is_a_type_error(bad):
    with pytest.raises(TypeError, match="keep_prob"):
        models.ConvNet(channels=4, depth=2, keep_prob=bad)


def test_mlp_dropout_follows_the_key_scheme():
    """apply with a dropout root: layer l's input activations times [U_l < rho] / rho, U_l from
    keys.layer(root, l) (hidden l = 1..depth, readout depth + 1); no key: no dropout."""
    # The registered example MLP with dropout: keep_prob leaves the init program unchanged, so
    # it is the one the registry contracts compile (tests/models/test_model_registry.py).
    rho, depth = 0.6, 3
    mk = models.MLP(width=8, depth=depth, sigma_w2=1.5, sigma_b2=0.1, keep_prob=rho, readout=3)
    x = np.random.default_rng(1).standard_normal((4, 8), np.float32)
    seed = keys.seed_keys(1)[0]
    v = models.init_params(mk, seed, x)
    root = keys.role(seed, keys.DROPOUT)
    p = v["params"]

    def masked(h, layer):
        u = jax.random.uniform(keys.layer(root, layer), h.shape, jnp.float32)
        return jnp.where(u < rho, h / np.float32(rho), 0.0)

    @jax.jit  # the reference as one compiled program (not one per operation)
    def reference(p):
        hi = "highest"
        z = jnp.matmul(x, p["input"]["kernel"], precision=hi) + p["input"]["bias"]
        for layer in range(1, depth + 1):
            k, b = p["hidden"]["kernel"][layer - 1], p["hidden"]["bias"][layer - 1]
            z = jnp.matmul(masked(jnp.tanh(z), layer), k, precision=hi) + b
        y = jnp.matmul(masked(jnp.tanh(z), depth + 1), p["readout"]["kernel"], precision=hi)
        return y + p["readout"]["bias"]

    np.testing.assert_allclose(mk.apply(v, x, root), reference(p), rtol=1e-5, atol=1e-6)
    # Evaluation (no key) is the network without dropout; keep_prob = 1 ignores the key.
    plain = models.MLP(width=8, depth=depth, sigma_w2=1.5, sigma_b2=0.1, readout=3)
    np.testing.assert_array_equal(mk.apply(v, x), plain.apply(v, x))
    np.testing.assert_array_equal(plain.apply(v, x, root), plain.apply(v, x))


def test_families_without_dropout_say_so():
    from initjax import measure

    assert not models.ResMLP(width=4, depth=2).stack().SUPPORTS_DROPOUT
    with pytest.raises(ValueError, match="has no dropout"):
        measure.propagate(models.ResMLP(width=4, depth=2), seeds=2, keep_prob=0.5)
