"""rank_collapse_plots: what the figures draw, read back from their lines."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from initjax.sweeps.rank_collapse_plots import collapse_figure, qk_figure


def _tr():
    rows = []
    for norm, e in (("post", 0.0), ("none", 0.5)):
        for attn in ("uniform", "softmax"):
            rows.append(pd.DataFrame({
                "norm": norm, "branch_exponent": e, "attention": attn, "layer": [1, 2, 3],
                "one_minus_rho": [0.5, 0.25, 0.125], "theory": [0.4, 0.2, 0.1],
                "token_cos": [0.5, 0.75, 0.875], "qk_v_ratio": [1.0, 0.5, 0.25]}))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def test_collapse_figure_panels_lines_and_floor():
    fig = collapse_figure(_tr(), floor=1e-4)
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["uniform attention", "softmax attention"]
    pts, th, pts2, th2, floor = axes[0].get_lines()  # per stack: points, theory; then the floor
    assert list(pts.get_ydata()) == [0.5, 0.25, 0.125] and pts.get_label() == "post, b = L^-0"
    assert list(th.get_ydata()) == [0.4, 0.2, 0.1] and th.get_linestyle() == "--"
    assert pts2.get_label() == "none, b = L^-0.5" and pts2.get_color() == "C1"
    assert list(floor.get_ydata()) == [1e-4, 1e-4] and axes[0].get_yscale() == "log"
    plt.close(fig)


def test_qk_figure_pairs_each_block_with_its_input_cosine():
    tr = _tr()
    fig = qk_figure(tr[tr.attention == "softmax"])
    (ax,) = fig.axes
    first = ax.get_lines()[0]
    # block l against 1 - cos of layer l - 1: the first block has no input row here (NaN)
    np.testing.assert_allclose(first.get_xdata(), [np.nan, 0.5, 0.25])
    assert list(first.get_ydata()) == [1.0, 0.5, 0.25] and len(ax.get_lines()) == 2
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    plt.close(fig)
