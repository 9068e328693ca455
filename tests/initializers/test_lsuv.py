"""LSUV (Mishkin & Matas 2016): what it promises, checked by an independent float64 numpy forward.

LSUV promises that the output of every affine map (the pre-activation z^l) has variance within
``tol`` of 1 on the batch it used, unless ``max_iters`` ran out. ``propagate`` measures on LSUV's
batch: its ``z_var`` must equal the numpy variance, and its second moment q^l = Var + mean^2 the
numpy Var + mean^2, within ``tol + mean^2`` of 1.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import scipy.special

from initjax import cli, initializers, keys, measure, models
from initjax.measure.inputs import gaussian_inputs

TOL = 0.1  # the paper's Tol_var, lsuv's default


def _mlp_forward(p, x, act):
    """Pre-activations z^0..z^depth (and logits) of an MLP, float64."""
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), p)
    zs = [x @ p["input"]["kernel"] + p["input"]["bias"]]
    for w, b in zip(p["hidden"]["kernel"], p["hidden"]["bias"], strict=True):
        zs.append(act(zs[-1]) @ w + b)
    if "readout" in p:
        zs.append(act(zs[-1]) @ p["readout"]["kernel"] + p["readout"]["bias"])
    return zs


def _circular_conv(h, k):
    """2-D convolution with circular padding, HWIO kernel of odd size (cross-correlation)."""
    kh, kw = k.shape[:2]
    out = 0.0
    for i in range(kh):
        for j in range(kw):
            shifted = np.roll(h, (-(i - kh // 2), -(j - kw // 2)), axis=(1, 2))
            out = out + shifted @ k[i, j]
    return out


def _conv_forward(p, x, act):
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), p)
    zs = [_circular_conv(x, p["input"]["kernel"]) + p["input"]["bias"]]
    for w, b in zip(p["hidden"]["kernel"], p["hidden"]["bias"], strict=True):
        zs.append(_circular_conv(act(zs[-1]), w) + b)
    return zs


def _var_mean(zs):
    return np.array([z.var() for z in zs]), np.array([z.mean() for z in zs])


def _violations(var):
    return int(np.sum(np.abs(var - 1.0) >= TOL))


@pytest.mark.parametrize(
    ("arch", "width", "forward"), [("mlp", 32, _mlp_forward), ("conv", 8, _conv_forward)]
)
def test_propagate_cli_q_within_lsuv_tolerance(tmp_path, arch, width, forward):
    depth, seeds, batch = 50, 4, 8
    rc = cli.main(
        ["propagate", "--arch", arch, "--init", "lsuv", "--activation", "tanh"]
        + ["--depth", str(depth), "--width", str(width), "--seeds", str(seeds)]
        + ["--batch", str(batch), "--metrics", "q,z_moments", "--no-plot", "--no-progress"]
        + ["--out", str(tmp_path)]
    )
    assert rc == 0
    table = pd.read_parquet(tmp_path / "propagate.parquet")
    q, z_var = (
        table.pivot(index="seed", columns="layer", values=v).to_numpy() for v in "q z_var".split()
    )
    assert q.shape == (seeds, depth + 1)
    assert _violations(z_var) == 0  # what LSUV promises, as propagate reports it

    # The same networks, rebuilt outside propagate one seed at a time (propagate refines all
    # seeds in one vmapped call): propagate's shared inputs (seed 0's INPUTS key), each seed's
    # base draw refined by LSUV on them, then a numpy forward.
    model = (models.MLP if arch == "mlp" else models.ConvNet)(
        **({"width": width} if arch == "mlp" else {"channels": width}),
        depth=depth,
        activation="tanh",
        kernel_init="lsuv",
    )
    st = models.stack_of(model)
    sk = keys.seed_keys(seeds)
    x = gaussian_inputs(keys.role(sk[0], keys.INPUTS), batch, st.default_input_shape())
    x64 = np.asarray(x, np.float64)
    for s in range(seeds):
        p = models.init_params(model, sk[s], x)["params"]
        var, mean = _var_mean(forward(p, x64, np.tanh))
        assert _violations(var) == 0, (arch, s, var)  # LSUV's promise, every layer
        np.testing.assert_allclose(z_var[s], var, rtol=2e-4)
        np.testing.assert_allclose(q[s], var + mean**2, rtol=2e-4)
        assert np.all(np.abs(q[s] - 1.0) < TOL + mean**2)
        # Negative control: the same check on a network whose hidden kernels are 20 % too
        # small (q shrinks by 0.64 per layer at first) fails.
        bad = {**p, "hidden": {**p["hidden"], "kernel": 0.8 * p["hidden"]["kernel"]}}
        assert _violations(_var_mean(forward(bad, x64, np.tanh))[0]) > 0


def _lsuv_mean_first(p, x, act):
    """The known-wrong order (numpy, float64): centre each map's bias first, then rescale its
    kernel until the variance is within TOL; the rescale moves the mean again."""
    p = jax.tree.map(lambda a: np.asarray(a, np.float64).copy(), p)
    hidden = zip(p["hidden"]["kernel"], p["hidden"]["bias"], strict=True)
    layers = [p["input"]] + [{"kernel": w, "bias": b} for w, b in hidden]
    h, out = x, []
    for i, layer in enumerate(layers):
        a = h if i == 0 else act(h)
        z = a @ layer["kernel"] + layer["bias"]
        layer["bias"] = layer["bias"] - z.mean()
        for _ in range(10):
            z = a @ layer["kernel"] + layer["bias"]
            if abs(z.var() - 1.0) < TOL:
                break
            layer["kernel"] = layer["kernel"] / np.sqrt(z.var())
        h = a @ layer["kernel"] + layer["bias"]
        out.append(h)
    return out


def test_centring_after_the_rescale_keeps_mean_and_variance():
    # Badly scaled weights (x0.1 the He variance), random biases and inputs with mean 1, so both
    # steps have work to do: after LSUV with centring every map's output has mean 0 and
    # variance within TOL.
    model = models.MLP(
        width=64,
        depth=6,
        activation="relu",
        kernel_init=initializers.get("lsuv", base="he_normal", center=True),
        sigma_w2=0.2,
        sigma_b2=0.1,
        readout=10,
    )
    st = models.stack_of(model)
    x = 1.0 + np.random.default_rng(3).standard_normal((64, 20), np.float32)
    roots = jax.vmap(lambda k: keys.role(k, keys.PARAMS))(keys.seed_keys(3))

    @jax.jit
    @jax.vmap
    def run(root):
        base = models.init_stack(st, root, (20,), 0.2, 0.1)
        return (base, *models.refine_params(st, base, x, None, root))

    # As numpy: the per-seed slices below are numpy indexing, not compiled ops.
    base, refined, info = jax.tree.map(np.asarray, run(roots))
    x64 = np.asarray(x, np.float64)
    relu = lambda v: np.maximum(v, 0.0)
    for s in range(3):
        var, mean = _var_mean(_mlp_forward(jax.tree.map(lambda a, s=s: a[s], refined), x64, relu))
        assert _violations(var) == 0, var
        assert np.all(np.abs(mean) < 1e-4), mean
        assert np.all(np.asarray(info["hidden"]["converged"][s]))
        np.testing.assert_allclose(
            np.asarray(info["hidden"]["mean"][s, :, 0]), mean[1:-1], atol=1e-4
        )
        # The wrong order on the same base draw: variance on target, mean not.
        wrong = _lsuv_mean_first(jax.tree.map(lambda a, s=s: a[s], base), x64, relu)
        w_var, w_mean = _var_mean(wrong)
        assert _violations(w_var) == 0
        assert np.max(np.abs(w_mean)) > 1e-2, w_mean


def test_resmlp_every_branch_map_and_unconverged_maps_reported():
    # LSUV normalizes each affine map of a residual branch (as the lsuv package hooks every
    # nn.Linear), so the residual stream itself grows with depth. A zero-initialized last
    # branch layer (Fixup) has no variance to rescale: left unchanged, reported unconverged.
    width, depth, m = 32, 4, 3
    x = np.random.default_rng(4).standard_normal((32, width), np.float32)
    relu = lambda v: np.maximum(v, 0.0)
    init = initializers.get("lsuv", base="he_normal")
    model = models.ResMLP(
        width=width, depth=depth, branch_layers=m, activation="relu", kernel_init=init,
        last_init="zeros",
    )  # fmt: skip
    st = models.stack_of(model)
    root = keys.role(keys.seed_keys(1)[0], keys.PARAMS)

    @jax.jit  # the base draw and its refinement: one compiled program
    def draw_and_refine(r):
        return models.refine_params(st, models.init_stack(st, r, (width,), None, 0.0), x, None, r)

    p, info = draw_and_refine(root)
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), p)
    z = np.asarray(x, np.float64) @ p["input"]["kernel"] + p["input"]["bias"]
    normalized, zero = [z], []
    for i in range(depth):
        h = relu(z)
        for j in range(m):
            d = jax.tree.map(lambda a, i=i: a[i], p["hidden"][f"dense_{j}"])
            h = (relu(h) if j else h) @ d["kernel"] + d["bias"]
            (zero if j == m - 1 else normalized).append(h)
        z = z + p["hidden"]["alpha"][i] * h
    assert _violations(_var_mean(normalized)[0]) == 0
    conv = np.asarray(info["hidden"]["converged"])
    assert conv.shape == (depth, m) and conv[:, :-1].all() and not conv[:, -1].any()
    assert all(float(np.var(h)) == 0.0 for h in zero)
    assert np.all(np.asarray(info["hidden"]["iters"])[:, -1] == 0)
    assert np.all(p["hidden"][f"dense_{m - 1}"]["kernel"] == 0.0)


class _AttentionLikeStack:
    """A stack whose hidden layer holds maps LSUV cannot find without the affine_units hook."""

    depth, readout, dtype = 2, None, jnp.float32

    def input_apply(self, p, x):
        return x @ p["kernel"]

    def layer_apply(self, p, z):
        return z @ p["attn"]["q"]


def test_stack_without_affine_units_is_refused_clearly():
    st = _AttentionLikeStack()
    params = {"input": {"kernel": jnp.ones((3, 3))}, "hidden": {"attn": {"q": jnp.ones((2, 3, 3))}}}
    method = initializers.method_of(initializers.get("lsuv"))
    with pytest.raises(ValueError, match="affine_units"):
        method.apply(st, params, jnp.ones((4, 3)), None, jax.random.key(0))


@pytest.mark.slow
def test_propagate_given_batch_refines_on_it():
    # propagate(model, x) refines each seed on x itself and measures on x: q equals what the
    # params refined outside propagate (measure.initial_params) give through params=.
    model = models.MLP(width=16, depth=4, activation="tanh", kernel_init="lsuv")
    x = np.random.default_rng(5).standard_normal((12, 16), np.float32)
    res = measure.propagate(model, x, seeds=3, metrics="q")
    params, info = measure.initial_params(model, x, seeds=3)
    ref = measure.propagate(model, x, params=params, metrics="q")
    assert np.asarray(info["hidden"]["converged"]).all()
    one = models.init_params(model, keys.seed_keys(3)[1], x)["params"]
    for a, b in zip(jax.tree.leaves(params["params"]), jax.tree.leaves(one), strict=True):
        np.testing.assert_allclose(np.asarray(a[1]), np.asarray(b), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(res.arrays["q"], ref.arrays["q"], rtol=1e-5)
    assert res.meta["path"] == "materialized" and "lsuv" in res.meta["data_init"]


def _ln(h):
    mu = h.mean(-1, keepdims=True)
    return (h - mu) / np.sqrt(((h - mu) ** 2).mean(-1, keepdims=True) + 1e-6)


def _transformer_maps(p, x, heads, patch):
    """Outputs of every dense map of a pre-LN patch Transformer (flax recipe: LN eps 1e-6,
    learned positions, unit LN scales, mean pooling), float64 numpy, written from the equations
    of Vaswani et al. 2017 independently of the model code."""
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), p)
    b = x.shape[0]
    e = x.reshape(b, -1, patch) @ p["input"]["patch"]["kernel"] + p["input"]["patch"]["bias"]
    maps, z = [e], e + p["input"]["pos"]
    gelu = lambda v: 0.5 * v * (1 + scipy.special.erf(v / np.sqrt(2)))  # exact GELU
    for layer in range(p["hidden"]["attn"]["query"]["kernel"].shape[0]):
        lp = jax.tree.map(lambda a, layer=layer: a[layer], p["hidden"])
        lin = lambda d, h: h @ d["kernel"] + d["bias"]
        h = _ln(z)
        q, k, v = (lin(lp["attn"][r], h) for r in ("query", "key", "value"))
        split = lambda u: u.reshape(b, u.shape[1], heads, -1)
        d_head = q.shape[-1] // heads
        s = np.einsum("bqhd,bkhd->bhqk", split(q), split(k)) / np.sqrt(d_head)
        w = np.exp(s - s.max(-1, keepdims=True))
        w /= w.sum(-1, keepdims=True)
        o = np.einsum("bhqk,bkhd->bqhd", w, split(v)).reshape(b, -1, heads * d_head)
        y = lin(lp["attn"]["out"], o)
        z = z + y
        u = lin(lp["mlp"]["in"], _ln(z))
        y2 = lin(lp["mlp"]["out"], gelu(u))
        z = z + y2
        maps += [q, k, v, y, u, y2]
    logits = _ln(z).mean(1) @ p["readout"]["dense"]["kernel"] + p["readout"]["dense"]["bias"]
    return maps + [logits], z


@pytest.mark.parametrize("center", [pytest.param(False, marks=pytest.mark.slow), True])
def test_transformer_every_projection_on_target(center):
    # LSUV on a pre-LN Transformer (depth 4, width 64): each block's query, key, value, output
    # and MLP maps, in forward order, plus the patch embedding and the readout. Checked per map,
    # per layer and per seed by the float64 forward above, not by LSUV's own bookkeeping.
    depth, width, heads, patch, seeds = 4, 64, 4, 4, 3
    model = models.Transformer(
        width=width, depth=depth, heads=heads, patch=patch, readout=10, activation="gelu",
        kernel_init=initializers.get("lsuv", center=center), sigma_b2=0.05,
    )  # fmt: skip
    st = models.stack_of(model)
    assert st.affine_units("hidden") == (
        ("attn", "query"), ("attn", "key"), ("attn", "value"), ("attn", "out"),
        ("mlp", "in"), ("mlp", "out"),
    )  # fmt: skip
    x = 0.5 + np.random.default_rng(6).standard_normal((32, 40), np.float32)
    roots = jax.vmap(lambda k: keys.role(k, keys.PARAMS))(keys.seed_keys(seeds))
    base = jax.jit(jax.vmap(lambda r: models.init_stack(st, r, (40,), None, 0.05)))(roots)

    @jax.jit  # the refinement and the model's logits: one compiled program
    @jax.vmap
    def refine(base, root):
        refined = models.refine_params(st, base, x, None, root)[0]
        return refined, models.apply_stack(st, refined, x)

    # As numpy (float32): the per-seed slices below are numpy indexing, not compiled ops.
    base, (refined, logits) = jax.tree.map(np.asarray, (base, refine(base, roots)))
    x64 = np.asarray(x, np.float64)
    for s in range(seeds):
        p = jax.tree.map(lambda a, s=s: a[s], refined)
        maps, z = _transformer_maps(p, x64, heads, patch)
        var, mean = _var_mean(maps)
        assert len(var) == 2 + 6 * depth
        assert _violations(var) == 0, (s, var.reshape(-1).round(3))
        if center:
            assert np.all(np.abs(mean) < 1e-4), mean
        # The independent forward is the model's: same logits.
        np.testing.assert_allclose(logits[s].astype(np.float64), maps[-1], rtol=1e-3, atol=1e-4)
        # Negative control: the base draw itself is off target on some map.
        b_maps, _ = _transformer_maps(jax.tree.map(lambda a, s=s: a[s], base), x64, heads, patch)
        assert _violations(_var_mean(b_maps)[0]) > 0


def test_transformer_data_dependent_role_override_is_refused():
    # A per-role override cannot refine the whole network: it would silently be the base draw.
    with pytest.raises(ValueError, match="kernel_init"):
        models.Transformer(width=8, depth=2, heads=2, patch=4, inits={"query": "lsuv"})
    st = models.stack_of(models.Transformer(width=8, depth=2, heads=2, vocab=5, kernel_init="lsuv"))
    assert st.affine_units("input") == () and models.data_method(st).name == "lsuv"
