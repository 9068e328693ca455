"""Closed-form Gaussian kernels, registered per activation (name + parameters).

A :class:`ClosedForm` gives, for centred Gaussian (u1, u2) with variances q1, q2 and correlation c,
and u = sqrt(q) z:

* ``second_moment(q)``            E[phi(u)^2]
* ``cross_moment(q1, q2, c)``     E[phi(u1) phi(u2)]
* ``deriv_cross_moment(q1, q2, c)`` E[phi'(u1) phi'(u2)]
* ``deriv_power_moment(q, k)``    E[phi'(u)^(2k)]  (k = 1, 2: Pennington et al. 2017's mu_k)

Registered here (not in :mod:`initjax.activations`) and used automatically by the maps:

* linear: E[u1 u2] = sqrt(q1 q2) c.
* relu / leaky_relu(a): arc-cosine kernel of degree 1 and 0 (Cho & Saul 2009). With
  theta = arccos(c), k1(c) = (sin theta + (pi - theta) c) / (2 pi), and
  phi(x) = relu(x) - a relu(-x):
  E[phi phi] = sqrt(q1 q2) [(1 + a^2) k1(c) - 2 a k1(-c)],
  E[phi' phi'] = [(1 + a^2)(pi - theta) + 2 a theta] / (2 pi).
* erf: Williams (1997): E[erf(u1) erf(u2)] = (2/pi) arcsin(2 s12 / sqrt((1 + 2 q1)(1 + 2 q2))),
  s12 = sqrt(q1 q2) c; with phi' = (2/sqrt(pi)) exp(-x^2),
  E[phi' phi'] = (4/pi) / sqrt((1 + 2 q1)(1 + 2 q2) - 4 s12^2).
* sin: E[sin u1 sin u2] = exp(-(q1 + q2)/2) sinh(s12),
  E[cos u1 cos u2] = exp(-(q1 + q2)/2) cosh(s12).

Quadrature is inaccurate at ReLU's kink and for sin at large q; these forms are exact.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from initjax._registry import Registry
from initjax.activations import Activation

__all__ = ["ClosedForm", "register_closed_form", "lookup", "registered"]

Fn = Callable[..., jax.Array]


@dataclasses.dataclass(frozen=True)
class ClosedForm:
    """Closed-form Gaussian kernels of one activation (see the module docstring)."""

    second_moment: Fn
    cross_moment: Fn
    deriv_cross_moment: Fn
    deriv_power_moment: Fn
    reference: str
    # k where E[phi(u)^2] = k q exactly (positively homogeneous phi: linear, relu, leaky_relu):
    # the q-map is then affine and q* has a closed form (fixed_points.py). None otherwise.
    second_moment_coefficient: float | None = None


_FACTORIES: Registry[Callable[..., ClosedForm]] = Registry(
    "closed form", normalize=lambda n: n.strip().lower()
)


def register_closed_form(name: str):
    """Decorator registering ``factory(**activation_params) -> ClosedForm`` for the activation
    registered as ``name`` (the factory takes that activation's hyper-parameters).

    Raises:
      ValueError: a closed form for ``name`` is already registered.
    """

    def deco(factory: Callable[..., ClosedForm]) -> Callable[..., ClosedForm]:
        _FACTORIES.register(name, factory)
        return factory

    return deco


def registered() -> list[str]:
    """Activation names with a closed form."""
    return _FACTORIES.names()


@functools.lru_cache(maxsize=256)
def lookup(act: Activation) -> ClosedForm | None:
    """The closed form for a registry activation (keyed by name and params), or None.

    Custom callables never match, even if named like a registered activation.
    """
    if not act.registered or act.name not in _FACTORIES:
        return None
    return _FACTORIES.get(act.name)(**act.param_dict)


def _sqrt_q1q2(q1, q2):
    return jnp.sqrt(q1) * jnp.sqrt(q2)  # no q1*q2: it underflows for q ~ 1e-20 in float32


@register_closed_form("linear")
def _linear() -> ClosedForm:
    return ClosedForm(
        second_moment=lambda q: q,
        cross_moment=lambda q1, q2, c: _sqrt_q1q2(q1, q2) * c,
        deriv_cross_moment=lambda q1, q2, c: jnp.ones_like(c),
        deriv_power_moment=lambda q, k: jnp.ones_like(q),
        reference="identity map",
        second_moment_coefficient=1.0,
    )


def _k1(c):
    """Arc-cosine kernel of degree 1 at unit variances: E[relu(u1) relu(u2)]."""
    c = jnp.clip(c, -1.0, 1.0)
    sin = jnp.sqrt(jnp.maximum((1.0 - c) * (1.0 + c), 0.0))
    return (sin + (math.pi - jnp.arccos(c)) * c) / (2.0 * math.pi)


def _leaky(a: float) -> ClosedForm:
    a = float(a)

    def cross(q1, q2, c):
        return _sqrt_q1q2(q1, q2) * ((1.0 + a * a) * _k1(c) - 2.0 * a * _k1(-c))

    def deriv_cross(q1, q2, c):
        theta = jnp.arccos(jnp.clip(c, -1.0, 1.0))
        return ((1.0 + a * a) * (math.pi - theta) + 2.0 * a * theta) / (2.0 * math.pi)

    return ClosedForm(
        second_moment=lambda q: 0.5 * (1.0 + a * a) * q,
        cross_moment=cross,
        deriv_cross_moment=deriv_cross,
        deriv_power_moment=lambda q, k: jnp.full_like(q, 0.5 * (1.0 + a ** (2 * k))),
        reference="arc-cosine kernel, Cho & Saul 2009",
        second_moment_coefficient=0.5 * (1.0 + a * a),
    )


register_closed_form("relu")(lambda: _leaky(0.0))
register_closed_form("leaky_relu")(lambda negative_slope: _leaky(negative_slope))


@register_closed_form("erf")
def _erf() -> ClosedForm:
    # Written through r_i = sqrt(2 q_i / (1 + 2 q_i)) in [0, 1): no product of variances, so
    # nothing overflows in float32 at large q (the determinant (1 + 2 q1)(1 + 2 q2) - 4 s12^2
    # did, to inf - inf = nan, near q = 1e19).
    def _r(q):
        return jnp.sqrt(2.0 * q / (1.0 + 2.0 * q))

    def cross(q1, q2, c):
        x = jnp.clip(_r(q1) * _r(q2) * c, -1.0, 1.0)
        return (2.0 / math.pi) * jnp.arcsin(x)

    def deriv_cross(q1, q2, c):
        # (4/pi) / sqrt(a1 a2 - 4 q1 q2 c^2), a_i = 1 + 2 q_i, divided through by a1 a2: with
        # x = r1 r2 c, 1 - x^2 = 1/a1 + 1/a2 - 1/(a1 a2) + r1^2 r2^2 (1 - c^2), every term >= 0,
        # no cancellation even where x -> 1.
        a1, a2 = 1.0 + 2.0 * q1, 1.0 + 2.0 * q2
        r12 = _r(q1) * _r(q2)
        s2 = jnp.maximum((1.0 - c) * (1.0 + c), 0.0)
        one_m_x2 = 1.0 / a1 + 1.0 / a2 - 1.0 / (a1 * a2) + r12 * r12 * s2
        return (4.0 / math.pi) / (jnp.sqrt(a1) * jnp.sqrt(a2) * jnp.sqrt(one_m_x2))

    return ClosedForm(
        second_moment=lambda q: (2.0 / math.pi) * jnp.arcsin(2.0 * q / (1.0 + 2.0 * q)),
        cross_moment=cross,
        deriv_cross_moment=deriv_cross,
        deriv_power_moment=lambda q, k: (4.0 / math.pi) ** k / jnp.sqrt(1.0 + 4.0 * k * q),
        reference="Williams 1997",
    )


@register_closed_form("sin")
def _sin() -> ClosedForm:
    # exp(-(q1 + q2)/2) sinh(s12) as a difference of two exponentials of bounded arguments:
    # sinh(s12) alone overflows (float32: s12 > 89) where the prefactor underflows, 0 * inf.
    def _pair(q1, q2, c):
        s12 = _sqrt_q1q2(q1, q2) * c
        half = 0.5 * (q1 + q2)
        return 0.5 * jnp.exp(s12 - half), 0.5 * jnp.exp(-s12 - half)

    def cross(q1, q2, c):
        a, b = _pair(q1, q2, c)
        return a - b

    def deriv_cross(q1, q2, c):
        a, b = _pair(q1, q2, c)
        return a + b

    def deriv_power(q, k):
        # cos^2 = (1 + cos 2x)/2, cos^4 = (3 + 4 cos 2x + cos 4x)/8, E[cos(a u)] = exp(-a^2 q/2).
        if k == 1:
            return 0.5 * (1.0 + jnp.exp(-2.0 * q))
        if k == 2:
            return (3.0 + 4.0 * jnp.exp(-2.0 * q) + jnp.exp(-8.0 * q)) / 8.0
        raise ValueError(f"sin closed form: k must be 1 or 2, got {k}")

    return ClosedForm(
        second_moment=lambda q: -0.5 * jnp.expm1(-2.0 * q),  # no cancellation as q -> 0
        cross_moment=cross,
        deriv_cross_moment=deriv_cross,
        deriv_power_moment=deriv_power,
        reference="E[cos(a u)] = exp(-a^2 q / 2)",
    )


def describe(act: Activation) -> dict[str, Any]:
    """For messages/CLI: whether ``act`` uses a closed form and which."""
    cf = lookup(act)
    return {"activation": repr(act), "closed_form": cf.reference if cf else None}
