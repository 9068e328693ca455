"""Parameter roles: what every parameter of a model is, for parametrizations (SP, NTK, muP, ...).

A :class:`Stack` describes its parameters with :meth:`Stack.roles`: a pytree of the same structure
as one layer's params (``{"input": ..., "hidden": one layer's params, ["readout": ...]}``) whose
leaves are :class:`ParamRole`. A role names the kind of parameter (:data:`ROLES`) and the axes of
the per-layer array that count in its fans, with the initializer module's convention
(``initjax.initializers.fans``: the receptive field, the product of the axes that are neither
fan-in nor fan-out axes, counts in both fans), plus two flags for residual networks: whether the
parameter lives inside a residual branch, and whether it writes into the residual stream (the
branch's last kernel and bias, where a branch multiplier acts).

Roles (Yang et al. 2022, "Tensor Programs V", arXiv:2203.03466, §4 and Table 3: input weights map
a finite dimension into the width, hidden weights width to width, output weights width to a
finite dimension; biases and norm gains are vectors with one width dimension):

- ``input``: input projection (dense or conv), patch embedding;
- ``embedding`` / ``position``: token and learned position tables ``(vocab | seq_len, width)``;
- ``hidden``: width -> width kernels (dense, conv, MLP and residual-branch layers);
- ``query`` / ``key`` / ``value`` / ``attn_out``: attention kernels (hidden weights);
- ``readout``: the output kernel (width -> classes);
- ``bias``: every bias; ``norm_scale`` / ``norm_bias``: LayerNorm gain and bias;
- ``gain``: a learnable scalar multiplier (ReZero / SkipInit's alpha).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["ROLES", "ParamRole", "dense_paths", "dense_roles", "role_fans"]

# role -> one line (printed by `initjax parametrizations`).
ROLES: Mapping[str, str] = {
    "input": "input projection: a finite (data) dimension into the width",
    "embedding": "token embedding table (vocab, width)",
    "position": "learned position table (seq_len, width)",
    "hidden": "width -> width kernel",
    "query": "attention query kernel (width -> heads * d_head)",
    "key": "attention key kernel (width -> heads * d_head)",
    "value": "attention value kernel (width -> heads * d_head)",
    "attn_out": "attention output kernel (heads * d_head -> width)",
    "readout": "output kernel: the width into a finite dimension (classes)",
    "bias": "bias vector",
    "norm_scale": "LayerNorm gain",
    "norm_bias": "LayerNorm bias",
    "gain": "learnable scalar multiplier (ReZero / SkipInit alpha)",
}


@dataclasses.dataclass(frozen=True)
class ParamRole:
    """The role of one parameter array (one layer's slice for stacked hidden params).

    Attributes:
      role: one of :data:`ROLES`.
      in_axes: axes of the per-layer array counted in fan_in (empty: fan_in = receptive field,
        1 for a bias).
      out_axes: axes counted in fan_out.
      branch: the parameter lives inside a residual branch (depth scalings of the learning rate
        and Adam epsilon apply).
      branch_output: it writes into the residual stream (last kernel / bias of a branch): a
        residual branch multiplier acts on it.

    Raises:
      ValueError: unknown role, or ``branch_output`` without ``branch``.
    """

    role: str
    in_axes: tuple[int, ...] = ()
    out_axes: tuple[int, ...] = ()
    branch: bool = False
    branch_output: bool = False

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {self.role!r}")
        if self.branch_output and not self.branch:
            raise ValueError("branch_output=True requires branch=True")

    def fans(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """``(fan_in, fan_out)`` of an array of ``shape`` (the per-layer shape)."""
        return role_fans(self, shape)


def role_fans(role: ParamRole, shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)``: the product of the ``in_axes`` (``out_axes``) sizes times the
    receptive field, the product of the remaining axes (``initjax.initializers.fans``).

    Raises:
      ValueError: an axis out of range for ``shape`` or in both lists.
    """
    nd = len(shape)
    for a in (*role.in_axes, *role.out_axes):
        if not -nd <= a < nd:
            raise ValueError(f"role {role.role!r}: axis {a} out of range for shape {shape}")
    ins = {a % nd for a in role.in_axes}
    outs = {a % nd for a in role.out_axes}
    if ins & outs:
        raise ValueError(f"role {role.role!r}: axes {sorted(ins & outs)} in both in and out axes")
    rf = math.prod(shape[a] for a in range(nd) if a not in ins | outs)
    fan_in = rf * math.prod(shape[a] for a in ins)
    fan_out = rf * math.prod(shape[a] for a in outs)
    return int(fan_in), int(fan_out)


def dense_roles(
    kernel_role: str, *, branch: bool = False, branch_output: bool = False
) -> dict[str, Any]:
    """Roles of ``{"kernel": (in, out), "bias": (out,)}`` (conv kernels: ``(*k, in, out)``)."""
    return {
        "kernel": ParamRole(kernel_role, (-2,), (-1,), branch, branch_output),
        "bias": ParamRole("bias", (), (-1,), branch, branch_output),
    }


def dense_paths(tree: Mapping[str, Any]) -> tuple[tuple[str, ...], ...]:
    """Paths of the dense maps in a roles pytree (one layer group): every dict holding both a
    ``"kernel"`` and a ``"bias"`` :class:`ParamRole`, in the dict's insertion order (a family
    lists its maps in forward order). Used as a stack's ``affine_units``."""
    out: list[tuple[str, ...]] = []

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if not isinstance(node, Mapping):
            return
        if isinstance(node.get("kernel"), ParamRole) and isinstance(node.get("bias"), ParamRole):
            out.append(path)
            return
        for k, v in node.items():
            walk(v, (*path, k))

    walk(tree, ())
    return tuple(out)
