"""Eager validation of :func:`initjax.measure.propagate` arguments (before any tracing)."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from initjax import keys
from initjax.measure import metrics as M
from initjax.models import check_variance

__all__ = ["metrics_arg", "sigma_grid", "seed_keys_arg", "model_attr"]


def metrics_arg(metrics: str | Sequence[str]) -> tuple[str, ...]:
    """Registered metric names, deduplicated, in registry (table) order.

    Raises:
      TypeError: not a string or a sequence. ValueError: empty, or an unknown name (the
        registry's message suggests close names and lists the registered ones).
    """
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    try:
        ms = list(metrics)
    except TypeError:
        raise TypeError(f"metrics must be a sequence of names, got {metrics!r}") from None
    if not ms:
        raise ValueError(f"metrics must name at least one of {', '.join(M.names())}")
    canonical = set()
    for m in ms:
        try:
            canonical.add(M.get(m).name)
        except (ValueError, TypeError) as err:
            raise ValueError(f"metrics: {err}") from None
    return tuple(m for m in M.names() if m in canonical)


def sigma_grid(sigma_w2, sigma_b2, model) -> tuple[np.ndarray | None, np.ndarray, bool, bool]:
    """(sw2 (H,) or None, sb2 (H,), rescale, is_grid)."""
    is_grid = False
    vals = {}
    for name, v, default in (
        ("sigma_w2", sigma_w2, model_attr(model, "sigma_w2")),
        ("sigma_b2", sigma_b2, model_attr(model, "sigma_b2")),
    ):
        if v is None:
            v = default
            if v is None:
                vals[name] = None
                continue
        if isinstance(v, jax.core.Tracer):
            raise TypeError(f"{name} must be concrete (propagate jits and vmaps internally)")
        arr = np.asarray(v)
        if arr.ndim > 1:
            raise ValueError(
                f"{name} must be a scalar or a 1-D array of grid values, got shape {arr.shape}"
            )
        if arr.ndim == 1:
            is_grid = True
            if arr.size == 0:
                raise ValueError(f"{name} must not be empty")
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
            raise TypeError(f"{name} must be real numbers (variances), got {v!r}")
        for e in arr.reshape(-1):
            check_variance(float(e), arg=name)
        vals[name] = arr.astype(np.float32).reshape(-1)
    sw2, sb2 = vals["sigma_w2"], vals["sigma_b2"]
    if sb2 is None:
        sb2 = np.zeros((1,), np.float32)
    rescale = sw2 is not None
    if rescale:
        try:
            sw2, sb2 = np.broadcast_arrays(sw2, sb2)
        except ValueError:
            raise ValueError(
                f"sigma_w2 (length {sw2.size}) and sigma_b2 (length {sb2.size}) must broadcast "
                "to one grid: pass equal lengths (flattened meshgrid) or a scalar"
            ) from None
        sw2 = np.ascontiguousarray(sw2)
    sb2 = np.ascontiguousarray(sb2)
    return sw2, sb2, rescale, is_grid


def model_attr(model, name):
    """``model.name`` or None."""
    return getattr(model, name, None)


def seed_keys_arg(seeds, root_seed) -> jax.Array:
    if isinstance(seeds, jax.Array) and jnp.issubdtype(seeds.dtype, jax.dtypes.prng_key):
        if seeds.ndim != 1 or seeds.shape[0] < 1:
            raise ValueError(f"seeds: a key array must be 1-D and non-empty, got {seeds.shape}")
        return seeds
    if isinstance(seeds, bool) or not isinstance(seeds, int | np.integer) or seeds < 1:
        raise ValueError(
            f"seeds must be a positive integer or a 1-D array of typed keys "
            f"(initjax.keys.seed_keys), got {seeds!r}"
        )
    if isinstance(root_seed, bool) or not isinstance(root_seed, int | np.integer):
        raise TypeError(f"root_seed must be an integer, got {root_seed!r}")
    if not -(2**63) <= int(root_seed) < 2**63:
        raise ValueError(f"root_seed must fit in 64 bits [-2^63, 2^63), got {root_seed!r}")
    return keys.seed_keys(int(seeds), root=int(root_seed))
