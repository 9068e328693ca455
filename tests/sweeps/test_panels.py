"""panels: facet grids and seed-mean curves, checked against values computed by hand."""

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from initjax.sweeps.panels import facets, mean_curves


def _frame():
    # two arms x two seeds x steps 1, 2; arm "b" appears first
    return pd.DataFrame({
        "arm": ["b"] * 4 + ["a"] * 4,
        "seed": [0, 0, 1, 1] * 2,
        "step": [2, 1, 1, 2] * 2,
        "y": [4.0, 2.0, 6.0, 8.0, 1.0, 3.0, 5.0, 7.0],
    })  # fmt: skip


def test_facets_grid_levels_and_rows():
    f = pd.DataFrame({"act": ["relu", "relu", "tanh", "tanh", "relu"],
                      "depth": [10, 3, 10, 3, 10], "v": range(5)})  # fmt: skip
    fig, panels = facets(f, "act", "depth", size=(2.0, 1.5))
    assert fig.get_size_inches() == pytest.approx([4.0, 3.0])  # 2 columns x 2 rows
    assert [p[1] for p in panels] == [("relu", 10), ("relu", 3), ("tanh", 10), ("tanh", 3)]
    assert panels[0][2]["v"].tolist() == [0, 4] and panels[3][2]["v"].tolist() == [3]
    axes = fig.axes
    assert [p[0] for p in panels] == axes  # row by row
    plt.close(fig)
    fig, panels = facets(f, cols="depth", sort=True)
    assert [p[1] for p in panels] == [(3,), (10,)] and len(panels[1][2]) == 3
    plt.close(fig)
    fig, panels = facets(f, cols=["act", "depth"])
    assert len(panels) == 4 and fig.get_size_inches() == pytest.approx([16.0, 3.0])
    plt.close(fig)


def test_facets_refuses_missing_columns_and_empty_tables():
    with pytest.raises(KeyError, match="width"):
        facets(pd.DataFrame({"a": [1]}), "width")
    with pytest.raises(ValueError, match="no rows"):
        facets(pd.DataFrame({"a": []}), "a")


def test_mean_curves_means_over_seeds_per_level():
    fig, ax = plt.subplots()
    lines = mean_curves(ax, _frame(), "step", "y", "arm", label="{} mean", lw=2)
    assert list(lines) == ["b", "a"]  # order of first appearance
    b, a = ax.get_lines()
    # b: step 1 -> (2 + 6) / 2, step 2 -> (4 + 8) / 2; a: (3 + 5) / 2, (1 + 7) / 2
    assert b.get_xdata().tolist() == [1, 2] and b.get_ydata().tolist() == [4.0, 6.0]
    assert a.get_ydata().tolist() == [4.0, 4.0]
    assert (b.get_label(), b.get_color(), b.get_linewidth()) == ("b mean", "C0", 2)
    assert (a.get_label(), a.get_color()) == ("a mean", "C1")
    plt.close(fig)


def test_mean_curves_seed_lines_styles_cmap_and_sort():
    fig, ax = plt.subplots()
    style = lambda i, level: {"ls": "--" if level == "a" else "-"}  # noqa: E731
    mean_curves(ax, _frame(), "step", "y", "arm", style=style, seeds={"lw": 0.5}, sort=True,
                label=lambda level, rows: f"{level} ({rows['seed'].nunique()} seeds)")  # fmt: skip
    lines = ax.get_lines()
    assert len(lines) == 6  # per level: 2 seed lines, then the mean
    seed0 = lines[0]  # level a (sorted first), seed 0, sorted by step: 3, 1
    assert seed0.get_ydata().tolist() == [3.0, 1.0] and seed0.get_linewidth() == 0.5
    assert seed0.get_label().startswith("_") and seed0.get_linestyle() == "--"
    assert lines[2].get_label() == "a (2 seeds)" and lines[5].get_linestyle() == "-"
    plt.close(fig)
    fig, ax = plt.subplots()
    lines = mean_curves(ax, _frame(), "step", "y", ["arm", "seed"], cmap="viridis")
    assert list(lines) == [("b", 0), ("b", 1), ("a", 0), ("a", 1)]
    cmap = plt.get_cmap("viridis")
    got = [mcolors.to_rgba(ln.get_color()) for ln in lines.values()]
    assert np.allclose(got, [cmap(i / 3) for i in range(4)])
    assert lines[("a", 1)].get_label() == "a 1"  # tuple levels joined by spaces
    plt.close(fig)
