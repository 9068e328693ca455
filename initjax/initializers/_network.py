"""Duck-typed access to a network described as pure layer functions (an ``initjax.models.Stack``).

The data-dependent refinements work on one network's materialized params
``{"input": p0, "hidden": stacked (leading depth axis), ["readout": pr]}`` through the stack's
pure functions, so this package never imports the Flax models. A layer group is ``"input"``,
``"hidden"`` (one of the identical scanned layers) or ``"readout"``.

Affine maps: LSUV rescales each affine map ``{kernel, bias}`` of a layer in forward order. A stack
whose layer params hold several maps (a residual block, an attention block) says so with
``affine_units(group)`` (paths to the maps within one layer's params) and ``affine_outputs(group,
p, z)`` (their outputs for the layer input ``z``); without these methods a layer is one map whose
output is the layer's output.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

__all__ = [
    "GROUPS",
    "group_apply",
    "affine_units",
    "affine_outputs",
    "get_path",
    "set_path",
    "check_units",
    "forward",
    "logits",
    "cross_entropy",
    "n_outputs",
]

GROUPS = ("input", "hidden", "readout")
Path = tuple[str, ...]


def group_apply(stack: Any, group: str, p: Any, z: jax.Array) -> jax.Array:
    """The output of one layer of ``group`` with params ``p`` for its input ``z``."""
    if group == "input":
        return stack.input_apply(p, z)
    if group == "hidden":
        return stack.layer_apply(p, z)
    return stack.readout_apply(p, z)


def affine_units(stack: Any, group: str) -> tuple[Path, ...]:
    """Paths of the affine maps of one ``group`` layer, in forward order (default: ``((),)``)."""
    fn = getattr(stack, "affine_units", None)
    return tuple(tuple(p) for p in fn(group)) if fn is not None else ((),)


def affine_outputs(stack: Any, group: str, p: Any, z: jax.Array) -> tuple[jax.Array, ...]:
    """Outputs of the affine maps of :func:`affine_units` for the layer input ``z``."""
    fn = getattr(stack, "affine_outputs", None)
    if fn is None:
        return (group_apply(stack, group, p, z),)
    return tuple(fn(group, p, z))


def get_path(tree: Any, path: Path) -> Any:
    for k in path:
        tree = tree[k]
    return tree


def set_path(tree: Any, path: Path, value: Any) -> Any:
    """A copy of the nested dict ``tree`` with ``tree[path] = value`` (the input is untouched)."""
    if not path:
        return value
    out = dict(tree)
    out[path[0]] = set_path(tree[path[0]], path[1:], value)
    return out


def check_units(stack: Any, params: Any, *, need_bias: bool = False) -> None:
    """Every affine-map path leads to ``{"kernel", "bias"}`` params (checked while tracing).

    Raises:
      ValueError: naming the stack, the group and the path, and the hook to define.
    """
    groups = ["input", "hidden"] + (["readout"] if "readout" in params else [])
    for g in groups:
        for path in affine_units(stack, g):
            try:
                unit = get_path(params[g], path)
            except (KeyError, TypeError, IndexError):
                unit = None
            ok = isinstance(unit, dict) and "kernel" in unit and (not need_bias or "bias" in unit)
            if not ok:
                want = "{kernel, bias}" if need_bias else "{kernel, ...}"
                raise ValueError(
                    f"{type(stack).__name__}: the {g} layer's params at {path or '(top level)'} "
                    f"are not an affine map {want}; a stack whose layers hold several affine "
                    "maps must define affine_units(group) and affine_outputs(group, p, z) "
                    "(see initjax.models.Stack)"
                )


def forward(stack: Any, params: Any, x: jax.Array) -> jax.Array:
    """The network's output (readout logits, or phi(z^depth) without readout) for a batch."""
    z = stack.input_apply(params["input"], x)
    z, _ = jax.lax.scan(lambda h, p: (stack.layer_apply(p, h), None), z, params["hidden"])
    return stack.output(params.get("readout"), z)


def logits(stack: Any, params: Any, x: jax.Array) -> jax.Array:
    """:func:`forward` flattened to ``(B, n_out)`` float32 logits: the readout's logits, or the
    features phi(z^depth) as logits over ``prod(feature_shape)`` classes without a readout."""
    out = forward(stack, params, x)
    return out.reshape(out.shape[0], -1).astype(jnp.float32)


def cross_entropy(stack: Any, params: Any, x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy of :func:`logits` with integer labels ``y`` (float32)."""
    lg = logits(stack, params, x)
    lse = jax.nn.logsumexp(lg, axis=-1)
    picked = jnp.take_along_axis(lg, y[:, None].astype(jnp.int32), axis=-1)[:, 0]
    return jnp.mean(lse - picked)


def n_outputs(stack: Any, params: Any, in_shape: tuple[int, ...]) -> int:
    """Number of classes of :func:`logits` (traced shapes only, no computation)."""
    x = jax.ShapeDtypeStruct((1, *in_shape), jnp.float32)
    spec = jax.tree.map(lambda a: jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a)), params)
    return int(jax.eval_shape(lambda p, v: logits(stack, p, v), spec, x).shape[-1])
