"""Plot helpers (matplotlib, Agg): per-layer metrics with seed spread and theory curves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["layer_summary", "plot_layers", "savefig"]


def layer_summary(frame: pd.DataFrame, metric: str, by: Sequence[str] = ()) -> pd.DataFrame:
    """Mean, std and standard error over seeds of ``metric`` per (``by``..., layer).

    Non-finite values (diverged networks) are excluded from the statistics and counted in
    ``n_nonfinite``.
    """
    keys = [*by, "layer"]
    v = frame[metric].astype(float)
    finite = frame.assign(_v=v.where(np.isfinite(v)), _bad=~np.isfinite(v))
    g = finite.groupby(keys, sort=True)
    out = g["_v"].agg(["mean", "std", "count"]).reset_index()
    out["se"] = out["std"] / np.sqrt(out["count"].clip(lower=1))
    out["n_nonfinite"] = g["_bad"].sum().to_numpy()
    return out


def plot_layers(
    ax,
    frame: pd.DataFrame,
    metric: str,
    *,
    by: str,
    theory: str | None = None,
    logy: bool = False,
    label_fmt: str = "{}",
    colors: Sequence | None = None,
) -> None:
    """Per curve in ``by``: seed mean (line) +- one std (band), theory column dashed."""
    stats = layer_summary(frame, metric, (by,))
    th = frame.groupby([by, "layer"])[theory].mean().reset_index() if theory else None
    levels = list(dict.fromkeys(stats[by]))
    cmap = plt.get_cmap("viridis")
    for i, level in enumerate(levels):
        color = colors[i] if colors else cmap(i / max(len(levels) - 1, 1))
        s = stats[stats[by] == level]
        mean, std = s["mean"].to_numpy(), s["std"].fillna(0).to_numpy()
        lo = np.maximum(mean - std, mean * 1e-3) if logy else mean - std
        ax.plot(s["layer"], mean, color=color, lw=1.4, label=label_fmt.format(level))
        ax.fill_between(s["layer"], lo, mean + std, color=color, alpha=0.2, lw=0)
        if th is not None:
            t = th[th[by] == level]
            ax.plot(t["layer"], t[theory], color=color, lw=1.0, ls="--")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("layer l")


def savefig(fig, path: str | Path) -> Path:
    """Save and close a figure (PNG, 120 dpi)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
