"""Plot helpers (matplotlib, Agg): per-layer metrics with seed spread and theory curves."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from initjax.measure.plot import mark_underflow, savefig  # noqa: E402

__all__ = [
    "cell_edges",
    "errorbar_groups",
    "hist_lines",
    "layer_summary",
    "legends",
    "log_hist",
    "mark_underflow",
    "plot_layers",
    "savefig",
    "seed_lines",
    "underflow_onsets",
]


def layer_summary(frame: pd.DataFrame, metric: str, by: Sequence[str] = ()) -> pd.DataFrame:
    """Mean, std and standard error over seeds of ``metric`` per (``by``..., layer).

    Non-finite values (diverged or underflowed networks) are excluded from the statistics and
    counted in ``n_nonfinite``; when the frame has the ``underflow`` flag, ``n_underflow``
    counts the rows whose signal left float32's normal range there.
    """
    keys = [*by, "layer"]
    v = frame[metric].astype(float)
    extra = {"_u": frame["underflow"].astype(bool)} if "underflow" in frame else {}
    finite = frame.assign(_v=v.where(np.isfinite(v)), _bad=~np.isfinite(v), **extra)
    g = finite.groupby(keys, sort=True)
    out = g["_v"].agg(["mean", "std", "count"]).reset_index()
    out["se"] = out["std"] / np.sqrt(out["count"].clip(lower=1))
    out["n_nonfinite"] = g["_bad"].sum().to_numpy()
    if extra:
        out["n_underflow"] = g["_u"].sum().to_numpy()
    return out


def underflow_onsets(frame: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Per (``by``...) group: the first layer where some seed underflowed (``first_layer``) and
    how many seeds (``seeds_underflowed`` of ``seeds``); only groups with an underflow.

    Reads the ``underflow`` flag of a propagation table (empty result without it).
    """
    cols = [*by, "first_layer", "seeds_underflowed", "seeds"]
    if "underflow" not in frame or not frame["underflow"].any():
        return pd.DataFrame(columns=cols)
    keys = list(by)
    seed_keys = [*keys, "seed"] if "seed" in frame else keys
    u = frame[frame["underflow"].astype(bool)]
    first = u.groupby(seed_keys)["layer"].min().reset_index()
    n_seeds = (
        frame.groupby(keys)["seed"].nunique() if keys else pd.Series([frame["seed"].nunique()])
    )
    if keys:
        out = first.groupby(keys)["layer"].agg(["min", "count"]).reset_index()
        out = out.merge(n_seeds.rename("seeds").reset_index(), on=keys)
    else:
        out = pd.DataFrame(
            {"min": [first["layer"].min()], "count": [len(first)], "seeds": [int(n_seeds[0])]}
        )
    return out.rename(columns={"min": "first_layer", "count": "seeds_underflowed"})[cols]


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

    On a log axis, values <= 0 are not drawn. A curve whose signal underflowed float32 (the
    table's ``underflow`` flag) is marked with an "x" where it stops and the note "underflow
    from layer l (k/S seeds)" (:func:`mark_underflow`).
    """
    if logy:
        v = frame[metric].astype(float)
        frame = frame.assign(**{metric: v.where(v > 0)})
    stats = layer_summary(frame, metric, (by,))
    onsets = underflow_onsets(frame, (by,)).set_index(by)
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
    for i, level in enumerate(levels):
        if level in onsets.index:
            color = colors[i] if colors else cmap(i / max(len(levels) - 1, 1))
            s = stats[stats[by] == level]
            o = onsets.loc[level]
            mark_underflow(
                ax,
                s["layer"],
                s["mean"],
                int(o["first_layer"]),
                int(o["seeds_underflowed"]),
                int(o["seeds"]),
                color=color,
            )
    ax.set_xlabel("layer l")


def errorbar_groups(
    ax,
    frame: pd.DataFrame,
    x: str,
    y: str,
    se: str,
    *,
    by: str,
    theory: str | None = None,
    k: float = 2.0,
    colors: Sequence | None = None,
    fmt: str = "o",
    label_fmt: str = "{}",
    **kw,
) -> list:
    """Per level of ``by`` (order of appearance): ``y`` against ``x`` with error bars of ``k``
    times the column ``se`` (a NaN SE draws no bar) and, with ``theory``, that column as a
    dashed line in the same colour; rows sorted by ``x`` within a level.

    Args:
      ax: a matplotlib axis.
      frame: one row per (level, x) with the columns ``by``, ``x``, ``y``, ``se`` (and
        ``theory``).
      k: error bars of +-k SE (2: a ~95% interval for a mean of many seeds).
      colors: one colour per level, in order (default ``C0``, ``C1``, ...).
      fmt, kw: passed to ``ax.errorbar`` (marker, line style, marker size, ...).
      label_fmt: the legend label of a level, ``label_fmt.format(level)``.

    Returns:
      The levels, in colour order.

    Raises:
      KeyError: a named column is missing.
      ValueError: fewer ``colors`` than levels.
    """
    missing = [c for c in (by, x, y, se, theory) if c is not None and c not in frame.columns]
    if missing:
        raise KeyError(f"errorbar_groups: columns {missing} not in the table")
    levels = list(dict.fromkeys(frame[by]))
    if colors is not None and len(colors) < len(levels):
        raise ValueError(f"errorbar_groups: {len(colors)} colors for {len(levels)} levels")
    for i, level in enumerate(levels):
        g = frame[frame[by] == level].sort_values(x)
        color = colors[i] if colors is not None else f"C{i}"
        err = np.nan_to_num(k * g[se].to_numpy(np.float64), nan=0.0)
        ax.errorbar(g[x], g[y], yerr=err, fmt=fmt, color=color, label=label_fmt.format(level), **kw)
        if theory is not None:
            ax.plot(g[x], g[theory], "--", color=color, lw=1)
    return levels


def cell_edges(centers: Sequence[float]) -> np.ndarray:
    """Cell edges for ``pcolormesh(shading="flat")`` from sorted cell centers, shape (n + 1,):
    midpoints between neighbours, the outer edges mirrored (a lone center gets +-0.5)."""
    v = np.asarray(centers, float)
    mid = (v[1:] + v[:-1]) / 2 if len(v) > 1 else np.array([])
    first = v[0] - (mid[0] - v[0] if len(mid) else 0.5)
    last = v[-1] + (v[-1] - mid[-1] if len(mid) else 0.5)
    return np.concatenate([[first], mid, [last]])


def seed_lines(
    ax, frame: pd.DataFrame, x: str, y: str, *, by: str, norm: str | None = None, **kw
) -> list:
    """One line per seed of ``y`` against ``x``, coloured by group of ``by`` (``C0``, ``C1``, ...
    in order of appearance), the group's name as label on its first seed only.

    Args:
      frame: long rows with columns ``by``, ``seed``, ``x``, ``y``.
      norm: ``"last"`` divides each seed's curve by its value at the largest ``x`` (a per-seed
        ratio such as grad_sq^l / grad_sq^L); None plots ``y`` as it is.
      kw: passed to ``ax.plot`` (line width, alpha, ...).

    Returns:
      the group names, in colour order.
    """
    groups = list(dict.fromkeys(frame[by]))
    for k, name in enumerate(groups):
        g = frame[frame[by] == name]
        for i, (_, gs) in enumerate(g.groupby("seed", sort=True)):
            gs = gs.sort_values(x)
            v = gs[y].to_numpy(float)
            if norm == "last":
                v = v / v[-1]
            ax.plot(gs[x], v, color=f"C{k}", label=str(name) if i == 0 else None, **kw)
    return groups


def hist_lines(ax, frame: pd.DataFrame, *, density: bool = False, **kw):
    """A histogram stored as rows (``bin_lo``, ``bin_hi``, ``count``) drawn as a line through
    the bin centres: counts / total (probability per bin) or, with ``density``, counts /
    (total x bin width) (probability density). ``kw`` goes to ``ax.plot``."""
    width = (frame["bin_hi"] - frame["bin_lo"]) if density else 1.0
    y = frame["count"] / (frame["count"].sum() * width)
    return ax.plot((frame["bin_lo"] + frame["bin_hi"]) / 2, y, **kw)


def log_hist(ax, values, *, lo: float, hi: float, bins: int, **kw) -> tuple[np.ndarray, int]:
    """A step histogram (probability density) of the positive, finite ``values`` on ``bins``
    log-spaced bins from ``lo`` to ``hi`` (> 0), on a log x axis (e.g. squared singular values of
    a Jacobian, Pennington et al. 2017, Fig. 2). ``kw`` goes to ``ax.hist``.

    Returns:
      ``(density (bins,), left_out)``: the density per bin (count / (total x bin width), the
      total counting only the values inside [lo, hi]) and how many values were non-positive or
      non-finite (left out; a log axis cannot show them).
    """
    v = np.asarray(values, np.float64).ravel()
    keep = np.isfinite(v) & (v > 0)
    dens, _, _ = ax.hist(v[keep], bins=np.logspace(np.log10(lo), np.log10(hi), bins + 1),
                         density=True, histtype="step", **kw)  # fmt: skip
    ax.set_xscale("log")
    return np.asarray(dens), int((~keep).sum())


def legends(axes, fontsize: float = 7, **kw) -> None:
    """``ax.legend(fontsize=...)`` on every axis of ``axes`` (one axis or an array of them)."""
    for ax in np.ravel(axes):
        ax.legend(fontsize=fontsize, **kw)
