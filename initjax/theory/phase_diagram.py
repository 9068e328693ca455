"""The order-chaos phase diagram over a (sigma_w2, sigma_b2) grid, in one compiled, vmapped call."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from initjax.theory._common import (
    DEFAULT_NODES,
    as_float_arrays,
    check_keep_prob,
    check_max_iter,
    check_q,
    check_variance,
    chunk_size,
    is_concrete,
    make_rule,
    map_chunks,
    on_cells,
    resolve,
)
from initjax.theory.depth_scales import analyse_

__all__ = ["PhaseDiagram", "phase_diagram"]


class PhaseDiagram(NamedTuple):
    """Mean-field quantities on a grid; fields shaped (len(sigma_w2_grid), len(sigma_b2_grid)).

    Entry [i, j] belongs to (sigma_w2_grid[i], sigma_b2_grid[j]). Fields as in
    :class:`initjax.theory.MeanField`; ``chi_1 < 1`` is the ordered phase, ``> 1`` chaotic.
    """

    sigma_w2: jax.Array
    sigma_b2: jax.Array
    q_star: jax.Array
    c_star: jax.Array
    chi_1: jax.Array
    chi_c: jax.Array
    xi_q: jax.Array
    xi_c: jax.Array
    converged: jax.Array


@functools.partial(jax.jit, static_argnames=("act", "rule", "max_iter"))
def _phase_jit(act, rule, sw, sb, keep, q0, max_iter):
    def chunk(sw1, sb1):
        return analyse_(act, rule, sw1, sb1, keep, q0, max_iter)

    # Cells in chunks, as arrays: a chunk's solver loops stop at the chunk's own worst cell
    # (ordered chunks skip the c* solve), intermediates stay cache-sized, and the quadrature
    # picks its panel layout per chunk.
    mf = map_chunks(chunk, (sw.reshape(-1), sb.reshape(-1)), chunk_size(rule.nodes))
    return jax.tree_util.tree_map(lambda x: x.reshape(sw.shape), mf)


def _grid(name: str, g) -> Any:
    if isinstance(g, jax.core.Tracer):
        if g.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {g.shape}")
        return g
    check_variance(name, g)  # type and range first: numpy would parse "1.0" silently
    a = np.asarray(g, dtype=np.float64)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {a.shape}")
    return a


def phase_diagram(
    phi: Any,
    sigma_w2_grid,
    sigma_b2_grid,
    *,
    keep_prob=1.0,
    q0=1.0,
    max_iter: int = 200,
    method: str = "auto",
    nodes: int = DEFAULT_NODES,
) -> PhaseDiagram:
    """q*, c*, chi_1, chi_c, xi_q, xi_c over the grid sigma_w2_grid x sigma_b2_grid.

    One jit-compiled call, vmapped over the cells (Poole et al. 2016 Fig. 4-style diagrams;
    Schoenholz et al. 2017 Fig. 1 xi_c heat map).

    Args:
      phi: activation name, Activation or callable.
      sigma_w2_grid, sigma_b2_grid: 1-D sequences of variances (>= 0).
      keep_prob: dropout keep probability in (0, 1] (scalar).
      q0, max_iter, method, nodes: solver start and cap, integration rule.

    Returns:
      :class:`PhaseDiagram` of arrays shaped (n_w, n_b), float32 (float64 under x64).

    Raises:
      ValueError: grids not 1-D / empty / negative, keep_prob outside (0, 1] or not a scalar,
        bad max_iter, unknown activation.
      TypeError: non-numeric grid entries.
    """
    act = resolve(phi)
    rule = make_rule(method, nodes)
    w = _grid("sigma_w2_grid", sigma_w2_grid)
    b = _grid("sigma_b2_grid", sigma_b2_grid)
    check_keep_prob(keep_prob)
    if np.ndim(keep_prob) != 0 or np.ndim(q0) != 0:
        raise ValueError(
            "phase_diagram: keep_prob and q0 must be scalars (one diagram per value), got shapes "
            f"{np.shape(keep_prob)} and {np.shape(q0)}"
        )
    check_q("q0", q0)
    max_iter = check_max_iter(max_iter)
    w, b, keep, q0 = as_float_arrays(w, b, keep_prob, q0)
    xp = np if is_concrete(w, b) else jnp
    sw, sb = xp.meshgrid(w, b, indexing="ij")
    # Concrete grids: the cells padded to whole chunks, a power of two of them, with copies of
    # the last cell (the chunks of the unpadded grid, plus chunks of copies): one compiled
    # program per bucket of grid sizes (initjax.theory._common.on_cells).
    mf = on_cells(
        lambda sw1, sb1: _phase_jit(act, rule, sw1, sb1, keep, q0, max_iter),
        (sw, sb),
        multiple=chunk_size(rule.nodes),
        pad="last",
    )
    return PhaseDiagram(jax.device_put(sw), jax.device_put(sb), *mf)
