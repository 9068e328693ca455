"""Full-batch gradient descent on the squared error, for regression studies of a model's Stack
(e.g. deep linear networks, Saxe et al. 2014). Softmax classification lives in
:mod:`initjax.measure.train`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from initjax.models import Stack, apply_stack

__all__ = ["full_batch_gd", "squared_loss"]


def squared_loss(stack: Stack, params: Any, x: jax.Array, y: jax.Array) -> jax.Array:
    """1/(2P) sum_mu ||y_mu - f(x_mu)||^2 for x ``(P, d_in)``, y ``(P, d_out)``; float32 scalar."""
    return 0.5 * jnp.mean(jnp.sum((apply_stack(stack, params, x) - y) ** 2, axis=-1))


def _kernels_only(grads):
    def f(path, g):
        return g * 0 if getattr(path[-1], "key", None) == "bias" else g

    return jax.tree_util.tree_map_with_path(f, grads)


def full_batch_gd(
    stack: Stack,
    params: Any,
    x: jax.Array,
    y: jax.Array,
    learning_rate: float,
    steps: int,
    *,
    record_every: int = 1,
    observe: Callable[[Any], Any] | None = None,
    train_biases: bool = False,
) -> tuple[jax.Array, Any]:
    """Plain gradient descent on :func:`squared_loss`; traceable (vmap it over seeds).

    Args:
      stack: the network (static).
      params: its params (``init_stack`` layout).
      x, y: the whole training set, ``(P, d_in)`` and ``(P, d_out)``.
      learning_rate: eta (a float or a traced scalar).
      steps: number of steps; must be a multiple of ``record_every``.
      record_every: ``observe`` is evaluated every this many steps.
      observe: ``params -> pytree`` recorded before each block of ``record_every`` steps.
      train_biases: False keeps biases at their initial values (bias-free networks start at 0).

    Returns:
      ``(losses (steps,), observations (steps // record_every, ...))``: the loss before each
      step, and the stacked ``observe`` outputs (zeros when ``observe`` is None).

    Raises:
      ValueError: steps not a positive multiple of record_every.
    """
    if steps < 1 or record_every < 1 or steps % record_every:
        raise ValueError(
            f"steps must be a positive multiple of record_every, got {steps} and {record_every}"
        )
    obs_fn = observe or (lambda p: jnp.zeros(()))

    def step(p, _):
        loss, g = jax.value_and_grad(lambda q: squared_loss(stack, q, x, y))(p)
        g = g if train_biases else _kernels_only(g)
        return jax.tree.map(lambda a, b: a - learning_rate * b, p, g), loss

    def block(p, _):
        obs = obs_fn(p)
        p, losses = jax.lax.scan(step, p, None, length=record_every)
        return p, (losses, obs)

    _, (losses, obs) = jax.lax.scan(block, params, None, length=steps // record_every)
    return losses.reshape(-1), obs
