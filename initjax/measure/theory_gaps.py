"""How far the last layer of measured networks ends from the mean field, per group of networks.

At the end of a deep stack the mean-field maps (``initjax.theory.compare``: q^l, c^l iterated
from each network's own layer 0) predict q^L and c^L; finite width makes each network deviate,
and the back-propagated gradient's growth ln(grad_sq^0 / grad_sq^L) spreads over networks
(Xiao et al. 2018, Sec. 2-3: the spread is what dynamical isometry keeps small).
``map_point_gaps`` compares every point of the single-layer maps and the layer-by-layer dynamics
with the mean field, in standard errors over networks (Poole et al. 2016, Figs. 1-2).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from initjax.measure.fits import mean_se

__all__ = ["last_layer_gaps", "map_point_gaps"]


def last_layer_gaps(
    frame: pd.DataFrame, by: Sequence[str] = ("init", "depth", "channels")
) -> pd.DataFrame:
    """Per group, over seeds at the last layer: q^L / q^L_theory - 1, c^L - c^L_theory, and the
    spread of the gradient's growth through the stack.

    Args:
      frame: propagation rows with columns ``by``..., ``depth`` (the last layer's index, one per
        group), ``seed``, ``layer``, ``q``, ``q_theory``, ``c``, ``c_theory``, ``grad_sq``
        (layer 0 and layer ``depth``) and ``diverged``.
      by: the grouping columns (must include ``depth``).

    Returns:
      One row per group (order of appearance): ``by``..., ``dq``, ``dq_se``, ``dc``, ``dc_se``
      (means over seeds with SE; non-finite values left out), ``c_theory`` (seed mean at L),
      ``sd_ln_grad`` (sample sd over seeds of ln(grad_sq^0 / grad_sq^L), ln units),
      ``ln_grad`` (the per-seed values, seed order), ``diverged`` (count of flagged seeds) and
      ``seeds``.

    Raises:
      KeyError: ``by`` without ``depth``.
    """
    if "depth" not in by:
        raise KeyError(f"last_layer_gaps: by must include 'depth', got {list(by)}")
    rows = []
    for key, g in frame.groupby(list(by), sort=False):
        level = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        last = g[g["layer"] == level["depth"]].set_index("seed").sort_index()
        first = g[g["layer"] == 0].set_index("seed").sort_index()
        dq, dq_se = mean_se(last["q"] / last["q_theory"] - 1)
        dc, dc_se = mean_se(last["c"] - last["c_theory"])
        with np.errstate(divide="ignore", invalid="ignore"):
            lg = np.log(first["grad_sq"].to_numpy(float) / last["grad_sq"].to_numpy(float))
        c_theory, diverged = float(last["c_theory"].mean()), int(last["diverged"].sum())
        rows.append(level | dict(dq=dq, dq_se=dq_se, dc=dc, dc_se=dc_se, c_theory=c_theory,
                                 sd_ln_grad=float(np.std(lg, ddof=1)), ln_grad=lg.tolist(),
                                 diverged=diverged, seeds=len(last)))  # fmt: skip
    return pd.DataFrame(rows)


def _paired(g: pd.DataFrame, measured: str, theory: str) -> dict:
    """Seed means of ``measured`` and ``theory`` and the SE of the per-network difference."""
    d = g[measured] - g[theory]
    return dict(measured=g[measured].mean(), theory=g[theory].mean(),
                se=d.std(ddof=1) / np.sqrt(len(d)))  # fmt: skip


def map_point_gaps(
    table: pd.DataFrame,
    *,
    width: int,
    z_max: float,
    atol_q: float,
    atol_c: float,
    finite_width: float,
) -> pd.DataFrame:
    """Every measured point of the q/c maps and of q^l/c^l against the mean field, in SE units.

    Args:
      table: rows of two kinds. ``kind`` "qmap" / "cmap" (single-layer maps): ``sigma_w``, ``x``
        (the input q^{l-1} or c^{l-1}), one row per network with ``measured`` and ``theory``.
        ``kind`` "dyn" (deep dynamics): ``piece`` (the input setting), ``sigma_w``, ``layer``,
        one row per network (and input) with ``q``, ``q_theory``, ``c``, ``c_theory``; layer 0
        is left out (theory starts from it).
      width: N, the layer width; the O(1/N) finite-width allowance is ``finite_width / N``.
      z_max: standard errors allowed.
      atol_q, atol_c: float32 / quadrature tolerance, relative for q and absolute for c.
      finite_width: coefficient of the 1/N allowance (relative for q, absolute for c).

    Returns:
      One row per point: ``panel`` (qmap, cmap, q-dynamics, c-dynamics), ``sigma_w``, ``x``
      (the input as text, or the dynamics piece), ``layer`` (1 for the maps), ``measured`` and
      ``theory`` (means over networks), ``se`` (SE over networks of measured - theory),
      ``metric`` (q or c), ``tol`` = (atol + finite_width / N) x (|theory| for q, 1 for c),
      ``abs_err``, ``z`` = abs_err / se and ``ok`` = abs_err <= z_max se + tol.
    """
    out = []
    maps = table[table["kind"].isin(["qmap", "cmap"])]
    for (kind, sw, x), g in maps.groupby(["kind", "sigma_w", "x"]):
        metric = "q" if kind == "qmap" else "c"
        out.append(dict(panel=kind, sigma_w=sw, x=f"{x:g}", layer=1,
                        **_paired(g, "measured", "theory"), metric=metric))  # fmt: skip
    dyn = table[(table["kind"] == "dyn") & (table["layer"] >= 1)]
    for (piece, sw, layer), g in dyn.groupby(["piece", "sigma_w", "layer"]):
        out += [dict(panel=f"{m}-dynamics", sigma_w=sw, x=piece, layer=int(layer),
                     **_paired(g, m, f"{m}_theory"), metric=m) for m in ("q", "c")]  # fmt: skip
    pts = pd.DataFrame(out)
    err = (pts["measured"] - pts["theory"]).abs()
    is_q = pts["metric"] == "q"
    scale = np.where(is_q, pts["theory"].abs(), 1.0)
    pts["tol"] = (np.where(is_q, atol_q, atol_c) + finite_width / int(width)) * scale
    pts["abs_err"] = err
    pts["z"] = err / pts["se"].clip(lower=1e-30)
    pts["ok"] = err <= z_max * pts["se"] + pts["tol"]
    return pts
