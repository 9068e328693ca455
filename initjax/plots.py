"""Plot helpers (matplotlib, Agg): per-layer metrics with seed spread and theory curves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["first_flagged_layer", "layer_summary", "plot_layers", "savefig"]


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


def first_flagged_layer(frame: pd.DataFrame, flag: str) -> int | None:
    """The first layer at which any seed of ``frame`` has ``flag`` set (None if none or no
    such column)."""
    if flag not in frame.columns or not frame[flag].any():
        return None
    return int(frame.loc[frame[flag].astype(bool), "layer"].min())


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
    """Per curve in ``by``: seed mean (line) +- one std (band), theory column dashed.

    A curve stops at the first layer where a seed's signal underflowed float32 (column
    ``underflow``) or a value of the row is non-finite (``nonfinite``); that point is marked
    with an "x" and the legend says from which layer.
    """
    stats = layer_summary(frame, metric, (by,))
    th = frame.groupby([by, "layer"])[theory].mean().reset_index() if theory else None
    levels = list(dict.fromkeys(stats[by]))
    cmap = plt.get_cmap("viridis")
    for i, level in enumerate(levels):
        color = colors[i] if colors else cmap(i / max(len(levels) - 1, 1))
        cell = frame[frame[by] == level]
        stops = {f: first_flagged_layer(cell, f) for f in ("underflow", "nonfinite") if f in cell}
        stops = {f: v for f, v in stops.items() if v is not None}
        stop = min(stops.values()) if stops else None
        s = stats[stats[by] == level]
        if stop is not None:
            s = s[s["layer"] < stop]
        mean, std = s["mean"].to_numpy(), s["std"].fillna(0).to_numpy()
        lo = np.maximum(mean - std, mean * 1e-3) if logy else mean - std
        label = label_fmt.format(level)
        if stop is not None:
            words = {"underflow": "float32 underflow", "nonfinite": "non-finite values"}
            parts = sorted((v, words[f]) for f, v in stops.items())
            label += " (" + ", ".join(f"{w} from layer {v}" for v, w in parts) + ")"
        ax.plot(s["layer"], mean, color=color, lw=1.4, label=label)
        ax.fill_between(s["layer"], lo, mean + std, color=color, alpha=0.2, lw=0)
        if stop is not None and len(s):
            ax.plot(s["layer"].iloc[-1], mean[-1], "x", color=color, ms=9, mew=2)
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
