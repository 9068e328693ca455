"""Kolmogorov-Smirnov tests of the sampled laws against scipy's exact distributions.

Each test draws one fixed-key sample of n >= 16k values and rejects at p < ALPHA. The keys are
fixed, so a run is reproducible; for a correct sampler the chance that a given key fails is
ALPHA. Power: the KS critical value at ALPHA = 1e-5 is sqrt(ln(2 / ALPHA) / (2 n)) = 0.019 for
n = 16384, and a normal law with its scale off by a factor (1 + e) moves the CDF by up to
phi(1) e = 0.24 e, so a scale error of ~8% is rejected (the moment tests in
test_init_registry.py catch smaller ones), as is any wrong shape of law (truncated vs not,
uniform vs normal); test_ks_detects_a_wrong_law checks this.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from initjax import initializers

ALPHA = 1e-5


@functools.cache
def _key():
    """The key of every sample (made on first use: collecting compiles nothing)."""
    return jax.random.key(42)


TRUNC2_STD = stats.truncnorm(-2, 2).std()  # std of N(0, 1) truncated to [-2, 2]


def _sample(name, shape, **hp):
    return np.asarray(initializers.get(name, **hp)(_key(), shape), np.float64).ravel()


def _ks(x, dist):
    res = stats.kstest(x, dist.cdf)
    assert res.pvalue > ALPHA, f"KS statistic {res.statistic:.4g}, p = {res.pvalue:.3g}"


# (entry, shape, hparams, scipy law); fans for (128, 128): fan_in = fan_out = 128;
# for (3, 3, 16, 32): fan_in = 144, fan_out = 288.
CASES = [
    ("normal", (16384,), {"stddev": 0.5}, stats.norm(scale=0.5)),
    ("uniform", (16384,), {"scale": 3.0}, stats.uniform(0.0, 3.0)),
    ("uniform_symmetric", (16384,), {"limit": 2.0}, stats.uniform(-2.0, 4.0)),
    ("truncated_normal", (16384,), {"stddev": 0.3, "lower": -1.0, "upper": 2.5},
     stats.truncnorm(-1.0, 2.5, scale=0.3)),
    ("truncated_normal", (16384,), {"stddev": 1.0, "lower": 0.5, "upper": 3.0},
     stats.truncnorm(0.5, 3.0)),
    ("torch_trunc_normal", (16384,), {"mean": 0.5, "std": 2.0, "a": -1.0, "b": 3.0},
     stats.truncnorm((-1.0 - 0.5) / 2.0, (3.0 - 0.5) / 2.0, loc=0.5, scale=2.0)),
    ("he_normal", (128, 128), {},
     stats.truncnorm(-2, 2, scale=math.sqrt(2 / 128) / TRUNC2_STD)),
    ("he_uniform", (128, 128), {},
     stats.uniform(-math.sqrt(6 / 128), 2 * math.sqrt(6 / 128))),
    ("glorot_normal", (3, 3, 16, 32), {},
     stats.truncnorm(-2, 2, scale=math.sqrt(2 / (144 + 288)) / TRUNC2_STD)),
    ("variance_scaling", (128, 128), {"scale": 2.0, "distribution": "normal"},
     stats.norm(scale=math.sqrt(2 / 128))),
    ("variance_scaling", (3, 3, 16, 32), {"mode": "fan_out", "distribution": "uniform"},
     stats.uniform(-math.sqrt(3 / 288), 2 * math.sqrt(3 / 288))),
    ("variance_scaling", (128, 128), {"mode": "fan_geo_avg", "scale": 0.5},
     stats.truncnorm(-2, 2, scale=math.sqrt(0.5 / 128) / TRUNC2_STD)),
    ("torch_kaiming_normal", (128, 128), {"nonlinearity": "tanh"},
     stats.norm(scale=(5 / 3) / math.sqrt(128))),
    ("torch_kaiming_uniform", (3, 3, 16, 32), {},
     stats.uniform(-math.sqrt(2) * math.sqrt(3 / 144), 2 * math.sqrt(2) * math.sqrt(3 / 144))),
    ("torch_xavier_normal", (128, 128), {"gain": 2.0},
     stats.norm(scale=2.0 * math.sqrt(2 / 256))),
    ("torch_xavier_uniform", (128, 128), {"gain": 0.5},
     stats.uniform(-0.5 * math.sqrt(6 / 256), math.sqrt(6 / 256))),
    ("torch_default_linear", (128, 128), {},
     stats.uniform(-1 / math.sqrt(128), 2 / math.sqrt(128))),
]  # fmt: skip


@pytest.mark.parametrize(
    "name,shape,hp,law", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_ks(name, shape, hp, law):
    _ks(_sample(name, shape, **hp), law)


def test_ks_detects_a_wrong_law():
    # Power check: the same machinery rejects he_normal against glorot's (2x smaller) variance
    # and against an untruncated normal of the right variance.
    x = _sample("he_normal", (128, 128))
    for wrong in (
        stats.truncnorm(-2, 2, scale=math.sqrt(1 / 128) / TRUNC2_STD),
        stats.norm(scale=math.sqrt(2 / 128)),
    ):
        assert stats.kstest(x, wrong.cdf).pvalue < ALPHA


@pytest.mark.parametrize(
    "name,hp,lo,hi",
    [
        ("truncated_normal", {"stddev": 1.0}, -2.0, 2.0),
        ("truncated_normal", {"stddev": 0.1, "lower": -0.3, "upper": 0.7}, -0.03, 0.07),
        ("torch_trunc_normal", {"a": -0.1, "b": 0.1}, -0.1, 0.1),
        ("he_normal", {}, -2 * math.sqrt(2 / 64) / TRUNC2_STD, 2 * math.sqrt(2 / 64) / TRUNC2_STD),
    ],
)
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.float16])
def test_truncation_bounds_never_reached(name, hp, lo, hi, dtype):
    # Narrow bounds put many float32 draws within one bf16/f16 ulp of a bound: the rounded
    # samples must still lie strictly inside the open interval (DESIGN.md "Truncation bounds").
    w = np.asarray(initializers.get(name, **hp)(_key(), (64, 256), dtype), np.float64)
    assert w.min() > lo and w.max() < hi, (w.min(), w.max())


def test_torch_trunc_normal_bounds_are_absolute():
    # torch semantics: std = 10 with a, b = -+2 stays inside [-2, 2] (jax-style bounds would be
    # -+20): the law is N(0, 100) truncated to [-2, 2], nearly uniform.
    x = _sample("torch_trunc_normal", (16384,), std=10.0)
    assert x.min() > -2.0 and x.max() < 2.0
    _ks(x, stats.truncnorm(-0.2, 0.2, scale=10.0))


def test_truncated_normal_bounds_are_in_stddev_units():
    x = _sample("truncated_normal", (16384,), stddev=10.0)
    assert x.min() > -20.0 and x.max() < 20.0 and np.abs(x).max() > 19.0


def test_uniform_is_jax_uniform():
    # Delegation: the same draw as jax.nn.initializers.uniform, in every dtype. On the
    # registry-wide tests' dense kernel (initializer_cases): our draws are programs compiled
    # there.
    for dt in (jnp.float32, jnp.bfloat16):
        ours = initializers.get("uniform", scale=3.0)(_key(), (16, 32), dt)
        ref = jax.nn.initializers.uniform(3.0)(_key(), (16, 32), dt)
        np.testing.assert_array_equal(np.asarray(ours, np.float32), np.asarray(ref, np.float32))
