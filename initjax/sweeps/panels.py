"""Panel grids and seed-mean curves for the figures of experiment reports (matplotlib, Agg).

:func:`facets` lays out one axis per combination of row and column levels of a long results
table (e.g. activation x depth) and hands each axis the rows it shows; :func:`mean_curves`
draws, per group of rows (an arm, an init), the mean over seeds of one column against another,
optionally with one thin line per seed in the group's colour.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["facets", "mean_curves"]


def _keys(names: str | Sequence[str] | None) -> list[str]:
    return [names] if isinstance(names, str) else list(names or ())


def _levels(frame: pd.DataFrame, keys: list[str], sort: bool) -> list[tuple]:
    if not keys:
        return [()]
    levels = list(frame[keys].drop_duplicates().itertuples(index=False, name=None))
    return sorted(levels) if sort else levels


def facets(
    frame: pd.DataFrame,
    rows: str | Sequence[str] = (),
    cols: str | Sequence[str] = (),
    *,
    size: tuple[float, float] = (4.0, 3.0),
    sort: bool = False,
) -> tuple[Any, list[tuple[Any, tuple, pd.DataFrame]]]:
    """One axis per (row level, column level) combination of ``frame``.

    Args:
      frame: long rows (a results table or a selection of it).
      rows, cols: the column name(s) whose distinct value tuples index the grid's rows and
        columns, in order of first appearance (``sort``: ascending); empty: one row / column.
      size: (width, height) of one panel, in inches.

    Returns:
      ``(fig, panels)``: the figure (constrained layout) and, row by row, one
      ``(ax, levels, rows_of_frame)`` per panel, ``levels`` being the row levels followed by the
      column levels (a combination absent from ``frame`` gets an empty selection).

    Raises:
      KeyError: a named column is not in ``frame``.
      ValueError: ``frame`` has no rows.
    """
    rk, ck = _keys(rows), _keys(cols)
    missing = [k for k in (*rk, *ck) if k not in frame.columns]
    if missing:
        raise KeyError(f"facets: columns {missing} not in the table")
    if frame.empty:
        raise ValueError("facets: the table has no rows")
    row_levels, col_levels = _levels(frame, rk, sort), _levels(frame, ck, sort)
    fig, axes = plt.subplots(
        len(row_levels),
        len(col_levels),
        squeeze=False,
        constrained_layout=True,
        figsize=(size[0] * len(col_levels), size[1] * len(row_levels)),
    )
    panels = []
    for i, r in enumerate(row_levels):
        for j, c in enumerate(col_levels):
            sel = np.ones(len(frame), bool)
            for key, value in zip((*rk, *ck), (*r, *c), strict=True):
                sel &= (frame[key] == value).to_numpy()
            panels.append((axes[i, j], (*r, *c), frame[sel]))
    return fig, panels


def mean_curves(
    ax,
    frame: pd.DataFrame,
    x: str,
    y: str,
    by: str | Sequence[str],
    *,
    label: str | Callable[[Hashable, pd.DataFrame], str] | None = None,
    style: Callable[[int, Hashable], dict[str, Any]] | None = None,
    cmap: str | None = None,
    seeds: dict[str, Any] | None = None,
    sort: bool = False,
    **kw: Any,
) -> dict:
    """Per level of ``by``, the mean of ``y`` over the rows at each ``x`` (over seeds), drawn as
    one line against ``x`` (ascending).

    Args:
      ax: a matplotlib axis.
      frame: long rows with the columns ``x``, ``y``, ``by`` (and ``seed`` with ``seeds``).
      by: the grouping column(s); a level is a value, or a tuple for several columns.
      label: the legend entry of a level's mean line: a format string (``"{} train"``; a tuple
        level fills its fields in order), or ``label(level, rows) -> str``; default the level
        (a tuple's values joined by spaces).
      style: ``style(i, level) -> dict`` of plot keywords for the i-th level (drawing order).
      cmap: colour the i-th of n levels ``cmap(i / (n - 1))`` (a matplotlib colormap name);
        default ``C{i}`` (the colour cycle). ``style`` may override either.
      seeds: plot keywords of one extra line per ``seed`` of each level, in the level's style
        and without a label; None draws none.
      sort: levels in ascending order; default order of first appearance.
      kw: plot keywords of every mean line (after ``style``).

    Returns:
      level -> its mean line (a ``Line2D``), in drawing order.
    """
    keys = _keys(by)
    groups = list(frame.groupby(keys if len(keys) > 1 else keys[0], sort=sort))
    colors = plt.get_cmap(cmap) if cmap else None
    lines = {}
    for i, (level, g) in enumerate(groups):
        color = colors(i / max(1, len(groups) - 1)) if colors else f"C{i}"
        st = {"color": color, **(style(i, level) if style else {})}
        if seeds is not None:
            for _, s in g.groupby("seed", sort=True):
                s = s.sort_values(x)
                ax.plot(s[x].to_numpy(), s[y].to_numpy(), **{**st, **seeds, "label": None})
        m = g.groupby(x, sort=True)[y].mean()
        args = level if isinstance(level, tuple) else (level,)
        if label is None:
            text = " ".join(map(str, args))
        else:
            text = label.format(*args) if isinstance(label, str) else label(level, g)
        (lines[level],) = ax.plot(m.index.to_numpy(), m.to_numpy(), **{**st, **kw}, label=text)
    return lines
