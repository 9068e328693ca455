"""Figures of a coordinate check (:mod:`initjax.measure.coord_check`): the familiar panels.

- :func:`plot_coords`: one row per parametrization, one column per optimizer step; each panel
  shows a coordinate (mean |z_t| or mean |z_t - z_0|) of every layer against width (or depth),
  log-log, mean over seeds with standard-error bars. Flat lines: the parametrization keeps the
  coordinate width-independent (muP); rising lines blow up (SP).
- :func:`plot_spectral`: ||W_0||_2 and ||W_t - W_0||_2 relative to sqrt(fan_out / fan_in) per
  kernel (Yang, Simon & Bernstein 2023): Theta(1) at every width under muP.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["plot_coords", "plot_spectral"]

_LABEL = {
    "coord": "mean |z_t|",
    "delta": "mean |z_t - z_0|",
    "spec_w": "||W_0||_2 / sqrt(fan_out/fan_in)",
    "spec_dw": "||W_t - W_0||_2 / sqrt(fan_out/fan_in)",
}


def _layer_order(names) -> list[str]:
    def key(n: str):
        if n == "input":
            return (0, 0)
        if n.startswith("hidden_") and n[7:].isdigit():
            return (1, int(n[7:]))
        return (2, 0) if n == "output" else (1, 10**6)

    return sorted(set(names), key=key)


def _grid(n_rows: int, n_cols: int):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        n_rows,
        n_cols,
        figsize=(3.0 * n_cols + 0.6, 2.6 * n_rows + 0.4),
        squeeze=False,
        constrained_layout=True,
    )
    return plt, fig, axes


def _panel(ax, sub: pd.DataFrame, over: str, names, cmap) -> None:
    for i, name in enumerate(names):
        g = sub[sub["name"] == name].groupby(over)["value"]
        mean, se = g.mean(), g.std(ddof=1) / np.sqrt(g.count())
        ok = np.isfinite(mean.to_numpy()) & (mean.to_numpy() > 0)
        if not ok.any():
            continue
        ax.errorbar(
            mean.index[ok],
            mean.to_numpy()[ok],
            yerr=np.nan_to_num(se.to_numpy()[ok]),
            marker="o",
            ms=3,
            lw=1.2,
            capsize=2,
            color=cmap(i / max(len(names) - 1, 1)),
            label=name,
        )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")


def plot_coords(
    table: pd.DataFrame,
    path: str | Path,
    *,
    quantity: str = "delta",
    over: str = "width",
    title: str = "",
) -> Path:
    """Write the coordinate-check panels of ``quantity`` ("coord" or "delta") as a PNG.

    ``table``: :func:`~initjax.measure.coord_check.coord_check`'s output (activation rows).
    Over depth, the hidden layers are summarized by the last one (``hidden_last``).
    """
    from initjax.measure.plot import savefig

    t = table[(table["kind"] == "activation") & (table["quantity"] == quantity)].copy()
    if over == "depth":
        hid = t["name"].str.startswith("hidden_")
        t = t[~hid | (t["layer"] == t["depth"])].copy()
        t.loc[t["name"].str.startswith("hidden_"), "name"] = "hidden_last"
    params = list(dict.fromkeys(t["parametrization"]))
    steps = sorted(set(t["step"]) - ({0} if quantity == "delta" else set()))
    names = _layer_order(t["name"])
    plt, fig, axes = _grid(len(params), len(steps))
    cmap = plt.get_cmap("viridis")
    for r, p in enumerate(params):
        for c, step in enumerate(steps):
            ax = axes[r, c]
            _panel(ax, t[(t["parametrization"] == p) & (t["step"] == step)], over, names, cmap)
            ax.set_title(f"{p}, step {step}", fontsize=9)
            if r == len(params) - 1:
                ax.set_xlabel(over)
            if c == 0:
                ax.set_ylabel(_LABEL[quantity])
    axes[0, -1].legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title, fontsize=10)
    return savefig(fig, path)


def plot_spectral(table: pd.DataFrame, path: str | Path, *, title: str = "") -> Path:
    """Write the spectral view: per parametrization, ||W_0|| and ||W_T - W_0|| (last step)
    relative to sqrt(fan_out / fan_in) per kernel against width (hidden layers averaged)."""
    from initjax.measure.plot import savefig

    t = table[table["kind"] == "parameter"]
    params = list(dict.fromkeys(t["parametrization"]))
    last = int(t["step"].max())
    panels = [("spec_w", 0), ("spec_dw", last)]
    plt, fig, axes = _grid(len(params), 2)
    cmap = plt.get_cmap("plasma")
    names = sorted(set(t["name"]))
    for r, p in enumerate(params):
        for c, (q, step) in enumerate(panels):
            sub = t[(t["parametrization"] == p) & (t["quantity"] == q) & (t["step"] == step)]
            sub = sub.groupby(["name", "width", "seed"], as_index=False)["value"].mean()
            _panel(axes[r, c], sub, "width", names, cmap)
            axes[r, c].set_title(f"{p}: {_LABEL[q]}, step {step}", fontsize=8)
            if r == len(params) - 1:
                axes[r, c].set_xlabel("width")
    axes[0, -1].legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title, fontsize=10)
    return savefig(fig, path)
