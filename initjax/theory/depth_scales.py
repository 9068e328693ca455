"""chi_1, chi_c and the depth scales xi_q, xi_c (Schoenholz et al. 2017, eqs. 7-9).

    chi_1  = (sigma_w2 / rho) E[phi'(sqrt(q*) z)^2]        (Poole et al. 2016; per-layer growth of
                                                            squared gradients, 1/rho under dropout)
    xi_q^-1 = -log | dq^l/dq^{l-1} at q* |                 (eq. 7: chi_1 + sigma_w2 E[phi'' phi])
    chi_c  = sigma_w2 E[phi'(u1) phi'(u2)] at (q*, c*)      (eq. 9; = chi_1 when c* = 1)
    xi_c^-1 = -log chi_c                                   (eq. 8)

Without dropout, chi_1 <= 1 implies c* = 1 (the c-map is convex on [0, 1] with slope chi_1 at 1; see
fixed_points.py), so there chi_c = chi_1 exactly; chi_1 > 1 uses the solved c* < 1. A multiplier
with |chi| >= 1 gives xi = inf (criticality: chi_c = 1 at the order-chaos boundary); chi = 0 gives
xi = 0. Quantities at an exploding q* (q* = inf) are nan.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from initjax.activations import Activation
from initjax.theory import moments
from initjax.theory._common import (
    DEFAULT_NODES,
    Rule,
    as_float_arrays,
    check_correlation,
    check_keep_prob,
    check_max_iter,
    check_q,
    check_variance,
    make_rule,
    on_cells,
    resolve,
)
from initjax.theory.fixed_points import c_star_, q_star_
from initjax.theory.maps import q_map_slope_

__all__ = ["DepthScales", "MeanField", "chi_1", "chi_c", "depth_scales", "analyse"]


class DepthScales(NamedTuple):
    """Depth scales in layers (float arrays of the broadcast shape; inf at criticality)."""

    xi_q: jax.Array
    xi_c: jax.Array


class MeanField(NamedTuple):
    """Everything the mean-field analysis gives at one (sigma_w2, sigma_b2, keep_prob).

    All fields share the broadcast shape of the inputs. ``converged`` is the q* and c* solvers'
    joint flag.
    """

    q_star: jax.Array
    c_star: jax.Array
    chi_1: jax.Array
    chi_c: jax.Array
    xi_q: jax.Array
    xi_c: jax.Array
    converged: jax.Array


def xi_from_multiplier(chi: jax.Array) -> jax.Array:
    """xi = -1 / log|chi|: inf for |chi| >= 1, 0 for chi = 0, nan for nan."""
    a = jnp.abs(chi)
    return jnp.where(a >= 1.0, jnp.inf, -1.0 / jnp.log(a))


def chi_1_(act: Activation, rule: Rule, sw, keep, q):
    return sw / keep * moments.deriv_power_moment(act, q, 1, rule)


def analyse_(act: Activation, rule: Rule, sw, sb, keep, q0, max_iter: int) -> MeanField:
    """q*, c*, chi_1, chi_c, xi_q, xi_c for broadcast arrays (traceable; used by phase_diagram)."""
    sw, sb, keep, q0 = jnp.broadcast_arrays(sw, sb, keep, q0)
    qfp = q_star_(act, rule, sw, sb, keep, q0, max_iter)
    q = qfp.value
    finite = jnp.isfinite(q)
    # q* = 0 (sigma_b2 = 0, ordered): the maps' q -> 0+ limit, taken at a floor that does not
    # underflow (as c_star_ does).
    q_floor = float(jnp.finfo(q.dtype).tiny) / float(jnp.finfo(q.dtype).eps) ** 2
    qv = jnp.where(finite, jnp.maximum(q, q_floor), 1.0)
    # At q* = inf (exploding signal) chi_1 is the q -> inf limit where that is finite (ReLU:
    # sigma_w2 / 2, any q); c*, chi_c and the depth scales are nan there.
    chi1 = chi_1_(act, rule, sw, keep, jnp.where(q == 0, qv, q))
    ordered = finite & (keep == 1.0) & (chi1 <= 1.0)
    cfp, chic_solved = c_star_(act, rule, sw, sb, keep, q, max_iter, with_slope=True)
    c = cfp.value
    chic = jnp.where(finite, jnp.where(ordered, chi1, chic_solved), jnp.nan)
    slope_q = jnp.where(finite, q_map_slope_(act, rule, sw, sb, qv, keep), jnp.nan)
    return MeanField(
        q_star=q,
        c_star=c,
        chi_1=chi1,
        chi_c=chic,
        xi_q=xi_from_multiplier(slope_q),
        xi_c=xi_from_multiplier(chic),
        converged=qfp.converged & cfp.converged,
    )


@functools.partial(jax.jit, static_argnames=("act", "rule", "max_iter"))
def _analyse_jit(act, rule, sw, sb, keep, q0, max_iter):
    return analyse_(act, rule, sw, sb, keep, q0, max_iter)


@functools.partial(jax.jit, static_argnames=("act", "rule"))
def _chi_c_at(act, rule, sw, q, c):
    return sw * moments.deriv_cross_moment(act, q, q, c, rule)


@functools.partial(jax.jit, static_argnames=("act", "rule"))
def _chi_1_at(act, rule, sw, keep, q):
    return chi_1_(act, rule, sw, keep, q)


def _prepare(phi, sigma_w2, sigma_b2, keep_prob, q0, max_iter, method, nodes):
    act = resolve(phi)
    rule = make_rule(method, nodes)
    check_variance("sigma_w2", sigma_w2)
    check_variance("sigma_b2", sigma_b2)
    check_keep_prob(keep_prob)
    check_q("q0", q0)
    max_iter = check_max_iter(max_iter)
    args = {"sigma_w2": sigma_w2, "sigma_b2": sigma_b2, "keep_prob": keep_prob, "q0": q0}
    try:
        np.broadcast_shapes(*(np.shape(v) for v in args.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {np.shape(v)}" for k, v in args.items())
        raise ValueError(f"arguments must broadcast together, got shapes {shapes}") from None
    return act, rule, max_iter


def analyse(
    phi: Any,
    sigma_w2,
    sigma_b2,
    *,
    keep_prob=1.0,
    q0=1.0,
    max_iter: int = 200,
    method: str = "auto",
    nodes: int = DEFAULT_NODES,
) -> MeanField:
    """The full mean-field analysis (q*, c*, chi_1, chi_c, xi_q, xi_c, converged) in one call.

    Arguments broadcast (arrays of sigma_w2 / sigma_b2 evaluate a grid in one compiled call).
    Concrete grids run flattened and padded to a power-of-two number of cells, at least 16
    (whole multiples of 1024 beyond 1024; copies of the first cell), so all grids of 1..16
    cells share one compiled program and grids of up to N <= 1024 cells ceil(log2 N) - 3;
    padding
    changes no cell's value, ``converged`` flag or solver steps
    (:func:`initjax.theory._common.on_cells`). Arguments and errors as :func:`depth_scales`.
    """
    act, rule, max_iter = _prepare(phi, sigma_w2, sigma_b2, keep_prob, q0, max_iter, method, nodes)
    cells = as_float_arrays(sigma_w2, sigma_b2, keep_prob, q0)
    return on_cells(lambda *c: _analyse_jit(act, rule, *c, max_iter), cells)


def chi_1(
    phi: Any,
    sigma_w2,
    sigma_b2,
    *,
    q=None,
    keep_prob=1.0,
    q0=1.0,
    max_iter: int = 200,
    method: str = "auto",
    nodes: int = DEFAULT_NODES,
) -> jax.Array:
    """chi_1 = (sigma_w2 / keep_prob) E[phi'(sqrt(q) z)^2] at q (default q*).

    Poole et al. 2016; Schoenholz et al. 2017 (chi_1 < 1 ordered, > 1 chaotic). Under dropout
    it is the per-layer growth factor of squared gradients.

    Args:
      phi: activation name, Activation or callable.
      sigma_w2, sigma_b2: variances (>= 0), broadcast.
      q: length (> 0); None: q* iterated from q0.
      keep_prob, q0, max_iter, method, nodes: as in :func:`initjax.theory.q_star`.

    Returns:
      chi_1, broadcast shape, float32 (float64 under x64); nan where q* = inf (except for
      closed forms independent of q, e.g. ReLU: sigma_w2 / 2).
    """
    act, rule, max_iter = _prepare(phi, sigma_w2, sigma_b2, keep_prob, q0, max_iter, method, nodes)
    if q is None:
        return analyse(
            act,
            sigma_w2,
            sigma_b2,
            keep_prob=keep_prob,
            q0=q0,
            max_iter=max_iter,
            method=method,
            nodes=nodes,
        ).chi_1
    check_q("q", q)
    cells = as_float_arrays(sigma_w2, keep_prob, q)
    return on_cells(lambda *c: _chi_1_at(act, rule, *c), cells)


def chi_c(
    phi: Any,
    sigma_w2,
    sigma_b2,
    *,
    q=None,
    c=None,
    keep_prob=1.0,
    q0=1.0,
    max_iter: int = 200,
    method: str = "auto",
    nodes: int = DEFAULT_NODES,
) -> jax.Array:
    """chi_c = sigma_w2 E[phi'(u1) phi'(u2)], (u1, u2) with variance q and correlation c.

    Schoenholz et al. 2017, eq. 9. With q = c = None it is taken at the fixed point (q*, c*)
    (equal to chi_1 in the ordered phase); give both q and c to evaluate it elsewhere.

    Returns:
      chi_c, broadcast shape, float32 (float64 under x64).

    Raises:
      ValueError: as :func:`depth_scales`; |c| > 1; only one of q, c given.
    """
    act, rule, max_iter = _prepare(phi, sigma_w2, sigma_b2, keep_prob, q0, max_iter, method, nodes)
    if (q is None) != (c is None):
        raise ValueError("chi_c: give both q and c, or neither (then the fixed point is used)")
    if q is None:
        return analyse(
            act,
            sigma_w2,
            sigma_b2,
            keep_prob=keep_prob,
            q0=q0,
            max_iter=max_iter,
            method=method,
            nodes=nodes,
        ).chi_c
    check_q("q", q)
    check_correlation("c", c)
    cells = as_float_arrays(sigma_w2, q, c)
    return on_cells(lambda *c: _chi_c_at(act, rule, *c), cells)


def depth_scales(
    phi: Any,
    sigma_w2,
    sigma_b2,
    *,
    keep_prob=1.0,
    q0=1.0,
    max_iter: int = 200,
    method: str = "auto",
    nodes: int = DEFAULT_NODES,
) -> DepthScales:
    """Depth scales (xi_q, xi_c) at the fixed point (Schoenholz et al. 2017, eqs. 7-9).

    |q^l - q*| ~ exp(-l / xi_q) and |c^l - c*| ~ exp(-l / xi_c). xi_c is inf at the order-chaos
    boundary (chi_c = 1); under dropout (keep_prob < 1) it stays finite (section 4).

    Args:
      phi: activation name, Activation or callable.
      sigma_w2, sigma_b2: variances (>= 0), broadcast; may be traced.
      keep_prob: dropout keep probability in (0, 1].
      q0: start of the q* iteration (> 0).
      max_iter, method, nodes: solver cap and integration rule.

    Returns:
      :class:`DepthScales` (xi_q, xi_c), unpacks as a tuple; float arrays in layers.

    Raises:
      ValueError: unknown activation, negative variance, keep_prob outside (0, 1], q0 <= 0.
    """
    mf = analyse(
        phi,
        sigma_w2,
        sigma_b2,
        keep_prob=keep_prob,
        q0=q0,
        max_iter=max_iter,
        method=method,
        nodes=nodes,
    )
    return DepthScales(mf.xi_q, mf.xi_c)
