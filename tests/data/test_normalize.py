"""feature_stats / standardize against direct numpy formulas."""

from __future__ import annotations

import numpy as np
import pytest

from initjax import data


def test_feature_stats_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (5000, 4, 3)).astype(np.uint8)  # > one 4096 chunk
    x[:, 0, 0] = 17  # a constant feature
    mean, std = data.feature_stats(x)
    ref = x.astype(np.float64)
    np.testing.assert_allclose(mean, ref.mean(0), rtol=1e-6)
    expected_std = ref.std(0)
    expected_std[0, 0] = 1.0  # constant: scaled by 1
    np.testing.assert_allclose(std, expected_std, rtol=1e-5)
    z = data.standardize(x)
    assert z.dtype == np.float32 and z.shape == x.shape
    assert np.all(z[:, 0, 0] == 0)
    np.testing.assert_allclose(z.reshape(5000, -1)[:, 1:].std(0), 1.0, atol=1e-5)


def test_standardize_with_given_stats():
    x = np.array([[1.0, 2.0], [3.0, 6.0]], np.float32)
    z = data.standardize(x, mean=np.array([1.0, 2.0]), std=np.array([2.0, 4.0]))
    np.testing.assert_array_equal(z, [[0, 0], [1, 1]])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"mean": np.zeros(2)}, "both"),
        ({"mean": np.zeros(3), "std": np.ones(3)}, "feature shape"),
        ({"mean": np.zeros(2), "std": np.array([1.0, 0.0])}, "positive"),
    ],
)
def test_standardize_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.standardize(np.ones((4, 2)), **kwargs)
    with pytest.raises(ValueError, match="n >= 1"):
        data.feature_stats(np.ones((0, 2)))
