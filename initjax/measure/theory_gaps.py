"""How far the last layer of measured networks ends from the mean field, per group of networks.

At the end of a deep stack the mean-field maps (``initjax.theory.compare``: q^l, c^l iterated
from each network's own layer 0) predict q^L and c^L; finite width makes each network deviate,
and the back-propagated gradient's growth ln(grad_sq^0 / grad_sq^L) spreads over networks
(Xiao et al. 2018, Sec. 2-3: the spread is what dynamical isometry keeps small).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from initjax.measure.fits import mean_se

__all__ = ["last_layer_gaps"]


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
