"""LSUV: layer-sequential unit-variance initialization (Mishkin & Matas 2016, arXiv:1511.06422).

Algorithm 1 of the paper, on one network and one batch of data:

1. pre-initialize with orthonormal matrices (the ``base``, default ``"orthogonal"``, Saxe et al.
   2014);
2. for each affine map in forward order (input projection, hidden layers 1..depth, readout; each
   map of a residual branch in turn; a Transformer block's query, key, value, output and MLP
   projections in turn; a token embedding table is no affine map and is left as drawn): while
   ``|Var(B) - target| >= tol`` and fewer than ``max_iters`` rescalings were made,
   ``W <- W * sqrt(target / Var(B))``, where ``B`` is the map's output on the batch.

**Which quantity.** ``B`` is the output of the convolution or fully connected map, ``x W + b``:
the pre-activation z^l of the next nonlinearity (the paper's "output blob" of a conv / inner
product layer; the ``lsuv`` PyTorch package by the same author hooks ``nn.Linear`` /
``nn.Conv*`` outputs likewise). ``Var(B)`` is the variance of all its entries (examples, units
and, for convolutions, positions), centred by their common mean; the paper's tolerance
``Tol_var = 0.1`` and ``T_max = 10`` are the defaults. What LSUV promises is therefore about the
*centred* variance on the batch it used: after it, every map's output variance is within ``tol``
of ``target`` unless ``max_iters`` ran out (``info["converged"]`` says which). The second moment
q^l that ``initjax.measure.propagate`` reports is ``Var + mean^2`` on the same batch.

The ``lsuv`` package differs in two details, both irrelevant once a map is rescaled (a map with a
zero bias reaches the target in one step): it tests ``|std - 1| > tol`` on the standard
deviation, and its ``std`` is torch's unbiased one (divisor n - 1).

**Mean centring** (``center=True``, not in the paper): after the variance loop, the map's bias is
shifted by minus the mean of its output, a constant over units and examples. A constant shift does
not change the variance, so afterwards both hold: mean 0 (up to float32 rounding) and variance
within ``tol``. The order matters: centring first and rescaling after, as some tutorials do,
rescales the mean too, leaving it at ``(s - 1) mean(x W)`` instead of 0.

A map whose output has zero variance (e.g. a zero-initialized residual branch) or a non-finite one
is left unchanged and reported as not converged.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from initjax.initializers import _network as N
from initjax.initializers.data_dependent import register_method

__all__ = ["lsuv", "output_stats"]

_REF = (
    "Mishkin & Matas 2016, 'All you need is a good init', arXiv:1511.06422, Algorithm 1 "
    "(Tol_var = 0.1, T_max = 10); orthonormal pre-init of Saxe et al. 2014"
)


def output_stats(b: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(variance, mean) of all entries of ``b``, in float32, centred two-pass (the paper's
    Var(B) over the batch, units and positions)."""
    bf = b.astype(jnp.float32)
    m = jnp.mean(bf)
    return jnp.mean(jnp.square(bf - m)), m


def _check(tol, max_iters, target, center, batch_size) -> None:
    for name, v in (("tol", tol), ("target", target)):
        if not (isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < float("inf")):
            raise ValueError(f"initializer 'lsuv': {name} must be a finite number > 0, got {v!r}")
    for name, v, lo in (("max_iters", max_iters, 1), ("batch_size", batch_size, 0)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"initializer 'lsuv': {name} must be an integer >= {lo}, got {v!r}")
    if not isinstance(center, bool):
        raise ValueError(f"initializer 'lsuv': center must be True or False, got {center!r}")


def sample_batch(x: jax.Array, key: jax.Array, batch_size: int, *, name: str) -> jax.Array:
    """``x`` itself (``batch_size=0``) or ``batch_size`` of its examples without replacement.

    Raises:
      ValueError: ``batch_size`` larger than the number of examples.
    """
    n = x.shape[0]
    if batch_size == 0:
        return x
    if batch_size > n:
        raise ValueError(
            f"{name}: batch_size={batch_size} is larger than the {n} examples given; lower it "
            "or use batch_size=0 (all of them)"
        )
    idx = jax.random.choice(key, n, (batch_size,), replace=False)
    return x[idx]


