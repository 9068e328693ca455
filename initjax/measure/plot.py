"""Figures of a :class:`PropagationResult`: each metric vs layer, mean and spread over seeds."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from initjax.measure.result import PropagationResult

__all__ = ["plot_layers", "LOG_SCALE"]

# Metrics that are positive and multiplicative in depth: shown on a log axis when positive.
LOG_SCALE = ("q", "grad_sq", "act_std")


def plot_layers(result: PropagationResult, path: str | Path, *, title: str = "") -> Path:
    """Write a PNG with one panel per per-layer metric (and the Jacobian spectrum if measured).

    Each panel shows the mean over seeds (line) and the 10-90 % quantile band over seeds; finite
    values only. q, grad_sq and act_std use a log axis when all plotted values are positive.
    The Jacobian panel draws the precision floor (dashed) and marks values below it (x).
    For a grid result, only the first grid cell is drawn.

    Returns:
      The written path. Uses matplotlib's Agg backend (no display needed).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = result.columns
    panels = list(cols) + (["jac_sv"] if "jac_sv" in result.arrays else [])
    n = len(panels)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), squeeze=False)
    layers = result.layers
    for ax, name in zip(axes.flat, panels, strict=False):
        a = np.asarray(result.arrays[name], np.float64)
        if result.is_grid:
            a = a[0]
        a = np.where(np.isfinite(a), a, np.nan)
        x = layers if name != "jac_sv" else np.arange(a.shape[-1])
        raw = a
        if name == "jac_sv":  # unresolved values are marked, not averaged
            a = np.where(a < _jac_floor(result)[:, None], np.nan, a)
        with np.errstate(all="ignore"), _quiet():
            mean = np.nanmean(a, axis=0)
            lo, hi = np.nanquantile(a, [0.1, 0.9], axis=0)
        ax.plot(x, mean, lw=1.5, label="mean over seeds")
        ax.fill_between(x, lo, hi, alpha=0.3, label="10-90 % of seeds")
        if name == "jac_sv":
            _mark_jac_floor(ax, result, raw)
        finite = a[np.isfinite(a)]
        log = (name in LOG_SCALE or name == "jac_sv") and finite.size and np.all(finite > 0)
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("singular value index" if name == "jac_sv" else "layer l")
        ax.set_ylabel(name)
        ax.set_title(name)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _jac_floor(result: PropagationResult) -> np.ndarray:
    floor = np.asarray(result.arrays["jac_sv_floor"], np.float64)
    return floor[0] if result.is_grid else floor


def _mark_jac_floor(ax, result: PropagationResult, sv: np.ndarray) -> None:
    """The precision floor (median over seeds, dashed) and the values below it (x)."""
    floor = _jac_floor(result)
    below = sv < floor[:, None]
    f = floor[np.isfinite(floor) & (floor > 0)]
    pos = sv[np.isfinite(sv) & (sv > 0)]
    # A floor far below every value (the float64 range limit) would only squash the axis.
    if f.size and (below.any() or (pos.size and np.median(f) >= 1e-3 * pos.min())):
        ax.axhline(np.median(f), color="0.4", ls="--", lw=1, label="precision floor")
    rtol = np.asarray(result.arrays["jac_sv_rtol"], np.float64)
    rtol = rtol[0] if result.is_grid else rtol
    if np.isfinite(rtol).any():
        ax.text(
            0.98,
            0.98,
            f"est. relative error <= {np.nanmax(rtol):.1g}",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=7,
        )
    if below.any():
        idx, val = np.nonzero(below.T)[0], sv.T[below.T]
        shown = val > 0
        ax.plot(idx[shown], val[shown], "x", color="C3", ms=4, label="below floor (not resolved)")
        ax.text(
            0.02,
            0.02,
            f"{int(below.sum())} of {below.size} values below the floor",
            transform=ax.transAxes,
            fontsize=7,
            color="C3",
        )
    ax.legend(fontsize=7)


class _quiet:
    """Silence numpy's all-NaN-slice warnings (diverged layers are plotted as gaps)."""

    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", category=RuntimeWarning)

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)
