"""Argument checks shared by the data modules: clear errors naming the argument."""

from __future__ import annotations

import numbers
from typing import Any

import jax
import numpy as np

from initjax.data._registry import SPLITS


def positive_int(value: Any, name: str) -> int:
    """``value`` as an int >= 1.

    Raises:
      TypeError: not an integer (bools are rejected).
      ValueError: an integer < 1.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be a positive integer, got {value!r} ({type(value).__name__})"
        )
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def nonneg_float(value: Any, name: str) -> float:
    """``value`` as a finite float >= 0.

    Raises:
      TypeError: not a real number.
      ValueError: negative, NaN or infinite.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number >= 0, got {value!r}")
    v = float(value)
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


def split(value: Any) -> str:
    """``value`` if it is one of :data:`SPLITS`.

    Raises:
      ValueError: any other value.
    """
    if value not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(map(repr, SPLITS))}, got {value!r}")
    return value


def numpy_rng(key_or_seed: Any, name: str = "key") -> np.random.Generator:
    """A numpy Generator seeded from an int seed or a JAX PRNG key (typed or raw uint32).

    The same key (or seed) always gives the same stream; a key's bits are the seed entropy, so
    different keys give independent streams.

    Raises:
      TypeError: neither a non-negative int nor a JAX key.
    """
    if isinstance(key_or_seed, numbers.Integral) and not isinstance(key_or_seed, bool):
        if key_or_seed < 0:
            raise ValueError(f"{name} as an integer seed must be >= 0, got {key_or_seed}")
        return np.random.default_rng(int(key_or_seed))
    if isinstance(key_or_seed, jax.Array):
        if jax.dtypes.issubdtype(key_or_seed.dtype, jax.dtypes.prng_key):
            if key_or_seed.shape != ():
                raise ValueError(f"{name} must be a single key, got key array {key_or_seed.shape}")
            bits = np.asarray(jax.random.key_data(key_or_seed)).ravel()
            return np.random.default_rng([int(b) for b in bits])
        if key_or_seed.dtype == np.uint32 and key_or_seed.ndim == 1:  # raw jax.random.PRNGKey
            return np.random.default_rng([int(b) for b in np.asarray(key_or_seed)])
    raise TypeError(
        f"{name} must be a JAX PRNG key (jax.random.key(seed)) or a non-negative int seed, "
        f"got {type(key_or_seed).__name__}"
    )
