"""identity / eye, dirac, sparse and ZerO against hand-built expectations."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from scipy import stats

from initjax import initializers
from initjax.initializers.structured import hadamard


@functools.cache
def _key():
    """The key of every draw (made on first use: collecting compiles nothing)."""
    return jax.random.key(3)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4)])
def test_identity(shape):
    w = initializers.get("eye", scale=0.5)(_key(), shape)
    np.testing.assert_array_equal(np.asarray(w), 0.5 * np.eye(*shape, dtype=np.float32))


def test_identity_rejects_conv_kernels():
    with pytest.raises(ValueError, match="rank 2.*dirac"):
        initializers.get("identity")(_key(), (3, 3, 4, 4))


def _torch_dirac_expected(c_out, c_in_pg, spatial, groups):
    """torch.nn.init.dirac_'s documented loop in PyTorch layout (out, in, *k), then to Flax."""
    w = np.zeros((c_out, c_in_pg, *spatial))
    out_pg = c_out // groups
    centre = tuple(k // 2 for k in spatial)
    for g in range(groups):
        for d in range(min(out_pg, c_in_pg)):
            w[(g * out_pg + d, d, *centre)] = 1.0
    return np.moveaxis(w, (0, 1), (-1, -2))  # (out, in, *k) -> (*k, in, out)


@pytest.mark.parametrize(
    "spatial,c_in_pg,c_out,groups",
    [((3,), 4, 4, 1), ((3, 3), 4, 8, 1), ((3, 3), 8, 4, 1), ((3, 3), 2, 8, 2),
     ((1, 3, 5), 3, 3, 1), ((3, 3), 1, 6, 6)],
)  # fmt: skip
def test_dirac_matches_torch_loop(spatial, c_in_pg, c_out, groups):
    shape = (*spatial, c_in_pg, c_out)
    w = initializers.get("dirac", groups=groups)(_key(), shape)
    np.testing.assert_array_equal(
        np.asarray(w), _torch_dirac_expected(c_out, c_in_pg, spatial, groups)
    )


@pytest.mark.parametrize("groups", [1, 4])
def test_dirac_is_the_identity_convolution(groups):
    c = 8
    k = initializers.get("dirac", groups=groups)(_key(), (3, 3, c // groups, c))
    x = np.random.default_rng(1).standard_normal((2, 7, 7, c), np.float32)
    y = jax.lax.conv_general_dilated(
        x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=groups, precision=jax.lax.Precision.HIGHEST,
    )  # fmt: skip
    np.testing.assert_allclose(np.asarray(y), np.asarray(x), rtol=0, atol=1e-6)


def test_dirac_rejects():
    with pytest.raises(ValueError, match="groups"):
        initializers.get("dirac", groups=3)(_key(), (3, 3, 4, 8))
    with pytest.raises(ValueError, match="odd"):
        initializers.get("dirac")(_key(), (2, 2, 4, 4))
    with pytest.raises(ValueError, match="groups"):
        initializers.get("dirac", groups=0)


def _nonzeros_per_unit(w, out_axes):
    w = np.asarray(w)
    other = tuple(a for a in range(w.ndim) if a not in out_axes)
    return np.count_nonzero(w, axis=other)


# The conv and multi-axis kernels are the registry-wide tests' (initializer_cases: the same
# programs); fan_in 10 < 15 clips k.
@pytest.mark.parametrize(
    "shape,hp,fan_in,out_axes",
    [((64, 32), {}, 64, (1,)), ((3, 3, 4, 8), {}, 36, (3,)),
     ((16, 4, 8), {"in_axis": 0, "out_axis": (1, 2)}, 16, (1, 2)),
     ((10, 20), {}, 10, (1,))],
)  # fmt: skip
def test_sparse_exactly_k_per_unit(shape, hp, fan_in, out_axes):
    w = initializers.get("sparse", **hp)(_key(), shape)
    k = min(15, fan_in)  # Martens' 15, clipped to fan_in
    assert np.all(_nonzeros_per_unit(w, out_axes) == k)


def test_sparse_k_and_sparsity():
    w = initializers.get("sparse", k=3)(_key(), (50, 40))
    assert np.all(_nonzeros_per_unit(w, (1,)) == 3)
    w = initializers.get("sparse", sparsity=0.9)(_key(), (50, 40))
    assert np.all(_nonzeros_per_unit(w, (1,)) == 50 - math.ceil(0.9 * 50))  # = 5, torch's count
    with pytest.raises(ValueError, match="either k or sparsity"):
        initializers.get("sparse", k=3, sparsity=0.5)
    with pytest.raises(ValueError, match="sparsity"):
        initializers.get("sparse", sparsity=1.0)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        initializers.get("sparse", k=0)


def test_sparse_batch_axis_units_are_independent():
    w = np.asarray(initializers.get("sparse", k=2, batch_axis=0)(_key(), (3, 16, 8)))
    assert np.all(np.count_nonzero(w, axis=1) == 2)  # per (layer, unit)
    assert not np.array_equal(w[0] != 0, w[1] != 0)


def test_sparse_positions_uniform_and_values_normal():
    """Positions: each of the fan_in = 64 slots is non-zero in Binomial(units, k/fan_in) units.

    With 4096 units and k = 8: mean 512, std sqrt(4096 * 1/8 * 7/8) = 21.2; allow 5.5 std per slot
    (64 slots: family-wise false-failure probability < 64 * 4e-8). Values: KS against N(0, std^2).
    """
    units, fan_in, k, std = 4096, 64, 8, 0.7
    w = np.asarray(initializers.get("sparse", k=k, std=std)(_key(), (fan_in, units)), np.float64)
    counts = np.count_nonzero(w, axis=1)
    mean, sd = units * k / fan_in, math.sqrt(units * k / fan_in * (1 - k / fan_in))
    assert np.all(np.abs(counts - mean) < 5.5 * sd), counts
    assert stats.kstest(w[w != 0], stats.norm(scale=std).cdf).pvalue > 1e-5


def test_hadamard_is_sylvester():
    for m in range(6):
        np.testing.assert_array_equal(hadamard(m), scipy.linalg.hadamard(2**m))


@pytest.mark.parametrize("n_in,n_out", [(4, 4), (8, 3), (3, 5), (5, 12), (6, 8), (1, 1), (1, 3)])
def test_zero_init_dense_algorithm_1(n_in, n_out):
    """Zhao et al. 2022, Algorithm 1 with W in R^{P x Q}, P = out, Q = in; Flax stores W^T."""
    w = np.asarray(initializers.get("ZerO")(_key(), (n_in, n_out)), np.float64)
    P, Q = n_out, n_in
    if P <= Q:
        expected_w = np.eye(P, Q)  # identity (P = Q) or partial identity I* (P < Q)
    else:
        m = math.ceil(math.log2(P))
        c = 2.0 ** (-(m - 1) / 2)
        expected_w = c * scipy.linalg.hadamard(2**m)[:P, :Q]  # c I* H_m I*
    np.testing.assert_allclose(w, expected_w.T, rtol=1e-7)
    # The point of the Hadamard branch: full rank min(in, out) (no "training degeneracy").
    assert np.linalg.matrix_rank(w) == min(n_in, n_out)


def test_zero_init_conv_algorithm_2():
    w = np.asarray(initializers.get("zero_init_hadamard")(_key(), (3, 3, 4, 8)), np.float64)
    dense = np.asarray(initializers.get("zero_init_hadamard")(_key(), (4, 8)), np.float64)
    np.testing.assert_array_equal(w[1, 1], dense)
    w[1, 1] = 0.0
    assert np.all(w == 0.0)
    with pytest.raises(ValueError, match="odd"):
        initializers.get("zero_init_hadamard")(_key(), (2, 2, 4, 8))


def test_zero_init_low_precision():
    # (3, 5): m = 3, c = 1/2, entries exactly representable in every dtype. (5, 12): m = 4,
    # c = 2^-1.5, rounded once from float32 (the reference rounding, to nearest even, is
    # numpy's / ml_dtypes': no cast program to compile).
    init = initializers.get("zero_init_hadamard")
    for dt in (jnp.bfloat16, jnp.float16):
        np.testing.assert_array_equal(
            np.asarray(init(_key(), (3, 5), dt), np.float32), np.asarray(init(_key(), (3, 5)))
        )
        np.testing.assert_array_equal(
            np.asarray(init(_key(), (5, 12), dt), np.float32),
            np.asarray(init(_key(), (5, 12))).astype(jnp.dtype(dt)).astype(np.float32),
        )


def test_zero_init_large_under_jit_stays_cheap():
    # Built from iotas: a 2048 x 4096 kernel under jit compiles without a 32 MB constant.
    w = jax.jit(initializers.get("zero_init_hadamard"), static_argnums=(1, 2))(
        _key(), (2048, 4096), jnp.float32
    )
    # int8 entries (+-1): the int64 default would build a 128 MB matrix for 2048 rows of it.
    h = scipy.linalg.hadamard(4096, dtype=np.int8)[:2048, :4096] * 2.0 ** (-11 / 2)
    np.testing.assert_allclose(np.asarray(w), h, rtol=1e-6)
