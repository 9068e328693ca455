"""batches (one shuffled epoch) and input_pairs (different-class pairs for c^0)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from initjax import data


def _xy(n=103, k=4):
    x = np.arange(n, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    return x, (np.arange(n) % k).astype(np.int32)


def test_batches_one_epoch_permutation():
    x, y = _xy()
    out = list(data.batches(x, y, 10, jax.random.key(0)))
    assert len(out) == 10 and all(xb.shape == (10, 3) and yb.shape == (10,) for xb, yb in out)
    seen = np.concatenate([xb[:, 0] for xb, _ in out]).astype(int)
    assert len(set(seen)) == 100  # no repeats; 3 dropped (103 % 10)
    for xb, yb in out:  # x and y stay aligned
        np.testing.assert_array_equal(yb, xb[:, 0].astype(int) % 4)
    rest = list(data.batches(x, y, 10, jax.random.key(0), drop_remainder=False))
    assert len(rest) == 11 and rest[-1][0].shape == (3, 3)
    assert sorted(np.concatenate([xb[:, 0] for xb, _ in rest]).astype(int)) == list(range(103))


def test_batches_deterministic_per_key():
    x, y = _xy()
    a = [xb for xb, _ in data.batches(x, y, 16, jax.random.key(1))]
    b = [xb for xb, _ in data.batches(x, y, 16, jax.random.key(1))]
    c = [xb for xb, _ in data.batches(x, y, 16, jax.random.key(2))]
    d = [xb for xb, _ in data.batches(x, y, 16, 5)]  # int seed accepted
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert not all(np.array_equal(p, q) for p, q in zip(a, c, strict=True))
    assert len(d) == len(a)


def test_input_pairs_are_different_class():
    x, y = _xy(200, 5)
    x1, x2 = data.input_pairs(x, y, 1000, jax.random.key(0))
    assert x1.shape == x2.shape == (1000, 3) and x1.dtype == np.float32
    y1, y2 = x1[:, 0].astype(int) % 5, x2[:, 0].astype(int) % 5
    assert np.all(y1 != y2)
    i, j = data.pair_indices(y, 1000, jax.random.key(0))
    np.testing.assert_array_equal(x[i], x1)
    np.testing.assert_array_equal(x[j], x2)


def test_pair_distribution_uniform_over_other_classes():
    # Classes of sizes 1, 1, 98: i is uniform (P(class 2) = 0.98); given i in class 2, j is
    # uniform over the two other examples (P = 1/2 each).
    y = np.array([0, 1] + [2] * 98)
    n = 20000
    i, j = data.pair_indices(y, n, 3)
    assert np.all(y[i] != y[j])
    from_big = y[i] == 2
    # Binomial(n, 0.98): sd = sqrt(n .98 .02) ~ 20 -> 4 sd = 80 on 19600
    assert abs(from_big.sum() - 0.98 * n) < 80
    # Binomial(19600, 1/2): sd ~ 70 -> 4 sd = 280
    assert abs(np.sum(j[from_big] == 0) - from_big.sum() / 2) < 280
    # i in class 0 or 1: j uniform over the 99 others; never itself
    assert np.all(j[~from_big] != i[~from_big])


def test_pair_indices_deterministic_per_key():
    y = np.arange(50) % 3
    a = data.pair_indices(y, 64, jax.random.key(7))
    b = data.pair_indices(y, 64, jax.random.key(7))
    c = data.pair_indices(y, 64, jax.random.key(8))
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


def test_input_pairs_on_a_dataset():
    x, y = data.load("gaussian_mixture", n_train=500)
    x1, x2 = data.input_pairs(x, y, 300, 0)
    assert x1.shape == (300, 32)
    # c^0 of different-class pairs: inputs are almost uncorrelated (orthogonal means)
    c0 = np.sum(x1 * x2, 1) / np.sqrt(np.sum(x1**2, 1) * np.sum(x2**2, 1))
    assert abs(c0.mean()) < 0.1


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda x, y: list(data.batches(x, y, 0, 0)), ValueError, "batch_size"),
        (lambda x, y: list(data.batches(x, y, 2.0, 0)), TypeError, "batch_size"),
        (lambda x, y: list(data.batches(x, y, 104, 0)), ValueError, "larger than the dataset"),
        (lambda x, y: list(data.batches(x, y[:5], 4, 0)), ValueError, "same n"),
        (lambda x, y: list(data.batches(x, y, 4, "seed")), TypeError, "key"),
        (lambda x, y: list(data.batches(x, y, 4, -1)), ValueError, "key"),
        (lambda x, y: data.input_pairs(x, y, 0, 0), ValueError, "n_pairs"),
        (lambda x, y: data.input_pairs(x, y * 0, 4, 0), ValueError, ">= 2 classes"),
        (
            lambda x, y: data.input_pairs(x, y, 4, jax.random.split(jax.random.key(0))),
            ValueError,
            "single key",
        ),
    ],
)
def test_bad_arguments(call, exc, match):
    x, y = _xy()
    with pytest.raises(exc, match=match):
        call(x, y)
