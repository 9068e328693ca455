"""Structured initializers: identity / eye, dirac, sparse (Martens 2010) and ZerO (Hadamard)."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from initjax.initializers import _sampling
from initjax.initializers._registry import register
from initjax.initializers.fans import fans
from initjax.initializers.orthogonal import check_conv_kernel

__all__ = ["identity", "dirac", "sparse", "zero_init_hadamard", "hadamard"]


@register(
    "identity",
    family="structured",
    defaults={"scale": 1.0},
    reference="identity init (torch.nn.init.eye_); Le, Jaitly & Hinton 2015, arXiv:1504.00941",
    formula="- (deterministic: scale on the diagonal)",
    deterministic=True,
    aliases=("eye",),
    shapes=("dense",),
)
def identity(scale):
    """Builder: ``scale * I`` for a dense ``(in, out)`` kernel; rectangular allowed.

    Entry (i, i) is ``scale`` for i < min(in, out), everything else 0 (``torch.nn.init.eye_``).
    For conv kernels use ``dirac``. ``scale`` may be traced.

    Raises: ValueError for a negative concrete ``scale``; at call, for a shape of rank != 2.
    """
    _sampling.check_scalar("identity", "scale", scale, nonneg=True)

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        del key
        if len(shape) != 2:
            raise ValueError(
                f"identity: shape {shape} must be a dense kernel (in, out) of rank 2; for a conv "
                "kernel use 'dirac'"
            )
        return _identity(tuple(shape), jnp.dtype(dtype), scale)

    return init


@functools.partial(jax.jit, static_argnums=(0, 1))
def _identity(shape, dtype, scale):
    cd = _sampling.compute_dtype(dtype)
    return (jnp.eye(*shape, dtype=cd) * jnp.asarray(scale, cd)).astype(dtype)


def _dirac_index(shape: tuple[int, ...], groups: int) -> tuple[np.ndarray, ...]:
    cin_pg, cout = shape[-2:]
    out_pg = cout // groups
    d = np.arange(min(out_pg, cin_pg))
    g = np.arange(groups)
    ins = np.broadcast_to(d, (groups, d.size)).ravel()
    outs = (g[:, None] * out_pg + d[None, :]).ravel()
    centre = tuple(np.full(ins.size, s // 2) for s in shape[:-2])
    return (*centre, ins, outs)


@register(
    "dirac",
    family="structured",
    defaults={"groups": 1, "scale": 1.0},
    reference="torch.nn.init.dirac_ (identity convolution, per group)",
    formula="- (deterministic: scale at the centre tap)",
    deterministic=True,
    shapes=("conv",),
)
def dirac(groups, scale):
    """Builder: the identity convolution for a Flax kernel ``(*spatial, C_in / groups, C_out)``.

    As ``torch.nn.init.dirac_`` in Flax layout: in group g, output channel
    ``g * (C_out / groups) + d`` copies input channel d of that group at the centre tap, for
    d < min(C_out / groups, C_in / groups); every other entry is 0. With odd spatial sizes and
    'SAME' padding the convolution is the identity on the first channels. ``scale`` may be traced.

    Raises: ValueError for groups < 1; at call, for rank not in 3..5, even spatial sizes, or
    groups not dividing C_out.
    """
    if isinstance(groups, bool) or not isinstance(groups, int | np.integer) or groups < 1:
        raise ValueError(f"dirac: groups must be a positive integer, got {groups!r}")
    groups = int(groups)
    _sampling.check_scalar("dirac", "scale", scale, nonneg=True)

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        del key
        check_conv_kernel("dirac", shape, cin_le_cout=False)
        if shape[-1] % groups:
            raise ValueError(
                f"dirac: groups={groups} must divide C_out={shape[-1]} (shape {shape})"
            )
        return _dirac(tuple(shape), jnp.dtype(dtype), groups, scale)

    return init


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _dirac(shape, dtype, groups, scale):
    cd = _sampling.compute_dtype(dtype)
    w = jnp.zeros(shape, cd).at[_dirac_index(shape, groups)].set(jnp.asarray(scale, cd))
    return w.astype(dtype)


_MARTENS_K = 15


def _sparse_nnz(fan_in: int, k, sparsity) -> int:
    if sparsity is not None:
        return fan_in - math.ceil(sparsity * fan_in)
    return min(_MARTENS_K if k is None else int(k), fan_in)


def _sparse_variance(fi, fo, k, sparsity, std, **_):
    return std**2 * _sparse_nnz(fi, k, sparsity) / fi


@register(
    "sparse",
    family="structured",
    defaults={
        "k": None,
        "sparsity": None,
        "std": 1.0,
        "in_axis": -2,
        "out_axis": -1,
        "batch_axis": (),
    },
    reference="Martens 2010, 'Deep learning via Hessian-free optimization' (ICML), sparse init",
    variance=_sparse_variance,
    formula="std^2 k / fan_in (k = min(k, fan_in), default 15)",
)
def sparse(k, sparsity, std, in_axis=-2, out_axis=-1, batch_axis=()):
    """Builder: each output unit gets exactly k non-zero incoming weights, drawn N(0, std^2).

    After Martens (2010): a fixed number of non-zero incoming connections per unit (15 there,
    weights from a unit Gaussian), so the scale of a unit's input does not shrink with fan_in.
    The incoming positions of a unit are all of a kernel's non-output, non-batch entries
    (fan_in of them: C_in * receptive field for a conv); they are chosen uniformly without
    replacement, independently per unit. Var[w] = std^2 * k / fan_in.

    Args:
      k: non-zeros per unit; None means 15 unless ``sparsity`` is given; clipped to fan_in.
      sparsity: alternatively, the fraction of zero incoming weights per unit:
        k = fan_in - ceil(sparsity * fan_in) (``torch.nn.init.sparse_``'s count). Give k or
        sparsity, not both.
      std: standard deviation of the non-zero weights (may be traced).
      in_axis, out_axis, batch_axis: as in :func:`initjax.initializers.fans`.

    Raises: ValueError for k < 1, sparsity outside [0, 1), both k and sparsity, std < 0.
    """
    if k is not None and sparsity is not None:
        raise ValueError("sparse: pass either k or sparsity, not both")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1):
        raise ValueError(f"sparse: k must be a positive integer, got {k!r}")
    if sparsity is not None:
        _sampling.check_scalar("sparse", "sparsity", sparsity, nonneg=True)
        if not float(sparsity) < 1.0:
            raise ValueError(f"sparse: sparsity must be in [0, 1), got {sparsity!r}")
    _sampling.check_scalar("sparse", "std", std, nonneg=True)

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        fan_in, _ = fans(shape, in_axis, out_axis, batch_axis)
        nd = len(shape)
        outs = _norm(out_axis, nd)
        batch = _norm(batch_axis, nd)
        incoming = tuple(a for a in range(nd) if a not in outs + batch)
        perm = batch + outs + incoming
        units = math.prod(shape) // fan_in
        nnz = _sparse_nnz(fan_in, k, sparsity)
        return _sparse(key, tuple(shape), jnp.dtype(dtype), perm, (units, fan_in), nnz, std)

    return init


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4, 5))
def _sparse(key, shape, dtype, perm, units_fan_in, nnz, std):
    """One compiled program per (shape, dtype, axes, nnz); ``std`` is traced."""
    units, fan_in = units_fan_in
    cd = _sampling.compute_dtype(dtype)
    k_pos, k_val = jax.random.split(key)
    # The rank of each entry within its row of iid uniforms is a uniformly random permutation;
    # ranks < nnz pick nnz positions without replacement (exactly nnz: the stable sort breaks
    # ties).
    u = _sampling.standard_uniform(k_pos, (units, fan_in), cd)
    ranks = jnp.argsort(jnp.argsort(u, axis=1, stable=True), axis=1, stable=True)
    vals = _sampling.standard_normal(k_val, (units, fan_in), cd) * jnp.asarray(std, cd)
    w = jnp.where(ranks < nnz, vals, jnp.zeros((), cd)).reshape([shape[a] for a in perm])
    return jnp.transpose(w, np.argsort(perm)).astype(dtype)


def _norm(axes, nd: int) -> tuple[int, ...]:
    seq = (axes,) if isinstance(axes, int | np.integer) else tuple(axes)
    return tuple(int(a) % nd for a in seq)


def hadamard(m: int) -> np.ndarray:
    """The 2^m x 2^m Sylvester-Hadamard matrix H_m = H_1 (x) H_{m-1}.

    H[i, j] = (-1)^popcount(i & j); symmetric with H H^T = 2^m I (ZerO's Definition 2).
    """
    if isinstance(m, bool) or not isinstance(m, int) or m < 0:
        raise ValueError(f"hadamard: m must be a non-negative integer, got {m!r}")
    n = 1 << m
    i = np.arange(n)
    bits = np.bitwise_and(i[:, None], i[None, :])
    parity = np.zeros((n, n), dtype=np.int64)
    while np.any(bits):
        parity ^= bits & 1
        bits = bits >> 1
    return (1 - 2 * parity).astype(np.float64)


def _zero_matrix(n_in: int, n_out: int, dtype) -> jax.Array:
    """ZerO's W^T for a Flax (in, out) kernel (Zhao et al. 2022, Algorithm 1, P = out, Q = in).

    Built from iotas on the device (no constant of the kernel's size in the compiled program).
    """
    cd = _sampling.compute_dtype(dtype)
    if n_out <= n_in:
        # P = Q: identity; P < Q: partial identity propagating the first P dimensions.
        return jnp.eye(n_in, n_out, dtype=cd)
    # P > Q: c * I* H_m I*, m = ceil(log2 P), c = 2^(-(m-1)/2). W = c H_m[:P, :Q] and H_m is
    # symmetric, so W^T = c H_m[:Q, :P], with H[i, j] = (-1)^popcount(i & j).
    m = math.ceil(math.log2(n_out))
    i = jax.lax.broadcasted_iota(jnp.uint32, (n_in, n_out), 0)
    j = jax.lax.broadcasted_iota(jnp.uint32, (n_in, n_out), 1)
    odd = jax.lax.population_count(i & j) & 1
    c = 2.0 ** (-(m - 1) / 2.0)
    return jnp.where(odd == 1, -c, c).astype(cd)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _zero_init(shape, dtype):
    if len(shape) == 2:
        return _zero_matrix(*shape, dtype).astype(dtype)
    centre = _zero_matrix(*shape[-2:], dtype)
    w = jnp.zeros(shape, centre.dtype).at[tuple(s // 2 for s in shape[:-2])].set(centre)
    return w.astype(dtype)


@register(
    "zero_init_hadamard",
    family="structured",
    defaults={},
    reference="Zhao, Schaefer & Anandkumar 2022, ZerO, arXiv:2110.12661, Algorithms 1 and 2",
    formula="- (deterministic: identity / partial identity / scaled Hadamard)",
    deterministic=True,
    aliases=("ZerO",),
    shapes=("dense", "conv"),
)
def zero_init_hadamard():
    """Builder: ZerO initialization, deterministic, from 0s, 1s and a Hadamard matrix.

    For a dense Flax kernel ``(in, out)`` (the paper's W in R^{P x Q} with P = out, Q = in,
    Algorithm 1): out == in gives the identity; out < in the partial identity (the first out
    inputs pass through); out > in gives ``c * H_m[:in, :out]`` with m = ceil(log2 out),
    c = 2^(-(m-1)/2) and H_m the Sylvester-Hadamard matrix, which avoids the rank deficiency a
    partial identity would cause when the width grows. For a conv kernel ``(*spatial, C_in,
    C_out)`` with odd spatial sizes (Algorithm 2) the centre tap is that matrix and every other
    tap is 0. (The paper also zeroes the last layer of each residual branch; that is the model's
    choice, not the initializer's.)

    Raises (at call): ValueError for rank not in 2..5 or even spatial sizes.
    """

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        del key
        if len(shape) != 2:
            check_conv_kernel("zero_init_hadamard", shape, cin_le_cout=False)
        return _zero_init(tuple(shape), jnp.dtype(dtype))

    return init
