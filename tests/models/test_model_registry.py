"""Registry-wide contract: every family in ``models.names()`` is tested here without editing
this file (a plugin family registered before collection is tested too).

Each family is built from its registered ``example`` fields (small, cheap to compile). Checks:
Linen ``init`` == ``init_params`` bit for bit; shapes and dtypes of params and outputs; the fused
and materialized measurement paths give bit-identical results for every metric the family
supports, and an unsupported metric is refused with the declared reason; the lowered program
does not grow with depth (depth is a scan).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from initjax import keys, models
from initjax.measure import metrics, prepare
from initjax.models import StackModule, init_params, stack_of
from tests import example_runs

NAMES = models.names()


@functools.cache
def _seeds():
    """Seeds 0 and 1 of the key scheme (made on first use: collecting compiles nothing)."""
    return keys.seed_keys(2)


BATCH = example_runs.BATCH


def _equal(a, b) -> bool:
    same = jax.tree.map(lambda u, v: bool(np.array_equal(u, v, equal_nan=True)), a, b)
    return jax.tree.structure(a) == jax.tree.structure(b) and all(jax.tree.leaves(same))


def _x(model, batch=2):
    shape = stack_of(model).default_input_shape()
    return np.random.default_rng(3).standard_normal((batch, *shape), np.float32)


_supported = example_runs.supported


def _paths(name: str):
    # The runs tests/measure/test_metric_registry.py and test_propagate.py read too (one
    # compiled program per family and path in the session).
    m = models.example(name)
    fused, mat = example_runs.measured(name), example_runs.measured(name, "materialized")
    return m, example_runs.supported(m), fused, mat


def test_builtin_families_are_registered():
    assert {"mlp", "conv", "resmlp"} <= set(NAMES)
    assert models.get("MLP") is models.MLP and models.get("conv") is models.ConvNet
    assert set(models.ARCHITECTURES) == set(NAMES)
    with pytest.raises(ValueError, match=r"arch: unknown model 'mpl'\. Did you mean 'mlp'"):
        models.build("mpl", width=4, depth=2)


@pytest.mark.parametrize("name", NAMES)
def test_metadata_and_build(name):
    cls = models.get(name)
    assert issubclass(cls, StackModule)
    meta = models.metadata(name)
    fields = models.field_names(cls)
    assert {"depth", meta["width_field"], "sigma_w2", "sigma_b2"} <= set(fields)
    assert meta["description"]
    m = models.example(name)
    assert isinstance(m, cls) and models.name_of(m) == name
    assert getattr(m, meta["width_field"]) >= 1
    with pytest.raises(TypeError, match="unknown field"):
        models.build(name, **meta["example"], no_such_field=1)


@pytest.mark.parametrize("name", NAMES)
def test_linen_init_equals_init_params_shapes_and_dtypes(name):
    m = models.example(name)
    x = _x(m)
    linen = m.init({"params": keys.role(_seeds()[1], keys.PARAMS)}, x)
    v = init_params(m, _seeds()[1], x)
    assert _equal(linen, v)
    p = v["params"]
    st = stack_of(m)
    assert set(p) == {"input", "hidden"} | ({"readout"} if st.readout is not None else set())
    for leaf in jax.tree.leaves(p["hidden"]):
        assert leaf.shape[0] == m.depth  # stacked along depth
    for leaf in jax.tree.leaves(p):
        assert leaf.dtype == jnp.dtype(m.dtype)
    out = m.apply(v, x)
    assert out.dtype == jnp.dtype(m.dtype) and np.all(np.isfinite(np.asarray(out)))
    if st.readout is not None:
        assert out.shape == (2, st.readout)
    else:
        assert out.shape[0] == 2
    # Another dtype: every parameter follows the model's dtype exactly. The dtypes are fixed
    # when init_params is traced, so its abstract evaluation gives them without compiling.
    if "dtype" in models.field_names(type(m)):
        lo = models.example(name, dtype=jnp.bfloat16)
        lo_params = jax.eval_shape(lambda: init_params(lo, _seeds()[0], x))
        assert jax.tree.leaves(lo_params)
        for leaf in jax.tree.leaves(lo_params):
            assert leaf.dtype == jnp.bfloat16


@pytest.mark.parametrize("name", NAMES)
def test_fused_equals_materialized_and_every_metric_runs_or_is_refused(name):
    # One test per family: both checks read the same two compiled programs (xdist would
    # otherwise compute them once per worker).
    m, ms, fused, mat = _paths(name)
    assert fused.arrays.keys() == mat.arrays.keys()
    for k in fused.arrays:
        assert np.array_equal(fused.arrays[k], mat.arrays[k], equal_nan=True), (name, k)
    # Shapes, finiteness and flags on the (normal, shallow) example network.
    for spec in map(metrics.get, ms):
        if not spec.per_layer:
            continue
        for c in spec.columns:
            a = fused.arrays[c]
            assert a.shape == (2, m.depth + 1) and a.dtype == np.float32, (name, c)
            if spec.nonfinite_policy == "hidden_only":  # undefined at the input projection
                assert np.all(np.isnan(a[:, 0])) and np.all(np.isfinite(a[:, 1:])), (name, c)
            else:
                assert np.all(np.isfinite(a)), (name, c)
    for c in metrics.columns(ms, per_layer=False):
        a = fused.arrays[c]
        assert a.ndim == 2 and a.shape[0] == 2 and np.all(np.isfinite(a)), (name, c)
    assert not fused.diverged.any() and not fused.arrays["underflow"].any()
    assert not fused.arrays["nonfinite"].any()
    # Every metric runs (its columns are in the result) or is refused with the declared reason.
    st = stack_of(m)
    for metric in metrics.names():
        reason = metrics.support(metric, st)
        if reason is None:
            assert metric in ms and all(c in fused.arrays for c in metrics.get(metric).columns)
        else:
            with pytest.raises(ValueError, match=metric):
                prepare(m, seeds=2, metrics=(metric,), batch=BATCH)


@pytest.mark.parametrize("name", NAMES)
def test_program_size_does_not_grow_with_depth(name):
    # Depth is a scan: the lowered program at depth 48 is the one at depth 3 up to the digits of
    # a few constants. An unrolled loop would repeat every layer's operations 16 times more.
    def program(depth):
        m = models.example(name, depth=depth)
        return prepare(m, seeds=2, metrics=_supported(m), batch=BATCH).lower().as_text()

    short, deep = program(3), program(48)
    assert len(deep) < 1.02 * len(short), (len(short), len(deep))
    for op in ("stablehlo.dot_general", "stablehlo.convolution", "stablehlo.while"):
        assert deep.count(op) == short.count(op), op


@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_has_a_role_and_fans(name):
    """Stack.roles() mirrors the params (one hidden layer, no depth axis); every role is known;
    built-in families must declare them (a plugin family without roles is skipped: parametrize
    refuses it with a clear error);
    kernels' fans from the role axes equal initjax.initializers.fans of the kernel (the layout
    models draw with); residual-branch outputs are inside branches."""
    from initjax.initializers import fans

    fields = dict(models.metadata(name)["example"])
    fields.setdefault("readout", 3)
    m = models.build(name, **fields)
    st = stack_of(m)
    in_shape = st.default_input_shape()
    shapes = jax.eval_shape(
        lambda k: models.init_stack(st, k, in_shape, m.sigma_w2, m.sigma_b2), jax.random.key(0)
    )
    try:
        roles = st.roles()
    except models.UnsupportedCapability:
        if type(m).__module__.startswith("initjax."):
            raise
        pytest.skip(f"plugin family {name!r} declares no roles (parametrize refuses it)")
    is_role = lambda x: isinstance(x, models.ParamRole)
    assert jax.tree.structure(roles, is_leaf=is_role) == jax.tree.structure(shapes)
    flat_r = jax.tree_util.tree_leaves_with_path(roles, is_leaf=is_role)
    flat_s = jax.tree.leaves(shapes)
    for (path, role), sds in zip(flat_r, flat_s, strict=True):
        assert role.role in models.ROLES
        shape = sds.shape[1:] if path[0].key == "hidden" else sds.shape
        fi, fo = role.fans(shape)
        if role.in_axes:  # kernels: the initializers' fan convention
            assert (fi, fo) == fans(shape, in_axis=role.in_axes, out_axis=role.out_axes)
        elif role.out_axes:  # vectors: fan_out = their length, fan_in 1
            assert (fi, fo) == (1, shape[-1])
        else:
            assert shape == () and (fi, fo) == (1, 1)
        if role.branch_output:
            assert role.branch
    kinds = {r.role for _, r in flat_r}
    assert {"input", "readout", "bias"} <= kinds
