"""Hypothesis property tests: fans of random shapes, orthogonal grams, sparse counts, ZerO rank.

Example counts are small because every new shape compiles (compilation dominates the cost).
Hypothesis is imported inside each test (importing it takes ~1.3 s: not while collecting); each
test builds its ``@given`` property and runs it.
"""

from __future__ import annotations

import functools
import math

import jax
import numpy as np

from initjax import initializers
from initjax.initializers import fans


@functools.cache
def _key():
    """The key for every draw (made on first use: collecting the tests compiles nothing)."""
    return jax.random.key(5)


FAST = {"max_examples": 25, "deadline": None}
SLOWER = {"max_examples": 6, "deadline": None}  # each example compiles a new program


def _hypothesis():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    return given, settings, st


def test_fans_hwio_oihw_and_product():
    given, settings, st = _hypothesis()
    dims = st.integers(1, 12)

    @settings(**FAST)
    @given(spatial=st.lists(dims, min_size=0, max_size=3), c_in=dims, c_out=dims)
    def check(spatial, c_in, c_out):
        hwio = (*spatial, c_in, c_out)
        oihw = (c_out, c_in, *spatial)
        rf = math.prod(spatial)
        assert fans(hwio) == (c_in * rf, c_out * rf)
        assert fans(oihw, layout="OIHW") == fans(hwio)
        fi, fo = fans(hwio)
        assert fi * fo == math.prod(hwio) * rf

    check()


def test_fans_grouped_are_per_group():
    given, settings, st = _hypothesis()
    dims = st.integers(1, 12)

    @settings(**FAST)
    @given(spatial=st.lists(dims, min_size=1, max_size=2), c_in_pg=dims, out_pg=dims, groups=dims)
    def check(spatial, c_in_pg, out_pg, groups):
        shape = (*spatial, c_in_pg, out_pg * groups)
        rf = math.prod(spatial)
        assert fans(shape, groups=groups) == (c_in_pg * rf, out_pg * rf)

    check()


def test_fans_multi_axis_and_batch():
    given, settings, st = _hypothesis()
    dims = st.integers(1, 12)

    @settings(**FAST)
    @given(d_model=dims, heads=dims, head_dim=dims, layers=dims)
    def check(d_model, heads, head_dim, layers):
        # Stacked attention query kernels (layers, d_model, heads, head_dim).
        shape = (layers, d_model, heads, head_dim)
        assert fans(shape, in_axis=1, out_axis=(2, 3), batch_axis=0) == (d_model, heads * head_dim)

    check()


def test_orthogonal_gram_random_shapes():
    given, settings, st = _hypothesis()

    @settings(**SLOWER)
    @given(shape=st.lists(st.integers(1, 9), min_size=2, max_size=4).map(tuple))
    def check(shape):
        w = np.asarray(initializers.get("orthogonal")(_key(), shape), np.float64)
        m = w.reshape(-1, shape[-1])
        g = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
        np.testing.assert_allclose(g, np.eye(min(m.shape)), atol=1e-5)

    check()


def test_sparse_count_random_shapes():
    given, settings, st = _hypothesis()

    @settings(**SLOWER)
    @given(fan_in=st.integers(1, 40), units=st.integers(1, 12), k=st.integers(1, 20))
    def check(fan_in, units, k):
        w = np.asarray(initializers.get("sparse", k=k)(_key(), (fan_in, units)))
        assert np.all(np.count_nonzero(w, axis=0) == min(k, fan_in))

    check()


def test_zero_init_full_rank():
    given, settings, st = _hypothesis()

    @settings(**SLOWER)
    @given(n_in=st.integers(1, 40), n_out=st.integers(1, 40))
    def check(n_in, n_out):
        w = np.asarray(initializers.get("zero_init_hadamard")(_key(), (n_in, n_out)), np.float64)
        assert np.linalg.matrix_rank(w) == min(n_in, n_out)

    check()
