"""The mean-field length and correlation maps (Poole et al. 2016; dropout: Schoenholz et al. 2017).

Standard parameterization, fully connected layer of width N -> infinity:
    h^l = W^l (m^{l-1} * phi(h^{l-1}) / rho) + b^l,  W_ij ~ N(0, sigma_w2/N), b_i ~ N(0, sigma_b2),
with an optional dropout mask m ~ Bernoulli(rho) (rho = keep_prob, independent per input). Then

    q^l      = (sigma_w2 / rho) E[phi(u)^2] + sigma_b2,          u ~ N(0, q^{l-1})         (q-map)
    q_12^l   = sigma_w2 E[phi(u1) phi(u2)] + sigma_b2,           corr(u1, u2) = c^{l-1}
    c^l      = q_12^l / sqrt(q_1^l q_2^l)                                                   (c-map)

(Poole et al. 2016, eqs. 3 and 5; Schoenholz et al. 2017, section 4 for rho < 1).
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
    check_correlation,
    check_keep_prob,
    check_q,
    check_variance,
    clip_correlation,
    make_rule,
    on_cells,
    resolve,
)

__all__ = ["q_map", "c_map", "c_map_slope"]


# ----------------------------------------------------------------------------- internal kernels
def q_map_(act: Activation, rule: Rule, sw, sb, q, keep):
    return sw / keep * moments.second_moment(act, q, rule) + sb


def q_map_slope_(act: Activation, rule: Rule, sw, sb, q, keep):
    """dq^l / dq^{l-1} (Schoenholz et al. 2017, eq. 7 bracket, with 1/rho under dropout)."""
    return sw / keep * moments.second_moment_slope(act, q, rule)


def c_map_(act: Activation, rule: Rule, sw, sb, q1, q2, c, keep, *, with_slope: bool = False):
    """c^l, and optionally dc^l/dc^{l-1} = sigma_w2 sqrt(q1 q2) E[phi' phi'] / sqrt(q1^l q2^l).

    The slope follows from Price's theorem d E[phi(u1) phi(u2)] / d cov = E[phi'(u1) phi'(u2)].
    The result is clipped to [-1, 1] (Cauchy–Schwarz) so rounding cannot push c^l past 1.
    """
    c = clip_correlation(c)
    if with_slope:
        k, kd = moments.cross_and_deriv_cross(act, q1, q2, c, rule)
    else:
        k = moments.cross_moment(act, q1, q2, c, rule)
    n1 = jnp.sqrt(q_map_(act, rule, sw, sb, q1, keep))
    n2 = jnp.sqrt(q_map_(act, rule, sw, sb, q2, keep))
    out = clip_correlation((sw * k + sb) / (n1 * n2))
    if not with_slope:
        return out
    return out, sw * jnp.sqrt(q1) * jnp.sqrt(q2) * kd / (n1 * n2)


@functools.partial(jax.jit, static_argnames=("act", "rule"))
def _q_map_jit(act, rule, sw, sb, q, keep):
    return q_map_(act, rule, sw, sb, q, keep)


@functools.partial(jax.jit, static_argnames=("act", "rule", "with_slope"))
def _c_map_jit(act, rule, sw, sb, q1, q2, c, keep, with_slope=False):
    return c_map_(act, rule, sw, sb, q1, q2, c, keep, with_slope=with_slope)


# ----------------------------------------------------------------------------- public API
def q_map(
    phi: Any,
    sigma_w2,
    sigma_b2,
    q,
    *,
    keep_prob=1.0,
    method: str = "auto",
    nodes: int = DEFAULT_NODES,
) -> jax.Array:
    """The length map q^{l-1} -> q^l = (sigma_w2 / rho) E[phi(sqrt(q) z)^2] + sigma_b2.

    Poole et al. 2016, eq. 3; keep_prob rho < 1: Schoenholz et al. 2017, section 4.

    Args:
      phi: activation name (see ``initjax.activations.names()``), Activation or callable.
      sigma_w2, sigma_b2: weight and bias variances (>= 0; variances, not standard deviations).
      q: previous layer's mean squared pre-activation, > 0.
      keep_prob: dropout keep probability in (0, 1].
      method: "auto" (closed form for linear, relu, leaky_relu, erf, sin; else quadrature) or
        "quadrature".
      nodes: Gauss–Legendre nodes per panel.

    Returns:
      q^l, the broadcast shape of the array arguments; float32 (float64 under x64).

    Raises:
      ValueError: unknown activation, negative or non-finite variance, q <= 0, keep_prob outside
        (0, 1] (checked when the arguments are concrete).
    """
    act = resolve(phi)
    rule = make_rule(method, nodes)
    check_variance("sigma_w2", sigma_w2)
    check_variance("sigma_b2", sigma_b2)
    check_q("q", q)
    check_keep_prob(keep_prob)
    cells = as_float_arrays(sigma_w2, sigma_b2, q, keep_prob)
    return on_cells(lambda *c: _q_map_jit(act, rule, *c), cells)


def c_map(
    phi: Any,
    sigma_w2,
    sigma_b2,
    q1,
    q2,
    c,
    *,
    keep_prob=1.0,
    method: str = "auto",
    nodes: int = DEFAULT_NODES,
) -> jax.Array:
    """The correlation map c^{l-1} -> c^l for two inputs with previous-layer q1, q2.

    c^l = (sigma_w2 E[phi(u1) phi(u2)] + sigma_b2) / sqrt(q_1^l q_2^l), where (u1, u2) is
    centred Gaussian with variances q1, q2 and correlation c, and q_i^l = q_map(q_i)
    (Poole et al. 2016, eq. 5; with dropout the masks of the two inputs are independent, so
    keep_prob enters q_i^l only: Schoenholz et al. 2017, section 4).

    Args:
      phi, sigma_w2, sigma_b2, keep_prob, method, nodes: as in :func:`q_map`.
      q1, q2: previous layer's q of the two inputs (> 0).
      c: previous layer's correlation, in [-1, 1].

    Returns:
      c^l in [-1, 1], broadcast shape, float32 (float64 under x64).

    Raises:
      ValueError: as :func:`q_map`, and |c| > 1.
    """
    act = resolve(phi)
    rule = make_rule(method, nodes)
    check_variance("sigma_w2", sigma_w2)
    check_variance("sigma_b2", sigma_b2)
    check_q("q1", q1)
    check_q("q2", q2)
    check_correlation("c", c)
    check_keep_prob(keep_prob)
    cells = as_float_arrays(sigma_w2, sigma_b2, q1, q2, c, keep_prob)
    return on_cells(lambda *a: _c_map_jit(act, rule, *a), cells)


def c_map_slope(
    phi: Any,
    sigma_w2,
    sigma_b2,
    q1,
    q2,
    c,
    *,
    keep_prob=1.0,
    method: str = "auto",
    nodes: int = DEFAULT_NODES,
) -> jax.Array:
    """dc^l / dc^{l-1} = sigma_w2 sqrt(q1 q2) E[phi'(u1) phi'(u2)] / sqrt(q_1^l q_2^l).

    At the fixed point (q1 = q2 = q*, c = c*) this is chi_c (Schoenholz et al. 2017, eq. 9).
    Arguments, shapes and errors as :func:`c_map`.
    """
    act = resolve(phi)
    rule = make_rule(method, nodes)
    check_variance("sigma_w2", sigma_w2)
    check_variance("sigma_b2", sigma_b2)
    check_q("q1", q1)
    check_q("q2", q2)
    check_correlation("c", c)
    check_keep_prob(keep_prob)
    cells = as_float_arrays(sigma_w2, sigma_b2, q1, q2, c, keep_prob)
    return on_cells(lambda *a: _c_map_jit(act, rule, *a, with_slope=True)[1], cells)
