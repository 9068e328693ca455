"""Gaussian moments of an activation: a closed form where registered, quadrature otherwise.

Internal layer shared by the maps, fixed points, depth scales and the Jacobian spectrum. Every
function takes a resolved :class:`~initjax.activations.Activation` and a :class:`Rule` (both
static under ``jit``) and broadcasts over its array arguments. phi' always comes from
``Activation.derivative`` (closed form when the registry has one, else autodiff).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from initjax.activations import Activation
from initjax.theory import closed_forms
from initjax.theory._common import Rule
from initjax.theory.quadrature import expect_1d, expect_1d_z, expect_2d, features

__all__ = [
    "uses_quadrature",
    "second_moment",
    "squared_mean",
    "second_moment_slope",
    "cross_moment",
    "deriv_cross_moment",
    "cross_and_deriv_cross",
    "deficit_and_deriv_cross",
    "deriv_power_moment",
]


def _closed(act: Activation, rule: Rule):
    return None if rule.method == "quadrature" else closed_forms.lookup(act)


def uses_quadrature(act: Activation, rule: Rule) -> bool:
    """True when the moments of ``act`` come from quadrature (no closed form, or forced)."""
    return _closed(act, rule) is None


def _sq(act):
    return lambda u: act.fn(u) ** 2


def second_moment(act: Activation, q: jax.Array, rule: Rule) -> jax.Array:
    """E[phi(sqrt(q) z)^2], z ~ N(0, 1)."""
    cf = _closed(act, rule)
    if cf is not None:
        return cf.second_moment(q)
    return expect_1d([_sq(act)], q, rule.nodes, features(act))[0]


def squared_mean(act: Activation, q: jax.Array, rule: Rule) -> jax.Array:
    """E[phi(sqrt(q) z)]^2: the cross moment at c = 0, where u1 and u2 are independent."""
    cf = _closed(act, rule)
    if cf is not None:
        return cf.cross_moment(q, q, jnp.zeros_like(q))
    return expect_1d([act.fn], q, rule.nodes, features(act))[0] ** 2


def second_moment_slope(act: Activation, q: jax.Array, rule: Rule) -> jax.Array:
    """d/dq E[phi(sqrt(q) z)^2] = E[z phi(u) phi'(u)] / sqrt(q) = E[phi'^2 + phi phi''] (Stein).

    The Stein form needs no phi''; it is the bracket of Schoenholz et al. 2017, eq. 7, divided by
    sigma_w2. q is floored at 1e-30 so the ratio stays finite as q* -> 0.
    """
    cf = _closed(act, rule)
    if cf is not None:
        return jax.jvp(cf.second_moment, (q,), (jnp.ones_like(q),))[1]
    qs = jnp.maximum(q, jnp.asarray(1e-30, q.dtype))
    (val,) = expect_1d_z(
        [lambda u, z: z * act.fn(u) * act.derivative(u)], qs, rule.nodes, features(act)
    )
    return val / jnp.sqrt(qs)


def _cross_raw(act: Activation, q1, q2, c, rule: Rule) -> jax.Array:
    cf = _closed(act, rule)
    if cf is not None:
        return cf.cross_moment(q1, q2, c)
    return expect_2d([(act.fn, act.fn)], q1, q2, c, rule.nodes, features(act))[0]


def cross_moment(act: Activation, q1, q2, c, rule: Rule) -> jax.Array:
    """E[phi(u1) phi(u2)] for centred Gaussian (u1, u2) with variances q1, q2, correlation c.

    Differentiable everywhere in c, |c| = 1 included: d/dc is Price's theorem,
    sqrt(q1 q2) E[phi'(u1) phi'(u2)] (Price 1958), not autodiff through sqrt(1 - c^2) or
    arccos(c), whose infinite slopes at |c| = 1 meet zeros there and give nan. Derivatives in
    q1, q2 are autodiff of the same formula or rule at fixed c.
    """
    q1, q2, c = jnp.broadcast_arrays(q1, q2, c)
    return _price(act, rule)(q1, q2, c)


def _price(act: Activation, rule: Rule):
    @jax.custom_jvp
    def cross(q1, q2, c):
        return _cross_raw(act, q1, q2, c, rule)

    @cross.defjvp
    def _jvp(primals, tangents):
        q1, q2, c = primals
        dq1, dq2, dc = tangents
        value, d_q = jax.jvp(lambda a, b: _cross_raw(act, a, b, c, rule), (q1, q2), (dq1, dq2))
        slope = jnp.sqrt(q1) * jnp.sqrt(q2) * deriv_cross_moment(act, q1, q2, c, rule)
        return value, d_q + slope * dc

    return cross


def deriv_cross_moment(act: Activation, q1, q2, c, rule: Rule) -> jax.Array:
    """E[phi'(u1) phi'(u2)] (Schoenholz et al. 2017's chi_c / sigma_w2 at q1 = q2 = q*, c = c*)."""
    cf = _closed(act, rule)
    if cf is not None:
        return cf.deriv_cross_moment(q1, q2, c)
    d = act.derivative
    return expect_2d([(d, d)], q1, q2, c, rule.nodes, features(act))[0]


def cross_and_deriv_cross(act: Activation, q1, q2, c, rule: Rule):
    """Both of the above from one set of quadrature nodes (the c* Newton step needs both)."""
    cf = _closed(act, rule)
    if cf is not None:
        return cf.cross_moment(q1, q2, c), cf.deriv_cross_moment(q1, q2, c)
    d = act.derivative
    return expect_2d([(act.fn, act.fn), (d, d)], q1, q2, c, rule.nodes, features(act))


def deficit_and_deriv_cross(act: Activation, q, c, rule: Rule):
    """(E[phi(u)^2] - E[phi(u1) phi(u2)], E[phi'(u1) phi'(u2)]) at equal variance q, by quadrature.

    The first is integrated as E[(phi(u1) - phi(u2))^2] / 2, point by point: as c -> 1 the
    difference of the two moments keeps only the digits that survive cancellation (relative error
    ~ eps / (1 - c)), the squared difference keeps relative error ~ eps / sqrt(1 - c). The c*
    solver divides it by 1 - c.
    """
    d = act.derivative

    def half_sq_diff(phi1, phi2):
        diff = phi1 - phi2
        return 0.5 * diff * diff

    return expect_2d([(act.fn, act.fn, half_sq_diff), (d, d)], q, q, c, rule.nodes, features(act))


def deriv_power_moment(act: Activation, q: jax.Array, k: int, rule: Rule) -> jax.Array:
    """mu_k = E[phi'(sqrt(q) z)^(2k)] (Pennington et al. 2017); chi_1 = sigma_w2 mu_1."""
    cf = _closed(act, rule)
    if cf is not None:
        return jnp.broadcast_to(cf.deriv_power_moment(q, k), jnp.shape(q)).astype(q.dtype)
    return expect_1d([lambda u: act.derivative(u) ** (2 * k)], q, rule.nodes, features(act))[0]
