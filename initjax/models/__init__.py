"""Flax (Linen) models whose depth is a scan; one layer definition for two paths.

``MLP``, ``ConvNet`` and ``ResMLP`` take initializers from the registry (by name, BoundInitializer
or callable) plus ``sigma_w2`` / ``sigma_b2`` in standard parameterization. ``init_params(model,
seed_key, x)`` draws the params of one seed following the key scheme (equal to
``model.init({'params': keys.role(seed_key, keys.PARAMS)}, x)``); ``stack_of(model)`` gives the
pure layer functions that :mod:`initjax.measure` scans over without materializing the params.
"""

from __future__ import annotations

from typing import Any

from initjax.models._core import (
    Stack,
    StackModule,
    apply_stack,
    init_params,
    init_stack,
    stack_of,
)
from initjax.models.conv import ConvNet, ConvStack
from initjax.models.mlp import MLP, MLPStack
from initjax.models.resmlp import ResMLP, ResMLPStack, fixup_branch_scale
from initjax.models.transformer import Transformer, TransformerStack

__all__ = [
    "ARCHITECTURES",
    "ConvNet",
    "ConvStack",
    "MLP",
    "MLPStack",
    "ResMLP",
    "ResMLPStack",
    "Stack",
    "StackModule",
    "Transformer",
    "TransformerStack",
    "apply_stack",
    "build",
    "fixup_branch_scale",
    "init_params",
    "init_stack",
    "stack_of",
]

ARCHITECTURES: dict[str, type[StackModule]] = {
    "mlp": MLP,
    "conv": ConvNet,
    "resmlp": ResMLP,
    "transformer": Transformer,
}


def build(arch: str, **config: Any) -> StackModule:
    """A model from an architecture name and its fields, e.g. ``build("mlp", width=64, depth=10)``.

    Raises:
      ValueError: unknown ``arch`` (lists the allowed names) or a bad field value.
      TypeError: an unknown field name (lists the allowed fields).
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {', '.join(map(repr, ARCHITECTURES))}, got {arch!r}")
    cls = ARCHITECTURES[arch]
    fields = [f for f in cls.__dataclass_fields__ if f not in ("parent", "name")]
    unknown = sorted(set(config) - set(fields))
    if unknown:
        raise TypeError(f"{arch}: unknown field(s) {unknown}; allowed: {', '.join(fields)}")
    return cls(**config)
