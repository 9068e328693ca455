"""PyTorch presets: ``torch.nn.init`` formulas on Flax-layout kernels.

Each entry reproduces the distribution of its ``torch.nn.init`` namesake. PyTorch stores kernels
as ``(out, in, *spatial)`` (OIHW); these entries act on Flax kernels ``(in, out)`` /
``(*spatial, in, out)`` by default (``in_axis=-2, out_axis=-1``). Pass ``layout="OIHW"`` for an
array in PyTorch's layout, or explicit ``in_axis``/``out_axis`` for other kernels. Fans follow
PyTorch's ``_calculate_fan_in_and_fan_out``: fan_in = C_in_per_group * receptive field and
fan_out = C_out * receptive field (PyTorch does not divide fan_out by groups, so neither do these
entries). ``torch_trunc_normal`` takes ABSOLUTE bounds ``a``, ``b``, unlike the jax-style
``truncated_normal``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from initjax.initializers import _sampling
from initjax.initializers._registry import register
from initjax.initializers.fans import fans
from initjax.initializers.gains import TORCH_NONLINEARITIES, calculate_gain

__all__ = [
    "torch_kaiming_uniform",
    "torch_kaiming_normal",
    "torch_xavier_uniform",
    "torch_xavier_normal",
    "torch_trunc_normal",
    "torch_default_linear",
]

_LAYOUTS = (None, "HWIO", "dense", "OIHW")
_AXES = {"in_axis": -2, "out_axis": -1, "layout": None}
_TORCH = "torch.nn.init"
_HE = "He et al. 2015, arXiv:1502.01852, eq. 10 (fan_in) / eq. 14 (fan_out); " + _TORCH
_GLOROT = "Glorot & Bengio 2010, eq. 16; " + _TORCH


def _fans(shape, in_axis, out_axis, layout):
    return fans(shape, in_axis, out_axis, layout=layout)


def _gain(nonlinearity: str, a) -> jax.Array | float:
    """calculate_gain(nonlinearity, a), also for a traced negative slope ``a``."""
    if nonlinearity == "leaky_relu" and not _sampling.is_concrete(a):
        return jnp.sqrt(2.0 / (1.0 + jnp.square(a)))
    return calculate_gain(nonlinearity, a)


def _kaiming_variance(fi, fo, a, mode, nonlinearity, **_):
    return calculate_gain(nonlinearity, a) ** 2 / (fi if mode == "fan_in" else fo)


def _check_kaiming(name, a, mode, nonlinearity):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{name}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    if nonlinearity not in TORCH_NONLINEARITIES:
        raise ValueError(
            f"{name}: nonlinearity must be one of {', '.join(TORCH_NONLINEARITIES)}, "
            f"got {nonlinearity!r}"
        )
    _sampling.check_scalar(name, "a", a)


_KAIMING_DEFAULTS = {"a": 0.0, "mode": "fan_in", "nonlinearity": "leaky_relu", **_AXES}
_KAIMING_CHOICES = {
    "mode": ("fan_in", "fan_out"),
    "nonlinearity": TORCH_NONLINEARITIES,
    "layout": _LAYOUTS,
}


@register(
    "torch_kaiming_uniform",
    family="torch",
    defaults=_KAIMING_DEFAULTS,
    reference=_HE + ".kaiming_uniform_",
    variance=_kaiming_variance,
    formula="gain(nonlinearity, a)^2 / fan(mode); U(+-gain sqrt(3 / fan))",
    choices=_KAIMING_CHOICES,
)
def torch_kaiming_uniform(a, mode, nonlinearity, in_axis=-2, out_axis=-1, layout=None):
    """Builder: U(-bound, bound), bound = gain * sqrt(3 / fan), gain = calculate_gain(nl, a).

    As ``torch.nn.init.kaiming_uniform_`` (defaults a=0, mode="fan_in", nonlinearity="leaky_relu",
    i.e. gain sqrt(2)). ``a`` (leaky_relu's negative slope) may be traced.

    Raises: ValueError for an unknown mode or nonlinearity; at call, for shapes of rank < 2.
    """
    _check_kaiming("torch_kaiming_uniform", a, mode, nonlinearity)

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        fan_in, fan_out = _fans(shape, in_axis, out_axis, layout)
        fan = fan_in if mode == "fan_in" else fan_out
        bound = _gain(nonlinearity, a) * math.sqrt(3.0 / fan)
        return _sampling.uniform_symmetric(key, shape, dtype, bound)

    return init


@register(
    "torch_kaiming_normal",
    family="torch",
    defaults=_KAIMING_DEFAULTS,
    reference=_HE + ".kaiming_normal_",
    variance=_kaiming_variance,
    formula="gain(nonlinearity, a)^2 / fan(mode)",
    choices=_KAIMING_CHOICES,
)
def torch_kaiming_normal(a, mode, nonlinearity, in_axis=-2, out_axis=-1, layout=None):
    """Builder: N(0, std^2), std = gain / sqrt(fan), as ``torch.nn.init.kaiming_normal_``.

    Raises: ValueError for an unknown mode or nonlinearity; at call, for shapes of rank < 2.
    """
    _check_kaiming("torch_kaiming_normal", a, mode, nonlinearity)

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        fan_in, fan_out = _fans(shape, in_axis, out_axis, layout)
        fan = fan_in if mode == "fan_in" else fan_out
        return _sampling.normal(key, shape, dtype, _gain(nonlinearity, a) / math.sqrt(fan))

    return init


_XAVIER_DEFAULTS = {"gain": 1.0, **_AXES}


@register(
    "torch_xavier_uniform",
    family="torch",
    defaults=_XAVIER_DEFAULTS,
    reference=_GLOROT + ".xavier_uniform_",
    variance=lambda fi, fo, gain, **_: 2.0 * gain**2 / (fi + fo),
    formula="2 gain^2 / (fan_in + fan_out); U(+-gain sqrt(6 / (fan_in + fan_out)))",
    choices={"layout": _LAYOUTS},
)
def torch_xavier_uniform(gain, in_axis=-2, out_axis=-1, layout=None):
    """Builder: U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out)) (``xavier_uniform_``).

    ``gain`` may be traced. Raises: ValueError for a negative concrete ``gain``.
    """
    _sampling.check_scalar("torch_xavier_uniform", "gain", gain, nonneg=True)

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        fan_in, fan_out = _fans(shape, in_axis, out_axis, layout)
        bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
        return _sampling.uniform_symmetric(key, shape, dtype, bound)

    return init


@register(
    "torch_xavier_normal",
    family="torch",
    defaults=_XAVIER_DEFAULTS,
    reference=_GLOROT + ".xavier_normal_",
    variance=lambda fi, fo, gain, **_: 2.0 * gain**2 / (fi + fo),
    formula="2 gain^2 / (fan_in + fan_out)",
    choices={"layout": _LAYOUTS},
)
def torch_xavier_normal(gain, in_axis=-2, out_axis=-1, layout=None):
    """Builder: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)) (``xavier_normal_``).

    ``gain`` may be traced. Raises: ValueError for a negative concrete ``gain``.
    """
    _sampling.check_scalar("torch_xavier_normal", "gain", gain, nonneg=True)

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        fan_in, fan_out = _fans(shape, in_axis, out_axis, layout)
        return _sampling.normal(key, shape, dtype, gain * math.sqrt(2.0 / (fan_in + fan_out)))

    return init


def _trunc_variance(fi, fo, mean, std, a, b):
    return std**2 * _sampling.truncnorm_moments((a - mean) / std, (b - mean) / std)[1]


@register(
    "torch_trunc_normal",
    family="torch",
    defaults={"mean": 0.0, "std": 1.0, "a": -2.0, "b": 2.0},
    reference=_TORCH + ".trunc_normal_ (absolute bounds a, b)",
    variance=_trunc_variance,
    formula="std^2 Var[N(0,1) | (a-mean)/std <= z <= (b-mean)/std]",
    fan_based=False,
)
def torch_trunc_normal(mean, std, a, b):
    """Builder: N(mean, std^2) restricted to the ABSOLUTE interval [a, b], any shape.

    As ``torch.nn.init.trunc_normal_``: ``a`` and ``b`` are values, not multiples of ``std``
    (the defaults a=-2, b=2 with std=1 coincide with jax's +-2 sigma only because std = 1), and
    ``std`` is the standard deviation before truncation. Samples lie strictly inside (a, b) in
    every dtype. ``mean`` and ``std`` may be traced.

    Raises: ValueError if a concrete ``std`` <= 0 or ``a >= b``.
    """
    _sampling.check_scalar("torch_trunc_normal", "mean", mean)
    _sampling.check_scalar("torch_trunc_normal", "std", std, positive=True)
    _sampling.check_bounds("torch_trunc_normal", a, b, names=("a", "b"))

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        lower = (a - mean) / std
        upper = (b - mean) / std
        return _sampling.truncated_normal(
            key, shape, dtype, lower, upper, mean=mean, stddev=std, bounds=(a, b)
        )

    return init


@register(
    "torch_default_linear",
    family="torch",
    defaults=dict(_AXES),
    reference="torch.nn.Linear / ConvNd.reset_parameters: kaiming_uniform_(a=sqrt(5))",
    variance=lambda fi, fo, **_: 1.0 / (3.0 * fi),
    formula="1 / (3 fan_in); U(+-1 / sqrt(fan_in))",
    choices={"layout": _LAYOUTS},
)
def torch_default_linear(in_axis=-2, out_axis=-1, layout=None):
    """Builder: PyTorch's default Linear / Conv weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    kaiming_uniform_ with a = sqrt(5): gain = sqrt(2 / (1 + 5)) = sqrt(1/3), so
    bound = sqrt(3) * gain / sqrt(fan_in) = 1 / sqrt(fan_in) and Var[w] = 1 / (3 fan_in).
    (PyTorch draws the bias from the same U(+-1/sqrt(fan_in)); that needs the kernel's fan_in.)
    """

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        fan_in, _ = _fans(shape, in_axis, out_axis, layout)
        return _sampling.uniform_symmetric(key, shape, dtype, 1.0 / math.sqrt(fan_in))

    return init
