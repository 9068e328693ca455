"""Gains: PyTorch's ``calculate_gain`` table and a gain derived from any activation.

``calculate_gain`` reproduces ``torch.nn.init.calculate_gain`` so ported recipes give the same
numbers. ``derived_gain(phi) = 1 / sqrt(E[phi(z)^2])``, z ~ N(0, 1), is the factor that makes a
layer ``phi(W x)`` with Var[w] = gain^2 / fan_in preserve the second moment q = 1 of its
pre-activations (the q-map fixed point at q* = 1 with sigma_w2 = gain^2, sigma_b2 = 0; Poole et al.
2016, eq. 3).
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from initjax import activations

__all__ = ["calculate_gain", "derived_gain", "TORCH_NONLINEARITIES"]

_ONE = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
)
# Every name torch.nn.init.calculate_gain accepts.
TORCH_NONLINEARITIES = (*_ONE, "tanh", "relu", "leaky_relu", "selu")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain of ``torch.nn.init.calculate_gain``.

    ======================  ===================================
    nonlinearity            gain
    ======================  ===================================
    linear, conv*, sigmoid  1
    tanh                    5/3
    relu                    sqrt(2)
    leaky_relu              sqrt(2 / (1 + negative_slope^2))
    selu                    3/4
    ======================  ===================================

    Args:
      nonlinearity: one of :data:`TORCH_NONLINEARITIES`.
      param: the negative slope of leaky_relu (default 0.01); ignored for other names, as in
        PyTorch.

    Returns:
      The gain as a Python float.

    Raises:
      ValueError: unknown ``nonlinearity`` (the message lists the allowed names), or a ``param``
        for leaky_relu that is not a real number.
    """
    if not isinstance(nonlinearity, str) or nonlinearity not in TORCH_NONLINEARITIES:
        raise ValueError(
            f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; allowed: "
            f"{', '.join(TORCH_NONLINEARITIES)}. For any other activation use derived_gain()."
        )
    if nonlinearity in _ONE:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "selu":
        return 3.0 / 4.0  # PyTorch's empirical value (pytorch/pytorch#50664)
    if param is None:
        slope = 0.01
    elif isinstance(param, numbers.Real) and not isinstance(param, bool):
        slope = float(param)
    else:
        raise ValueError(f"calculate_gain: param (negative_slope) {param!r} is not a valid number")
    return math.sqrt(2.0 / (1.0 + slope**2))


# Composite Gauss-Legendre nodes for E[f(z)], z ~ N(0, 1). Plain Gauss-Hermite converges slowly
# for integrands with a kink off the symmetry axis (hard_tanh at +-1: 300 Hermite nodes still
# err by 3e-3), so the line is cut at the kinks of the registered activations (0, +-1) and the
# pieces are integrated with Gauss-Legendre against the normal density, which is exact to
# rounding for integrands that are smooth on each piece. |z| > 40 carries mass < 1e-340.
_BREAKS = (-40.0, -12.0, -6.0, -3.0, -1.0, 0.0, 1.0, 3.0, 6.0, 12.0, 40.0)
_NODES_PER_PIECE = 64


@functools.cache
def _normal_quadrature() -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(_NODES_PER_PIECE)
    zs, ws = [], []
    for lo, hi in zip(_BREAKS[:-1], _BREAKS[1:], strict=True):
        half = 0.5 * (hi - lo)
        z = lo + half * (x + 1.0)
        zs.append(z)
        ws.append(w * half * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi))
    return np.concatenate(zs), np.concatenate(ws)


def gaussian_expectation(fn: Callable, *, name: str = "fn") -> float:
    """E[fn(z)] for z ~ N(0, 1) by composite Gauss-Legendre quadrature (see ``_BREAKS``).

    ``fn`` is evaluated once on a float array of nodes (jax or numpy functions both work).

    Raises:
      ValueError: ``fn`` is not finite on the nodes or returns the wrong shape.
    """
    z, w = _normal_quadrature()
    vals = np.asarray(fn(jnp.asarray(z)), dtype=np.float64)
    if vals.shape != z.shape:
        raise ValueError(f"{name} must be elementwise: got shape {vals.shape} for {z.shape} inputs")
    if not np.all(np.isfinite(vals)):
        raise ValueError(f"{name} is not finite at some |z| <= 40; cannot integrate it")
    return float(np.dot(w, vals))


@functools.lru_cache(maxsize=256)
def _derived_gain(act: activations.Activation, x64: bool) -> float:
    del x64  # part of the cache key only: phi runs in float64 when x64 is on
    m2 = gaussian_expectation(lambda z: act.fn(z) ** 2, name=f"activation {act.name!r}")
    if not m2 > 0.0:
        raise ValueError(
            f"derived_gain: E[phi(z)^2] = {m2} for activation {act.name!r}; a gain needs a "
            "positive second moment"
        )
    return 1.0 / math.sqrt(m2)


def derived_gain(activation: str | activations.Activation | Callable, **params) -> float:
    """Gain ``1 / sqrt(E[phi(z)^2])`` with z ~ N(0, 1), for any activation.

    With Var[w] = gain^2 / fan_in and unit-variance Gaussian pre-activations, the next layer's
    pre-activations again have second moment 1. Closed forms: linear 1, relu sqrt(2),
    leaky_relu(a) sqrt(2 / (1 + a^2)), selu 1 (self-normalizing), sin
    sqrt(2 / (1 - e^-2)), erf 1 / sqrt((2/pi) arcsin(2/3)). Unlike :func:`calculate_gain` the
    second moment is not centred (sigmoid: 1.86, not 1).

    Args:
      activation: a name from :func:`initjax.activations.names` (aliases resolve), an
        :class:`initjax.activations.Activation`, or an elementwise callable.
      **params: parameters of a named activation, e.g. ``negative_slope=0.2``.

    Returns:
      The gain as a Python float (accurate to float32 evaluation of phi, ~1e-7 relative, or
      float64 when x64 is enabled).

    Raises:
      ValueError: unknown activation name or parameter, or E[phi(z)^2] not positive and finite.
      TypeError: ``activation`` is neither a name nor a callable.
    """
    return _derived_gain(activations.get(activation, **params), bool(jax.config.jax_enable_x64))
