"""Flax (Linen) models whose depth is a scan; one layer definition for two paths.

Model families live in a registry: ``names()`` lists them ("conv", "mlp", "resmlp", ...),
``get(name)`` gives the class, ``build(name, **fields)`` an instance, ``register(name)`` adds a
family (a class decorator on a :class:`StackModule` subclass). Every public module of this package
is imported here, so a new family is one file with a decorated class; plugins register theirs the
same way (``initjax.plugins``).

``MLP``, ``ConvNet`` and ``ResMLP`` take initializers from the registry (by name, BoundInitializer
or callable) plus ``sigma_w2`` / ``sigma_b2`` in standard parameterization. ``init_params(model,
seed_key, x)`` draws the params of one seed following the key scheme (equal to
``model.init({'params': keys.role(seed_key, keys.PARAMS)}, x)``); ``stack_of(model)`` gives the
pure layer functions that :mod:`initjax.measure` scans over without materializing the params
(``init_stack`` / ``apply_stack`` are the materialized path; ``refine_params`` runs the data stage
of a data-dependent ``kernel_init``, LSUV, MetaInit, GradInit). ``draw_kernel`` / ``draw_bias`` /
``resolve_initializer`` / ``check_variance`` / ``check_output`` / ``check_rescalable`` are the
standard-parameterization helpers every family uses (``check_rescale(stack)``: every kernel
initializer promises the variance a given sigma_w2 needs).
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from initjax.models._core import (
    Stack,
    StackModule,
    UnsupportedCapability,
    apply_stack,
    check_rescale,
    data_method,
    dropout,
    dropout_root,
    hidden_apply,
    init_params,
    init_stack,
    refine_params,
    stack_of,
)
from initjax.models._params import (
    check_init_shape,
    check_output,
    check_rescalable,
    check_variance,
    draw_bias,
    draw_kernel,
    init_name,
    kernel_multiplier,
    resolve_initializer,
)
from initjax.models._registry import (
    build,
    example,
    field_names,
    get,
    metadata,
    name_of,
    names,
    register,
)
from initjax.models._roles import ROLES, ParamRole, dense_roles, role_fans
from initjax.models._validate import keep_prob as check_keep_prob
from initjax.models.conv import ConvNet, ConvStack
from initjax.models.mlp import MLP, MLPStack
from initjax.models.resmlp import ResMLP, ResMLPStack, fixup_branch_scale
from initjax.models.transformer import Transformer, TransformerStack


def _import_families() -> None:
    # Every public module in this folder defines (registers) a model family.
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


_import_families()

__all__ = [
    "ARCHITECTURES",
    "ConvNet",
    "ConvStack",
    "MLP",
    "MLPStack",
    "ParamRole",
    "ROLES",
    "ResMLP",
    "ResMLPStack",
    "Stack",
    "StackModule",
    "UnsupportedCapability",
    "Transformer",
    "TransformerStack",
    "apply_stack",
    "build",
    "data_method",
    "check_keep_prob",
    "dropout",
    "dropout_root",
    "hidden_apply",
    "check_init_shape",
    "check_output",
    "check_rescalable",
    "check_rescale",
    "check_variance",
    "dense_roles",
    "draw_bias",
    "draw_kernel",
    "example",
    "field_names",
    "fixup_branch_scale",
    "get",
    "init_name",
    "init_params",
    "init_stack",
    "refine_params",
    "kernel_multiplier",
    "metadata",
    "name_of",
    "names",
    "register",
    "resolve_initializer",
    "role_fans",
    "stack_of",
]


def __getattr__(attr: str) -> Any:
    if attr == "ARCHITECTURES":  # read live, so plugin families appear too
        return {n: get(n) for n in names()}
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
