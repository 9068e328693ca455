"""Moments of the input-output Jacobian's squared singular values (Pennington et al. 2017).

For J = D_L W_L ... D_1 W_1 with D_l = diag(phi'(h^l)) at the fixed point q* and N -> infinity,
free probability (S-transforms multiply) gives for the spectrum of J J^T:

    mean      m1 = (sigma_w2 mu_1)^L = chi_1^L
    variance  m2 - m1^2 = m1^2 * L * (mu_2 / mu_1^2 - 1 - s_1)

with mu_k = E[phi'(sqrt(q*) z)^(2k)] and s_1 the first S-transform coefficient of W W^T:
s_1 = -1 for Gaussian weights (Marchenko–Pastur), 0 for orthogonal weights. At criticality
(m1 = 1) this is Pennington et al. 2017's sigma^2_{JJ^T} / L = mu_2/mu_1^2 - 1 - s_1. Checks:
linear Gaussian: variance L sigma_w2^(2L) (Fuss–Catalan m2 = L + 1 at sigma_w2 = 1); linear
orthogonal: 0; ReLU Gaussian at (2, 0): 2 L.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from initjax.theory import moments
from initjax.theory._common import (
    DEFAULT_NODES,
    as_float_arrays,
    check_q,
    check_variance,
    make_rule,
    on_cells,
    resolve,
)
from initjax.theory.fixed_points import q_star_

__all__ = ["JacobianMoments", "jacobian_spectrum_moments", "S1"]

S1 = {"gaussian": -1.0, "orthogonal": 0.0}


class JacobianMoments(NamedTuple):
    """Spectral moments of J J^T (all fields of the broadcast input shape, float).

    Attributes:
      mean: m1, the mean squared singular value, chi_1^depth.
      variance: m2 - m1^2 of the squared singular values.
      mu1, mu2: E[phi'(sqrt(q*) z)^2], E[phi'(sqrt(q*) z)^4].
      chi_1: sigma_w2 mu1.
      q_star: the length at which D_l is taken.
    """

    mean: jax.Array
    variance: jax.Array
    mu1: jax.Array
    mu2: jax.Array
    chi_1: jax.Array
    q_star: jax.Array


@functools.partial(jax.jit, static_argnames=("act", "rule", "max_iter"))
def _jac_jit(act, rule, sw, sb, depth, s1, q, q0, use_q, max_iter):
    one = jnp.ones_like(sw)
    qs = jnp.where(use_q, q, q_star_(act, rule, sw, sb, one, q0, max_iter).value)
    finite = jnp.isfinite(qs)
    qv = jnp.where(finite, qs, 1.0)
    mu1 = moments.deriv_power_moment(act, qv, 1, rule)
    mu2 = moments.deriv_power_moment(act, qv, 2, rule)
    chi = sw * mu1
    mean = chi**depth
    var = mean**2 * depth * (mu2 / mu1**2 - 1.0 - s1)
    nan = jnp.nan
    return JacobianMoments(
        jnp.where(finite, mean, nan),
        jnp.where(finite, var, nan),
        jnp.where(finite, mu1, nan),
        jnp.where(finite, mu2, nan),
        jnp.where(finite, chi, nan),
        qs,
    )


def jacobian_spectrum_moments(
    phi: Any,
    sigma_w2,
    sigma_b2,
    depth,
    weights: str = "gaussian",
    *,
    q=None,
    q0=1.0,
    max_iter: int = 200,
    method: str = "auto",
    nodes: int = DEFAULT_NODES,
) -> JacobianMoments:
    """Mean and variance of the squared singular values of the input-output Jacobian.

    Pennington, Schoenholz & Ganguli 2017 (free probability; see the module docstring).

    Args:
      phi: activation name, Activation or callable.
      sigma_w2, sigma_b2: variances (>= 0), broadcast; may be traced.
      depth: number of layers L (>= 0), int or array (broadcast).
      weights: "gaussian" (s_1 = -1) or "orthogonal" (s_1 = 0).
      q: length at which D_l = diag(phi'(h)) is taken (> 0); None: q* iterated from q0. Off
        criticality linear and ReLU nets have q* = 0 or inf; their mu_k do not depend on q, so
        pass any q.
      q0, max_iter, method, nodes: q* solver start and cap, integration rule.

    Returns:
      :class:`JacobianMoments`; nan where q* = inf.

    Raises:
      ValueError: unknown activation or weights, negative variance or depth, q <= 0.
    """
    act = resolve(phi)
    rule = make_rule(method, nodes)
    check_variance("sigma_w2", sigma_w2)
    check_variance("sigma_b2", sigma_b2)
    check_q("q0", q0)
    if weights not in S1:
        raise ValueError(f"weights must be one of {sorted(S1)}, got {weights!r}")
    if not isinstance(depth, jax.core.Tracer):
        d = np.asarray(depth)
        if not np.issubdtype(d.dtype, np.number) or (d < 0).any() or (d != np.round(d)).any():
            raise ValueError(f"depth must be a non-negative integer, got {depth!r}")
    if q is not None:
        check_q("q", q)
    use_q = q is not None
    sw, sb, depth_f, q_arr, q0 = as_float_arrays(
        sigma_w2, sigma_b2, depth, 1.0 if q is None else q, q0
    )
    s1 = jnp.asarray(S1[weights], sw.dtype)
    return on_cells(
        lambda sw, sb, d, q, q0: _jac_jit(act, rule, sw, sb, d, s1, q, q0, use_q, max_iter),
        (sw, sb, depth_f, q_arr, q0),
    )
