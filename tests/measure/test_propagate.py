"""propagate(): paths, grids, caching, tables, divergence and argument errors."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from initjax import initializers, keys, models
from initjax.measure import prepare, propagate, trace_count
from initjax.models import MLP, ConvNet, init_params
from tests import example_runs


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k], equal_nan=True), k


# One small network measured with every metric it supports, shared by several tests and by the
# registry contracts (tests/example_runs.py: one compilation per path in the session).
REF = models.example("mlp")  # tanh, width 8, depth 3, 8 inputs, readout 3
X = example_runs.inputs("mlp")  # (4, 8)
# The built-in per-layer columns in registry order (plugin metrics would follow them).
PER_LAYER = (
    *("q", "c", "grad_sq", "act_std", "act_saturation", "unit_dist", "act_rank", "z_mean"),
    *("z_var", "distinct_units", "unit_rel_dist_min", "unit_rel_dist_max", "weight_rank"),
)


def _ref(path: str):
    return example_runs.measured("mlp", path)


@functools.cache
def _ref_params():
    """REF's params for seeds 0 and 1 by ``init_params``, stacked along a leading seed axis (one
    compiled program, the one tests/models/test_model_registry.py compiles for this network)."""
    ks = keys.seed_keys(2)
    one = [init_params(REF, ks[s], X) for s in range(2)]
    return jax.tree.map(lambda *a: np.stack(a), *one)


def test_fused_equals_materialized_bit_for_bit():
    # Every registered family is held to this in tests/models/test_model_registry.py; a conv
    # net on given-shape inputs with a fixed input correlation in the dropout test below.
    fused, mat = _ref("fused"), _ref("materialized")
    _same(fused.arrays, mat.arrays)
    assert np.array_equal(fused.diverged, mat.diverged)
    assert not fused.diverged.any()


def test_shapes_tables_and_reference_values():
    # The engine's numbers against a direct, unrolled computation on the materialized params.
    r = _ref("fused")
    assert r.arrays["q"].shape == (2, 4) and r.arrays["jac_sv"].shape == (2, 8)
    assert r.diverged.shape == (2,)
    df = r.to_frame()
    cols = list(df.columns)
    assert cols[: 2 + len(PER_LAYER)] == ["seed", "layer", *PER_LAYER]
    assert cols[-3:] == ["underflow", "nonfinite", "diverged"]
    assert not df[["underflow", "nonfinite", "diverged"]].any().any()
    assert len(df) == 2 * 4
    jf = r.jacobian_frame()
    cols = ["seed", "index", "sv", "floor", "below_floor", "rtol", "diverged"]
    assert list(jf.columns) == cols and len(jf) == 2 * 8

    k = keys.seed_keys(2)[1]
    p = jax.tree.map(lambda a: a[1], _ref_params()["params"])

    def forward(x, probes):
        zs = [x @ p["input"]["kernel"] + p["input"]["bias"] + probes[0]]
        for i in range(3):
            h = jnp.tanh(zs[-1])
            zs.append(h @ p["hidden"]["kernel"][i] + p["hidden"]["bias"][i] + probes[i + 1])
        out = jnp.tanh(zs[-1]) @ p["readout"]["kernel"] + p["readout"]["bias"]
        return out, zs

    # The reference computations are compiled (one program each, not one per operation).
    zero = np.zeros((4, 4, 8), np.float32)
    out, zs = jax.jit(forward)(X, zero)
    ct = jax.random.normal(keys.role(k, keys.COTANGENT), out.shape)
    g = jax.jit(jax.grad(lambda pr: jnp.sum(ct * forward(X, pr)[0])))(zero)
    z = np.stack([np.asarray(v, np.float64) for v in zs])  # (layer, batch, unit)
    gram = np.einsum("lbi,lci->lbc", z, z)
    d = np.sqrt(np.einsum("lbb->lb", gram))
    iu = np.triu_indices(4, 1)
    c = (gram / (d[:, :, None] * d[:, None, :]))[:, iu[0], iu[1]].mean(axis=1)
    np.testing.assert_allclose(r.arrays["q"][1], (z**2).mean(axis=(1, 2)), rtol=1e-5)
    np.testing.assert_allclose(r.arrays["c"][1], c, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(r.arrays["act_std"][1], np.tanh(z).std(axis=(1, 2)), rtol=1e-5)
    sq = (np.asarray(g, np.float64) ** 2).sum(-1).mean(-1)
    np.testing.assert_allclose(r.arrays["grad_sq"][1], sq, rtol=1e-5)
    sat = (np.abs(np.tanh(z)) > 0.9).mean(axis=(1, 2))
    np.testing.assert_allclose(r.arrays["act_saturation"][1], sat, atol=1e-6)
    rank = [np.linalg.matrix_rank(np.tanh(v)) for v in z]
    np.testing.assert_array_equal(r.arrays["act_rank"][1], rank)

    def feats(v):  # phi(z^depth) at one input, without the readout
        return jnp.tanh(forward(v[None], jnp.zeros((4, 1, 8)))[1][-1])[0]

    jac = np.asarray(jax.jit(jax.jacfwd(feats))(X[0]), np.float64)
    sv = np.linalg.svd(jac, compute_uv=False)
    np.testing.assert_allclose(r.arrays["jac_sv"][1], sv, rtol=1e-4, atol=1e-6)


def test_given_params_are_measured():
    given = propagate(REF, X, params=_ref_params(), metrics="q,c,grad_sq")
    ref = _ref("materialized").arrays
    for k, v in given.arrays.items():
        if v.dtype == bool:  # flags
            np.testing.assert_array_equal(v, ref[k], err_msg=k)
        else:
            np.testing.assert_allclose(v, ref[k], rtol=1e-6, atol=1e-7, err_msg=k)


# The grid test's network; its scalar runs' program (sigma_w2 and sigma_b2 given, 3 seeds, q and
# c) is reused by the seed-key, input-mode and model-spec tests below.
GRID_NET = dict(width=8, depth=30, activation="relu", kernel_init="he_normal")
SCALAR = dict(seeds=3, metrics="q,c", sigma_w2=1.0, sigma_b2=0.05)


def test_grid_one_compilation_common_random_numbers_and_divergence():
    m = MLP(**GRID_NET)
    sw = np.array([1.0, 2.0, 1e8], np.float32)
    # Other tests of this module reuse these programs: the trace counts below are this test's
    # own whatever ran before (the compiled programs still come from the persistent cache).
    jax.clear_caches()
    before = trace_count()
    g = propagate(m, seeds=3, metrics="q,c", sigma_w2=sw, sigma_b2=0.05)
    assert trace_count() - before == 1  # one trace for the 3 cells
    before = trace_count()
    assert g.arrays["q"].shape == (3, 3, 31) and g.diverged.shape == (3, 3)
    # New values, an equal model built again (with other default sigmas): no recompilation.
    m2 = MLP(width=8, depth=30, activation="relu", kernel_init="he_normal", sigma_w2=3.0)
    g2 = propagate(m2, seeds=3, metrics="q,c", sigma_w2=sw * 1.1, sigma_b2=0.3)
    assert trace_count() == before
    assert not np.allclose(g.arrays["q"][:2], g2.arrays["q"][:2])
    # Exploding signals (sigma_w2 = 1e8: q grows 5e7-fold per layer) are values, flagged.
    assert g.diverged.tolist() == [[False] * 3, [False] * 3, [True] * 3]
    assert not np.all(np.isfinite(g.arrays["q"][2]))
    df = g.to_frame()
    assert list(df.columns[:4]) == ["sigma_w2", "sigma_b2", "seed", "layer"]
    assert len(df) == 3 * 3 * 31
    np.testing.assert_allclose(df["sigma_w2"].unique(), sw)
    assert df.loc[df["sigma_w2"] > 1e7, "diverged"].all()
    s = g.summary(layers=[0, 30])
    assert s.loc[s["sigma_w2"] > 1e7, "diverged"].tolist() == [3, 3]
    # Each grid cell equals a separate scalar run (same keys: common random numbers).
    n = trace_count()
    for h in (0, 1):
        one = propagate(m, seeds=3, metrics="q,c", sigma_w2=float(sw[h]), sigma_b2=0.05)
        np.testing.assert_allclose(g.arrays["q"][h], one.arrays["q"], rtol=1e-6)
        np.testing.assert_allclose(g.arrays["c"][h], one.arrays["c"], rtol=1e-5, atol=1e-6)
    assert trace_count() == n + 1  # both scalar runs share one compilation


def test_seed_keys_and_input_modes():
    m = MLP(**GRID_NET)
    a = propagate(m, root_seed=5, **SCALAR)
    b = propagate(m, **{**SCALAR, "seeds": keys.seed_keys(3, root=5)})
    _same(a.arrays, b.arrays)
    # Shared inputs are seed 0's per-seed inputs; other seeds draw their own.
    p = propagate(m, root_seed=5, inputs="per_seed", **SCALAR)
    np.testing.assert_allclose(p.arrays["q"][0], a.arrays["q"][0], rtol=1e-6)
    assert not np.allclose(p.arrays["c"][1:, 0], a.arrays["c"][1:, 0])


def test_model_spec_dict():
    # sigma_b2 from the spec (the call gives sigma_w2 only).
    kw = dict(seeds=3, metrics="q,c", sigma_w2=1.0, root_seed=5)
    a = propagate({"arch": "mlp", **GRID_NET, "sigma_b2": 0.05}, **kw)
    b = propagate(MLP(**GRID_NET, sigma_b2=0.05), **kw)
    _same(a.arrays, b.arrays)
    with pytest.raises(ValueError, match="arch"):
        prepare({"width": 8, "depth": 3})


def test_loss_gradient():
    # loss = |out|^2 / 2 has d loss / d out = out; on a linear net without readout the last
    # layer's grad_sq is mean_b |z^L_b|^2 = width * q^L.
    m = MLP(width=8, depth=2, activation="linear", sigma_w2=1.0)
    r = propagate(m, seeds=2, metrics="q,grad_sq", loss=lambda o: 0.5 * jnp.sum(o**2))
    np.testing.assert_allclose(r.arrays["grad_sq"][:, -1], 8 * r.arrays["q"][:, -1], rtol=1e-5)


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"seeds": 0}, "seeds"),
        ({"seeds": -2}, "seeds"),
        ({"seeds": 2.5}, "seeds"),
        ({"metrics": "q,kurtosis"}, "metric"),
        ({"metrics": ()}, "metrics"),
        ({"sigma_w2": -1.0}, "sigma_w2"),
        ({"sigma_w2": np.array([1.0, -0.1])}, "sigma_w2"),
        ({"sigma_w2": np.ones((2, 2))}, "sigma_w2"),
        ({"sigma_b2": float("inf")}, "sigma_b2"),
        ({"sigma_w2": np.ones(3), "sigma_b2": np.ones(2)}, "broadcast"),
        ({"batch": 0}, "batch"),
        ({"batch": 1, "metrics": "c"}, "batch"),
        ({"c0": 1.5}, "c0"),
        ({"inputs": "fresh"}, "inputs"),
        ({"path": "unrolled"}, "path"),
        ({"q0": 0.0}, "q0"),
        ({"metrics": "act_saturation"}, "act_saturation"),
        ({"metrics": "jac_sv", "input_shape": (2000,)}, "jac_sv"),
        ({"input_shape": (4, 4)}, "x: an MLP"),
    ],
)
def test_bad_arguments_fail_before_compiling(kw, match):
    m = MLP(width=8, depth=3, activation="gelu")
    before = trace_count()
    with pytest.raises((ValueError, TypeError), match=match):
        prepare(m, **kw)
    assert trace_count() == before


def test_bad_model_and_initializer():
    with pytest.raises(TypeError, match="model"):
        prepare("mlp")
    with pytest.raises(ValueError, match="kernel_init"):
        prepare(MLP(width=8, depth=2, kernel_init=jax.nn.initializers.delta_orthogonal()))
    with pytest.raises(ValueError, match="x must be a batch"):
        prepare(MLP(width=8, depth=2), jnp.ones(8))


# --- dropout ------------------------------------------------------------------------------------


def test_keep_prob_one_is_bit_identical_to_no_dropout():
    # The example MLP's shared runs (fused, materialized) and the pre-activation path on
    # tests/measure/test_preact.py's network, input shape and metrics: keep_prob=1 runs those
    # programs again (a compiled program depends on shapes, not on input values).
    ks = keys.seed_keys(2)
    for path in ("fused", "materialized"):
        b = propagate(REF, X, seeds=ks, metrics=example_runs.supported(REF), path=path,
                      keep_prob=1.0)  # fmt: skip
        _same(_ref(path).arrays, b.arrays)
    normal = initializers.get("variance_scaling", distribution="normal")
    g = MLP(width=48, depth=6, activation="tanh", kernel_init=normal, sigma_w2=1.5, sigma_b2=0.05)
    x = np.random.default_rng(4).standard_normal((16, 48)).astype(np.float32)
    kw = dict(seeds=256, metrics=("q", "c", "act_std"), path="preact")
    a = propagate(g, x, **kw)
    b = propagate(g, x, keep_prob=1.0, **kw)
    assert a.meta["path"] == b.meta["path"] == "preact"
    _same(a.arrays, b.arrays)


@pytest.mark.parametrize("model", [
    MLP(width=24, depth=5, sigma_w2=1.5, sigma_b2=0.05, readout=3),
    ConvNet(channels=4, depth=3, ndim=1, sigma_w2=2.0, sigma_b2=0.05, readout=2),
])  # fmt: skip
def test_dropout_fused_and_materialized_are_bit_identical(model):
    metrics = ("q", "c") if isinstance(model, ConvNet) else ("q", "c", "grad_sq")
    kw = dict(seeds=3, batch=4, metrics=metrics, keep_prob=0.8)
    if isinstance(model, ConvNet):  # given-shape inputs with a fixed input correlation
        kw.update(input_shape=(6, 3), c0=0.4)
    a = propagate(model, path="fused", **kw)
    b = propagate(model, path="materialized", **kw)
    for k in metrics:
        np.testing.assert_array_equal(a.arrays[k], b.arrays[k])
    assert np.array_equal(a.diverged, b.diverged) and not a.diverged.any()
    assert a.meta["keep_prob"] == 0.8


def _z_per_layer(frame, col):
    d = (frame[col] - frame[f"{col}_theory"]).groupby(frame["layer"])
    return (d.mean() / (d.std(ddof=1) / np.sqrt(d.count()))).to_numpy()


def test_dropout_q_and_c_follow_the_mean_field_maps():
    """Schoenholz et al. 2017, Sec. 4: q^l = (sigma_w2 / rho) E[phi^2] + sigma_b2 and the c-map
    without 1/rho in the cross term. 64 networks of width 512, 4 inputs, rho = 0.7: the seed
    SE of q^l - q_theory^l is ~0.4% of q; the finite-width bias O(1/N) ~0.2%, so |z| <= 4 per
    layer. Negative control: the maps without dropout (rho = 1) miss q by ~30% (> 20 SE)."""
    from initjax import theory

    rho = 0.7
    m = MLP(width=512, depth=4, kernel_init="normal", sigma_w2=1.8, sigma_b2=0.05)
    res = propagate(m, seeds=64, batch=4, c0=0.5, keep_prob=rho, path="fused")
    frame = res.to_frame()
    var = dict(sigma_w2=1.8, sigma_b2=0.05)
    good = theory.compare(frame, "tanh", keep_prob=rho, **var)
    for col in ("q", "c"):
        z = _z_per_layer(good[good["layer"] >= 1], col)
        assert np.all(np.abs(z) <= 4.0), (col, z)
    wrong = theory.compare(frame, "tanh", keep_prob=1.0, **var)
    zw = _z_per_layer(wrong[wrong["layer"] >= 1], "q")
    assert np.all(np.abs(zw) > 20.0), zw


@pytest.mark.slow
def test_dropout_preact_path_has_the_fused_path_law():
    """The pre-activation path applies the same masks before drawing Z | A: its seed-mean q^L
    and c^L match the fused path's within 4 combined SE (64 networks each)."""
    m = MLP(width=256, depth=4, kernel_init="normal", sigma_w2=1.8, sigma_b2=0.05)
    kw = dict(seeds=64, batch=4, c0=0.5, keep_prob=0.7)
    a = propagate(m, path="preact", **kw).arrays
    b = propagate(m, path="fused", **kw).arrays
    for k in ("q", "c"):
        x, y = a[k][:, -1], b[k][:, -1]
        se = np.sqrt(x.var(ddof=1) / x.size + y.var(ddof=1) / y.size)
        assert abs(x.mean() - y.mean()) <= 4 * se, (k, x.mean(), y.mean(), se)


@pytest.mark.parametrize("bad, err", [(0.0, ValueError), (1.5, ValueError), (True, TypeError),
                                      ("0.5", TypeError)])  # fmt: skip
def test_keep_prob_is_validated(bad, err):
    with pytest.raises(err, match="keep_prob"):
        propagate(MLP(width=8, depth=2), seeds=2, keep_prob=bad)


def test_dropout_refuses_the_jacobian():
    with pytest.raises(ValueError, match="jac_sv.*keep_prob"):
        propagate(MLP(width=8, depth=2), seeds=2, metrics=("jac_sv",), keep_prob=0.5)
