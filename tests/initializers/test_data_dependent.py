"""Contract of the data-dependent entries (family "data_dependent": lsuv, metainit, gradinit).

Each is a base initializer plus a refinement ``method.apply(stack, params, x, y, key)`` that must
be a pure function of one network: jit- and vmap-able over seeds with the same result as running
each seed alone, structure / shapes / dtypes preserved. The algorithms' own promises are tested
in test_lsuv.py, test_metainit.py and test_gradinit.py.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from initjax import initializers, keys, models
from initjax.initializers import cli as init_cli

DD = [n for n in initializers.names() if initializers.entry(n).family == "data_dependent"]
BASES = {"lsuv": "orthogonal", "metainit": "he_normal", "gradinit": "he_normal"}


def test_the_three_methods_are_registered_and_listed(capsys):
    from initjax.cli import main

    assert set(DD) == {"lsuv", "metainit", "gradinit"}
    rows = {r["name"]: r for r in init_cli.rows()}
    for name in DD:
        assert rows[name]["family"] == "data_dependent"
        assert rows[name]["hparams"]["base"] == BASES[name]
    assert rows["lsuv"]["hparams"]["tol"] == 0.1 and rows["lsuv"]["hparams"]["max_iters"] == 10
    expected = {
        "metainit": {"lr": 0.1, "steps": 50, "batch_size": 8, "eps": 1e-5, "momentum": 0.5},
        "gradinit": {"eta": 0.1, "gamma": 1.0, "min_scale": 0.01, "grad_clip": 1.0, "iters": 390},
    }
    for name, hp in expected.items():
        assert hp.items() <= rows[name]["hparams"].items(), name
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "[data_dependent]" in out and "base='orthogonal'" in out and "gradinit" in out


@pytest.mark.parametrize("name", DD)
def test_refuses_to_fill_one_array(name):
    init = initializers.get(name)
    with pytest.raises(TypeError, match="data-dependent"):
        init(jax.random.key(0), (4, 4))
    assert initializers.is_data_dependent(init)
    assert initializers.sampler_of(init).name == BASES[name]


@pytest.mark.parametrize(
    ("name", "hp", "match"),
    [
        ("lsuv", {"tol": 0.0}, "tol"),
        ("lsuv", {"max_iters": 0}, "max_iters"),
        ("lsuv", {"base": "orthogonl"}, "base.*orthogonal"),
        ("lsuv", {"base": "metainit"}, "itself data-dependent"),
        ("lsuv", {"base": "zeros"}, "not a kernel initializer"),
        ("lsuv", {"tolerance": 0.1}, "unknown hyper-parameter"),
        ("metainit", {"momentum": 1.0}, "momentum"),
        ("metainit", {"data": "real"}, "data"),
        ("gradinit", {"alg": "sgdm"}, "alg"),
        ("gradinit", {"batch_size": 1}, "batch_size"),
        ("gradinit", {"gamma": -1.0}, "gamma"),
    ],
)
def test_bad_hyper_parameters(name, hp, match):
    with pytest.raises(ValueError, match=match):
        initializers.get(name, **hp)


@pytest.mark.slow
def test_vmap_over_seeds_equals_each_seed_alone():
    # The batched call is compared with single-seed calls. (In the default run, test_lsuv's
    # propagate test compares propagate's vmapped refinement with single-seed init_params;
    # MetaInit's and GradInit's tests check that a seed's result does not depend on the other
    # seeds of the batch.)
    init = initializers.get("lsuv", base="he_normal", center=True)
    model = models.MLP(width=8, depth=3, activation="tanh", kernel_init=init, readout=3)
    st = models.stack_of(model)
    x = np.random.default_rng(1).standard_normal((16, 5), np.float32)
    roots = jax.vmap(lambda k: keys.role(k, keys.PARAMS))(keys.seed_keys(3))
    base = jax.jit(jax.vmap(lambda r: models.init_stack(st, r, (5,), None, 0.0)))(roots)

    def refine(p, r):
        return models.refine_params(st, p, x, None, r)[0]

    batched = jax.jit(jax.vmap(refine))(base, roots)
    one = jax.jit(refine)
    for s in range(3):
        alone = one(jax.tree.map(lambda a, s=s: a[s], base), roots[s])
        for a, b in zip(jax.tree.leaves(batched), jax.tree.leaves(alone), strict=True):
            np.testing.assert_allclose(np.asarray(a[s]), np.asarray(b), rtol=2e-5, atol=1e-6)
    for a, b in zip(jax.tree.leaves(batched), jax.tree.leaves(base), strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype
        assert bool(jnp.all(jnp.isfinite(a)))


def test_model_init_refines_on_its_batch_like_init_params():
    model = models.MLP(width=8, depth=3, activation="tanh", kernel_init="lsuv", readout=3)
    x = np.random.default_rng(1).standard_normal((16, 5), np.float32)
    k = keys.seed_keys(1)[0]
    a = model.init({"params": keys.role(k, keys.PARAMS)}, x)["params"]
    b = models.init_params(model, k, x)["params"]
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    # LSUV only rescales the base draw: each refined kernel is its orthogonal draw times a
    # positive factor, not 1 for the hidden tanh layers (E[tanh(z)^2] < 1 for Var z = 1).
    st = models.stack_of(model)
    draw = jax.jit(models.init_stack, static_argnums=(0, 2))
    drawn = draw(st, keys.role(k, keys.PARAMS), (5,), None, 0.0)
    for i in range(3):
        w0, w1 = np.asarray(drawn["hidden"]["kernel"][i]), np.asarray(b["hidden"]["kernel"][i])
        ratio = np.sum(w0 * w1) / np.sum(w0 * w0)
        np.testing.assert_allclose(w1, ratio * w0, rtol=1e-5, atol=1e-7)
        assert ratio > 1.05
    np.testing.assert_array_equal(drawn["input"]["bias"], b["input"]["bias"])


def test_data_dependent_only_as_kernel_init():
    m = models.MLP(width=8, depth=2, kernel_init="he_normal", readout=3, readout_init="lsuv")
    with pytest.raises(ValueError, match="readout_init.*kernel_init"):
        models.init_params(m, keys.seed_keys(1)[0], jnp.ones((4, 5)))


def test_labels_required_where_used():
    from initjax import measure

    m = models.MLP(width=8, depth=3, kernel_init="gradinit", readout=3)
    with pytest.raises(ValueError, match="labelled data"):
        measure.propagate(m, seeds=2, input_shape=(5,))
    with pytest.raises(ValueError, match="labelled data"):
        models.init_params(m, keys.seed_keys(1)[0], jnp.ones((4, 5)))
