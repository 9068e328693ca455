"""Orthogonal initializers: Haar orthogonal, delta-orthogonal and DKS's scaled uniform orthogonal.

All factorizations run in float32 (float64 when that is requested and x64 is on) and the result
is cast once, so bfloat16 / float16 kernels are correctly rounded orthogonal matrices.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from initjax.initializers import _sampling
from initjax.initializers._registry import register

__all__ = ["orthogonal", "delta_orthogonal", "scaled_uniform_orthogonal", "check_conv_kernel"]

_SAXE = (
    "Saxe, McClelland & Ganguli 2014, arXiv:1312.6120; Haar sampling by QR with the signs "
    "of diag(R) (Mezzadri 2007, arXiv:math-ph/0609050)"
)
_XIAO = "Xiao et al. 2018, arXiv:1806.05393 (delta-orthogonal kernels)"
_DKS = "Martens et al. 2021, arXiv:2110.01765 (DKS: scaled uniform orthogonal)"


def _check_int_axis(name: str, column_axis) -> None:
    if isinstance(column_axis, bool) or not hasattr(column_axis, "__index__"):
        raise TypeError(f"{name}: column_axis must be an int, got {column_axis!r}")


def _column_axis(name: str, column_axis, shape: tuple[int, ...]) -> int:
    nd = len(shape)
    _check_int_axis(name, column_axis)
    column_axis = int(column_axis)
    if not -nd <= column_axis < nd:
        raise ValueError(f"{name}: column_axis={column_axis} is out of range for shape {shape}")
    return column_axis % nd


def _haar(key: jax.Array, shape: tuple[int, ...], dtype, column_axis: int = -1) -> jax.Array:
    """A Haar (semi-)orthogonal array of ``shape`` in the compute dtype of ``dtype``.

    Delegates to ``jax.nn.initializers.orthogonal``, which does exactly the construction we want
    (QR of a Gaussian matrix, sign fix by diag(R), flatten to (prod(other axes),
    shape[column_axis])), but in float32 / float64 rather than in a low-precision dtype.
    """
    return jax.nn.initializers.orthogonal(1.0, column_axis)(
        key, shape, _sampling.compute_dtype(dtype)
    )


# Each sampler is one compiled program per (shape, dtype, structure); ``scale`` is traced.
@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _orthogonal(key, shape, dtype, column_axis, scale):
    q = _haar(key, shape, dtype, column_axis)
    return (q * jnp.asarray(scale, q.dtype)).astype(dtype)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _delta_orthogonal(key, shape, dtype, scale):
    centre = _haar(key, shape[-2:], dtype) * jnp.asarray(scale, _sampling.compute_dtype(dtype))
    return jnp.zeros(shape, centre.dtype).at[_centre(shape)].set(centre).astype(dtype)


def _orth_shape_variance(shape, scale, column_axis):
    cols = shape[column_axis]
    rows = math.prod(shape) // cols
    return scale**2 / max(rows, cols)


@register(
    "orthogonal",
    family="orthogonal",
    defaults={"scale": 1.0, "column_axis": -1},
    reference=_SAXE,
    variance=lambda fi, fo, scale, **_: scale**2 / max(fi, fo),
    shape_variance=_orth_shape_variance,
    formula="scale^2 / max(rows, cols); dense: scale^2 / max(fan_in, fan_out)",
    shapes=("dense", "conv", "multi_axis"),
)
def orthogonal(scale, column_axis):
    """Builder: ``scale`` times a Haar-distributed (semi-)orthogonal matrix, any rank >= 2.

    The array is viewed as the matrix ``(rows, cols) = (prod(other axes), shape[column_axis])``:
    if rows >= cols its columns are orthonormal (Q^T Q = I), otherwise its rows are
    (Q Q^T = I). The law is Haar (uniform on the orthogonal group / Stiefel manifold): QR of a
    Gaussian matrix with the signs of diag(R) moved into Q. Var[w] = scale^2 / max(rows, cols);
    for a dense (fan_in, fan_out) kernel that is scale^2 / max(fan_in, fan_out).

    Args:
      scale: multiplier (may be traced).
      column_axis: the axis whose entries are the columns of the matrix (default -1: for a Flax
        kernel (..., in, out), the output units).

    Raises: ValueError for a negative concrete ``scale``; at call, for rank < 2 or a
    ``column_axis`` out of range.
    """
    _sampling.check_scalar("orthogonal", "scale", scale, nonneg=True)
    _check_int_axis("orthogonal", column_axis)

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        ax = _column_axis("orthogonal", column_axis, shape)
        return _orthogonal(key, tuple(shape), jnp.dtype(dtype), ax, scale)

    return init


def check_conv_kernel(name: str, shape: tuple[int, ...], *, cin_le_cout: bool) -> None:
    """Validate a Flax conv kernel ``(*spatial, C_in, C_out)`` with odd spatial sizes.

    Raises:
      ValueError: rank not in 3..5, an even spatial size (no centre tap), or C_in > C_out when
        ``cin_le_cout``.
    """
    if len(shape) not in (3, 4, 5):
        raise ValueError(
            f"{name}: shape {shape} is not a 1-D, 2-D or 3-D conv kernel (*spatial, C_in, C_out) "
            "of rank 3, 4 or 5"
        )
    spatial = shape[:-2]
    if any(s % 2 == 0 for s in spatial):
        raise ValueError(
            f"{name}: spatial sizes {spatial} of shape {shape} must all be odd (the kernel needs a "
            "centre tap)"
        )
    if cin_le_cout and shape[-2] > shape[-1]:
        raise ValueError(
            f"{name}: needs C_in <= C_out for an orthogonal centre tap, got shape {shape} with "
            f"C_in={shape[-2]} > C_out={shape[-1]}"
        )


def _centre(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(s // 2 for s in shape[:-2])


@register(
    "delta_orthogonal",
    family="orthogonal",
    defaults={"scale": 1.0},
    reference=_XIAO,
    variance=lambda fi, fo, scale: scale**2 / fo,
    formula="scale^2 / fan_out (all of it on the centre tap)",
    shapes=("conv",),
)
def delta_orthogonal(scale):
    """Builder: zero everywhere except the centre tap, a (C_in, C_out) Haar orthogonal matrix.

    For a Flax conv kernel ``(*spatial, C_in, C_out)`` of rank 3, 4 or 5 with odd spatial sizes
    and C_in <= C_out, the centre tap has orthonormal rows (so the convolution preserves the
    norm of its input) times ``scale``. Averaged over the kernel, Var[w] = scale^2 / fan_out.

    Raises: ValueError for a negative concrete ``scale``; at call, for a shape that is not such a
    kernel (rank, even spatial size, C_in > C_out).
    """
    _sampling.check_scalar("delta_orthogonal", "scale", scale, nonneg=True)

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        check_conv_kernel("delta_orthogonal", shape, cin_le_cout=True)
        return _delta_orthogonal(key, tuple(shape), jnp.dtype(dtype), scale)

    return init


def _suo_matrix(key, shape, dtype, scale):
    """scale * max(sqrt(cols / rows), 1) * Haar (rows, cols) view of ``shape`` (column axis -1)."""
    cols = shape[-1]
    rows = math.prod(shape) // cols
    q = _haar(key, shape, dtype)
    return q * (jnp.asarray(scale, q.dtype) * max(math.sqrt(cols / rows), 1.0))


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _scaled_uniform_orthogonal(key, shape, dtype, delta, scale):
    if len(shape) == 2 or not delta:
        return _suo_matrix(key, shape, dtype, scale).astype(dtype)
    centre = _suo_matrix(key, shape[-2:], dtype, scale)
    return jnp.zeros(shape, centre.dtype).at[_centre(shape)].set(centre).astype(dtype)


@register(
    "scaled_uniform_orthogonal",
    family="orthogonal",
    defaults={"scale": 1.0, "delta": True},
    reference=_DKS,
    variance=lambda fi, fo, scale, **_: scale**2 / fi,
    formula="scale^2 / fan_in",
    shapes=("dense", "conv"),
)
def scaled_uniform_orthogonal(scale, delta):
    """Builder: DKS's scaled uniform orthogonal (SUO) weights, Var[w] = scale^2 / fan_in.

    Dense ``(in, out)``: ``scale * max(sqrt(out / in), 1) * Q`` with Q Haar orthogonal, so
    ||x W||^2 / out = scale^2 ||x||^2 / in on average for every shape (q is preserved for
    scale 1). Conv ``(*spatial, C_in, C_out)``: with ``delta=True`` the centre tap is the dense
    SUO matrix of shape (C_in, C_out) and every other tap is zero (spatial sizes must be odd);
    with ``delta=False`` the whole kernel is viewed as (prod(spatial) * C_in, C_out).

    Raises: ValueError for a negative concrete ``scale``; at call, for an even spatial size with
    ``delta=True``.
    """
    _sampling.check_scalar("scaled_uniform_orthogonal", "scale", scale, nonneg=True)
    if not isinstance(delta, bool):
        raise TypeError(f"scaled_uniform_orthogonal: delta must be a bool, got {delta!r}")

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        if len(shape) != 2 and delta:
            check_conv_kernel("scaled_uniform_orthogonal(delta=True)", shape, cin_le_cout=False)
        return _scaled_uniform_orthogonal(key, tuple(shape), jnp.dtype(dtype), delta, scale)

    return init
