"""Runs that outgrow one process: JAX's multi-process runtime and job-array shards.

Two independent ways to spread an experiment, which combine:

**Multi-process (SPMD).** :func:`initialize` calls :func:`jax.distributed.initialize`; from then
on ``jax.devices()`` lists every device of every process and the engines lay each piece's
cells x seeds over that one global mesh (:mod:`initjax.measure.sharding`). Every process runs the
same pieces in the same order; process 0 alone reads and writes the run folder (it decides which
pieces are missing and broadcasts the list, so the other processes need no shared filesystem)
and writes each piece once, after the results are all-gathered. On SLURM, Open MPI and Cloud TPU
the coordinator, process count and index are auto-detected; elsewhere pass them explicitly.

**Job-array shards.** ``--shard i/n`` runs a deterministic 1/n of the pieces: balanced by the
pieces' cost estimates when every piece has one (greedy LPT, :func:`shard_indices`), else the
pieces ``k`` with ``k % n == i`` (the n shards together cover every piece once), into a shared
run folder. Piece writes are atomic (temp file, fsync, rename) and a
piece's identity is its content hash, so concurrent shards never lose or corrupt one another's
pieces; the folder's config is claimed atomically (:func:`initjax.sweeps.store.lock_folder`), so
a shard with a different config is refused even when both start at the same moment. The shard
that lands the last piece assembles the table, verdict, figures and summary; ``--assemble`` does
it by hand.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "WRITER",
    "initialize",
    "is_writer",
    "parse_shard",
    "shard_from_env",
    "shard_indices",
    "shard_owners",
]

# The process that reads and writes the run folder in a multi-process run.
WRITER = 0

_SHARD_RE = re.compile(r"^\s*(-?\d+)\s*/\s*(-?\d+)\s*$")


def parse_shard(text: str, env: Mapping[str, str] | None = None) -> tuple[int, int]:
    """``"i/n"`` -> ``(i, n)`` with ``0 <= i < n``; ``"slurm"`` reads the job array's variables
    (:func:`shard_from_env`).

    Raises:
      ValueError: naming ``--shard`` and the allowed form, for anything else (``"3/2"``,
        ``"0/0"``, ``"a/b"``, ``"1"``).
    """
    if not isinstance(text, str):
        raise TypeError(f"--shard must be a string 'i/n', got {type(text).__name__}")
    if text.strip().lower() == "slurm":
        return shard_from_env(os.environ if env is None else env)
    m = _SHARD_RE.match(text)
    if m is None:
        raise ValueError(
            f"--shard must be 'i/n' with integers 0 <= i < n (e.g. 0/4 ... 3/4) or 'slurm', "
            f"got {text!r}"
        )
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1:
        raise ValueError(f"--shard {text}: the number of shards n must be >= 1, got {n}")
    if not 0 <= i < n:
        raise ValueError(
            f"--shard {text}: the shard index i must satisfy 0 <= i < n = {n} (shards are "
            f"numbered 0 ... {n - 1}), got {i}"
        )
    return i, n


def shard_from_env(env: Mapping[str, str]) -> tuple[int, int]:
    """``(i, n)`` of a SLURM job array task: ``i = SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN``,
    ``n = SLURM_ARRAY_TASK_COUNT`` (so ``--array=0-3`` and ``--array=1-4`` both give 0/4 ...
    3/4). The array must be a contiguous range with step 1 (``--array=0-3``; a step or a list
    leaves holes and is refused: ``max - min + 1 != count``).

    Raises:
      ValueError: not inside a job array (variables missing), or a non-contiguous array.
    """
    names = ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_COUNT")
    missing = [k for k in names if k not in env]
    if missing:
        raise ValueError(
            f"--shard slurm: not a SLURM job array task ({', '.join(missing)} unset); submit "
            "with `sbatch --array=0-<n-1>` or pass --shard i/n"
        )
    try:
        task, lo, count = (int(env[k]) for k in names)
        hi = int(env.get("SLURM_ARRAY_TASK_MAX", lo + count - 1))
    except ValueError:
        raise ValueError(
            "--shard slurm: SLURM_ARRAY_TASK_* are not integers: "
            + ", ".join(f"{k}={env.get(k)!r}" for k in names)
        ) from None
    if hi - lo + 1 != count:
        raise ValueError(
            f"--shard slurm: the array {lo}-{hi} has {count} tasks, not a contiguous range with "
            "step 1; use --array=0-<n-1>"
        )
    return parse_shard(f"{task - lo}/{count}")


def shard_owners(n_pieces: int, n: int, costs: Sequence[float | None] | None = None) -> list[int]:
    """The shard (0..n-1) that runs each piece, in piece order.

    With a cost estimate for every piece (``costs``, finite and >= 0): a cost-balanced partition
    by greedy longest-processing-time (Graham 1969): pieces in order of decreasing cost (ties:
    piece order) go one by one to the shard with the least cost so far (ties: the lowest shard
    index). It depends only on the costs and their order, so concurrent shards compute the
    same partition; its largest shard cost is at most (4/3 - 1/(3n)) x the optimum and at most
    the mean shard cost plus the largest piece cost. Without costs (any None): piece k goes to
    shard ``k % n``.

    Raises:
      ValueError: a cost that is negative or not finite.
    """
    if costs is None or len(costs) != n_pieces or any(c is None for c in costs):
        return [k % n for k in range(n_pieces)]
    vals = [float(c) for c in costs]  # type: ignore[arg-type]
    if not all(math.isfinite(c) and c >= 0 for c in vals):
        raise ValueError(f"piece costs must be finite and >= 0, got {vals}")
    loads = [0.0] * n
    owner = [0] * n_pieces
    for k in sorted(range(n_pieces), key=lambda k: (-vals[k], k)):
        j = min(range(n), key=lambda j: (loads[j], j))
        loads[j] += vals[k]
        owner[k] = j
    return owner


def shard_indices(
    n_pieces: int, shard: tuple[int, int] | None, costs: Sequence[float | None] | None = None
) -> list[int]:
    """Indices (in piece order) of the pieces shard ``(i, n)`` runs (:func:`shard_owners`).

    None: every piece. The n shards of an experiment partition its pieces.
    """
    if shard is None:
        return list(range(n_pieces))
    i, n = shard
    return [k for k, o in enumerate(shard_owners(n_pieces, n, costs)) if o == i]


def is_writer(process_index: int | None = None) -> bool:
    """Whether this process reads and writes the run folder (process :data:`WRITER`)."""
    if process_index is None:
        import jax

        process_index = jax.process_index()
    return process_index == WRITER


def _host_port(text: str) -> str:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--coordinator must be HOST:PORT (e.g. node001:12345), got {text!r}")
    return text


def initialize(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    local_device_ids: Sequence[int] | None = None,
    initialization_timeout: int = 300,
) -> dict[str, Any]:
    """Join (or form) a multi-process JAX run: :func:`jax.distributed.initialize`.

    With no arguments the cluster is auto-detected (SLURM ``srun``, Open MPI ``mpirun``, Cloud
    TPU pods); otherwise give all three of ``coordinator`` (``HOST:PORT`` of process 0),
    ``num_processes`` and ``process_id``. Call it before any other JAX call of the process.
    A second call in an already initialized process is a no-op.

    Returns:
      ``{"process_index", "process_count", "device_count", "local_device_count", "backend"}``.

    Raises:
      ValueError: a partial or invalid explicit setting (naming the flag), or auto-detection
        failing outside a supported cluster (with what to pass instead).
    """
    import jax

    explicit = (coordinator, num_processes, process_id)
    if any(v is not None for v in explicit) and any(v is None for v in explicit):
        raise ValueError(
            "--coordinator, --num-processes and --process-id go together (or none of them, "
            "to auto-detect SLURM / Open MPI / Cloud TPU)"
        )
    if coordinator is not None:
        _host_port(coordinator)
        for name, v in (("--num-processes", num_processes), ("--process-id", process_id)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
        if num_processes < 1 or not process_id < num_processes:
            raise ValueError(
                f"--process-id must be in 0 ... --num-processes - 1 = {num_processes - 1}, "
                f"got {process_id} of {num_processes}"
            )
    if not _initialized():
        kw: dict[str, Any] = {"initialization_timeout": initialization_timeout}
        if local_device_ids is not None:
            kw["local_device_ids"] = list(local_device_ids)
        try:
            jax.distributed.initialize(coordinator, num_processes, process_id, **kw)
        except (ValueError, RuntimeError) as err:
            if coordinator is None:
                raise ValueError(
                    f"--distributed: could not auto-detect a cluster ({err}); outside SLURM, "
                    "Open MPI and Cloud TPU pass --coordinator HOST:PORT --num-processes N "
                    "--process-id I"
                ) from None
            raise
    return {
        "process_index": jax.process_index(),
        "process_count": jax.process_count(),
        "device_count": jax.device_count(),
        "local_device_count": jax.local_device_count(),
        "backend": jax.default_backend(),
    }


def _initialized() -> bool:
    import jax

    return bool(jax.distributed.is_initialized())
