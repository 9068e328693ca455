"""Per-layer statistics on hand-computable inputs."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from initjax.measure import metrics as M

# Each statistic compiled once per input shape, as the engine runs it inside its jitted pass
# (called eagerly, every jnp operation of a statistic compiles a program of its own).
second_moment = jax.jit(M.second_moment)
correlation = jax.jit(M.correlation)
min_unit_distance = jax.jit(M.min_unit_distance)
numerical_rank = jax.jit(M.numerical_rank)
saturation = jax.jit(M.saturation, static_argnums=2)
min_example_second_moment = jax.jit(M.min_example_second_moment)

Z = np.array([[1.0, 2.0, 2.0], [2.0, 1.0, -2.0], [3.0, 0.0, 0.0]], np.float32)


def test_second_moment_and_correlation():
    assert float(second_moment(Z)) == np.mean(np.square(Z))
    # Cosines: (1,2) -> (2+2-4)/9 = 0; (1,3) -> 3/(3*3) = 1/3; (2,3) -> 6/9 = 2/3.
    np.testing.assert_allclose(float(correlation(Z)), (0 + 1 / 3 + 2 / 3) / 3, rtol=1e-6)
    assert np.isnan(float(correlation(np.zeros((3, 3), np.float32))))  # undefined, not 0


def test_min_unit_distance():
    # Columns (0,0), (3,4), (3,5): closest pair (3,4)-(3,5) at distance 1.
    w = np.array([[0.0, 3.0, 3.0], [0.0, 4.0, 5.0]], np.float32)
    assert float(min_unit_distance(w)) == 1.0
    assert float(min_unit_distance(np.full((7, 5), 0.3, np.float32))) == 0.0
    assert np.isnan(float(min_unit_distance(np.array([[1.0, np.nan, 0.0], [0.0, 1.0, 2.0]]))))


def test_numerical_rank():
    a = np.outer(np.arange(1.0, 5.0), np.arange(1.0, 7.0))
    assert float(numerical_rank(a)) == 1.0
    assert float(numerical_rank(np.zeros((4, 6)))) == 0.0
    assert float(numerical_rank(np.eye(4, 6))) == 4.0
    assert np.isnan(float(numerical_rank(np.full((4, 6), np.inf))))


def test_saturation():
    z = np.array([-2.0, -0.5, 0.0, 0.5, 3.0], np.float32)
    # |tanh| > 0.9 at -2 and 3; z <= 0 at -2, -0.5, 0.
    assert float(saturation(z, np.tanh(z), "abs_gt_0.9")) == pytest.approx(2 / 5)
    assert float(saturation(z, np.maximum(z, 0), "zero")) == pytest.approx(3 / 5)


def test_correlation_is_scale_invariant_down_to_float32_tiny():
    # c is a cosine: the same for z and 1e-19 z. Unscaled, the Gram matrix's products
    # (~1e-38) would flush to zero and c would drift or become 0/0.
    ref = (0 + 1 / 3 + 2 / 3) / 3
    for scale in (1e-19, 1e-30, 1e15):
        z = Z * np.float32(scale)
        assert z.dtype == np.float32 and np.all(np.abs(z[z != 0]) >= np.finfo(np.float32).tiny)
        np.testing.assert_allclose(float(correlation(z)), ref, rtol=1e-6)


def test_min_example_second_moment():
    z = np.array([[1.0, 2.0, 2.0], [0.0, 1.0, 0.0], [3.0, 0.0, 0.0]], np.float32)
    assert float(min_example_second_moment(z)) == pytest.approx(1.0 / 3.0)
    assert float(min_example_second_moment(z.reshape(3, 3, 1))) == pytest.approx(1.0 / 3.0)
