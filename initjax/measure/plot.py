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
        with np.errstate(all="ignore"), _quiet():
            mean = np.nanmean(a, axis=0)
            lo, hi = np.nanquantile(a, [0.1, 0.9], axis=0)
        ax.plot(x, mean, lw=1.5, label="mean over seeds")
        ax.fill_between(x, lo, hi, alpha=0.3, label="10-90 % of seeds")
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


class _quiet:
    """Silence numpy's all-NaN-slice warnings (diverged layers are plotted as gaps)."""

    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", category=RuntimeWarning)

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)
