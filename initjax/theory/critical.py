"""The order-chaos boundary: critical sigma_w2(sigma_b2) with chi_1 = 1, and the critical point
that puts the fixed point at a chosen q*.

critical_sigma_w2 bisects log(sigma_w2) on a bracket for the sign change of "ordered"
(q* finite and chi_1 < 1) vs not (chi_1 >= 1, or q* = inf: the signal explodes, e.g. ReLU with
sigma_b2 > 0 at sigma_w2 >= 2). Bisection is robust where chi_1 - 1 is flat (tanh at
sigma_b2 = 0: chi_1 - 1 ~ (sigma_w2 - 1)^2 / 3 above the boundary); with 64 halvings the bracket
shrinks below float64 resolution. If the bracket ends are not on opposite sides the result is nan.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from initjax.activations import Activation
from initjax.theory import moments
from initjax.theory._common import (
    DEFAULT_NODES,
    Rule,
    as_float_arrays,
    check_max_iter,
    check_q,
    check_variance,
    make_rule,
    on_cells,
    resolve,
)
from initjax.theory.depth_scales import chi_1_
from initjax.theory.fixed_points import q_star_

__all__ = ["critical_sigma_w2", "critical_point"]

_BISECTIONS = 64


def _ordered(act, rule, sw, sb, q0, max_iter):
    one = jnp.ones_like(sw)
    q = q_star_(act, rule, sw, sb, one, q0, max_iter).value
    finite = jnp.isfinite(q)
    chi = chi_1_(act, rule, sw, one, jnp.where(finite, q, 1.0))
    return finite & (chi < 1.0)


def critical_sigma_w2_(act: Activation, rule: Rule, sb, lo, hi, q0, max_iter: int):
    """Traceable bisection; sb, lo, hi, q0 broadcast. Returns sigma_w2 at chi_1 = 1 (or nan)."""
    sb, lo, hi, q0 = jnp.broadcast_arrays(sb, lo, hi, q0)
    a, b = jnp.log(lo), jnp.log(hi)
    valid = _ordered(act, rule, lo, sb, q0, max_iter) & ~_ordered(act, rule, hi, sb, q0, max_iter)

    def body(_, ab):
        a, b = ab
        m = 0.5 * (a + b)
        ordered = _ordered(act, rule, jnp.exp(m), sb, q0, max_iter)
        return jnp.where(ordered, m, a), jnp.where(ordered, b, m)

    a, b = jax.lax.fori_loop(0, _BISECTIONS, body, (a, b))
    return jnp.where(valid, jnp.exp(0.5 * (a + b)), jnp.nan)


@functools.partial(jax.jit, static_argnames=("act", "rule", "max_iter"))
def _critical_jit(act, rule, sb, lo, hi, q0, max_iter):
    return critical_sigma_w2_(act, rule, sb, lo, hi, q0, max_iter)


def critical_sigma_w2(
    phi: Any,
    sigma_b2,
    *,
    bracket: tuple[float, float] = (1e-2, 1e3),
    q0=1.0,
    max_iter: int = 200,
    method: str = "auto",
    nodes: int = DEFAULT_NODES,
) -> jax.Array:
    """sigma_w2 on the order-chaos boundary chi_1(sigma_w2, sigma_b2) = 1 (no dropout).

    Poole et al. 2016; Schoenholz et al. 2017 (Fig. 1: tanh at sigma_b2 = 0.05 -> about 1.76).
    Known values: ReLU 2 at sigma_b2 = 0; tanh 1 and erf pi/4 at sigma_b2 = 0.

    Args:
      phi: activation name, Activation or callable.
      sigma_b2: bias variance(s) (>= 0), any shape; may be traced.
      bracket: (low, high) sigma_w2 search interval, 0 < low < high.
      q0: start of each q* iteration (> 0).
      max_iter, method, nodes: q* solver cap and integration rule.

    Returns:
      Critical sigma_w2, shape of sigma_b2, float32 (float64 under x64); nan where the bracket
      does not straddle the boundary.

    Raises:
      ValueError: negative sigma_b2, bad bracket or max_iter, unknown activation.
    """
    act = resolve(phi)
    rule = make_rule(method, nodes)
    check_variance("sigma_b2", sigma_b2)
    check_q("q0", q0)
    max_iter = check_max_iter(max_iter)
    try:
        lo, hi = (float(v) for v in bracket)
    except (TypeError, ValueError):
        raise ValueError(f"bracket must be two numbers (low, high), got {bracket!r}") from None
    if not 0 < lo < hi < float("inf"):
        raise ValueError(f"bracket must satisfy 0 < low < high < inf, got {bracket!r}")
    cells = as_float_arrays(sigma_b2, lo, hi, q0)
    return on_cells(lambda *c: _critical_jit(act, rule, *c, max_iter), cells)


@functools.partial(jax.jit, static_argnames=("act", "rule"))
def _critical_point_jit(act, rule, q):
    sw = 1.0 / moments.deriv_power_moment(act, q, 1, rule)
    sb = q - sw * moments.second_moment(act, q, rule)
    return sw, sb


def critical_point(
    phi: Any, q_star, *, method: str = "auto", nodes: int = DEFAULT_NODES
) -> tuple[jax.Array, jax.Array]:
    """(sigma_w2, sigma_b2) on the critical line whose fixed point is the given q*.

    sigma_w2 = 1 / E[phi'(sqrt(q*) z)^2] (so chi_1 = 1) and
    sigma_b2 = q* - sigma_w2 E[phi(sqrt(q*) z)^2] (so q* is fixed): the recipe of Pennington et
    al. 2017 and Xiao et al. 2018 for dynamical isometry at small q*.

    Returns:
      (sigma_w2, sigma_b2), each of q_star's shape. sigma_b2 < 0 means no critical point has this
      q* (e.g. ReLU, whose q* is free only at (2, 0)).

    Raises:
      ValueError: q_star <= 0, unknown activation.
    """
    act = resolve(phi)
    rule = make_rule(method, nodes)
    check_q("q_star", q_star)
    return on_cells(lambda q: _critical_point_jit(act, rule, q), as_float_arrays(q_star))
