"""Per-tensor scalars of one network's params: norms and scale factors (MetaInit, GradInit).

A "tensor" is one leaf of one layer: the leaves of ``params["hidden"]`` carry a leading depth axis,
so each hidden layer's kernel gets its own scalar. Scalars are stored in a tree shaped like the
params with ``(depth,)`` arrays under "hidden" and 0-d arrays elsewhere.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["per_tensor", "norms", "rank", "broadcast_mul", "leaf_names", "count"]


def _is_hidden(path) -> bool:
    return bool(path) and getattr(path[0], "key", None) == "hidden"


def per_tensor(fn, params: Any) -> Any:
    """``fn(x, axes)`` reduced over each tensor's own axes (all but the depth axis of hidden)."""

    def one(path, leaf):
        axes = tuple(range(1, leaf.ndim)) if _is_hidden(path) else tuple(range(leaf.ndim))
        return fn(leaf.astype(jnp.float32), axes)

    return jax.tree_util.tree_map_with_path(one, params)


def norms(params: Any) -> Any:
    """Frobenius norm of each tensor, float32."""
    return per_tensor(lambda x, ax: jnp.sqrt(jnp.sum(jnp.square(x), axis=ax)), params)


def rank(params: Any) -> Any:
    """Rank of each tensor (python ints; hidden leaves without their depth axis)."""
    return jax.tree_util.tree_map_with_path(
        lambda path, leaf: leaf.ndim - 1 if _is_hidden(path) else leaf.ndim, params
    )


def leaf_names(params: Any) -> Any:
    """The last dict key of each leaf's path ("kernel", "bias", "alpha", ...)."""
    return jax.tree_util.tree_map_with_path(
        lambda path, leaf: str(getattr(path[-1], "key", "")), params
    )


def broadcast_mul(params: Any, scalars: Any) -> Any:
    """Each tensor times its scalar (hidden: per layer along the depth axis), in its dtype."""

    def one(path, leaf, s):
        s = s.reshape(s.shape + (1,) * (leaf.ndim - s.ndim))
        return (leaf * s.astype(leaf.dtype)).astype(leaf.dtype)

    return jax.tree_util.tree_map_with_path(one, params, scalars)


def count(params: Any) -> int:
    """Number of scalar parameters."""
    return sum(int(leaf.size) for leaf in jax.tree.leaves(params))
