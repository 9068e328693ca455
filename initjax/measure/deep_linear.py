"""Simulations of deep linear networks trained by full-batch gradient descent (Saxe, McClelland
& Ganguli 2014, arXiv:1312.6120): stacks of ``n_weights`` matrices drawn with the models' key
scheme, singular-mode strengths u_alpha(t) during training, learning times from loss curves and
their growth with depth. Analytic counterparts: :mod:`initjax.theory.deep_linear`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "half_rise_times",
    "init_seeds",
    "learning_steps",
    "linear_stack",
    "loglog_slopes",
    "mode_strength_table",
    "relative_loss_curves",
    "train_mode_strengths",
]


def linear_stack(kernel_init: Any, width: int, n_weights: int, n_out: int):
    """A bias-free linear ``MLP`` stack of ``n_weights`` >= 2 weight matrices (input projection,
    n_weights - 2 hidden layers of ``width``, readout to ``n_out``), ``kernel_init`` a registry
    initializer (name or ``initializers.get(...)``). Raises ValueError for n_weights < 2."""
    from initjax import models

    if int(n_weights) < 2:
        raise ValueError(f"n_weights must be >= 2 weight matrices, got {n_weights!r}")
    mlp = models.MLP(
        width=int(width),
        depth=max(int(n_weights) - 2, 1),
        activation="linear",
        kernel_init=kernel_init,
        readout=int(n_out),
    )
    return dataclasses.replace(mlp.stack(), depth=int(n_weights) - 2)  # depth 0: in + readout


def init_seeds(stack, seeds: int, root_seed: int, in_dim: int, sigma_w2: float | None = None):
    """Params of ``seeds`` networks (leading axis: seed), ``init_stack`` at ``role(seed_key,
    PARAMS)`` of ``keys.seed_keys(seeds, root_seed)`` (the models' key scheme), biases 0;
    ``sigma_w2`` rescales Var[W] to sigma_w2 / fan_in (None: the initializer's own variance)."""
    import jax

    from initjax import keys
    from initjax.models import init_stack

    def one(k):
        return init_stack(stack, keys.role(k, keys.PARAMS), (in_dim,), sigma_w2, 0.0)

    return jax.jit(jax.vmap(one))(keys.seed_keys(int(seeds), int(root_seed)))


def train_mode_strengths(stack, params, x, y, u, v, learning_rate: float, steps: int, every: int):
    """Train each seed's two-matrix net (``params`` from :func:`init_seeds`) by full-batch GD on
    (x (P, n_in), y (P, n_out)) and record u_alpha(t) = u_alpha^T W_tot v_alpha every ``every``
    steps, for the task's singular vectors u (n_out, K), v (n_in, K).

    Returns (float64): ``us`` (S, steps // every, K); ``a`` (S, K, H) = v^T W_1 and ``b``
    (S, K, H) = W_2 u, the modes' initial components (u_alpha(0) = sum_h a b).
    """
    import jax
    import jax.numpy as jnp

    from initjax.measure.regression import full_batch_gd
    from initjax.models import apply_stack

    uj, vj, eye = (jnp.asarray(m, jnp.float32) for m in (u, v, np.eye(len(v))))
    xj, yj = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)

    def strengths(p):  # rows of f(I) are W_tot^T (no biases)
        return jnp.einsum("ia,ij,ja->a", vj, apply_stack(stack, p, eye), uj)

    def train(p):
        return full_batch_gd(
            stack, p, xj, yj, learning_rate, int(steps), record_every=int(every), observe=strengths
        )[1]

    us = np.asarray(jax.jit(jax.vmap(train))(params), np.float64)
    a = np.einsum("ik,sih->skh", v, np.asarray(params["input"]["kernel"], np.float64))
    b = np.einsum("shj,jk->skh", np.asarray(params["readout"]["kernel"], np.float64), u)
    return us, a, b


def mode_strength_table(
    stack, params, x, y, u, s, v, learning_rate: float, steps: int, every: int
) -> pd.DataFrame:
    """:func:`train_mode_strengths` beside the theory of each seed's own initial modes.

    Args:
      stack, params, x, y, u, v, learning_rate, steps, every: as in :func:`train_mode_strengths`.
      s: (K,) the task's singular values (the modes' targets).

    Returns:
      One row per (seed, mode, record): ``seed``, ``mode``, ``s``, ``step``, ``u`` (measured
      u_alpha), ``u_discrete`` (the decoupled discrete-time recursion from the seed's a, b:
      :func:`initjax.theory.deep_linear.discrete_mode_strength`), ``u_theory`` (the paper's
      sigmoid, eq. 7, from the effective u0 = |a + b|^2 / 4), ``u0_eff`` and ``learning_rate``.
    """
    from initjax.theory import deep_linear as dl

    us, a, b = train_mode_strengths(stack, params, x, y, u, v, learning_rate, steps, every)
    t = np.arange(us.shape[1]) * every
    disc = dl.discrete_mode_strength(a, b, s[None], learning_rate, steps)[..., ::every]
    u0 = dl.effective_u0(a, b)
    cont = dl.mode_strength(t[None, None], s[None, :, None], u0[..., None], learning_rate)
    i = np.indices(disc.shape).reshape(3, -1)  # (seed, mode, record)
    cols = dict(u=us.transpose(0, 2, 1), u_discrete=disc, u_theory=cont)
    return pd.DataFrame(
        dict(seed=i[0], mode=i[1], s=s[i[1]], step=t[i[2]])
        | {k: val.reshape(-1) for k, val in cols.items()}
        | dict(u0_eff=u0[i[0], i[1]], learning_rate=learning_rate)
    )


def relative_loss_curves(stack, params, x, y, learning_rate: float, steps: int) -> np.ndarray:
    """Loss of each seed's net (``params`` with a leading seed axis) at every step of full-batch
    GD (:func:`initjax.measure.regression.full_batch_gd`) on (x (P, n_in), y (P, n_out)),
    divided by the zero map's loss 0.5 mean |y|^2: float64 ``(S, steps)``."""
    import jax
    import jax.numpy as jnp

    from initjax.measure.regression import full_batch_gd

    xj, yj = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    run = jax.jit(jax.vmap(lambda p: full_batch_gd(stack, p, xj, yj, learning_rate, steps)[0]))
    return np.asarray(run(params), np.float64) / (0.5 * np.mean(np.sum(y**2, axis=-1)))


def learning_steps(losses, threshold: float) -> np.ndarray:
    """First step at which each row of ``losses`` (R, T) is <= ``threshold``; inf if never (NaN
    counts as not reached). float64 ``(R,)``."""
    below = np.nan_to_num(np.asarray(losses, np.float64), nan=np.inf) <= float(threshold)
    return np.where(below.any(axis=1), np.argmax(below, axis=1), np.inf)


def loglog_slopes(times, depths) -> np.ndarray:
    """Per row of ``times`` (S, D): least-squares slope of log2(time) on log2(depth) over D >= 2
    depths (times clipped below at 1 step; give budget-clipped times for runs that never
    learned). float64 ``(S,)``; empty when D < 2."""
    x = np.log2(np.asarray(depths, np.float64))
    t = np.log2(np.maximum(np.asarray(times, np.float64), 1.0))
    return np.polyfit(x, t.T, 1)[0] if len(x) > 1 else np.array([])


def half_rise_times(frame: pd.DataFrame) -> pd.DataFrame:
    """Half-rise times t_half (u = s / 2) of recorded mode strengths, measured and in theory.

    The paper's sigmoid u(t) (Saxe et al. 2014, eq. 7) reaches s / 2 at t_half = tau / (2 s)
    log(s / u0 - 1) (:func:`initjax.theory.deep_linear.half_time`); the measured and the
    discrete-recursion curves are read off by linear interpolation of their first crossing
    (:func:`initjax.theory.deep_linear.first_crossing`).

    Args:
      frame: one row per (hidden, seed, mode, step) with the columns ``s`` (the mode's singular
        value), ``u`` (measured strength), ``u_discrete`` (decoupled discrete-time theory),
        ``u0_eff`` (effective initial strength) and ``learning_rate`` (1 / tau, per step).

    Returns:
      One row per (hidden, seed, mode), sorted: ``hidden``, ``seed``, ``mode``, ``s``,
      ``t_half``, ``t_half_discrete``, ``t_half_continuous`` (steps; inf: never crossed) and
      ``rel_err`` = t_half / t_half_discrete - 1, ``rel_err_continuous`` = t_half /
      t_half_continuous - 1.
    """
    from initjax.theory.deep_linear import first_crossing, half_time

    rows = []
    for (h, seed, mode), g in frame.groupby(["hidden", "seed", "mode"]):
        g = g.sort_values("step")
        s, t, r = float(g["s"].iloc[0]), g["step"].to_numpy(float), g.iloc[0]
        cross = {k: first_crossing(t, g[c] / s, 0.5) for k, c in _CROSSINGS.items()}
        rows.append(dict(hidden=int(h), seed=int(seed), mode=int(mode), s=s) | cross)
        rows[-1]["t_half_continuous"] = float(half_time(s, r["u0_eff"], r["learning_rate"]))
    st = pd.DataFrame(rows)
    st["rel_err"] = st["t_half"] / st["t_half_discrete"] - 1.0
    st["rel_err_continuous"] = st["t_half"] / st["t_half_continuous"] - 1.0
    return st


_CROSSINGS = {"t_half": "u", "t_half_discrete": "u_discrete"}  # half-rise time: column
