"""Eager argument checks shared by the models: fail at construction, before any tracing."""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = ["positive_int", "optional_positive_int", "choice", "nonneg_real", "keep_prob"]


def positive_int(value: Any, *, arg: str) -> int:
    """``value`` as an int >= 1.

    Raises:
      TypeError: not an integer (bools and floats are rejected).
      ValueError: < 1.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{arg} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{arg} must be a positive integer (>= 1), got {value!r}")
    return int(value)


def optional_positive_int(value: Any, *, arg: str) -> int | None:
    """None, or ``value`` as an int >= 1 (see :func:`positive_int`)."""
    return None if value is None else positive_int(value, arg=arg)


def choice(value: Any, allowed: tuple[Any, ...], *, arg: str) -> Any:
    """``value`` if it is one of ``allowed``.

    Raises:
      ValueError: naming ``arg`` and the allowed values.
    """
    if value not in allowed:
        raise ValueError(f"{arg} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def nonneg_real(value: Any, *, arg: str) -> float:
    """``value`` as a finite float >= 0.

    Raises:
      TypeError: not a real number. ValueError: negative or not finite.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{arg} must be a real number >= 0, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{arg} must be a finite number >= 0, got {value!r}")
    return v


def keep_prob(value: Any, *, arg: str = "keep_prob") -> float:
    """``value`` as a dropout keep probability: a real number with 0 < value <= 1.

    Raises:
      TypeError: not a real number (bools are rejected).
      ValueError: outside (0, 1] or not finite.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{arg} must be a real number in (0, 1], got {value!r}")
    v = float(value)
    if not 0.0 < v <= 1.0:
        raise ValueError(f"{arg} must lie in (0, 1] (1 = no dropout), got {value!r}")
    return v