def _normalize_map(stack, group, p, z, j, path, *, tol, max_iters, target, center):
    """Run LSUV's loop on affine map ``j`` (at ``path``) of one layer; returns (p, info)."""
    tiny = jnp.float32(jnp.finfo(jnp.float32).tiny)

    def stats(pp):
        return output_stats(N.affine_outputs(stack, group, pp, z)[j])

    def scale(pp, r):
        unit = N.get_path(pp, path)
        k = unit["kernel"]
        return N.set_path(pp, path, {**unit, "kernel": (k * r.astype(k.dtype)).astype(k.dtype)})

    def usable(v):
        return jnp.isfinite(v) & (v > tiny)

    def cond(state):
        _, v, _, t, _ = state
        return (jnp.abs(v - target) >= tol) & (t < max_iters) & usable(v)

    def body(state):
        pp, v, _, t, s = state
        r = jnp.sqrt(jnp.float32(target) / v)
        pp = scale(pp, r)
        v2, m2 = stats(pp)
        return pp, v2, m2, t + 1, s * r

    v0, m0 = stats(p)
    p, v, m, t, s = jax.lax.while_loop(cond, body, (p, v0, m0, jnp.int32(0), jnp.float32(1.0)))
    if center:
        unit = N.get_path(p, path)
        b = unit["bias"]
        shift = jnp.where(jnp.isfinite(m), m, 0.0).astype(b.dtype)
        p = N.set_path(p, path, {**unit, "bias": b - shift})
        v, m = stats(p)
    info = {
        "var": v,
        "mean": m,
        "iters": t,
        "scale": s,
        "converged": usable(v) & (jnp.abs(v - target) < tol),
    }
    return p, info


def _layer(stack, group, p, z, **hp):
    infos = []
    for j, path in enumerate(N.affine_units(stack, group)):
        p, info = _normalize_map(stack, group, p, z, j, path, **hp)
        infos.append(info)
    if not infos:  # a layer without affine maps (a token embedding table): nothing to rescale
        f, i = jnp.zeros((0,), jnp.float32), jnp.zeros((0,), jnp.int32)
        empty = {"var": f, "mean": f, "iters": i, "scale": f, "converged": i.astype(bool)}
        return p, empty
    stacked = {k: jnp.stack([i[k] for i in infos]) for k in infos[0]}
    return p, stacked


@register_method(
    "lsuv",
    base="orthogonal",
    defaults={"tol": 0.1, "max_iters": 10, "target": 1.0, "center": False, "batch_size": 0},
    reference=_REF,
    check=_check,
)
def lsuv(
    stack: Any,
    params: Any,
    x: jax.Array,
    y: jax.Array | None,
    key: jax.Array,
    *,
    tol: float = 0.1,
    max_iters: int = 10,
    target: float = 1.0,
    center: bool = False,
    batch_size: int = 0,
) -> tuple[Any, dict[str, Any]]:
    """LSUV on one network (see the module docstring). ``y`` is not used.

    Args:
      stack, params, x, y, key: see :mod:`initjax.initializers.data_dependent`.
      tol: stop when ``|Var - target| < tol`` (the paper's Tol_var).
      max_iters: at most this many rescalings per affine map (the paper's T_max).
      target: the output variance aimed at (1 in the paper).
      center: also shift each map's bias so its output has mean 0 (after the rescaling).
      batch_size: examples of ``x`` used (drawn without replacement with ``key``); 0: all of
        them (``propagate`` gives its measurement batch, so q is measured on LSUV's batch).

    Returns:
      ``(params, info)``; ``info[group]`` (group = "input", "hidden", "readout") holds per affine
      map (last axis; "hidden" has a leading depth axis) the final ``var`` and ``mean`` of its
      output, the rescalings made ``iters``, the total factor ``scale`` applied to its kernel,
      and ``converged`` (``|var - target| < tol``).

    Raises:
      ValueError: ``batch_size`` > examples, or a stack whose layers do not describe their
        affine maps; ``center=True`` on a map without a bias.
    """
    N.check_units(stack, params, need_bias=center)
    hp = dict(tol=float(tol), max_iters=int(max_iters), target=float(target), center=center)
    xb = sample_batch(x, key, batch_size, name="lsuv")
    p_in, info_in = _layer(stack, "input", params["input"], xb.astype(stack.dtype), **hp)
    z = stack.input_apply(p_in, xb.astype(stack.dtype))

    def step(h, p):
        p, info = _layer(stack, "hidden", p, h, **hp)
        return stack.layer_apply(p, h), (p, info)

    z, (hidden, info_h) = jax.lax.scan(step, z, params["hidden"])
    out = {"input": p_in, "hidden": hidden}
    info = {"input": info_in, "hidden": info_h}
    if "readout" in params:
        out["readout"], info["readout"] = _layer(stack, "readout", params["readout"], z, **hp)
    return out, info
