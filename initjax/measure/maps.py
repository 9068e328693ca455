"""The single-layer length and correlation maps, measured by Monte Carlo over random layers.

Poole et al. 2016 (arXiv:1606.05340, Figs. 1A and 2A; Schoenholz et al. 2017, eqs. 3 and 5): a
layer z = W u + b of width N with W ~ N(0, sigma_w2 / N), b ~ N(0, sigma_b2) maps an input whose
N units are i.i.d. N(0, q) to outputs of mean square q_map(q) = sigma_w2 E[phi(sqrt(q) x)^2] +
sigma_b2 over layers, and two inputs at length q* with cosine c to outputs of cosine c_map(c).
Here u plays the role of phi(h^{l-1})'s pre-image: the inputs are drawn as pre-activations and
the model's own ``layer_apply`` applies the activation and the random layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["cmap_phase", "map_table", "single_layer_maps"]


def single_layer_maps(
    stack,
    width: int,
    sigma_w2: Sequence[float],
    sigma_b2: float,
    q_in: Sequence[float],
    c_in: Sequence[float],
    q_star: Sequence[float],
    *,
    seeds: int,
    root_seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Measured q-map and c-map of one random layer, per (sigma_w2, seed).

    Args:
      stack: a model stack (``initjax.models.stack_of``) whose ``layer_init(key, sigma_w2,
        sigma_b2)`` / ``layer_apply(p, u)`` give one layer of ``width`` units (its input also
        ``width`` wide).
      sigma_w2: (H,) weight variances; ``q_star``: (H,) the input length of each row's c-map
        pairs (the fixed point q*); sigma_b2: the bias variance.
      q_in: (K,) input lengths of the q-map; c_in: (M,) input cosines of the c-map.
      seeds: independent layers per row (keys ``initjax.keys.seed_keys(seeds, root_seed)``;
        weights from the PARAMS role of layer 1, inputs from the INPUTS role).

    Returns:
      ``(q_out (H, seeds, K), c_out (H, seeds, M))`` float64: the mean square of the output
      units for each input length, and the cosine between the outputs of each pair (exact
      cosine c between the pair's Gaussian inputs only in expectation over the units).
    """
    import jax
    import jax.numpy as jnp

    from initjax import keys
    from initjax.initializers.sampling import standard_normal

    q_in = np.asarray(q_in, np.float32)
    c_in = np.asarray(c_in, np.float32)
    n, k, m = int(width), len(q_in), len(c_in)

    def per_seed(seed_key, w2, qs):  # one network of width n, one layer
        p = stack.layer_init(keys.layer(keys.role(seed_key, keys.PARAMS), 1), w2, sigma_b2)
        g = standard_normal(keys.role(seed_key, keys.INPUTS), (k + 2 * m, n))
        u_q = jnp.sqrt(q_in)[:, None] * g[:k]
        g1, g2 = g[k : k + m], g[k + m :]
        u1 = jnp.sqrt(qs) * g1
        u2 = jnp.sqrt(qs) * (c_in[:, None] * g1 + jnp.sqrt(1.0 - c_in[:, None] ** 2) * g2)
        z = stack.layer_apply(p, jnp.concatenate([u_q, u1, u2]))
        zq, a, b = z[:k], z[k : k + m], z[k + m :]
        c_out = jnp.sum(a * b, 1) / jnp.sqrt(jnp.sum(a * a, 1) * jnp.sum(b * b, 1))
        return jnp.mean(zq * zq, axis=1), c_out

    seed_keys = keys.seed_keys(int(seeds), int(root_seed))
    f = jax.jit(jax.vmap(jax.vmap(per_seed, (0, None, None)), (None, 0, 0)))
    sw2 = np.asarray(sigma_w2, np.float64)
    q_star = np.asarray(q_star, np.float32)
    q_out, c_out = (np.asarray(a, np.float64) for a in f(seed_keys, sw2, q_star))
    return q_out, c_out


