"""Per-layer statistics on hand-computable inputs."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from initjax.measure import metrics as M


def test_second_moment_and_correlation():
    z = jnp.array([[1.0, 2.0, 2.0], [2.0, 1.0, -2.0], [3.0, 0.0, 0.0]])
    assert float(M.second_moment(z)) == np.mean(np.square(z))
    # Cosines: (1,2) -> (2+2-4)/9 = 0; (1,3) -> 3/(3*3) = 1/3; (2,3) -> 6/9 = 2/3.
    np.testing.assert_allclose(float(M.correlation(z)), (0 + 1 / 3 + 2 / 3) / 3, rtol=1e-6)
    assert np.isnan(float(M.correlation(jnp.zeros((2, 3)))))  # undefined, not 0


def test_min_unit_distance():
    # Columns (0,0), (3,4), (3,5): closest pair (3,4)-(3,5) at distance 1.
    w = jnp.array([[0.0, 3.0, 3.0], [0.0, 4.0, 5.0]])
    assert float(M.min_unit_distance(w)) == 1.0
    assert float(M.min_unit_distance(jnp.full((7, 5), 0.3))) == 0.0
    assert np.isnan(float(M.min_unit_distance(jnp.array([[1.0, jnp.nan], [0.0, 1.0]]))))


def test_numerical_rank():
    a = jnp.outer(jnp.arange(1.0, 5.0), jnp.arange(1.0, 7.0))
    assert float(M.numerical_rank(a)) == 1.0
    assert float(M.numerical_rank(jnp.zeros((4, 6)))) == 0.0
    assert float(M.numerical_rank(jnp.eye(4, 6))) == 4.0
    assert np.isnan(float(M.numerical_rank(jnp.full((2, 2), jnp.inf))))


def test_saturation():
    z = jnp.array([-2.0, -0.5, 0.0, 0.5, 3.0])
    # |tanh| > 0.9 at -2 and 3; z <= 0 at -2, -0.5, 0.
    assert float(M.saturation(z, jnp.tanh(z), "abs_gt_0.9")) == pytest.approx(2 / 5)
    assert float(M.saturation(z, jnp.maximum(z, 0), "zero")) == pytest.approx(3 / 5)


def test_correlation_is_scale_invariant_down_to_float32_tiny():
    # c is a cosine: the same for z and 1e-19 z. Unscaled, the Gram matrix's products
    # (~1e-38) would flush to zero and c would drift or become 0/0.
    z = jnp.array([[1.0, 2.0, 2.0], [2.0, 1.0, -2.0], [3.0, 0.0, 0.0]])
    ref = (0 + 1 / 3 + 2 / 3) / 3
    for scale in (1e-19, 1e-30, 1e15):
        np.testing.assert_allclose(float(M.correlation(z * scale)), ref, rtol=1e-6)


def test_min_example_second_moment():
    z = jnp.array([[1.0, 2.0, 2.0], [0.0, 1.0, 0.0], [3.0, 0.0, 0.0]])
    assert float(M.min_example_second_moment(z)) == pytest.approx(1.0 / 3.0)
    assert float(M.min_example_second_moment(z.reshape(3, 3, 1))) == pytest.approx(1.0 / 3.0)
