"""The law of the weights the models draw through the folded sampler (the kernel multiplier folded
into the initializer's scale, one sampling pass): N(0, sigma_w2 / fan_in) checked by KS, a
1000-bin chi-square, the first four moments and the tail frequencies beyond 4 and 6 standard
deviations. The slow version draws 1.0e8 weights; the fast one 2^22.

float32 limit (stated in the assertion): jax.random.normal maps 23 random mantissa bits through
sqrt(2) erfinv(u) with u in [-1 + 2^-24, 1 - 3 2^-24] (float32), so no draw exceeds
sqrt(2) erfinv(1 - 2^-24) = 5.42 standard deviations (the N(0, 1) mass beyond it is 6e-8, 6
expected of 1e8); beyond 6 sigma 0.2 draws are expected of 1e8, and the sampler gives none.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

from initjax import initializers
from initjax.models import draw_kernel

NORMAL = initializers.get("variance_scaling", distribution="normal")
FAN_IN, FAN_OUT, SIGMA_W2 = 4096, 4096, 1.7
STD = math.sqrt(SIGMA_W2 / FAN_IN)
Z_MAX = math.sqrt(2.0) * float(special.erfinv(np.float64(1.0) - 2.0**-24))
BINS = 1000
EDGES = stats.norm.ppf(np.arange(1, BINS) / BINS)  # 1000 equiprobable bins of N(0, 1)


@jax.jit
def _kernel(key, sigma_w2):  # sigma_w2 traced, as in a sweep: the folded production path
    return draw_kernel(NORMAL, key, (FAN_IN, FAN_OUT), FAN_IN, FAN_OUT, sigma_w2)


def _law_checks(n_keys: int, shape_rows: int) -> dict:
    """Streamed statistics of standardized draws w / STD over ``n_keys`` kernels."""
    s = np.zeros(5)
    counts = np.zeros(BINS, np.int64)
    beyond4 = beyond6 = 0
    zmax = 0.0
    first = None
    for i in range(n_keys):
        w = _kernel(jax.random.key(1000 + i), jnp.float32(SIGMA_W2))[:shape_rows]
        z = np.asarray(w, np.float64).reshape(-1) / STD
        if first is None:
            first = z[: 2**20]
        s += [z.size, z.sum(), (z**2).sum(), (z**3).sum(), (z**4).sum()]
        counts += np.bincount(np.searchsorted(EDGES, z), minlength=BINS)
        a = np.abs(z)
        beyond4 += int((a > 4).sum())
        beyond6 += int((a > 6).sum())
        zmax = max(zmax, float(a.max()))
    n = s[0]
    m1, m2, m3, m4 = s[1] / n, s[2] / n, s[3] / n, s[4] / n
    var = m2 - m1**2
    skew = (m3 - 3 * m1 * m2 + 2 * m1**3) / var**1.5
    kurt = (m4 - 4 * m1 * m3 + 6 * m1**2 * m2 - 3 * m1**4) / var**2 - 3
    chi2 = float(((counts - n / BINS) ** 2 / (n / BINS)).sum())
    return dict(n=n, mean=m1, var=var, skew=skew, kurt=kurt, chi2=chi2, b4=beyond4, b6=beyond6,
                zmax=zmax, first=first)  # fmt: skip


def _assert_normal(r: dict) -> None:
    n = r["n"]
    # Moments of N(0, 1) estimates: SE sqrt(1/n), sqrt(2/n), sqrt(6/n), sqrt(24/n); 5 SE each.
    assert abs(r["mean"]) < 5 * math.sqrt(1 / n)
    assert abs(r["var"] - 1) < 5 * math.sqrt(2 / n)
    assert abs(r["skew"]) < 5 * math.sqrt(6 / n)
    assert abs(r["kurt"]) < 5 * math.sqrt(24 / n)
    # Chi-square over 1000 equiprobable bins: 999 degrees of freedom, p > 1e-4.
    assert stats.chi2.sf(r["chi2"], BINS - 1) > 1e-4, r["chi2"]
    # KS on the first 2^20 draws: p > 1e-3.
    assert stats.kstest(r["first"], "norm").pvalue > 1e-3
    # Tails: beyond 4 sigma a binomial count (expected n * 6.33e-5), within 5 SE; beyond 6
    # sigma at most 5 (expected n * 1.97e-9 <= 0.2; Poisson(0.2) >= 6 has probability 8e-8).
    p4 = 2 * stats.norm.sf(4.0)
    assert abs(r["b4"] - n * p4) < 5 * math.sqrt(n * p4 * (1 - p4)) + 1, r["b4"]
    assert r["b6"] <= 5
    assert r["zmax"] <= Z_MAX * (1 + 1e-5)  # the float32 limit above (erf_inv's float32 error)


def test_folded_kernel_law_fast():
    # 2^22 draws (one 1024-row slice of a 4096 x 4096 kernel).
    _assert_normal(_law_checks(1, 1024))


@pytest.mark.slow
def test_folded_kernel_law_1e8_samples():
    # 6 kernels of 4096 x 4096 = 1.007e8 draws.
    r = _law_checks(6, FAN_IN)
    assert r["n"] >= 1e8
    _assert_normal(r)


def test_folded_draw_equals_jax_random_times_the_final_std():
    # Folding keeps the bits: the kernel is jax.random.normal(key) times one float32 std.
    key = jax.random.key(5)
    w = draw_kernel(NORMAL, key, (64, 32), 64, 32, jnp.float32(0.9))
    ref = jax.random.normal(key, (64 * 32,)).reshape(64, 32) * np.float32(np.sqrt(0.9 / 64))
    # The std is computed in float32 through scale * m^2 and sqrt: a few ulp (2^-24 each).
    np.testing.assert_allclose(np.asarray(w), np.asarray(ref), rtol=4 * 2.0**-24, atol=0)


SHAPES = [(), (1,), (7,), (3, 5), (2, 3, 4), (4, 1, 6, 2)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_inline_standard_draws_equal_jax_random_bit_for_bit(shape):
    # The inline samplers used inside models and measurement programs (biases, dropout masks,
    # cotangents, Gaussian inputs) reproduce jax.random on the same key and shape, eagerly,
    # under jit, under vmap over keys and inside a scan body.
    from initjax.initializers import sampling

    ks = jax.random.split(jax.random.key(11), 3)
    pairs = (
        (sampling.standard_normal, lambda k, s: jax.random.normal(k, s, jnp.float32)),
        (sampling.standard_uniform, lambda k, s: jax.random.uniform(k, s, jnp.float32)),
    )
    for ours, ref in pairs:
        for k in ks:
            np.testing.assert_array_equal(ours(k, shape), ref(k, shape))

    @jax.jit  # one program per shape holds the traced uses: vmap over keys, a scan body
    def traced(ks):
        def uses(f):
            body = lambda c, i: (c, f(jax.random.fold_in(ks[0], i), shape))  # noqa: E731
            return jax.vmap(lambda k: f(k, shape))(ks), jax.lax.scan(body, 0, jnp.arange(3))[1]

        return [(uses(ours), uses(ref)) for ours, ref in pairs]

    for got, want in traced(ks):
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)


def test_inline_standard_draws_fall_back_to_jax_random_off_the_fast_path():
    from initjax.initializers import sampling

    k = jax.random.key(2)
    for dtype in (jnp.bfloat16, jnp.float16):  # jax.random draws these from 16-bit words
        np.testing.assert_array_equal(
            sampling.standard_normal(k, (5, 3), dtype), jax.random.normal(k, (5, 3), dtype)
        )
        np.testing.assert_array_equal(
            sampling.standard_uniform(k, (5, 3), dtype), jax.random.uniform(k, (5, 3), dtype)
        )
    rbg = jax.random.key(0, impl="rbg")
    np.testing.assert_array_equal(
        sampling.standard_normal(rbg, (4, 2)), jax.random.normal(rbg, (4, 2))
    )
    raw = jax.random.PRNGKey(3)  # a raw uint32 key
    np.testing.assert_array_equal(
        sampling.standard_uniform(raw, (6,)), jax.random.uniform(raw, (6,))
    )


def test_model_biases_are_jax_random_normal_times_sqrt_sigma_b2():
    from initjax.models import draw_bias

    key = jax.random.key(9)
    b = draw_bias(None, key, (4, 6), jnp.float32(0.05))
    ref = jnp.sqrt(jnp.float32(0.05)) * jax.random.normal(key, (4, 6), jnp.float32)
    np.testing.assert_array_equal(b, ref)
