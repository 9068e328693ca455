"""Fan computation for dense, convolutional, grouped and multi-axis kernels.

Conventions (DESIGN.md, "Layouts"): Flax kernels are ``(in, out)`` for dense and
``(*spatial, in, out)`` (HWIO) for convolutions; PyTorch kernels are ``(out, in, *spatial)`` (OIHW).
The receptive field is the product of the axes that are neither in, out, nor batch axes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["fans", "normalize_shape", "LAYOUTS"]

Axes = int | Sequence[int]

# layout -> (in_axis, out_axis); "dense_general" requires explicit axes.
LAYOUTS: dict[str, tuple[Axes, Axes] | None] = {
    "HWIO": (-2, -1),
    "dense": (-2, -1),
    "OIHW": (1, 0),
    "dense_general": None,
}


def normalize_shape(shape: object, *, name: str = "shape") -> tuple[int, ...]:
    """Validate ``shape`` as a tuple of non-negative Python/NumPy integers.

    Raises:
      TypeError: ``shape`` is not a sequence of integers (floats, strings, None...).
      ValueError: a dimension is negative.
    """
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be a sequence of integers, got {shape!r}") from None
    out = []
    for d in dims:
        if isinstance(d, bool) or not hasattr(d, "__index__"):
            raise TypeError(f"{name} must contain integers only, got {shape!r} ({d!r} is not)")
        d = int(d.__index__())
        if d < 0:
            raise ValueError(f"{name} must have non-negative dimensions, got {shape!r}")
        out.append(d)
    return tuple(out)


def _axes(axes: Axes, ndim: int, arg: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    if hasattr(axes, "__index__") and not isinstance(axes, bool):
        seq = (axes,)
    else:
        try:
            seq = tuple(axes)
        except TypeError:
            raise TypeError(f"{arg} must be an int or a sequence of ints, got {axes!r}") from None
    res = []
    for a in seq:
        if isinstance(a, bool) or not hasattr(a, "__index__"):
            raise TypeError(f"{arg} must be an int or a sequence of ints, got {axes!r}")
        a = int(a.__index__())
        if not -ndim <= a < ndim:
            raise ValueError(f"{arg}={axes!r} is out of range for shape {shape} (ndim {ndim})")
        res.append(a % ndim)
    if len(set(res)) != len(res):
        raise ValueError(f"{arg}={axes!r} repeats an axis")
    if not res and arg != "batch_axis":
        raise ValueError(f"{arg} must name at least one axis, got {axes!r}")
    return tuple(res)


def fans(
    shape: Sequence[int],
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    groups: int = 1,
    layout: str | None = None,
) -> tuple[int, int]:
    """Return ``(fan_in, fan_out)`` of a kernel of the given shape.

    fan_in = prod(shape[in_axis]) * receptive_field and
    fan_out = prod(shape[out_axis]) / groups * receptive_field, where receptive_field is the
    product of the remaining (non-batch) axes. For grouped / depthwise convolutions the kernel's
    in axis already holds C_in / groups (Flax and PyTorch both store it so), and the out axis holds
    all C_out channels, so only fan_out is divided by ``groups``: both fans are per group.

    Args:
      shape: kernel shape, e.g. ``(in, out)`` dense, ``(3, 3, C_in, C_out)`` HWIO.
      in_axis, out_axis: input / output axes (int or sequence of ints for DenseGeneral and
        attention kernels). Ignored when ``layout`` names a layout with fixed axes.
      batch_axis: axes counted in neither fan (e.g. stacked layers or heads of independent kernels).
      groups: feature groups of a grouped convolution (``C_out`` must be divisible by it).
      layout: None (use the axes), "HWIO" or "dense" (in=-2, out=-1), "OIHW" (PyTorch: in=1,
        out=0), or "dense_general" (axes must be passed explicitly).

    Returns:
      ``(fan_in, fan_out)`` as Python ints.

    Raises:
      ValueError: shape of rank < 2 (a fan needs distinct in and out axes), unknown layout,
        overlapping or out-of-range axes, groups not dividing C_out.
      TypeError: non-integer shape entries or axes.
    """
    shape = normalize_shape(shape)
    if layout is not None:
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {sorted(LAYOUTS)} or None, got {layout!r}")
        fixed = LAYOUTS[layout]
        if fixed is not None:
            in_axis, out_axis = fixed
    if len(shape) < 2:
        raise ValueError(
            f"fans are undefined for shape {shape} of rank {len(shape)}: a fan-based initializer "
            "needs a kernel with distinct input and output axes, e.g. (fan_in, fan_out). For a "
            "bias or scale vector use a non-fan initializer (zeros, constant, normal), or pass a "
            "kernel shape with explicit in_axis=... and out_axis=..."
        )
    ndim = len(shape)
    ins = _axes(in_axis, ndim, "in_axis", shape)
    outs = _axes(out_axis, ndim, "out_axis", shape)
    batch = _axes(batch_axis, ndim, "batch_axis", shape)
    if set(ins) & set(outs) or set(ins) & set(batch) or set(outs) & set(batch):
        raise ValueError(
            f"in_axis={in_axis!r}, out_axis={out_axis!r} and batch_axis={batch_axis!r} must not "
            f"overlap (shape {shape})"
        )
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups must be a positive integer, got {groups!r}")
    rf = math.prod(shape[a] for a in range(ndim) if a not in ins + outs + batch)
    n_in = math.prod(shape[a] for a in ins)
    n_out = math.prod(shape[a] for a in outs)
    if n_out % groups:
        raise ValueError(f"groups={groups} must divide the output channels {n_out} (shape {shape})")
    return n_in * rf, n_out // groups * rf
