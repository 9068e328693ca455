"""Concrete grids run padded to power-of-two buckets (_common.on_cells): padding changes no cell,
and grids of 1..N cells compile at most ceil(log2 N) + 1 programs. The solvers' padding
(values, converged flags, iteration counts): test_fixed_points.py."""

import importlib
import math

import jax
import jax.numpy as jnp
import numpy as np

from initjax.activations import get
from initjax.theory import q_map, trajectories
from initjax.theory._common import bucket_size, make_rule, on_cells

maps = importlib.import_module("initjax.theory.maps")
compare = importlib.import_module("initjax.theory.compare")


def _equal(a, b):
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


def test_bucket_sizes():
    assert [bucket_size(n) for n in (0, 1, 16, 17, 33, 64, 65)] == [16, 16, 16, 32, 64, 64, 128]
    assert [bucket_size(n, 64) for n in (1, 64, 65, 129, 300)] == [64, 64, 128, 256, 512]
    # Beyond 1024 cells: whole multiples of 1024 (at most 1023 padding cells).
    assert [bucket_size(n) for n in (1024, 1025, 10_000)] == [1024, 2048, 10_240]
    assert [bucket_size(n, 64) for n in (1000, 1025, 10_000)] == [1024, 2048, 10_240]


def test_on_cells_pads_with_copies_and_shapes_back():
    seen = []

    def call(a, b):
        seen.append((np.asarray(a), np.asarray(b)))
        return a * 10 + b, jnp.stack([a, b], axis=-1)

    out, pair = on_cells(call, (np.arange(6.0).reshape(2, 3), np.float32(0.5)))
    a, b = seen[0]
    assert a.tolist() == [0, 1, 2, 3, 4, 5] + [0] * 10 and b.tolist() == [0.5] * 16
    assert out.shape == (2, 3) and pair.shape == (2, 3, 2) and isinstance(out, jax.Array)
    assert _equal(out, np.arange(6.0).reshape(2, 3) * 10 + 0.5)
    on_cells(call, (np.arange(20.0), 1.0), multiple=8, pad="last")
    assert seen[1][0].tolist() == list(range(20)) + [19] * 12


def test_grids_of_1_to_n_cells_compile_at_most_log2_n_minus_3_programs():
    # relu's closed form keeps each program cheap; the bucketing is the same for every function
    # (the solvers': test_fixed_points.py).
    start = maps._q_map_jit._cache_size()
    for n in (16, 64):
        for size in range(1, n + 1):
            q = np.linspace(0.5, 2.0, size, dtype=np.float32)
            out = q_map("relu", 1.5, 0.05, q)
            assert out.shape == (size,)
            assert _equal(np.asarray(out)[-1], q_map("relu", 1.5, 0.05, q[-1]))
        # 1..16 cells: one program; 1..64: the buckets 16, 32 and 64 (64 programs unpadded).
        assert maps._q_map_jit._cache_size() - start <= max(1, math.ceil(math.log2(n)) - 3)
    # 2-D grids share the buckets of their cell count; scalars the bucket of 16.
    assert q_map("relu", np.full((3, 5), 1.5, np.float32), 0.05, 1.0).shape == (3, 5)
    assert q_map("relu", 1.5, 0.05, 1.0).shape == ()
    assert maps._q_map_jit._cache_size() - start <= 3


def test_trajectories_share_one_program_per_chunk_bucket_and_match_the_unpadded_chunks():
    with jax.enable_x64(True):
        w = np.linspace(0.8, 3.0, 7)
        start = compare._trajectories_jit._cache_size()
        q, c = trajectories("tanh", w, 0.05, 1.0, 0.5, 3)
        first = compare._trajectories_jit._cache_size()
        q1, c1 = trajectories("tanh", w[:2], 0.05, 1.0, 0.5, 3)
        assert q.shape == (7, 4) and q1.shape == (2, 4)
        # Every batch up to one chunk (64 runs) is one program: the batch of 2 reuses the
        # batch of 7's (which an earlier test may have compiled already).
        assert first - start <= 1 and compare._trajectories_jit._cache_size() == first
        # The unpadded batch (map_chunks pads its one chunk with the last run): bitwise.
        f = jnp.asarray
        raw_q, raw_c = compare._trajectories_jit(
            get("tanh"), make_rule(), f(w), f(np.full(7, 0.05)), f(np.ones(7)),
            f(np.full(7, 0.5)), f(1.0), 3,
        )  # fmt: skip
        assert _equal(q, raw_q) and _equal(c, raw_c)
        # Another batch composition may pick another quadrature panel layout (per chunk):
        # 1e-7 relative is the layouts' stated float64 accuracy (quadrature.py).
        np.testing.assert_allclose(q1, q[:2], rtol=1e-7)
        np.testing.assert_allclose(c1, c[:2], rtol=1e-7)
