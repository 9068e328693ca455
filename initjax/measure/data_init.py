"""Initial params of many networks at once, including data-dependent initializers' refinement.

``initial_params(model, data, seeds=8)`` draws ``seeds`` networks with the key scheme and, when
the model's ``kernel_init`` is data-dependent (LSUV, MetaInit, GradInit), refines each on
``data``, all in one jitted ``vmap`` over seeds. The result feeds ``propagate(model, x,
params=...)`` (per-layer statistics after the refinement) or any training loop::

    from initjax import data, measure, models

    x, y = data.load("mnist1d", "train")
    net = models.MLP(width=256, depth=50, activation="tanh", kernel_init="lsuv", readout=10)
    params, info = measure.initial_params(net, (x[:256], y[:256]), seeds=8)
    res = measure.propagate(net, x[:256], params=params, metrics="q")
    info["hidden"]["converged"].shape   # (8, 50, 1): seed x layer x affine map
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from initjax import keys
from initjax.measure._args import seed_keys_arg
from initjax.models import data_method, init_stack, refine_params, stack_of

__all__ = ["initial_params"]


@functools.partial(jax.jit, static_argnums=(0, 1))
def _draw_and_refine(stack, in_shape, seed_keys, sw2, sb2, x, y):
    def one(k):
        root = keys.role(k, keys.PARAMS)
        base = init_stack(stack, root, in_shape, sw2, sb2)
        if x is None:
            return base, {}
        return refine_params(stack, base, x, y, root)

    return jax.vmap(one)(seed_keys)


def initial_params(
    model: Any,
    data: Any = None,
    *,
    seeds: int | jax.Array = 8,
    root_seed: int = 0,
    in_shape: Sequence[int] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Variables ``{"params": ...}`` of ``seeds`` networks (leading seed axis) and refinement info.

    Seed s's params are exactly those of ``models.init_params(model, keys.seed_keys(seeds,
    root_seed)[s], x)`` (same keys; one compiled, vmapped call).

    Args:
      model: an initjax model (its ``sigma_w2`` / ``sigma_b2`` apply to the base draw).
      data: ``x`` or ``(x, y)``: the batch a data-dependent ``kernel_init`` is refined on (its
        shape also gives the input shape); None for an ordinary initializer with ``in_shape``.
      seeds: number of networks, or a 1-D array of typed keys.
      root_seed: root of the seed keys when ``seeds`` is an int.
      in_shape: per-example input shape when no data is given.

    Returns:
      ``(variables, info)``: ``info`` is the refinement's diagnostics with a leading seed axis
      (``{}`` for an ordinary initializer).

    Raises:
      ValueError: a data-dependent initializer without data (or without labels it needs), no
        input shape, bad seeds.
    """
    st = stack_of(model)
    x = y = None
    if data is not None:
        x, y = data if isinstance(data, tuple | list) else (data, None)
        x = jnp.asarray(x)
        y = None if y is None else jnp.asarray(np.asarray(y), jnp.int32)
        if x.ndim < 2:
            raise ValueError(f"data: x must be a batch (N, *input_shape), got shape {x.shape}")
        in_shape = st.input_shape_of(tuple(x.shape))
    if in_shape is None:
        raise ValueError("initial_params: pass data (x or (x, y)) or in_shape=(...)")
    in_shape = tuple(int(d) for d in in_shape)
    st.check(in_shape)
    method = data_method(st)
    if method is not None:
        if x is None:
            raise ValueError(
                f"initial_params: kernel_init {method.name!r} is data-dependent; pass data"
            )
        method.check(labels=y is not None)
    else:
        x = y = None  # nothing to refine: the data only gave the shape
    sk = seed_keys_arg(seeds, root_seed)
    params, info = _draw_and_refine(st, in_shape, sk, model.sigma_w2, model.sigma_b2, x, y)
    return {"params": params}, info