def map_table(
    stack,
    activation: str,
    width: int,
    sigma_w2: Sequence[float],
    sigma_b2: float,
    q_in: Sequence[float],
    c_in: Sequence[float],
    *,
    seeds: int,
    root_seed: int = 0,
) -> pd.DataFrame:
    """The measured single-layer maps beside the mean field, one row per network and input.

    :func:`single_layer_maps` with the c-map pairs at each row's fixed point q*
    (``initjax.theory.q_star``), and ``initjax.theory.q_map`` / ``c_map`` as the theory: the
    "qmap" / "cmap" rows that :func:`initjax.measure.theory_gaps.map_point_gaps` compares.

    Args:
      stack, width, seeds, root_seed: as in :func:`single_layer_maps`.
      activation: the stack's activation (the theory's phi), e.g. "tanh".
      sigma_w2: (H,) weight variances; sigma_b2: the bias variance.
      q_in: (K,) input lengths; c_in: (M,) input cosines (both measured in float32).

    Returns:
      A pandas DataFrame: per sigma_w2 (in order) the q-map rows, then the c-map rows, with
      ``kind`` ("qmap" / "cmap"), ``sigma_w2``, ``sigma_b2``, ``q_star``, ``seed``, ``x`` (the
      input length or cosine, float32 values), ``measured`` and ``theory`` (float64).
    """
    import pandas as pd

    from initjax import theory

    sw2 = np.asarray(sigma_w2, np.float64)
    q_in, c_in = (np.asarray(v, np.float32) for v in (q_in, c_in))
    q_star = np.asarray(theory.q_star(activation, sw2, sigma_b2).value, np.float32)
    q_out, c_out = single_layer_maps(
        stack, width, sw2, sigma_b2, q_in, c_in, q_star, seeds=seeds, root_seed=root_seed
    )
    q_th = np.asarray(theory.q_map(activation, sw2[:, None], sigma_b2, q_in[None, :]), np.float64)
    qs = q_star[:, None]
    c_th = theory.c_map(activation, sw2[:, None], sigma_b2, qs, qs, c_in[None, :])
    c_th = np.asarray(c_th, np.float64)
    rows, s = [], q_out.shape[1]
    for h in range(len(sw2)):
        for kind, x, meas, th in (("qmap", q_in, q_out, q_th), ("cmap", c_in, c_out, c_th)):
            frame = {
                "kind": kind,
                "sigma_w2": sw2[h],
                "sigma_b2": sigma_b2,
                "q_star": float(q_star[h]),
                "seed": np.repeat(np.arange(s), len(x)),
                "x": np.tile(np.asarray(x, np.float64), s),
                "measured": meas[h].reshape(-1),
                "theory": np.tile(th[h], s),
            }
            rows.append(pd.DataFrame(frame))
    return pd.concat(rows, ignore_index=True)


def cmap_phase(c_in: Sequence[float], c_out: Sequence[float]) -> str:
    """The phase read off a measured single-layer c-map (Poole et al. 2016, Fig. 2A; Schoenholz
    et al. 2017, Sec. 3): "ordered" when the mean c_out at the largest c_in < 1 lies above the
    diagonal (c = 1 is then the only, attracting, fixed point), else "chaotic" (the map crosses
    the diagonal at c* < 1 and lies below it beyond).

    Args:
      c_in: (P,) input cosines, repeated per network; values >= 1 are ignored.
      c_out: (P,) the measured output cosines, aligned with ``c_in``.

    Returns:
      "ordered" or "chaotic" ("chaotic" when no c_in < 1 is given).
    """
    x, y = np.asarray(c_in, np.float64), np.asarray(c_out, np.float64)
    below = x < 1
    if not below.any():
        return "chaotic"
    top = x == x[below].max()
    return "ordered" if y[top].mean() > x[top][0] else "chaotic"
