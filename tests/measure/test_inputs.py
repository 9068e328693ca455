"""Gaussian probe inputs: exact per-example second moment q0 and exact pairwise cosine c0."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from initjax.measure import gaussian_inputs


@pytest.mark.parametrize("c0", [None, 0.0, 0.6, -0.2, 1.0])
def test_exact_moments(c0):
    x = np.asarray(gaussian_inputs(jax.random.key(0), 6, (4, 5), q0=2.5, c0=c0), np.float64)
    assert x.shape == (6, 4, 5)
    flat = x.reshape(6, -1)
    np.testing.assert_allclose((flat**2).mean(axis=1), 2.5, rtol=1e-5)
    cos = flat @ flat.T / np.outer(np.linalg.norm(flat, axis=1), np.linalg.norm(flat, axis=1))
    off = cos[np.triu_indices(6, 1)]
    if c0 is None:
        # Independent directions in n = 20 dimensions: |cos| is about 1/sqrt(20); never 1.
        assert np.all(np.abs(off) < 0.99)
    else:
        np.testing.assert_allclose(off, c0, atol=2e-6)


def test_bad_c0():
    with pytest.raises(ValueError, match="c0"):
        gaussian_inputs(jax.random.key(0), 4, (8,), c0=-0.5)  # below -1/(B-1) = -1/3
    with pytest.raises(ValueError, match="c0"):
        gaussian_inputs(jax.random.key(0), 4, (8,), c0=1.5)
    with pytest.raises(ValueError, match="batch"):
        gaussian_inputs(jax.random.key(0), 1, (8,), c0=0.5)
    with pytest.raises(ValueError, match="features"):
        gaussian_inputs(jax.random.key(0), 9, (8,), c0=0.5)


def test_token_inputs_have_exact_token_moments_per_sequence():
    from initjax.measure import token_inputs

    x = np.asarray(token_inputs(jax.random.key(1), 3, 5, 16, q0=2.0, c0=0.3), np.float64)
    assert x.shape == (3, 5, 16)
    np.testing.assert_allclose((x**2).mean(axis=-1), 2.0, rtol=1e-5)  # |x_t|^2 / width = q0
    for seq in x:
        cos = (seq @ seq.T) / np.outer(np.linalg.norm(seq, axis=1), np.linalg.norm(seq, axis=1))
        np.testing.assert_allclose(cos[np.triu_indices(5, 1)], 0.3, atol=2e-6)
    assert not np.allclose(x[0], x[1])  # the sequences are independent draws
    with pytest.raises(ValueError, match="tokens"):
        token_inputs(jax.random.key(0), 2, 1, 8)
    with pytest.raises(ValueError, match="c0"):
        token_inputs(jax.random.key(0), 2, 4, 8, c0=-0.5)  # below -1/(T-1)
    with pytest.raises(ValueError, match="features"):
        token_inputs(jax.random.key(0), 2, 9, 8)  # more tokens than width
