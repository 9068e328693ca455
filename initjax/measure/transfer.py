"""Learning-rate transfer: the optimal learning rate of each network size and how it moves.

Hyper-parameter transfer (Yang et al. 2022, "Tensor Programs V", arXiv:2203.03466, Fig. 1):
under muP the learning rate that minimizes the training loss stays put as the width grows (and
under depth-muP / CompleteP as the depth grows); under SP it shifts. From a learning-rate sweep
(``initjax.measure.train`` vmaps seeds x learning rates in one compile):

- :func:`optimal_log2_lr`: per seed, the minimizer of the final loss over a log-spaced grid, refined
  by the vertex of the parabola through the grid minimum and its two neighbours (in log2 lr);
  diverged (non-finite) losses count as +inf; a minimum on the edge of the grid is not bracketed
  and gives NaN (the grid must be widened) - it is counted, never extrapolated.
- :func:`transfer_slopes`: per seed, the least-squares slope of log2 lr* against log2 size, then
  the mean over seeds, its standard error and a Student-t interval.
- :func:`transfer_verdict`: "stays" (the interval lies inside [-stay_bound, stay_bound]) or
  "shifts" (it lies entirely beyond shift_min in magnitude), per parametrization, fixed before the
  run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from initjax.measure.coord_check import t_quantile

__all__ = ["optimal_log2_lr", "optimal_lrs", "transfer_slopes", "transfer_verdict"]


def optimal_log2_lr(log2_lrs: Sequence[float], losses: Sequence[float]) -> tuple[float, str]:
    """``(log2 lr*, status)`` of one loss curve over a sorted, evenly spaced log2 grid.

    status: "ok" (bracketed, parabola vertex), "edge" (the minimum is the first or last grid
    point: NaN), "diverged" (no finite loss: NaN).
    """
    x = np.asarray(log2_lrs, np.float64)
    y = np.asarray(losses, np.float64)
    y = np.where(np.isfinite(y), y, np.inf)
    if not np.isfinite(y).any():
        return float("nan"), "diverged"
    i = int(np.argmin(y))
    if i == 0 or i == len(y) - 1:
        return float("nan"), "edge"
    y0, y1, y2 = y[i - 1], y[i], y[i + 1]
    h = x[i + 1] - x[i]
    if not (np.isfinite(y0) and np.isfinite(y2)):
        return float(x[i]), "ok"
    denom = y0 - 2 * y1 + y2
    shift = 0.5 * h * (y0 - y2) / denom if denom > 0 else 0.0
    return float(x[i] + np.clip(shift, -h / 2, h / 2)), "ok"


def optimal_lrs(
    frame: pd.DataFrame,
    *,
    by: Sequence[str] = ("parametrization", "width", "depth"),
    loss: str = "train_loss",
) -> pd.DataFrame:
    """One row per (``by``..., seed): ``log2_lr_opt``, ``status``, ``loss_opt`` (the smallest
    loss on the grid), from rows with columns ``by``, seed, learning_rate and ``loss``."""
    rows = []
    for key, g in frame.groupby([*by, "seed"], sort=False):
        g = g.sort_values("learning_rate")
        lr = np.log2(g["learning_rate"].to_numpy(np.float64))
        y = g[loss].to_numpy(np.float64)
        opt, status = optimal_log2_lr(lr, y)
        finite = y[np.isfinite(y)]
        rows.append(
            dict(zip([*by, "seed"], key, strict=True))
            | {
                "log2_lr_opt": opt,
                "status": status,
                "loss_opt": float(finite.min()) if finite.size else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def transfer_slopes(
    optima: pd.DataFrame,
    *,
    over: str = "width",
    group: Sequence[str] = ("parametrization",),
    level: float = 0.95,
) -> pd.DataFrame:
    """Slope of log2 lr* against log2 ``over`` per group: mean over seeds of the per-seed
    least-squares slopes, SE, Student-t interval; seeds with an unbracketed optimum at some size
    are left out and counted (``unbracketed``).

    Raises:
      ValueError: fewer than two sizes.
    """
    rows = []
    for key, g in optima.groupby(list(group), sort=False):
        piv = g.pivot_table(index="seed", columns=over, values="log2_lr_opt", aggfunc="first")
        sizes = np.log2(np.asarray(piv.columns, np.float64))
        if sizes.size < 2:
            raise ValueError(f"transfer_slopes: need >= 2 {over}s, got {list(piv.columns)}")
        v = piv.to_numpy(np.float64)
        ok = np.all(np.isfinite(v), axis=1)
        xc = sizes - sizes.mean()
        slopes = (v[ok] - v[ok].mean(axis=1, keepdims=True)) @ xc / (xc @ xc)
        n = int(ok.sum())
        mean = float(slopes.mean()) if n else float("nan")
        se = float(slopes.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
        half = t_quantile(0.5 + level / 2, n - 1) * se if n > 1 else float("nan")
        key = key if isinstance(key, tuple) else (key,)
        per_size = np.nanmean(np.where(np.isfinite(v), v, np.nan), axis=0)
        rows.append(
            dict(zip(group, key, strict=True))
            | {
                "slope": mean,
                "se": se,
                "ci_lo": mean - half,
                "ci_hi": mean + half,
                "seeds": n,
                "unbracketed": int((~ok).sum()),
                "sizes": ", ".join(str(int(s)) for s in piv.columns),
                "mean_log2_lr_opt": ", ".join(f"{p:.2f}" for p in per_size),
            }
        )
    return pd.DataFrame(rows)


def transfer_verdict(
    slopes: pd.DataFrame,
    expect: Mapping[str, str],
    *,
    stay_bound: float,
    shift_min: float,
) -> pd.DataFrame:
    """One check per parametrization in ``expect`` ("stays" | "shifts"): passed when the slope's
    interval lies inside [-stay_bound, stay_bound] ("stays") or entirely beyond shift_min in
    magnitude ("shifts"); a parametrization without finite slope fails."""
    rows = []
    for name, e in expect.items():
        if e not in ("stays", "shifts"):
            raise ValueError(f"expect[{name!r}] must be 'stays' or 'shifts', got {e!r}")
        r = slopes[slopes["parametrization"] == name]
        if r.empty:
            rows.append({"parametrization": name, "expect": e, "passed": False, "note": "absent"})
            continue
        r = r.iloc[0]
        lo, hi = float(r["ci_lo"]), float(r["ci_hi"])
        if not (np.isfinite(lo) and np.isfinite(hi)):
            ok = False
        elif e == "stays":
            ok = -stay_bound <= lo and hi <= stay_bound
        else:
            ok = hi < -shift_min or lo > shift_min
        rows.append(
            {
                "parametrization": name,
                "expect": e,
                "slope": r["slope"],
                "se": r["se"],
                "ci_lo": lo,
                "ci_hi": hi,
                "passed": bool(ok),
                "note": f"{int(r['unbracketed'])} seed(s) unbracketed" if r["unbracketed"] else "",
            }
        )
    return pd.DataFrame(rows)
