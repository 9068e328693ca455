"""Placing a vmapped (cells x seeds) computation on one global device mesh, and gathering it.

The engines (:mod:`initjax.measure.engine`, :mod:`initjax.measure.train`) evaluate H grid cells x
S seeds in one compiled call whose outputs have leading axes ``(H, S, ...)``. With several
devices they lay those two axes over a 2-D :class:`jax.sharding.Mesh` ``("cells", "seeds")``:
the seed keys are sharded along ``"seeds"``, the per-cell scalars (sigma_w2, sigma_b2, learning
rate) along ``"cells"``, everything else is replicated, and XLA's SPMD partitioner runs each
device's block of networks. Every network's arithmetic is independent of the others (no
reduction crosses the two axes), so a sharded run computes each network on one device with the
same program as an unsharded one; whether the bits are equal depends only on whether XLA emits
the same kernels for the per-device block shape (tests/measure/test_sharding.py checks it).

In a multi-process run (``jax.distributed.initialize``) ``jax.devices()`` lists the devices of
every process, so the same mesh spans hosts; every process calls the engine with the same
arguments (SPMD), and :func:`gather` brings the full result to every process
(``multihost_utils.process_allgather``). When the blocks cannot be spread so that every process
holds one (e.g. 3 seeds x 1 cell on 2 x 4 devices), each process computes the whole call on its
own devices instead: the same numbers everywhere, without collectives.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

__all__ = ["gather", "mesh_shape", "place"]


def mesh_shape(n_cells: int, n_seeds: int, n_devices: int) -> tuple[int, int]:
    """``(d_cells, d_seeds)``: how many devices split the cell and the seed axis.

    The largest ``d_cells * d_seeds <= n_devices`` with ``d_cells | n_cells`` and
    ``d_seeds | n_seeds`` (equal blocks, one compilation); among equals the seed axis gets more
    devices (more networks per cell share a block). ``(1, 1)`` means unsharded.

    Raises:
      ValueError: a count below 1.
    """
    for name, v in (("n_cells", n_cells), ("n_seeds", n_seeds), ("n_devices", n_devices)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    best = (1, 1)
    for ds in range(1, min(n_seeds, n_devices) + 1):
        if n_seeds % ds:
            continue
        dc = max(k for k in range(1, min(n_cells, n_devices // ds) + 1) if n_cells % k == 0)
        if dc * ds > best[0] * best[1] or (dc * ds == best[0] * best[1] and ds > best[1]):
            best = (dc, ds)
    return best


def devices_per_call(n_cells: int, n_seeds: int, shard: bool | None) -> int:
    """How many devices :func:`place` splits a (cells x seeds) call's networks over (1: none):
    each device then holds ``n_cells * n_seeds / devices_per_call`` networks. For memory checks
    made before placing anything."""
    devs = jax.devices()
    if shard is False or len(devs) < 2:
        return 1
    dc, ds = mesh_shape(int(n_cells), int(n_seeds), len(devs))
    if jax.process_count() > 1 and {d.process_index for d in devs[: dc * ds]} != set(
        range(jax.process_count())
    ):
        dc, ds = mesh_shape(int(n_cells), int(n_seeds), len(jax.local_devices()))
    return dc * ds


def place(
    seed_keys: Any,
    cell_args: tuple[Any, ...],
    replicated: tuple[Any, ...],
    *,
    shard: bool | None,
    seed_args: tuple[Any, ...] = (),
) -> tuple[Any, tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]]:
    """Put a (cells x seeds) call's arguments on the global mesh.

    Args:
      seed_keys: ``(S,)`` typed keys, sharded along ``"seeds"``.
      cell_args: arrays with a leading ``(H,)`` axis (or None), sharded along ``"cells"``.
      replicated: any pytrees (or None) needed whole on every device.
      shard: False: leave everything as it is; None / True: shard when more than one device is
        visible (``jax.devices()``, every process's in a multi-process run).
      seed_args: pytrees whose leaves have a leading ``(S,)`` axis (e.g. given params).

    Returns:
      ``(seed_keys, cell_args, replicated, seed_args)`` placed (unchanged when unsharded).
    """
    devs = jax.devices()
    n_cells = 1
    for a in cell_args:
        if a is not None and np.ndim(a):
            n_cells = int(np.shape(a)[0])
            break
    if shard is False or len(devs) < 2:
        return seed_keys, cell_args, replicated, seed_args
    n_seeds = int(seed_keys.shape[0])
    dc, ds = mesh_shape(n_cells, n_seeds, len(devs))
    if jax.process_count() > 1 and {d.process_index for d in devs[: dc * ds]} != set(
        range(jax.process_count())
    ):
        # A mesh that leaves a process without a device: every process computes the whole
        # call on its own devices instead (same numbers on each, no collectives).
        devs = jax.local_devices()
        dc, ds = mesh_shape(n_cells, n_seeds, len(devs))
    if dc * ds < 2:
        return seed_keys, cell_args, replicated, seed_args
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    mesh = Mesh(np.array(devs[: dc * ds]).reshape(dc, ds), ("cells", "seeds"))

    multi = jax.process_count() > 1

    def put_leaf(v, s):
        if not multi:
            return jax.device_put(v, s)
        # Across processes device_put takes host values (equal on every process), not arrays
        # committed to a local device; typed keys travel as their raw key data.
        if isinstance(v, jax.Array) and jax.dtypes.issubdtype(v.dtype, jax.dtypes.prng_key):
            data = jax.device_put(np.asarray(jax.random.key_data(v)), s)
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(v))
        return jax.device_put(np.asarray(v), s)

    def put(tree, spec):
        s = NamedSharding(mesh, spec)
        return jax.tree.map(lambda v: put_leaf(v, s), tree)

    return (
        put(seed_keys, PartitionSpec("seeds")),
        tuple(None if a is None else put(a, PartitionSpec("cells")) for a in cell_args),
        tuple(None if a is None else put(a, PartitionSpec()) for a in replicated),
        tuple(None if a is None else put(a, PartitionSpec("seeds")) for a in seed_args),
    )


def gather(tree: Any) -> Any:
    """Every leaf as a host numpy array holding the full value, on every process.

    Arrays spread over other processes' devices are all-gathered
    (``jax.experimental.multihost_utils.process_allgather``); others are fetched with
    ``jax.device_get``.
    """

    def one(v):
        if isinstance(v, jax.Array) and not v.is_fully_addressable:
            from jax.experimental import multihost_utils

            return np.asarray(multihost_utils.process_allgather(v, tiled=True))
        return np.asarray(jax.device_get(v))

    return jax.tree.map(one, tree)
