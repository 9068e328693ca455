"""One PRNG key scheme for the whole suite (DESIGN.md, "Keys").

Roles are domain-separated by folding a role constant into the seed key *first*, so keys for
parameters, inputs, minibatches, dropout and cotangents never coincide. Within the parameter role,
layer ``l``'s key is ``fold_in(params_key, l)``, and a layer's kernel and bias keys are
``fold_in(layer_key, KERNEL)`` / ``fold_in(layer_key, BIAS)`` (and ``fold_in(layer_key, PREACT)``
for the pre-activation noise of :mod:`initjax.measure.preact`). Never mix ``split`` and ``fold_in``
on the same key: with threefry, ``split(k, n)[i] == fold_in(k, i)``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "PARAMS",
    "INPUTS",
    "BATCHES",
    "DROPOUT",
    "COTANGENT",
    "DATA",
    "KERNEL",
    "BIAS",
    "PREACT",
    "SUBMODULE",
    "seed_keys",
    "role",
    "layer",
    "submodule",
    "DATA_INIT",
    "data_init",
]

# Role constants (fold_in(seed_key, ROLE)).
PARAMS, INPUTS, BATCHES, DROPOUT, COTANGENT, DATA = 0x5A1, 0x5A2, 0x5A3, 0x5A4, 0x5A5, 0x5A6
# Within a layer.
KERNEL, BIAS, PREACT = 0, 1, 2
# Within the params role: the data-dependent stage of an initializer (LSUV, MetaInit, GradInit)
# takes its key from fold_in(params_key, DATA_INIT). Layer indices are int32 in 0..depth + 1, so
# this index (the largest int32) is one no layer reaches.
DATA_INIT = 0x7FFFFFFF
# Branch of a parent key for a module nested below it (keys.submodule).
SUBMODULE = 0x5A7


def seed_keys(seeds: int | jax.Array, root: int = 0) -> jax.Array:
    """Keys for ``seeds`` independent networks: ``fold_in(key(root), s)`` for s = 0..seeds-1.

    Args:
      seeds: a positive int count, or an array of typed keys (returned unchanged).
      root: the experiment's root seed.

    Returns:
      Typed key array of shape ``(seeds,)``.

    Raises:
      ValueError: ``seeds`` is not a positive integer, or ``root`` is outside [-2^63, 2^63).
      TypeError: ``root`` is not an integer.
    """
    if isinstance(seeds, jax.Array) and jnp.issubdtype(seeds.dtype, jax.dtypes.prng_key):
        return seeds
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be a positive integer or an array of keys, got {seeds!r}")
    if isinstance(root, bool) or not isinstance(root, int | np.integer):
        raise TypeError(f"root must be an integer, got {root!r}")
    if not -(2**63) <= int(root) < 2**63:
        raise ValueError(f"root must be an integer in [-2^63, 2^63), got {root!r}")
    base = jax.random.key(int(root))
    return jax.vmap(lambda s: jax.random.fold_in(base, s))(jnp.arange(seeds, dtype=jnp.uint32))


def role(key: jax.Array, which: int) -> jax.Array:
    """The branch of ``key`` for one role (PARAMS, INPUTS, BATCHES, DROPOUT, COTANGENT, DATA)."""
    return jax.random.fold_in(key, which)


def layer(params_key: jax.Array, index: int | jax.Array) -> jax.Array:
    """Layer ``index``'s key, ``fold_in(params_key, index)``, in fused and materialized paths."""
    return jax.random.fold_in(params_key, index)


def submodule(key: jax.Array, path: Sequence[str | int]) -> jax.Array:
    """The key of a module at ``path`` (names or ints) below ``key``; ``key`` itself if empty.

    ``fold_in(key, SUBMODULE)``, then the eight 32-bit words of the SHA-256 of
    ``json.dumps(list(path))`` folded in one after the other. JSON keeps the components apart
    (``["ab", "c"]`` != ``["a", "bc"]``, ``"1"`` != ``1``), so distinct paths get distinct
    keys unless SHA-256 collides.

    Raises:
      TypeError: a path component is neither a string nor an int.
    """
    path = tuple(path)
    if not path:
        return key
    for x in path:
        if isinstance(x, bool) or not isinstance(x, str | int):
            raise TypeError(f"path components must be strings or ints, got {x!r}")
    digest = hashlib.sha256(json.dumps(list(path)).encode("utf-8")).digest()
    k = jax.random.fold_in(key, SUBMODULE)
    for i in range(0, 32, 4):
        k = jax.random.fold_in(k, jnp.uint32(int.from_bytes(digest[i : i + 4], "big")))
    return k


def data_init(params_key: jax.Array) -> jax.Array:
    """Key of the data-dependent stage of an initializer, ``fold_in(params_key, DATA_INIT)``.

    Derived from the params key (not the seed key) so ``model.init`` and the measurement and
    training paths, which all see the params key, give the same refined weights.
    """
    return jax.random.fold_in(params_key, DATA_INIT)
