"""Figures of a :class:`PropagationResult`: each metric vs layer, mean and spread over seeds."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from initjax.measure import metrics as M
from initjax.measure.result import PropagationResult

__all__ = ["plot_layers", "LOG_SCALE", "log_scale_columns", "mark_underflow", "savefig"]


def log_scale_columns(metrics) -> set[str]:
    """Columns of the given metrics registered with ``log_scale=True`` (positive and
    multiplicative in depth: drawn on a log axis when positive)."""
    return {c for m in metrics for c in M.get(m).columns if M.get(m).log_scale}


def mark_underflow(ax, x, y, first_layer: int, n: int, total: int, color="C3") -> None:
    """Mark a curve that stops because its signal underflowed float32: an "x" on its last
    finite point at or before ``first_layer``, a dotted line there, and the note
    "underflow from layer l (n/total seeds)"."""
    x = np.asarray(x)
    y = np.asarray(y, np.float64)
    ok = np.isfinite(y) & (x <= first_layer)
    if ax.get_yscale() == "log":
        ok &= y > 0
    ax.axvline(first_layer, color=color, ls=":", lw=1)
    if ok.any():
        i = np.flatnonzero(ok)[-1]
        ax.plot([x[i]], [y[i]], marker="x", ms=9, mew=2, color=color, ls="none")
    ax.annotate(
        f"underflow from layer {first_layer} ({n}/{total} seeds)",
        xy=(first_layer, 0.04),
        xycoords=("data", "axes fraction"),
        fontsize=7,
        color=color,
        ha="right",
        va="bottom",
        rotation=90,
    )


def savefig(fig, path: str | Path) -> Path:
    """Save and close a matplotlib figure as a PNG (120 dpi, tight box); returns the path."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


# Former constant: the built-in metrics drawn on a log axis.
LOG_SCALE = ("q", "grad_sq", "act_std")


def plot_layers(result: PropagationResult, path: str | Path, *, title: str = "") -> Path:
    """Write a PNG with one panel per per-layer metric column and per whole-network metric
    (e.g. the Jacobian spectrum).

    Each panel shows the mean over seeds (line) and the 10-90 % quantile band over seeds; finite
    values only. Metrics registered with ``log_scale`` (q, grad_sq, act_std, jac_sv) use a log
    axis when the plotted values are positive (zeros then drop out). Where seeds underflowed
    (``arrays["underflow"]``), a curve that stops is marked: an "x" at its last point, a dotted
    line and the note "underflow from layer l (k/S seeds)"; the title counts diverged seeds.
    For a grid result, only the first grid cell is drawn.

    Returns:
      The written path. Uses matplotlib's Agg backend (no display needed).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = result.columns
    whole = M.columns(result.metrics, per_layer=False)  # e.g. jac_sv: one value per index
    panels = list(cols) + whole
    n = len(panels)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), squeeze=False)
    layers = result.layers
    logs = log_scale_columns(result.metrics)
    first = np.asarray(result.underflow_from())
    diverged = np.asarray(result.diverged)
    if result.is_grid:
        first, diverged = first[0], diverged[0]
    total = first.shape[0]
    under = first[first >= 0]
    for ax, name in zip(axes.flat, panels, strict=False):
        a = np.asarray(result.arrays[name], np.float64)
        if result.is_grid:
            a = a[0]
        a = np.where(np.isfinite(a), a, np.nan)
        floor = (np.abs(a) < M.UNDERFLOW_Q).any(axis=0)  # e.g. a vanished gradient
        if name in logs:  # zeros (underflow) cannot be drawn on a log axis: gaps, not -inf
            pos = a[np.isfinite(a)]
            if pos.size and np.any(pos > 0):
                a = np.where(a > 0, a, np.nan)
        x = layers if name not in whole else np.arange(a.shape[-1])
        with np.errstate(all="ignore"), _quiet():
            mean = np.nanmean(a, axis=0)
            lo, hi = np.nanquantile(a, [0.1, 0.9], axis=0)
        ax.plot(x, mean, lw=1.5, label="mean over seeds")
        ax.fill_between(x, lo, hi, alpha=0.3, label="10-90 % of seeds")
        finite = a[np.isfinite(a)]
        log = name in logs and finite.size and np.all(finite > 0)
        if log:
            ax.set_yscale("log")
        if name not in whole and under.size:
            mark_underflow(ax, x, mean, int(under.min()), int(under.size), total)
        if name in logs and name != "q" and floor.any():
            idx = np.flatnonzero(floor)
            ax.text(
                0.02,
                0.02,
                f"< {M.UNDERFLOW_Q:.2g} (float32 floor) at {idx.size} "
                f"{'layers' if name not in whole else 'indices'} in [{x[idx[0]]}, {x[idx[-1]]}]"
                ": not drawn",
                transform=ax.transAxes,
                fontsize=7,
                color="C3",
            )
        xlabel = "singular value index" if name == "jac_sv" else "index"
        ax.set_xlabel(xlabel if name in whole else "layer l")
        ax.set_ylabel(name)
        n_div = int(np.sum(diverged))
        ax.set_title(name + (f" ({n_div}/{total} seeds diverged)" if n_div else ""), fontsize=9)
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
