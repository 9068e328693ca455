"""calculate_gain (PyTorch's table); derived_gain = 1 / sqrt(E[phi(z)^2]) against closed forms."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special, stats

from initjax import activations
from initjax.initializers import calculate_gain, derived_gain
from initjax.initializers.gains import TORCH_NONLINEARITIES

TORCH_TABLE = {
    "linear": 1.0, "conv1d": 1.0, "conv2d": 1.0, "conv3d": 1.0, "conv_transpose1d": 1.0,
    "conv_transpose2d": 1.0, "conv_transpose3d": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3.0,
    "relu": math.sqrt(2.0), "leaky_relu": math.sqrt(2.0 / (1.0 + 0.01**2)), "selu": 0.75,
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(TORCH_TABLE))
def test_calculate_gain_table(name):
    assert calculate_gain(name) == pytest.approx(TORCH_TABLE[name], rel=1e-15)


def test_calculate_gain_covers_torch_names():
    assert set(TORCH_NONLINEARITIES) == set(TORCH_TABLE)


def test_calculate_gain_leaky_relu_param():
    assert calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert calculate_gain("leaky_relu", 0) == pytest.approx(math.sqrt(2))  # kaiming's a=0
    assert calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert calculate_gain("tanh", 0.3) == 5 / 3  # param ignored, as in torch


@pytest.mark.parametrize(
    "args,match",
    [(("gelu",), "unsupported nonlinearity 'gelu'.*tanh.*derived_gain"),
     (("Tanh",), "unsupported nonlinearity"),
     (("leaky_relu", "0.2"), "not a valid number"),
     (("leaky_relu", True), "not a valid number")],
)  # fmt: skip
def test_calculate_gain_rejects(args, match):
    with pytest.raises(ValueError, match=match):
        calculate_gain(*args)


def _quad_gain(fn):
    """Reference: adaptive quadrature of E[fn(z)^2] in float64, split at the kinks."""
    f = lambda z: fn(z) ** 2 * stats.norm.pdf(z)
    total = sum(
        integrate.quad(f, a, b, epsabs=1e-13, epsrel=1e-11, limit=200)[0]
        for a, b in ((-np.inf, -1), (-1, 0), (0, 1), (1, np.inf))
    )
    return 1.0 / math.sqrt(total)


# Closed forms of 1 / sqrt(E[phi(z)^2]), z ~ N(0, 1).
CLOSED = {
    "linear": 1.0,
    "relu": math.sqrt(2.0),  # E[relu^2] = 1/2
    "selu": 1.0,  # self-normalizing: E[selu(z)^2] = 1 (Klambauer et al. 2017)
    "sin": math.sqrt(2.0 / (1.0 - math.exp(-2.0))),  # E[sin^2 z] = (1 - e^-2) / 2
    "erf": 1.0 / math.sqrt(2.0 / math.pi * math.asin(2.0 / 3.0)),  # Williams 1997
    "hard_tanh": 1.0 / math.sqrt(1.0 - 2.0 * stats.norm.pdf(1.0)),  # E[min(z^2, 1)]
}


@pytest.mark.parametrize("name", sorted(CLOSED))
def test_derived_gain_closed_forms(name):
    # phi is evaluated in float32: ~1e-7 relative; selu's constants are given to ~1e-9.
    assert derived_gain(name) == pytest.approx(CLOSED[name], rel=2e-6)


def test_derived_gain_leaky_relu():
    for a in (0.01, 0.2, 1.0):
        assert derived_gain("leaky_relu", negative_slope=a) == pytest.approx(
            math.sqrt(2.0 / (1.0 + a * a)), rel=1e-6
        )


# Independent float64 implementations for the reference integrals.
REFERENCE_FNS = {
    "tanh": math.tanh,
    "sigmoid": special.expit,
    "gelu": lambda z: z * stats.norm.cdf(z),
    "silu": lambda z: z * special.expit(z),
    "softplus": lambda z: np.logaddexp(0.0, z),
    "elu": lambda z: z if z > 0 else math.expm1(z),
    "softsign": lambda z: z / (1.0 + abs(z)),
}


@pytest.mark.parametrize("name", sorted(REFERENCE_FNS))
def test_derived_gain_matches_adaptive_quadrature(name):
    assert derived_gain(name) == pytest.approx(_quad_gain(REFERENCE_FNS[name]), rel=2e-6)


def test_derived_gain_float64_precision(x64):
    # With x64 on, phi runs in float64 and the quadrature is exact to ~1e-13.
    assert derived_gain("relu") == pytest.approx(math.sqrt(2.0), rel=1e-13)
    assert derived_gain("hard_tanh") == pytest.approx(CLOSED["hard_tanh"], rel=1e-13)
    ref = _quad_gain(math.tanh)
    assert derived_gain(jnp.tanh) == pytest.approx(ref, rel=1e-10)


def test_derived_gain_accepts_callables_and_activations():
    assert derived_gain(lambda z: 2.0 * z) == pytest.approx(0.5, rel=1e-6)
    assert derived_gain(np.tanh) == pytest.approx(derived_gain("tanh"), rel=1e-6)
    assert derived_gain(activations.get("relu")) == derived_gain("relu")
    assert derived_gain("identity") == pytest.approx(1.0)


def test_derived_gain_rejects():
    with pytest.raises(ValueError, match="unknown activation 'tanhh'"):
        derived_gain("tanhh")
    with pytest.raises(ValueError, match="positive second moment"):
        derived_gain(lambda z: 0.0 * z)
    with pytest.raises(ValueError, match="not finite"):
        derived_gain(jnp.log)  # NaN for z < 0
    with pytest.raises(TypeError, match="activation"):
        derived_gain(3.0)
    with pytest.raises(ValueError, match="elementwise"):
        derived_gain(lambda z: jnp.sum(z))
