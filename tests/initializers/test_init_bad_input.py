"""Bad input: a ValueError / TypeError whose message names the argument."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import pytest

from initjax import initializers


@functools.cache
def _key():
    """The key for every draw (made on first use: collecting the tests compiles nothing)."""
    return jax.random.key(0)


def test_unknown_name_suggests_closest():
    with pytest.raises(
        ValueError, match=r"unknown initializer 'he_normall'\. Did you mean 'he_normal'"
    ):
        initializers.get("he_normall")
    with pytest.raises(ValueError, match=r"Did you mean.*('glorot_uniform'|'xavier_uniform')"):
        initializers.entry("xavier_unifrom")
    with pytest.raises(TypeError, match="name must be a string"):
        initializers.get(3)


@pytest.mark.parametrize(
    "name,hp,err,match",
    [
        # lower >= upper
        ("truncated_normal", {"lower": 1.0, "upper": 1.0}, ValueError, "lower=1.0 must be < upper"),
        ("truncated_normal", {"lower": 2.0, "upper": -2.0}, ValueError, "lower"),
        ("torch_trunc_normal", {"a": 2.0, "b": -2.0}, ValueError, "a=2.0 must be < b"),
        ("truncated_normal", {"lower": float("nan")}, ValueError, "lower must not be NaN"),
        # negative scale / stddev / gain / std
        ("normal", {"stddev": -1.0}, ValueError, "stddev must be >= 0"),
        ("truncated_normal", {"stddev": -1.0}, ValueError, "stddev must be > 0"),
        ("uniform", {"scale": -1.0}, ValueError, "scale must be >= 0"),
        ("uniform_symmetric", {"limit": -0.5}, ValueError, "limit must be >= 0"),
        ("variance_scaling", {"scale": -2.0}, ValueError, "scale must be >= 0"),
        ("he_normal", {"scale": -2.0}, ValueError, "scale must be >= 0"),
        ("orthogonal", {"scale": -1.0}, ValueError, "scale must be >= 0"),
        ("delta_orthogonal", {"scale": -1.0}, ValueError, "scale must be >= 0"),
        ("torch_xavier_uniform", {"gain": -1.0}, ValueError, "gain must be >= 0"),
        ("torch_trunc_normal", {"std": 0.0}, ValueError, "std must be > 0"),
        ("sparse", {"std": -1.0}, ValueError, "std must be >= 0"),
        ("normal", {"stddev": float("inf")}, ValueError, "stddev must be finite"),
        # unknown mode / distribution / choice
        ("variance_scaling", {"mode": "fan_sum"}, ValueError, "mode='fan_sum' is not allowed"),
        ("variance_scaling", {"distribution": "cauchy"}, ValueError, "distribution='cauchy'"),
        ("torch_kaiming_normal", {"mode": "fan_avg"}, ValueError, "mode='fan_avg'"),
        ("torch_kaiming_normal", {"nonlinearity": "swish"}, ValueError, "nonlinearity='swish'"),
        # unknown / ill-typed hyper-parameters
        ("he_normal", {"mode": "fan_out"}, ValueError, "unknown hyper-parameter.*mode.*allowed"),
        ("normal", {"stddev": "big"}, TypeError, "stddev must be of type float"),
        ("orthogonal", {"column_axis": 1.5}, TypeError, "column_axis must be an int"),
        ("scaled_uniform_orthogonal", {"delta": 1}, TypeError, "delta"),
        ("variance_scaling", {"in_axis": "0"}, TypeError, "in_axis must be an int"),
    ],
)
def test_bad_hyper_parameters(name, hp, err, match):
    with pytest.raises(err, match=match):
        initializers.get(name, **hp)


@pytest.mark.parametrize(
    "name,shape,hp,err,match",
    [
        # 1-D / 0-D shapes for fan-based entries
        ("he_normal", (5,), {}, ValueError, r"shape \(5,\) of rank 1.*in_axis"),
        ("glorot_uniform", (), {}, ValueError, r"shape \(\) of rank 0"),
        ("orthogonal", (5,), {}, ValueError, "rank 1"),
        ("torch_kaiming_uniform", (5,), {}, ValueError, "rank 1"),
        # delta_orthogonal: C_in > C_out, even kernel
        ("delta_orthogonal", (3, 3, 8, 4), {}, ValueError, r"C_in <= C_out.*C_in=8 > C_out=4"),
        ("delta_orthogonal", (2, 3, 4, 4), {}, ValueError, r"spatial sizes \(2, 3\).*odd"),
        # non-integer shapes
        ("he_normal", (4.0, 4), {}, TypeError, "shape must contain integers"),
        ("normal", "abc", {}, TypeError, "shape must contain integers"),
        ("normal", None, {}, TypeError, "shape must be a sequence of integers"),
        ("he_normal", (4, -1), {}, ValueError, "shape must have non-negative dimensions"),
        # axes
        ("he_normal", (4, 4), {"in_axis": 5}, ValueError, "in_axis=5 is out of range"),
        ("he_normal", (4, 4), {"in_axis": 1, "out_axis": 1}, ValueError, "must not overlap"),
        ("orthogonal", (4, 4), {"column_axis": 2}, ValueError, "column_axis=2 is out of range"),
        ("identity", (3, 3, 4), {}, ValueError, "rank 2"),
    ],
)
def test_bad_shapes(name, shape, hp, err, match):
    with pytest.raises(err, match=match):
        initializers.get(name, **hp)(_key(), shape)


@pytest.mark.parametrize("dtype,err,match", [(jnp.int32, TypeError, "floating dtype"),
                                             ("not-a-dtype", TypeError, "dtype")])  # fmt: skip
def test_bad_dtype(dtype, err, match):
    with pytest.raises(err, match=match):
        initializers.get("normal")(_key(), (3, 3), dtype)


def test_traced_hparams_skip_eager_checks():
    # Validation of concrete values is eager; traced values cannot be checked and pass through.
    out = jax.vmap(lambda s: initializers.get("normal", stddev=s)(_key(), (3,)))(jnp.array([-1.0]))
    assert out.shape == (1, 3)
