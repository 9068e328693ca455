"""Declaring the variance of an initializer that is not in the registry.

A model rescales its kernels to Var = sigma_w2 / fan_in with the variance the initializer
promises (:mod:`initjax.models._params`). A plain callable promises nothing, so combining it with
``sigma_w2`` is an error; :func:`with_variance` attaches the promise::

    ortho = with_variance(jax.nn.initializers.orthogonal(),
                          lambda fan_in, fan_out: 1.0 / max(fan_in, fan_out))
    MLP(width=256, depth=50, kernel_init=ortho, sigma_w2=1.05)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from initjax.initializers._registry import BoundInitializer, Entry

__all__ = ["DeclaredInitializer", "with_variance"]


class DeclaredInitializer(BoundInitializer):
    """A :class:`BoundInitializer` made by :func:`with_variance`; equal only to one wrapping the
    same callable with the same variance function (names of user callables are not unique)."""

    def _key(self) -> tuple:
        return ("declared", self.fn, self.entry.variance)


def with_variance(
    init: Callable[..., Any],
    variance: Callable[[int, int], float],
    *,
    name: str | None = None,
    formula: str = "",
) -> DeclaredInitializer:
    """``init`` with a declared per-element variance ``variance(fan_in, fan_out)``.

    The result is an unregistered :class:`BoundInitializer` (shape, dtype and key checks, the
    variance promise) whose draws are ``init``'s own.

    Args:
      init: a ``jax.nn.initializers``-style callable ``init(key, shape, dtype)``.
      variance: the per-element variance its draws have for the given fans, e.g.
        ``lambda fan_in, fan_out: 1 / fan_in``; checked on (1, 1) and (16, 8) to be finite > 0.
      name: name in tables and errors (default: the callable's name).
      formula: the promise as text, for listings.

    Raises:
      TypeError: ``init`` or ``variance`` is not callable.
      ValueError: ``variance`` does not return a finite number > 0.
    """
    if not callable(init):
        raise TypeError(f"with_variance: init must be callable, got {init!r}")
    if not callable(variance):
        raise TypeError(
            "with_variance: variance must be a callable variance(fan_in, fan_out) -> float, "
            f"got {variance!r}"
        )
    for fans in ((1, 1), (16, 8)):
        try:
            v = float(variance(*fans))
        except Exception as err:  # a user function: report whatever it raised, once
            raise ValueError(
                f"with_variance: variance{fans} raised {type(err).__name__}: {err}"
            ) from None
        if not math.isfinite(v) or v <= 0:
            raise ValueError(f"with_variance: variance{fans} must be finite and > 0, got {v!r}")
    label = name or getattr(init, "__qualname__", getattr(init, "__name__", "user_init"))
    entry = Entry(
        name=str(label),
        builder=lambda: init,
        family="user",
        defaults={},
        reference="declared by the user (with_variance)",
        variance=variance,
        formula=formula,
        fan_based=True,
    )
    return DeclaredInitializer(entry, {}, init)
