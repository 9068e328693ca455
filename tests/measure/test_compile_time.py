"""Depth is a scan: compile time and (fused) memory do not grow with depth."""

from __future__ import annotations

import time

import pytest

from initjax.measure import prepare
from initjax.models import MLP

# These tests time XLA compilations: a hit in the test session's persistent compilation cache
# (tests/conftest.py), or an executable left in memory by an earlier test, for one depth but not
# the other would skew the ratio.
pytestmark = pytest.mark.usefixtures("no_compilation_cache")


def _compile(depth: int, metrics: str, width: int = 64, path: str = "fused"):
    p = prepare(MLP(width=width, depth=depth), seeds=2, metrics=metrics, path=path)
    t = time.perf_counter()
    compiled = p.lower().compile()  # trace + lower + XLA compile
    return time.perf_counter() - t, compiled


def test_compile_time_and_fused_memory_do_not_grow_with_depth():
    # An unrolled loop would make depth 2000 about 200 times slower to compile than depth 10; a
    # scan keeps the ratio near 1. The bound 3 leaves room for noise from other processes on a
    # shared machine (the benchmark measures the ratio precisely).
    _compile(3, "q,c")  # warm-up: first-use costs of the backend and jax's caches
    short, c_short = _compile(10, "q,c")
    deep, c_deep = _compile(2000, "q,c")
    assert deep < 3.0 * short, (short, deep)
    # XLA's buffer assignment: the fused path's scratch memory holds a layer or two, not 2000
    # layers of weights (2 seeds x 2000 x 64 x 64 float32 = 65.5 MB); only the per-layer
    # results (a few bytes per layer) grow with depth.
    weights = 2 * 2000 * 64 * 64 * 4
    t_short = c_short.memory_analysis().temp_size_in_bytes
    t_deep = c_deep.memory_analysis().temp_size_in_bytes
    assert t_deep < 1.5 * t_short and t_deep < 0.01 * weights, (t_short, t_deep)


@pytest.mark.slow
def test_compile_time_does_not_grow_with_depth_all_metrics():
    metrics = "q,c,grad_sq,act_std,act_saturation,unit_symmetry,jac_sv"
    _compile(3, metrics, width=8)
    short = min(_compile(10, metrics, width=8)[0], _compile(11, metrics, width=8)[0])
    deep = min(_compile(2000, metrics, width=8)[0], _compile(2001, metrics, width=8)[0])
    assert deep < 3.0 * short, (short, deep)


@pytest.mark.slow
def test_materialized_memory_grows_with_depth():
    # The contrast: stacked params are O(depth N^2).
    t = _compile(2000, "q,c", path="materialized")[1].memory_analysis().temp_size_in_bytes
    assert t > 2 * 2000 * 64 * 64 * 4
