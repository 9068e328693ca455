"""Shared plumbing for :mod:`initjax.theory`: dtypes, eager argument checks, the integration rule.

Checks run only on concrete values: under ``jit``/``vmap`` the arguments are tracers and pass
through unchecked (a traced negative variance gives NaN, never an exception).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from initjax import activations
from initjax.activations import Activation

__all__ = [
    "Rule",
    "make_rule",
    "resolve",
    "as_float_arrays",
    "is_concrete",
    "check_variance",
    "check_q",
    "check_correlation",
    "clip_correlation",
    "CORRELATION_SLACK",
    "check_keep_prob",
    "check_max_iter",
    "DEFAULT_NODES",
    "chunk_size",
    "map_chunks",
    "bucket_size",
    "on_cells",
    "MIN_BUCKET",
    "LARGE_BUCKET",
]

# Gauss–Legendre nodes per panel of the quadrature's wide-range layout (the small-q layout uses
# 1.5x as many; quadrature.py). 8 keeps every Gaussian moment the theory uses within 1e-7 of its
# value in float64 for 1e-4 <= q <= 1e4 (tests/theory/test_quadrature.py).
DEFAULT_NODES = 8
METHODS = ("auto", "quadrature")


@dataclasses.dataclass(frozen=True)
class Rule:
    """How Gaussian expectations are computed (hashable: a static argument of ``jax.jit``).

    Attributes:
      method: "auto" (closed form where one is registered, else quadrature) or "quadrature".
      nodes: Gauss–Legendre nodes per panel of the wide-range layout (quadrature.py).
    """

    method: str = "auto"
    nodes: int = DEFAULT_NODES


def chunk_size(nodes: int) -> int:
    """Cells per chunk in grid computations: keeps a chunk's 2-D quadrature arrays near 2 MB,
    cache-sized, for the small-q panel layout (~95 nodes^2 points per cell; the wide-range
    layout has ~3x more); loops then also stop per chunk."""
    per_cell = 95 * nodes * nodes
    return int(min(256, max(8, 2 ** int(np.log2(max(1, 2**19 // per_cell))))))


def map_chunks(fn, xs: tuple[jax.Array, ...], size: int):
    """``fn`` over chunks of ``size`` cells of the 1-D arrays ``xs`` (equal lengths), as arrays.

    Like ``jax.lax.map(..., batch_size=size)`` but without ``vmap``: ``fn`` sees each chunk as
    arrays of shape (size,), so conditions on a whole chunk (the quadrature's choice of panel
    layout) stay real branches instead of computing both sides. The last chunk is padded by
    repeating the last cell. Returns ``fn``'s pytree with leaves of shape (len,).
    """
    n = xs[0].shape[0]
    chunks = -(-n // size)
    pad = chunks * size - n
    padded = tuple(
        jnp.concatenate([x, jnp.broadcast_to(x[-1:], (pad,) + x.shape[1:])]) if pad else x
        for x in xs
    )
    out = jax.lax.map(
        lambda c: fn(*c), tuple(x.reshape((chunks, size) + x.shape[1:]) for x in padded)
    )
    return jax.tree_util.tree_map(lambda y: y.reshape((chunks * size,) + y.shape[2:])[:n], out)


# Grids are padded to at least this many cells: one program serves every grid of 1..16 cells
# (scalars included), at a run-time cost of microseconds per padding cell.
MIN_BUCKET = 16
# Above this many cells grids are padded to whole multiples of it instead of the next power of
# two: at most 1023 padding cells (< 10% beyond 10^4 cells) where the compiled program's run
# time, not its compilation, is what counts.
LARGE_BUCKET = 1024


def bucket_size(n: int, multiple: int = 1) -> int:
    """Cells a batch of ``n`` cells is padded to: ``multiple`` times the next power of two
    >= ceil(n / multiple), at least :data:`MIN_BUCKET` (16, 32, 64, ... for multiple = 1), up to
    :data:`LARGE_BUCKET` cells; whole multiples of :data:`LARGE_BUCKET` beyond. Batches of
    1..N <= 1024 cells then share at most ceil(log2 N) - 3 (at least 1) compiled programs.
    ``multiple``: a power of two <= 1024.
    """
    size = max(MIN_BUCKET, multiple * (1 << (max(1, -(-n // multiple)) - 1).bit_length()))
    return size if size <= LARGE_BUCKET else -(-n // LARGE_BUCKET) * LARGE_BUCKET


def on_cells(
    call: Callable[..., Any],
    cells: Sequence[Any],
    *,
    multiple: int = 1,
    pad: str = "first",
) -> Any:
    """``call(*cells)`` on broadcast cells flattened and padded to a bucket size, shaped back.

    The theory's jitted functions compile one program per argument shape; a grid of 5 cells and
    one of 7 would each compile the same solver again (seconds each). Here the cells are
    broadcast together, flattened to 1-D and padded to :func:`bucket_size` cells (16, 32, 64,
    ...), so grids of any size up to N <= 1024 reuse at most max(1, ceil(log2 N) - 3) programs
    (one for 1..16 cells); the padding is cut off and the result reshaped to the broadcast
    shape (leading axis of every output leaf: the cells; trailing axes kept).

    What padding does: the padding cells are copies of one real cell (``pad="first"``: the
    first cell; ``"last"``: the last, which keeps :func:`map_chunks`' chunks exactly as they
    were unpadded, as it pads the last chunk with the last cell). Every computation in
    :mod:`initjax.theory` is per cell except two batch-wide decisions, and copies leave both
    unchanged: (1) the solver loops (``q_star_``, ``c_star_``: ``lax.while_loop`` while any
    cell is unfinished and below ``max_iter``) freeze a finished cell's value and iteration
    count, and a copy finishes at the same step as its original, so the loops run no extra
    step and no cell's value, ``converged`` flag or ``iterations`` changes; (2) the
    quadrature's panel layout (``lax.cond`` on "every q of the batch <= Q_SMALL") sees the
    same set of values. So padding changes no cell (tests/theory/test_fixed_points.py: bitwise
    against the programs of the unpadded shape, iteration counts included).

    Traced cells (under an outer ``jit``/``vmap``) and empty batches are passed through
    unchanged: there the caller's trace fixes the shapes anyway.

    Args:
      call: function of the cells (jitted), returning a pytree of arrays whose leading axis
        is the cell axis.
      cells: arrays (or scalars) that broadcast together; already of their final dtype.
      multiple: the padded size is a multiple of this (the chunk size of :func:`map_chunks`).
      pad: "first" or "last": which cell the padding copies.

    Returns:
      ``call``'s pytree with leaves of shape ``broadcast_shape + trailing``, as ``jax.Array``.
    """
    if not is_concrete(*cells):
        return call(*cells)
    host = [np.asarray(c) for c in cells]
    shape = np.broadcast_shapes(*(h.shape for h in host))
    n = math.prod(shape)
    if n == 0:
        return call(*cells)
    size = bucket_size(n, multiple)
    at = 0 if pad == "first" else n - 1
    padded = []
    for h in host:
        flat = np.broadcast_to(h, shape).reshape(-1)
        padded.append(np.concatenate([flat, np.full(size - n, flat[at], flat.dtype)]))
    out = call(*padded)
    # device_put, not jnp.asarray: the latter compiles a copy program per new shape.
    return jax.tree_util.tree_map(
        lambda y: jax.device_put(np.asarray(y)[:n].reshape(shape + y.shape[1:])), out
    )


def make_rule(method: str = "auto", nodes: int = DEFAULT_NODES) -> Rule:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if isinstance(nodes, bool) or not isinstance(nodes, int | np.integer) or not 2 <= nodes <= 64:
        raise ValueError(f"nodes must be an integer in [2, 64], got {nodes!r}")
    return Rule(method, int(nodes))


def resolve(phi: Any) -> Activation:
    """An :class:`Activation` from a name, an Activation or a callable (ValueError if unknown)."""
    return activations.get(phi)


def is_concrete(*xs: Any) -> bool:
    return not any(isinstance(x, jax.core.Tracer) for x in xs)


def as_float_arrays(*xs: Any) -> tuple[jax.Array, ...]:
    """Cast to one floating dtype: float32 by default, float64 when x64 is on and asked for.

    Python scalars are weakly typed, so they become float64 exactly when x64 is enabled.
    Lower precisions (bf16, fp16) are promoted to float32: quadrature in 8 bits of mantissa is
    meaningless.
    """
    xs = tuple(np.asarray(x) if isinstance(x, list | tuple) else x for x in xs)
    dtype = jnp.promote_types(jnp.result_type(*xs), jnp.float32)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"theory arguments must be real numbers, got dtype {dtype}")
    # Concrete values are cast on the host and put on the device as they are: jnp.asarray
    # compiles a conversion program for every new shape.
    return tuple(
        jnp.asarray(x, dtype)
        if isinstance(x, jax.core.Tracer)
        else jax.device_put(np.asarray(x, dtype))
        for x in xs
    )


def _values(name: str, x: Any) -> np.ndarray | None:
    if not is_concrete(x):
        return None
    # numpy would parse "1.0" as a number and jax would then fail deep inside: reject up front.
    raw = None if x is None or isinstance(x, str | bytes) else np.asarray(x)
    if raw is None or raw.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real number or array of them, got {x!r}")
    v = raw.astype(np.float64)
    if not jax.config.jax_enable_x64:
        # Finite in float64 but inf in the float32 the computation runs in.
        big = np.isfinite(v) & (np.abs(v) > np.finfo(np.float32).max)
        if big.any():
            raise ValueError(
                f"{name} exceeds the float32 range (enable x64 for larger values), got "
                f"{_first_bad(v, big)}"
            )
    return v


def _first_bad(v: np.ndarray, bad: np.ndarray) -> str:
    flat = v.reshape(-1)[bad.reshape(-1)]
    more = f" (and {flat.size - 1} more)" if flat.size > 1 else ""
    return f"{float(flat[0])!r}{more}"


def check_variance(name: str, x: Any) -> None:
    """A variance (sigma_w2, sigma_b2): finite and >= 0. Standard deviations must be squared."""
    v = _values(name, x)
    if v is None:
        return
    bad = ~np.isfinite(v) | (v < 0)
    if bad.any():
        raise ValueError(
            f"{name} is a variance and must be finite and >= 0, got {_first_bad(v, bad)}"
        )


def check_q(name: str, x: Any) -> None:
    """A pre-activation second moment q: finite and > 0."""
    v = _values(name, x)
    if v is None:
        return
    bad = ~np.isfinite(v) | (v <= 0)
    if bad.any():
        raise ValueError(f"{name} must be finite and > 0, got {_first_bad(v, bad)}")


# A correlation this far beyond +-1 is rounding (a float32 c computed as 1 + a few ulp), not bad
# input: it is clipped like any value under jit. 8 float32 ulp at 1.
CORRELATION_SLACK = 8.0 * float(np.finfo(np.float32).eps)


def check_correlation(name: str, x: Any) -> None:
    """A correlation: in [-1, 1] up to rounding (|c| <= 1 + CORRELATION_SLACK, then clipped).

    Eager and jitted calls agree: values within the slack are clipped to [-1, 1] by the maps
    (:func:`clip_correlation`), as traced values always are; values beyond it raise here.
    """
    v = _values(name, x)
    if v is None:
        return
    bad = ~(np.abs(v) <= 1.0 + CORRELATION_SLACK)
    if bad.any():
        raise ValueError(
            f"{name} is a correlation and must lie in [-1, 1], got {_first_bad(v, bad)}"
        )


def clip_correlation(c: jax.Array) -> jax.Array:
    """c clipped to [-1, 1], with derivative 1 everywhere (straight through).

    The clip removes rounding (a c-map value of 1 + 1 ulp at c = 1), not signal, so derivatives
    are those of the unclipped formula: d c^l / d c at c = 1 is chi_1, not 0 (``jnp.clip``
    gives 0 beyond the bounds and 1/2 at ties).
    """
    c = jnp.asarray(c)
    clipped = jnp.where(c > 1.0, 1.0, jnp.where(c < -1.0, -1.0, c)).astype(c.dtype)
    return c + jax.lax.stop_gradient(clipped - c)


def check_max_iter(max_iter: Any) -> int:
    """An iteration cap: a positive Python or numpy integer (static under jit)."""
    if isinstance(max_iter, bool) or not isinstance(max_iter, int | np.integer) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    return int(max_iter)


def check_keep_prob(x: Any) -> None:
    v = _values("keep_prob", x)
    if v is None:
        return
    bad = ~((v > 0) & (v <= 1))
    if bad.any():
        raise ValueError(f"keep_prob must lie in (0, 1], got {_first_bad(v, bad)}")
