"""Data-dependent initializers: a base initializer's draw, then a refinement computed on data.

An entry of family ``"data_dependent"`` (LSUV, MetaInit, GradInit) is looked up like every other
initializer, e.g. ``initializers.get("lsuv", base="orthogonal", tol=0.1)``, and is given to a model
as its ``kernel_init``. The weights are made in two stages:

1. **base**: the initializer named by the hyper-parameter ``base`` draws every kernel, exactly as
   if it were the model's ``kernel_init`` (``sigma_w2`` rescales it the usual way);
2. **refinement**: ``method.apply(stack, params, x, y, key) -> (params, info)`` changes one
   network's materialized params using data.

``apply`` is a pure function of one network: ``jax.jit`` it and ``jax.vmap`` it over seeds
(params with a leading seed axis, one key per seed). Its arguments:

- ``stack``: the network as pure layer functions (``initjax.models.Stack``, duck-typed: the
  refinements use ``input_apply``, ``layer_apply``, ``readout_apply``, ``output``, ``depth``,
  ``readout`` and, where a layer holds several affine maps, ``affine_units`` /
  ``affine_outputs``); static under jit.
- ``params``: ``{"input": ..., "hidden": ... (leading depth axis), ["readout": ...]}``.
- ``x``: ``(N, *in_shape)`` examples the refinement may use; ``y``: ``(N,)`` integer labels or
  None; ``key``: a typed key for any sampling (minibatches, synthetic data).
- returns the refined params (same structure, shapes and dtypes) and a dict of diagnostics.

The models and the measurement and training code run both stages: ``model.init(rngs, x)`` and
``initjax.models.init_params(model, key, x)`` refine on ``x``; ``initjax.measure.propagate``
refines on its input batch; ``initjax.measure.train`` on the training set. The refinement's key
is ``initjax.keys.data_init(params_key)``.

Called as a plain initializer, ``init(key, shape)``, an entry raises TypeError: without data it
cannot produce its weights, and handing back the base draw would silently be another initializer.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from initjax.initializers._registry import BoundInitializer, entry, get, register

__all__ = [
    "FAMILY",
    "DataDependentMethod",
    "register_method",
    "method_of",
    "sampler_of",
    "is_data_dependent",
]

FAMILY = "data_dependent"

Algorithm = Callable[..., tuple[Any, dict[str, Any]]]


@dataclasses.dataclass(frozen=True, eq=False)
class DataDependentMethod:
    """The bound refinement of a data-dependent entry (the ``fn`` of its BoundInitializer).

    Attributes:
      name: the entry's canonical name.
      base: the base initializer (a BoundInitializer) that draws the weights before refinement.
      hparams: the refinement's hyper-parameters (everything but ``base``).
      algorithm: ``algorithm(stack, params, x, y, key, **hparams) -> (params, info)``.
      needs_labels: True if the refinement uses labels ``y`` (GradInit's loss).
    """

    name: str
    base: BoundInitializer
    hparams: Mapping[str, Any]
    algorithm: Algorithm
    needs_labels: bool = False

    def __call__(self, key: jax.Array, shape: Any, dtype: Any = jnp.float32) -> jax.Array:
        raise TypeError(
            f"initializer {self.name!r} is data-dependent: it refines the weights of a whole "
            f"network on data after the base initializer {self.base.name!r} has drawn them, so it "
            "cannot fill one array from (key, shape). Give it as kernel_init of an initjax model "
            "and use model.init(rngs, x), initjax.models.init_params(model, key, x), "
            "initjax.measure.propagate or initjax.measure.train; or call "
            "initializers.get(...).fn.apply(stack, params, x, y, key)."
        )

    def check(self, *, labels: bool) -> None:
        """Raise ValueError if this refinement cannot run with the data at hand.

        Args:
          labels: whether labels ``y`` will be given.
        """
        if self.needs_labels and not labels:
            raise ValueError(
                f"initializer {self.name!r} needs labelled data (its objective is the training "
                "loss): use it with initjax.measure.train, or refine explicitly with labels y"
            )

    def apply(
        self, stack: Any, params: Any, x: jax.Array, y: jax.Array | None, key: jax.Array
    ) -> tuple[Any, dict[str, Any]]:
        """Refine one network's params on ``(x, y)``: returns ``(params, info)``.

        Pure and traceable: jit it, vmap it over seeds (see the module docstring).

        Raises:
          ValueError: missing labels for an entry that needs them, or a stack whose layers do
            not describe their affine maps (see ``initjax.models.Stack.affine_units``).
        """
        self.check(labels=y is not None)
        if not hasattr(x, "shape") or len(x.shape) < 2 or x.shape[0] < 1:
            raise ValueError(
                f"{self.name}: x must be a non-empty batch (N, *input_shape), got "
                f"{getattr(x, 'shape', x)!r}"
            )
        return self.algorithm(stack, params, x, y, key, **self.hparams)


def method_of(init: Any) -> DataDependentMethod | None:
    """The refinement of a data-dependent initializer (BoundInitializer or method), else None."""
    if isinstance(init, DataDependentMethod):
        return init
    if isinstance(init, BoundInitializer) and isinstance(init.fn, DataDependentMethod):
        return init.fn
    return None


def is_data_dependent(init: Any) -> bool:
    """True for a data-dependent entry (bound or its method)."""
    return method_of(init) is not None


def sampler_of(init: Any) -> Any:
    """What draws the weights of ``init``: the base of a data-dependent entry, else ``init``."""
    m = method_of(init)
    return init if m is None else m.base


def _resolve_base(name: str, base: str) -> BoundInitializer:
    try:
        e = entry(base)
    except (ValueError, TypeError) as err:
        raise ValueError(f"initializer {name!r}: base: {err}") from None
    if e.family == FAMILY:
        raise ValueError(
            f"initializer {name!r}: base={base!r} is itself data-dependent; the base must draw "
            "weights from (key, shape), e.g. 'orthogonal' or 'he_normal'"
        )
    if not e.fan_based:
        raise ValueError(
            f"initializer {name!r}: base={base!r} is not a kernel initializer (it does not "
            "scale with the fans); use e.g. 'orthogonal', 'he_normal', 'lecun_normal'"
        )
    return get(base)


def _base_variance(fan_in: int, fan_out: int, base: str, **_: Any) -> float:
    v = entry(base).promised_variance(fan_in, fan_out)
    return math.nan if v is None else v


def register_method(
    name: str,
    *,
    base: str,
    defaults: Mapping[str, Any],
    reference: str,
    needs_labels: bool = False,
    choices: Mapping[str, tuple[Any, ...]] | None = None,
    check: Callable[..., None] | None = None,
) -> Callable[[Algorithm], Algorithm]:
    """Decorator adding a refinement ``algorithm(stack, params, x, y, key, **hparams)`` to the
    initializer registry as family ``"data_dependent"``.

    The entry's hyper-parameters are ``base`` (a registry name; default ``base``) plus
    ``defaults``; ``check(**hparams)`` validates them when the entry is bound (raising
    ValueError naming the argument). Its listed variance is the base's, before refinement.
    """

    def deco(algorithm: Algorithm) -> Algorithm:
        def builder(base: str, **hp: Any) -> DataDependentMethod:
            b = _resolve_base(name, base)
            if check is not None:
                check(**hp)
            return DataDependentMethod(name, b, dict(hp), algorithm, needs_labels)

        register(
            name,
            family=FAMILY,
            defaults={"base": base, **defaults},
            reference=reference,
            variance=_base_variance,
            formula="the base's, then refined on data",
            choices=choices,
            shapes=("dense", "conv"),
        )(builder)
        return algorithm

    return deco
