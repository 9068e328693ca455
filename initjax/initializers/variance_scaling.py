"""Variance scaling: LeCun, Glorot/Xavier, He/Kaiming (jax semantics, DESIGN.md conventions).

Var[w] = scale / n with n = fan_in | fan_out | (fan_in + fan_out) / 2 | sqrt(fan_in * fan_out).
"truncated_normal" truncates at +-2 standard deviations of the underlying normal and corrects its
standard deviation so that the variance is exactly scale / n; "uniform" is
U(-sqrt(3 scale / n), +sqrt(3 scale / n)).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from initjax.initializers import _sampling
from initjax.initializers._registry import register
from initjax.initializers.fans import fans

__all__ = ["variance_scaling", "fan_denominator", "MODES", "DISTRIBUTIONS"]

MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
DISTRIBUTIONS = ("normal", "truncated_normal", "uniform")
# Std of N(0,1) truncated to [-2, 2]: sqrt(1 - 4 phi(2) / (2 Phi(2) - 1)).
_TRUNC2_STD = 0.87962566103423978


def fan_denominator(mode: str, fan_in: int, fan_out: int) -> float:
    """n in Var[w] = scale / n for a variance-scaling ``mode``."""
    if mode == "fan_in":
        return float(fan_in)
    if mode == "fan_out":
        return float(fan_out)
    if mode == "fan_avg":
        return (fan_in + fan_out) / 2.0
    if mode == "fan_geo_avg":
        return math.sqrt(fan_in * fan_out)
    raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")


def _vs_variance(fan_in, fan_out, scale, mode, **_):
    return scale / fan_denominator(mode, fan_in, fan_out)


_VS_DEFAULTS = {
    "scale": 1.0,
    "mode": "fan_in",
    "distribution": "truncated_normal",
    "in_axis": -2,
    "out_axis": -1,
    "batch_axis": (),
}
_VS_CHOICES = {"mode": MODES, "distribution": DISTRIBUTIONS}
_VS_REF = "Glorot & Bengio 2010 (eq. 16); He et al. 2015 (eq. 10); LeCun et al. 1998"


@register(
    "variance_scaling",
    family="variance_scaling",
    defaults=_VS_DEFAULTS,
    reference=_VS_REF,
    variance=_vs_variance,
    formula="scale / n(mode)",
    choices=_VS_CHOICES,
)
def variance_scaling(scale, mode, distribution, in_axis=-2, out_axis=-1, batch_axis=()):
    """Builder: Var[w] = scale / n(mode), with ``distribution`` normal | truncated_normal | uniform.

    Returns ``init(key, shape, dtype) -> Array`` of ``shape`` and exactly ``dtype``.

    Raises (at build): ValueError for scale < 0, unknown mode or distribution.
    Raises (at call): ValueError for shapes of rank < 2 (see :func:`fans`).
    """
    _sampling.check_scalar("variance_scaling", "scale", scale, nonneg=True)
    if mode not in MODES:
        raise ValueError(f"variance_scaling: mode must be one of {', '.join(MODES)}, got {mode!r}")
    if distribution not in DISTRIBUTIONS:
        raise ValueError(
            f"variance_scaling: distribution must be one of {', '.join(DISTRIBUTIONS)}, "
            f"got {distribution!r}"
        )

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        fan_in, fan_out = fans(shape, in_axis, out_axis, batch_axis)
        variance = scale / fan_denominator(mode, fan_in, fan_out)
        if distribution == "normal":
            return _sampling.normal(key, shape, dtype, _sampling.sqrt(variance))
        if distribution == "uniform":
            return _sampling.uniform_symmetric(key, shape, dtype, _sampling.sqrt(3.0 * variance))
        return _sampling.truncated_normal(
            key, shape, dtype, -2.0, 2.0, stddev=_sampling.sqrt(variance) / _TRUNC2_STD
        )

    return init


def _preset(name, scale, mode, distribution, reference, aliases):
    defaults = {"scale": scale, "in_axis": -2, "out_axis": -1, "batch_axis": ()}

    def builder(scale, in_axis=-2, out_axis=-1, batch_axis=()):
        return variance_scaling(scale, mode, distribution, in_axis, out_axis, batch_axis)

    builder.__name__ = name
    builder.__doc__ = f"Builder: variance_scaling(scale, {mode!r}, {distribution!r})."
    formula = {"fan_in": f"{scale:g} / fan_in", "fan_avg": f"{2 * scale:g} / (fan_in + fan_out)"}
    register(
        name,
        family="variance_scaling",
        defaults=defaults,
        reference=reference,
        variance=lambda fi, fo, scale, **_: scale / fan_denominator(mode, fi, fo),
        formula=formula[mode],
        aliases=aliases,
    )(builder)
    return builder


_LECUN = "LeCun, Bottou, Orr, Mueller 1998, 'Efficient BackProp'"
_GLOROT = "Glorot & Bengio 2010, eq. 16 (normalized init)"
_HE = "He, Zhang, Ren, Sun 2015, arXiv:1502.01852, eq. 10"
lecun_normal = _preset("lecun_normal", 1.0, "fan_in", "truncated_normal", _LECUN, ())
lecun_uniform = _preset("lecun_uniform", 1.0, "fan_in", "uniform", _LECUN, ())
glorot_normal = _preset(
    "glorot_normal", 1.0, "fan_avg", "truncated_normal", _GLOROT, ("xavier_normal",)
)
glorot_uniform = _preset("glorot_uniform", 1.0, "fan_avg", "uniform", _GLOROT, ("xavier_uniform",))
he_normal = _preset("he_normal", 2.0, "fan_in", "truncated_normal", _HE, ("kaiming_normal",))
he_uniform = _preset("he_uniform", 2.0, "fan_in", "uniform", _HE, ("kaiming_uniform",))
