"""Registry-wide contract: every entry in ``names()`` is tested here without editing this file.

Which shapes an entry gets comes from its metadata (``Entry.shapes``, ``fan_based``,
``deterministic``); the shape tables are in initializer_cases.py.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from initjax import initializers
from tests.initializers.initializer_cases import SMALL, cases, representative

ALL = initializers.names()
# Entries that fill an array from (key, shape). Data-dependent entries (LSUV, MetaInit, GradInit)
# refine a whole network on data and refuse (key, shape); test_data_dependent.py holds their
# contract.
NAMES = [n for n in ALL if initializers.entry(n).family != "data_dependent"]


@functools.cache
def _key():
    """The key for single draws (made on first use: collecting the tests compiles nothing)."""
    return jax.random.key(0)


# Moment tests pool N_KEYS independent draws of the small shapes (>= 18k elements for every
# kernel kind but "vector"), one call per key: the float32 program of each (entry, shape) is the
# one test_shape_and_exact_dtype compiles, so the pool compiles nothing new (a vmapped draw is a
# batched program of its own per entry and shape). The determinism test checks that init vmapped
# over the same keys gives these very draws, bit for bit.
N_KEYS = 64


@functools.cache
def _keys():
    """N_KEYS independent keys (made on first use: collecting the tests compiles nothing)."""
    return jax.random.split(jax.random.key(3), N_KEYS)


@functools.cache
def _key_list() -> tuple[jax.Array, ...]:
    """The keys of _keys() one by one, rebuilt from their key data in numpy (indexing a key
    array compiles a slicing program)."""
    return tuple(jax.random.wrap_key_data(d) for d in np.asarray(jax.random.key_data(_keys())))


def _draws(init, shape) -> jax.Array:
    """(N_KEYS, *shape): init vmapped over _keys()."""
    return jax.vmap(lambda k: init(k, shape))(_keys())


def _pooled(init, shape) -> np.ndarray:
    """(N_KEYS, *shape): init(k, shape) for each k of _key_list(), in float64."""
    return np.stack([np.asarray(init(k, shape), np.float64) for k in _key_list()])


def _finite(w) -> bool:
    """Every element finite, checked in numpy (an eager jnp check compiles per shape and dtype);
    float64 holds every float32 / bfloat16 / float16 value exactly, inf and NaN included."""
    return bool(np.isfinite(np.asarray(w, np.float64)).all())


SCALAR_HPARAMS = ("scale", "stddev", "gain", "std", "limit", "value")


def test_registry_covers_the_issue():
    required = {
        "zeros", "ones", "constant", "normal", "uniform", "uniform_symmetric", "truncated_normal",
        "variance_scaling", "lecun_normal", "lecun_uniform", "glorot_normal", "glorot_uniform",
        "he_normal", "he_uniform", "torch_kaiming_uniform", "torch_kaiming_normal",
        "torch_xavier_uniform", "torch_xavier_normal", "torch_trunc_normal",
        "torch_default_linear", "orthogonal", "delta_orthogonal", "identity", "dirac", "sparse",
        "zero_init_hadamard", "scaled_uniform_orthogonal",
    }  # fmt: skip
    assert required <= set(NAMES)
    al = initializers.aliases()
    for a, c in {"xavier_normal": "glorot_normal", "xavier_uniform": "glorot_uniform",
                 "kaiming_normal": "he_normal", "kaiming_uniform": "he_uniform",
                 "eye": "identity"}.items():  # fmt: skip
        assert al[a] == c
        assert initializers.entry(a) is initializers.entry(c)


@pytest.mark.parametrize("name", ALL)
def test_metadata(name):
    e = initializers.entry(name)
    assert e.reference and e.family and e.shapes
    assert set(e.shapes) <= set(initializers.SHAPE_KINDS)
    assert ("vector" in e.shapes) == (not e.fan_based)
    # A random entry must promise a variance (the moment test below holds it to it).
    assert e.deterministic or e.variance is not None or e.shape_variance is not None
    assert set(e.choices) <= set(e.defaults)
    for k, allowed in e.choices.items():
        assert e.defaults[k] in allowed


@pytest.mark.parametrize("name", NAMES)
def test_shape_and_exact_dtype(name):
    # float32 for every kernel kind the entry supports; the dtype is handled once at the end of
    # each sampler whatever the shape, so bfloat16 / float16 are checked on one shape.
    for kind, shape, hp in cases(name):
        w = initializers.get(name, **hp)(_key(), shape, jnp.float32)
        assert w.shape == shape and w.dtype == jnp.float32, (name, kind, shape)
        assert _finite(w), (name, shape)
    shape, hp = representative(name)
    init = initializers.get(name, **hp)
    w32 = np.asarray(init(_key(), shape, jnp.float32))
    for dt in (jnp.bfloat16, jnp.float16):
        w = init(_key(), shape, dt)
        assert w.shape == shape and w.dtype == jnp.dtype(dt), (name, shape, dt)
        assert _finite(w), (name, shape, dt)
        if name == "uniform":
            # Delegates to jax.random.uniform, which draws in the target dtype: range only.
            scale = init.hparams["scale"]
            wf = np.asarray(w, np.float32)  # exact: every bfloat16 / float16 is a float32
            assert float(wf.min()) >= 0.0 and float(wf.max()) <= scale
            continue
        # Everything else (factorizations included) computes in float32 and casts once: the
        # low-precision result is the float32 result, rounded (to nearest even, here by numpy /
        # ml_dtypes: an eager jnp cast would compile one program per shape and dtype).
        np.testing.assert_array_equal(
            np.asarray(w, np.float32), w32.astype(jnp.dtype(dt)).astype(np.float32),
            err_msg=f"{name} {dt}",
        )  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_float64_under_x64(name, x64):
    shape, hp = representative(name)
    w = initializers.get(name, **hp)(_key(), shape, jnp.float64)
    assert w.dtype == jnp.float64 and w.shape == shape, name
    assert _finite(w)


def test_float64_without_x64_is_refused():
    with pytest.raises(ValueError, match="x64"):
        initializers.get("he_normal")(_key(), (4, 4), jnp.float64)


@pytest.mark.parametrize("name", NAMES)
def test_determinism_jit_and_vmap(name):
    shape, hp = representative(name)
    init = initializers.get(name, **hp)
    a = np.asarray(init(_key(), shape))
    np.testing.assert_array_equal(a, np.asarray(init(_key(), shape)))  # same key: bit-identical
    # Under jit, XLA fuses the scale multiply into the sampler's arithmetic (FMA, different
    # evaluation order), so values may differ from op-by-op eager execution in the last bits:
    # allow 4 float32 ulp of the array's scale. (vmap below is checked bit for bit.)
    jitted = np.asarray(jax.jit(init, static_argnums=(1, 2))(_key(), shape, jnp.float32))
    ulp = float(np.finfo(np.float32).eps) * float(np.abs(a).max(initial=0.0))
    np.testing.assert_allclose(jitted, a, rtol=0, atol=4 * ulp)
    batched = np.asarray(_draws(init, shape))
    single = _key_list()
    for i in (0, 1, N_KEYS - 1):  # vmap over keys == per-key calls, bit for bit
        np.testing.assert_array_equal(batched[i], np.asarray(init(single[i], shape)))


@pytest.mark.parametrize("name", NAMES)
def test_different_keys_differ(name):
    shape, hp = representative(name)
    init = initializers.get(name, **hp)
    a = np.asarray(init(jax.random.key(1), shape))
    b = np.asarray(init(jax.random.key(2), shape))
    if initializers.entry(name).deterministic:
        np.testing.assert_array_equal(a, b)
    else:
        assert not np.array_equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_empirical_variance_matches_promise(name):
    """np.var of N_KEYS pooled draws vs the promised Var[w], for every supported kernel kind.

    Tolerance: for n iid elements with variance s2 and fourth central moment mu4, the sample
    variance has standard deviation sqrt((mu4 - s2^2 (n-3)/(n-1)) / n) (e.g. Cramer 1946, 27.4);
    for a normal law (mu4 = 3 s2^2) that is sqrt(2/(n-1)) s2, for a uniform one (mu4 = 1.8 s2^2)
    sqrt(0.8/n) s2, for a truncated normal in between, and large for sparse weights (kurtosis
    3 fan_in / k). mu4 is estimated from the same sample (n >= 18k), which covers every law with
    one formula. Draws are independent across keys; within a draw, structured entries
    (orthogonal rows of fixed norm, exactly k non-zeros per unit) vary less than iid elements,
    so the iid bound is conservative for them. We allow 6 standard deviations (two-sided
    false-failure probability ~2e-9 per check under normality) plus 1e-6 relative for float32
    rounding. A vector shape uses the same sampler as a dense one (non-fan-based entries), so
    only its promise is compared.
    """
    e = initializers.entry(name)
    checked = 0
    for kind, shape, hp in cases(name):
        init = initializers.get(name, **hp)
        promised = init.promised_variance_for(shape)
        if promised is None:
            assert e.deterministic, name
            continue
        if kind == "vector":
            assert promised == init.promised_variance_for((16, 32)), name
            continue
        w = _pooled(init, shape).ravel()
        var = w.var()
        if promised == 0.0:
            assert var == 0.0, (name, shape)
            continue
        n = w.size
        mu4 = np.mean((w - w.mean()) ** 4)
        se = math.sqrt(max(mu4 - promised**2 * (n - 3) / (n - 1), 0.0) / n)
        tol = 6.0 * se + 1e-6 * promised
        assert abs(var - promised) <= tol, (
            f"{name} {kind} {shape}: var {var:.6g} vs promised {promised:.6g} (tol {tol:.3g})"
        )
        checked += 1
    assert checked or e.deterministic


@pytest.mark.parametrize("name", NAMES)
def test_promised_variance_consistent_with_fans(name):
    # promised_variance(fan_in, fan_out) (what theory reads) equals the shape-based promise for
    # a dense kernel, where fans determine everything.
    e = initializers.entry(name)
    if "dense" not in e.shapes:
        pytest.skip("no dense kernels")
    init = initializers.get(name)
    for shape in ((256, 128), (128, 256)):
        by_shape = init.promised_variance_for(shape)
        by_fans = init.promised_variance(*shape)
        assert by_shape == by_fans or (by_shape is None and by_fans is None), (name, shape)


@pytest.mark.parametrize("name", NAMES)
def test_zero_size_shapes_give_empty_arrays(name):
    e = initializers.entry(name)
    shapes = [(0, 5), (5, 0)] if "dense" in e.shapes else []
    if "conv" in e.shapes:
        shapes.append((3, 3, 0, 8))
    if not e.fan_based:
        shapes.append((0,))
    for shape in shapes:
        for dt in (jnp.float32, jnp.bfloat16):
            w = initializers.get(name)(_key(), shape, dt)
            assert w.shape == shape and w.dtype == jnp.dtype(dt) and w.size == 0, (name, shape)


@pytest.mark.parametrize("name", NAMES)
def test_rank_below_two(name):
    e = initializers.entry(name)
    init = initializers.get(name)
    # Rank 1 (the vector kind's shape, whose programs test_shape_and_exact_dtype compiled) and 0.
    for shape in (*SMALL["vector"], ()):
        if e.fan_based:
            with pytest.raises(ValueError, match=r"shape \(.*\) of rank [01].*in_axis"):
                init(_key(), shape)
        else:
            w = init(_key(), shape)
            assert w.shape == shape and w.dtype == jnp.float32


@pytest.mark.parametrize("name", NAMES)
def test_scalar_hparams_can_be_traced(name):
    """vmap over scale / stddev / gain ... equals separate calls with concrete values."""
    e = initializers.entry(name)
    traced = [k for k in SCALAR_HPARAMS if isinstance(e.defaults.get(k), float)]
    if not traced:
        pytest.skip("no scalar hyper-parameter")
    shape, hp = representative(name)
    for k in traced:
        d = e.defaults[k]
        values = np.array([d * 0.5, d * 2.0] if d else [0.5, 1.5], np.float32)
        batched = jax.vmap(lambda v, k=k: initializers.get(name, **hp, **{k: v})(_key(), shape))(
            jnp.asarray(values)
        )
        for i, v in enumerate(values):
            single = initializers.get(name, **hp, **{k: float(v)})(_key(), shape)
            np.testing.assert_allclose(
                np.asarray(batched[i]), np.asarray(single), rtol=1e-6, atol=1e-7,
                err_msg=f"{name} {k}={v}",
            )  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_non_integer_shapes_raise_type_error(name):
    init = initializers.get(name)
    for shape in ((4.0, 4), ("a", 3), (None, 2), 2.5):
        with pytest.raises(TypeError, match="shape"):
            init(_key(), shape)


ODD_SHAPES = [(), (0,), (1,), (1, 1), (0, 0), (2, 3, 4)]


@pytest.mark.parametrize("name", NAMES)
def test_never_an_index_or_zero_division_error(name):
    """Odd shapes either work or raise ValueError / TypeError (never IndexError etc.)."""
    init = initializers.get(name)
    for shape in ODD_SHAPES:
        try:
            w = init(_key(), shape)
        except (ValueError, TypeError) as err:
            assert str(err), name
        else:
            assert w.shape == shape and w.dtype == jnp.float32, (name, shape)
            assert _finite(w), (name, shape)
