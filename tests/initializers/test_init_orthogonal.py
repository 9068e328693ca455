"""Orthogonal family: orthogonality, Haar law, delta-orthogonal structure, DKS scaling."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from initjax import initializers


@functools.cache
def _key():
    """The key of every draw (made on first use: collecting compiles nothing)."""
    return jax.random.key(7)


# float32 QR (Householder) gives |Q^T Q - I| ~ n * eps ~ 1e-6 at these sizes; the bar.
ORTHO_TOL = 1e-5


def _as_matrix(w, column_axis=-1):
    w = np.moveaxis(np.asarray(w, np.float64), column_axis, -1)
    return w.reshape(-1, w.shape[-1])


def _assert_semi_orthogonal(m, scale=1.0, tol=ORTHO_TOL):
    rows, cols = m.shape
    g = m.T @ m if rows >= cols else m @ m.T
    np.testing.assert_allclose(g, scale**2 * np.eye(min(rows, cols)), rtol=0, atol=tol * scale**2)


# "wide" and "conv-tall" are the registry-wide tests' dense and conv kernels (initializer_cases),
# and test_orthogonal_float64 draws that dense kernel too: their programs compile once a session.
@pytest.mark.parametrize(
    "shape",
    [(32, 32), (64, 16), (16, 32), (3, 3, 4, 8), (3, 2, 32), (5, 5, 3, 4), (2, 3, 4, 5)],
    ids=["square", "tall", "wide", "conv-tall", "conv-wide", "conv", "rank4"],
)
def test_orthogonal_float32(shape):
    w = initializers.get("orthogonal")(_key(), shape)
    assert w.dtype == jnp.float32 and w.shape == shape
    _assert_semi_orthogonal(_as_matrix(w))


def test_orthogonal_scale_and_column_axis():
    w = initializers.get("orthogonal", scale=2.0, column_axis=0)(_key(), (16, 3, 4))
    m = _as_matrix(w, column_axis=0)  # (12, 16): wide, rows orthonormal
    assert m.shape == (12, 16)
    _assert_semi_orthogonal(m, scale=2.0)


def test_orthogonal_low_precision_is_rounded_float32():
    # The registry-wide tests' dense kernel (the same three programs); the reference rounding
    # (to nearest even) is numpy's / ml_dtypes' (no cast program to compile).
    init = initializers.get("orthogonal")
    w32 = np.asarray(init(_key(), (16, 32)))
    for dt in (jnp.bfloat16, jnp.float16):
        w = init(_key(), (16, 32), dt)
        np.testing.assert_array_equal(
            np.asarray(w, np.float32), w32.astype(jnp.dtype(dt)).astype(np.float32)
        )
        # Rounding to 8 / 11 significant bits keeps the gram within a few ulp of identity.
        _assert_semi_orthogonal(_as_matrix(w), tol=8 * float(jnp.finfo(dt).eps))


def test_orthogonal_float64(x64):
    w = initializers.get("orthogonal")(_key(), (16, 32), jnp.float64)
    assert w.dtype == jnp.float64
    _assert_semi_orthogonal(_as_matrix(w), tol=1e-12)


def _haar_2x2_failures(q) -> list[str]:
    """Reasons a batch of 2x2 orthogonal matrices is not Haar-distributed (empty if none).

    Haar on O(2): det = +1 or -1 with probability 1/2 each, and the angle of the first column
    uniform on (-pi, pi], for rotations and reflections separately. With n = 4000 draws the count
    of det = +1 is Binomial(4000, 1/2), std 31.6: allow 5 std. KS at p > 1e-5 on each half
    (~2000 angles) rejects a CDF deviation > ~0.05.
    """
    q = np.asarray(q, np.float64)
    n = q.shape[0]
    theta, det = np.arctan2(q[:, 1, 0], q[:, 0, 0]), np.linalg.det(q)
    out = []
    if not np.allclose(np.abs(det), 1.0, atol=1e-5):
        out.append("|det| != 1")
    n_rot = int(np.sum(det > 0))
    if abs(n_rot - n / 2) >= 5 * math.sqrt(n / 4):
        out.append(f"{n_rot} rotations of {n}")
    law = stats.uniform(-np.pi, 2 * np.pi)
    for label, part in (("rotation", theta[det > 0]), ("reflection", theta[det < 0])):
        if part.size >= 100 and stats.kstest(part, law.cdf).pvalue <= 1e-5:
            out.append(f"{label} angles not uniform")
    return out


def test_haar_2x2():
    # 4000 keys of independent random key data (threefry streams of distinct keys are
    # independent, as those of jax.random.split's keys are), made in numpy: no split program.
    data = np.random.default_rng(7).integers(0, 2**32, (4000, 2), dtype=np.uint32)
    keys = jax.random.wrap_key_data(data)
    q = jax.vmap(lambda k: initializers.get("orthogonal")(k, (2, 2)))(keys)
    assert _haar_2x2_failures(q) == []


def test_haar_check_detects_missing_sign_fix():
    # Power check: plain QR of Gaussian matrices (no sign correction from diag(R)) is not Haar
    # (here the Householder QR returns only reflections for 2x2 inputs); the same check rejects
    # it, and accepts it once the columns are multiplied by the signs of diag(R). In numpy
    # (LAPACK's Householder QR, as jnp.linalg.qr on CPU): nothing to compile.
    a = np.random.default_rng(0).standard_normal((4000, 2, 2))
    q, r = np.linalg.qr(a)
    assert _haar_2x2_failures(q) != []
    q_fixed = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    assert _haar_2x2_failures(q_fixed) == []


@pytest.mark.parametrize("shape", [(3, 4, 8), (3, 3, 4, 8), (5, 3, 3, 2, 6), (1, 4, 4)])
def test_delta_orthogonal_structure(shape):
    w = np.asarray(initializers.get("delta_orthogonal", scale=1.5)(_key(), shape), np.float64)
    centre = tuple(s // 2 for s in shape[:-2])
    c = w[centre]
    rest = w.copy()
    rest[centre] = 0.0
    assert np.all(rest == 0.0)
    _assert_semi_orthogonal(c, scale=1.5)  # C_in <= C_out: orthonormal rows times scale


def test_delta_orthogonal_preserves_norm_under_convolution():
    # Only the centre tap is non-zero, so a 'SAME' convolution maps x[p] to x[p] @ C at every
    # position p: with C C^T = I the output has exactly the input's norm.
    k = initializers.get("delta_orthogonal")(_key(), (3, 3, 4, 8))
    x = np.random.default_rng(1).standard_normal((2, 9, 9, 4), np.float32)
    y = jax.lax.conv_general_dilated(
        x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
        precision=jax.lax.Precision.HIGHEST,
    )  # fmt: skip
    np.testing.assert_allclose(
        np.linalg.norm(np.asarray(y)), np.linalg.norm(np.asarray(x)), rtol=1e-5
    )


@pytest.mark.parametrize(
    "shape,match",
    [((3, 3, 8, 4), "C_in <= C_out"), ((2, 2, 4, 8), "odd"), ((3, 4, 4, 8), "odd"),
     ((4, 8), "rank 3, 4 or 5"), ((1, 1, 1, 1, 2, 2), "rank 3, 4 or 5")],
)  # fmt: skip
def test_delta_orthogonal_rejects(shape, match):
    with pytest.raises(ValueError, match=match):
        initializers.get("delta_orthogonal")(_key(), shape)


# Wide (the registry-wide tests' dense kernel), tall, square.
@pytest.mark.parametrize("shape", [(16, 32), (64, 16), (32, 32)])
def test_scaled_uniform_orthogonal_dense(shape):
    n_in, n_out = shape
    w = np.asarray(
        initializers.get("scaled_uniform_orthogonal", scale=1.3)(_key(), shape), np.float64
    )
    factor = max(math.sqrt(n_out / n_in), 1.0)
    _assert_semi_orthogonal(w / factor, scale=1.3)
    # DKS's point: ||x W||^2 / out = scale^2 ||x||^2 / in for every x when in <= out, and on
    # average otherwise; exactly, the Frobenius norm^2 / (in * out) is scale^2 / in.
    np.testing.assert_allclose(np.sum(w**2) / w.size, 1.3**2 / n_in, rtol=1e-5)
    if n_in <= n_out:
        x = np.random.default_rng(2).standard_normal((5, n_in))
        np.testing.assert_allclose(
            np.sum((x @ w) ** 2, 1) / n_out, 1.3**2 * np.sum(x**2, 1) / n_in, rtol=1e-5
        )


def test_scaled_uniform_orthogonal_delta_and_flat():
    init = initializers.get("scaled_uniform_orthogonal")
    w = np.asarray(init(_key(), (3, 3, 8, 4)), np.float64)  # C_in > C_out is fine for SUO
    rest = w.copy()
    rest[1, 1] = 0.0
    assert np.all(rest == 0.0)
    _assert_semi_orthogonal(w[1, 1])  # tall: factor 1
    np.testing.assert_array_equal(
        w[1, 1], np.asarray(init(_key(), (8, 4)), np.float64)
    )  # centre = the dense SUO matrix of the same key
    flat = initializers.get("scaled_uniform_orthogonal", delta=False)(_key(), (3, 3, 2, 32))
    m = _as_matrix(flat)  # (18, 32): wide, factor sqrt(32 / 18)
    _assert_semi_orthogonal(m / math.sqrt(32 / 18))
    with pytest.raises(ValueError, match="odd"):
        init(_key(), (2, 2, 4, 4))
