"""Fixed points q* of the length map and c* of the correlation map, inside ``lax.while_loop``.

q*: the fixed point reached by iterating the q-map from q0 (default 1), i.e. lim q^l. Plain
iteration never overshoots when the q-map is increasing; each step takes the further of the plain
step and a Newton step (or, once the root is bracketed, the bracket midpoint), so convergence is
quadratic near a simple root and never worse than iteration. When the q-map has no finite fixed
point above q0 the iterate grows past 1e30 and q* = inf is returned with ``converged = False``
(the solver saw the growth, not the limit). With sigma_b2 = 0 and q^l -> 0 (odd phi in the ordered
phase) the iterate reaches the solver's absolute floor (1e-30) and q* = 0 is returned, the exact
fixed point, with ``converged = True``.

Positively homogeneous phi with a closed form (linear, relu, leaky_relu under ``method="auto"``)
have an affine q-map q -> m q + sigma_b2, m = sigma_w2 k / rho with E[phi^2] = k q; q* is then
exact, with ``converged = True`` and 0 iterations: sigma_b2 / (1 - m) for m < 1 (0 at
sigma_b2 = 0), inf for m > 1, or m = 1 with sigma_b2 > 0 (the signal explodes: lim q^l = inf),
and q0 for m = 1, sigma_b2 = 0 (every q is fixed).

c*: with q1 = q2 = q* the c-map f is a power series in c with non-negative coefficients (expand
phi(sqrt(q*) z) in Hermite polynomials), hence increasing and convex on [0, 1], with f(1) = 1
(or < 1 under dropout). So f has at most one fixed point in [0, 1) besides c = 1, and it attracts
every input pair with c in [0, 1). We find it as the root of h(c) = (c - f(c)) / (1 - c), which is
increasing on [0, 1) with h(0) = -f(0) <= 0 and h(1-) = f'(1) - 1 (or +inf under dropout): a root
exists iff f'(1) > 1 (chaotic phase, c* < 1), else c* = 1 (ordered phase, chi_1 <= 1). Dividing
out the root at c = 1 keeps the root simple near criticality, where f(c) - c has a near-double
root; safeguarded Newton then converges in a few steps. (Odd phi with sigma_b2 = 0: c* = 0 when
chaotic. Where every c is fixed, e.g. the linear network at (1, 0), c* = 1 is returned.)

Results are :class:`FixedPoint` named tuples of arrays (a pytree: fine under jit/vmap).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from initjax.activations import Activation
from initjax.theory import closed_forms, hermite, moments
from initjax.theory._common import (
    DEFAULT_NODES,
    Rule,
    as_float_arrays,
    check_keep_prob,
    check_max_iter,
    check_q,
    check_variance,
    make_rule,
    on_cells,
    resolve,
)
from initjax.theory.maps import c_map_, q_map_, q_map_slope_

__all__ = ["FixedPoint", "q_star", "c_star", "Q_DIVERGED"]

Q_DIVERGED = 1e30  # q above this counts as exploding: q* = inf


class FixedPoint(NamedTuple):
    """A fixed point with its solver status; each field has the broadcast shape of the inputs.

    Attributes:
      value: the fixed point (float32, float64 under x64). q*: inf where the signal explodes,
        nan where inputs were nan. c*: nan where q* is not finite.
      converged: bool, True where the solver met its tolerance within ``max_iter`` steps.
      iterations: int32, steps taken.
    """

    value: jax.Array
    converged: jax.Array
    iterations: jax.Array


def _tols(dtype):
    eps = float(jnp.finfo(dtype).eps)
    return 8.0 * eps, 1e-30  # relative, absolute (q* -> 0 for odd phi with sigma_b2 = 0)


def _affine_q_star(k: float, sw, sb, keep, q0) -> FixedPoint:
    """lim q^l for the affine q-map q -> m q + sigma_b2, m = sigma_w2 k / rho (module docstring)."""
    m = sw * k / keep
    finite = sb / jnp.where(m < 1.0, 1.0 - m, 1.0)
    value = jnp.where(m < 1.0, finite, jnp.where((m > 1.0) | (sb > 0), jnp.inf, q0))
    value = jnp.where(jnp.isnan(sw + sb + keep + q0), jnp.nan, value).astype(q0.dtype)
    return FixedPoint(value, ~jnp.isnan(value), jnp.zeros(q0.shape, jnp.int32))


def q_star_(act: Activation, rule: Rule, sw, sb, keep, q0, max_iter: int) -> FixedPoint:
    """Array-valued q* solver (all arguments broadcast; see module docstring)."""
    sw, sb, keep, q0 = jnp.broadcast_arrays(sw, sb, keep, q0)
    cf = closed_forms.lookup(act) if rule.method == "auto" else None
    if cf is not None and cf.second_moment_coefficient is not None:
        return _affine_q_star(cf.second_moment_coefficient, sw, sb, keep, q0)
    rtol, atol = _tols(q0.dtype)
    inf = jnp.asarray(jnp.inf, q0.dtype)

    def step(state):
        q, lo, hi, it, done = state
        big_q = q_map_(act, rule, sw, sb, q, keep)
        h = big_q - q
        dh = q_map_slope_(act, rule, sw, sb, q, keep) - 1.0
        # h == 0 exactly: q is fixed. After moving, with a non-contracting slope (dh >= 0) that
        # is rounding (q + sigma_b2 == q in float32 at q ~ 1e7), not a fixed point: keep growing.
        exact = (h == 0) & ((it == 0) | (dh < 0))
        h = jnp.where((h == 0) & ~exact, jnp.abs(q) + atol, h)
        up = h > 0
        lo = jnp.where(up, jnp.maximum(lo, q), lo)
        hi = jnp.where(up | exact, hi, jnp.minimum(hi, q))
        newton = q - h / jnp.where(dh == 0, 1.0, dh)
        newton_ok = (dh < 0) & (newton > lo) & (newton < hi)
        fallback = jnp.where(jnp.isinf(hi), 2.0 * q + atol, 0.5 * (lo + hi))
        cand = jnp.where(newton_ok, newton, fallback)
        nxt = jnp.where(up, jnp.maximum(big_q, cand), jnp.minimum(big_q, cand))
        # Rounding may put the plain step outside the bracket: bisect instead.
        outside = (nxt <= lo) | (nxt >= hi)
        nxt = jnp.where(outside, jnp.where(jnp.isinf(hi), nxt, 0.5 * (lo + hi)), nxt)
        small = jnp.abs(nxt - q) <= rtol * q + atol
        tight = jnp.isfinite(hi) & ((hi - lo) <= rtol * hi)
        nxt = jnp.where(exact, q, nxt)
        new_done = done | exact | small | tight | (nxt > Q_DIVERGED) | ~jnp.isfinite(nxt)
        q = jnp.where(done, q, nxt)
        it = it + jnp.where(done, 0, 1).astype(jnp.int32)
        return q, lo, hi, it, new_done

    def cond(state):
        *_, it, done = state
        return jnp.any(~done & (it < max_iter))

    init = (
        q0,
        jnp.zeros_like(q0),
        jnp.full_like(q0, inf),
        jnp.zeros(q0.shape, jnp.int32),
        ~jnp.isfinite(q0),
    )
    q, _, _, it, done = jax.lax.while_loop(cond, step, init)
    exploded = q > Q_DIVERGED
    value = jnp.where(exploded, inf, q)
    # sigma_b2 = 0 and the iterate at the absolute floor: q^l -> 0, and 0 is a fixed point
    # (q_map(0) = sigma_w2 phi(0)^2 / rho = 0, else q^l could not approach 0).
    value = jnp.where(done & (sb == 0) & (value <= 1e3 * atol), 0.0, value)
    converged = done & ~exploded & jnp.isfinite(q) & (it <= max_iter)
    return FixedPoint(value, converged, it)


def _c_solve(h_fn, c0, active, max_iter):
    """Safeguarded Newton on h(c) = (c - f(c)) / (1 - c) in the bracket [0, 1), from c0.

    ``h_fn(c) -> (h, h', noise, f')``: h, its derivative, the rounding noise of h (where
    |h| <= noise, c is a root to rounding and the solver stops there) and the c-map's slope f'
    (reported as chi_c at the end).
    """
    eps = float(jnp.finfo(c0.dtype).eps)
    tol = 64.0 * eps

    def step(state):
        c, lo, hi, dx_old, slope, it, done = state
        h, dh, noise, df = h_fn(c)
        lo = jnp.where(h <= 0, c, lo)
        hi = jnp.where(h > 0, c, hi)
        newton = c - h / jnp.where(dh > 0, dh, 1.0)
        step_size = jnp.abs(newton - c)
        small = step_size <= tol
        # h within its rounding noise of 0: c is a root to rounding, and a Newton step from
        # there (noise / h') would only move it at random. Stop without stepping.
        root = jnp.abs(h) <= noise
        # rtsafe rule: bisect when Newton leaves the bracket or fails to halve the last step.
        ok = (dh > 0) & (newton > lo) & (newton < hi) & ((step_size <= 0.5 * dx_old) | small)
        nxt = jnp.where(ok, newton, 0.5 * (lo + hi))
        finished = root | (ok & small) | (hi - lo <= tol) | ~jnp.isfinite(h)
        nxt = jnp.where(root, c, nxt)
        dx = jnp.abs(nxt - c)
        c = jnp.where(done, c, nxt)
        slope = jnp.where(done, slope, df)
        it = it + jnp.where(done, 0, 1).astype(jnp.int32)
        return c, lo, hi, dx, slope, it, done | finished

    def cond(state):
        *_, it, done = state
        return jnp.any(~done & (it < max_iter))

    zeros = jnp.zeros_like(c0)
    ones = jnp.ones_like(c0)
    nan = jnp.full_like(c0, jnp.nan)
    init = (c0, zeros, ones, 4.0 * ones, nan, jnp.zeros(c0.shape, jnp.int32), ~active)
    c, _, _, _, slope, it, done = jax.lax.while_loop(cond, step, init)
    return c, slope, it, done


def c_star_(act: Activation, rule: Rule, sw, sb, keep, q, max_iter: int, with_slope: bool = False):
    """Array-valued c* solver at q1 = q2 = q (see module docstring).

    Solves h(c) = (c - f(c)) / (1 - c) = 0 on [0, 1), f the c-map: h is increasing (convexity of
    f and f(1) <= 1), h(0) = -f(0) <= 0 and h(1-) = f'(1) - 1 (no dropout) or +inf (dropout). So
    a root in [0, 1) exists iff h(1-) > 0, and else c* = 1. Dividing out the root at c = 1 keeps
    the root simple near criticality, where g = f - c has a near-double root and Newton on g
    slows to linear convergence. Safeguarded Newton (bisection fallback) on the bracket [0, 1).

    The root is first found on the Hermite series of the c-map (hermite.py: O(K) per evaluation,
    and free of the cancellation in c - f near c = 1), then polished by Newton on the exact map
    (closed form, or quadrature written as a squared difference: usually one 2-D integral).

    Returns:
      FixedPoint, or (FixedPoint, slope) with ``with_slope``: dc^l/dc at c* (chi_c).
      ``iterations`` counts the 2-D (or closed-form) c-map evaluations.
    """
    sw, sb, keep, q = jnp.broadcast_arrays(sw, sb, keep, q)
    valid = jnp.isfinite(q) & (q >= 0)  # q = 0: the q -> 0+ limit, at the floor below
    eps = float(jnp.finfo(q.dtype).eps)
    # Below q = tiny / eps^2 every smooth phi with phi(0) = 0 is linear to rounding, so the c-map
    # no longer depends on q (sigma_b2 = 0: f(c) = rho c), while its integrals start to underflow
    # (q* -> 0 in the ordered phase at sigma_b2 = 0 lands anywhere down to 1e-38). Evaluate the
    # maps at that floor instead: same c-map to rounding, no underflow.
    q_floor = float(jnp.finfo(q.dtype).tiny) / eps**2
    qv = jnp.where(valid, jnp.maximum(q, q_floor), 1.0)
    # f'(1) = sigma_w2 q E[phi'^2] / q^l: a 1-D integral (equals chi_1 at q = q*).
    q_next = q_map_(act, rule, sw, sb, qv, keep)
    slope_at_1 = sw * qv * moments.deriv_power_moment(act, qv, 1, rule) / q_next
    # f'(1) within rounding of 1 means c* = 1 to within the solver's tolerance anyway (and
    # xi_c = inf: critical to rounding); at the q floor without dropout f is the identity.
    has_root = valid & ((keep < 1.0) | (slope_at_1 > 1.0 + 64.0 * eps))
    # Start where the chord of h between h(0) = -f(0) (a 1-D integral: u1, u2 independent at
    # c = 0) and h(1-) crosses zero: near 1 close to criticality. Dropout: h(1-) = inf, start 0.
    h0 = -(sw * moments.squared_mean(act, qv, rule) + sb) / q_next
    h1 = jnp.where(has_root, slope_at_1 - 1.0, 1.0)
    c0 = jnp.where(keep < 1.0, 0.0, h0 / (h0 - h1))
    # h = (c - f) / (1 - c) = sigma_w2 (D(c) + excess) / (q^l (1 - c)) - 1, where
    # D = E[phi^2] - E[phi(u1) phi(u2)] and excess = E[phi^2] (1/rho - 1) under dropout. The
    # series gives D / (1 - c) without cancellation (and in O(K) per step): solve there first,
    # for closed forms too (their h cancels the same way near c = 1).
    m0 = moments.second_moment(act, qv, rule)
    excess = m0 * (1.0 / keep - 1.0)
    series = hermite.c_map_series_coefficients(act, qv, rule.nodes)

    def series_h(c):
        g, dg = hermite.series_deficit(series, c)
        one_m = 1.0 - c
        h = sw * (g + excess / one_m) / q_next - 1.0
        dh = sw * (dg + excess / (one_m * one_m)) / q_next
        return h, dh, 16.0 * eps * (1.0 + jnp.abs(h)), dh

    c0, _, _, _ = _c_solve(series_h, c0, has_root, max_iter)
    c0 = jnp.clip(c0, 0.0, 1.0 - 64.0 * eps)
    if moments.uses_quadrature(act, rule):

        def exact_h(c):
            d, kd = moments.deficit_and_deriv_cross(act, qv, c, rule)
            one_m = 1.0 - c
            h = sw * (d + excess) / (q_next * one_m) - 1.0
            # h' from the series: smooth, while its quadrature form cancels twice near c = 1.
            # Newton only needs it approximately; h itself is exact.
            _, dh, _, _ = series_h(c)
            # D's relative rounding: ~eps sqrt(2 E[phi^2] / D) from the squared differences
            # (Cauchy-Schwarz), plus the sum over 6 n^2 nodes (pairwise, ~16 eps).
            rel = eps * (16.0 + 4.0 * jnp.sqrt(2.0 * m0 / jnp.maximum(d, jnp.finfo(d.dtype).tiny)))
            return h, dh, rel * (1.0 + jnp.abs(h)), sw * qv * kd / q_next

    else:

        def exact_h(c):
            f, df = c_map_(act, rule, sw, sb, qv, qv, c, keep, with_slope=True)
            one_m = 1.0 - c
            h = (c - f) / one_m
            dh = (1.0 - f - df * one_m) / (one_m * one_m)
            # f's rounding (a few eps), magnified by the division by 1 - c.
            return h, dh, 4.0 * eps / one_m, df

    c, slope, it, done = _c_solve(exact_h, c0, has_root, max_iter)
    c = jnp.where(has_root, c, 1.0)
    slope = jnp.where(has_root, slope, slope_at_1)
    value = jnp.where(valid, c, jnp.nan)
    converged = done & valid & jnp.isfinite(c) & (it < max_iter)
    fp = FixedPoint(value, converged, it)
    return (fp, jnp.where(valid, slope, jnp.nan)) if with_slope else fp


@functools.partial(jax.jit, static_argnames=("act", "rule", "max_iter"))
def _q_star_jit(act, rule, sw, sb, keep, q0, max_iter):
    return q_star_(act, rule, sw, sb, keep, q0, max_iter)


@functools.partial(jax.jit, static_argnames=("act", "rule", "max_iter"))
def _c_star_jit(act, rule, sw, sb, keep, q, q_converged, max_iter):
    fp = c_star_(act, rule, sw, sb, keep, q, max_iter)
    return fp._replace(converged=fp.converged & q_converged)


def _check_common(sigma_w2, sigma_b2, keep_prob, max_iter):
    check_variance("sigma_w2", sigma_w2)
    check_variance("sigma_b2", sigma_b2)
    check_keep_prob(keep_prob)
    return check_max_iter(max_iter)


def q_star(
    phi: Any,
    sigma_w2,
    sigma_b2,
    *,
    q0=1.0,
    keep_prob=1.0,
    max_iter: int = 200,
    method: str = "auto",
    nodes: int = DEFAULT_NODES,
) -> FixedPoint:
    """Fixed point q* = q_map(q*) reached by iterating the length map from q0.

    Poole et al. 2016, eq. 3 (Schoenholz et al. 2017 section 4 with keep_prob < 1).

    Args:
      phi: activation name, Activation or callable.
      sigma_w2, sigma_b2: variances (>= 0); may be arrays (broadcast) or traced.
      q0: starting q (> 0), e.g. the input layer's q^0.
      keep_prob: dropout keep probability in (0, 1].
      max_iter: iteration cap (static).
      method, nodes: as in :func:`initjax.theory.q_map`.

    Returns:
      :class:`FixedPoint` (value, converged, iterations), each of the broadcast shape. value is
      inf where the q-map has no finite fixed point (exploding signal): converged is True where
      that is exact (affine q-maps: linear, relu, leaky_relu), False where the iterate only grew
      past 1e30. 0 where q^l -> 0 (sigma_b2 = 0, ordered), converged True. Where every q is
      fixed (ReLU at (2, 0), linear at (1, 0)) value is q0.

    Raises:
      ValueError: bad activation, negative variance, q0 <= 0, keep_prob outside (0, 1].
    """
    act = resolve(phi)
    rule = make_rule(method, nodes)
    max_iter = _check_common(sigma_w2, sigma_b2, keep_prob, max_iter)
    check_q("q0", q0)
    cells = as_float_arrays(sigma_w2, sigma_b2, keep_prob, q0)
    return on_cells(lambda *c: _q_star_jit(act, rule, *c, max_iter), cells)


def c_star(
    phi: Any,
    sigma_w2,
    sigma_b2,
    *,
    q=None,
    q0=1.0,
    keep_prob=1.0,
    max_iter: int = 200,
    method: str = "auto",
    nodes: int = DEFAULT_NODES,
) -> FixedPoint:
    """Stable fixed point c* of the correlation map at q1 = q2 = q (default q = q*).

    Poole et al. 2016, eq. 5; Schoenholz et al. 2017 (c* = 1 in the ordered phase, c* < 1 in the
    chaotic phase and always under dropout, section 4).

    Args:
      phi, sigma_w2, sigma_b2, keep_prob, max_iter, method, nodes: as in :func:`q_star`.
      q: the length at which to take the c-map (> 0); None: q* from :func:`q_star` (from q0).
      q0: start of the q* iteration when q is None.

    Returns:
      :class:`FixedPoint`; value in [0, 1] (nan where q* is not finite). ``converged`` includes
      the q* solver's flag when q is None.
    """
    act = resolve(phi)
    rule = make_rule(method, nodes)
    max_iter = _check_common(sigma_w2, sigma_b2, keep_prob, max_iter)
    if q is None:
        check_q("q0", q0)

        def solve(sw, sb, keep, q0):
            qfp = _q_star_jit(act, rule, sw, sb, keep, q0, max_iter)
            return _c_star_jit(act, rule, sw, sb, keep, qfp.value, qfp.converged, max_iter)

        return on_cells(solve, as_float_arrays(sigma_w2, sigma_b2, keep_prob, q0))
    check_q("q", q)
    cells = as_float_arrays(sigma_w2, sigma_b2, keep_prob, q)
    return on_cells(lambda *c: _c_star_jit(act, rule, *c, True, max_iter), cells)
