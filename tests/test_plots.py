"""initjax.plots helpers with values computed by hand."""

import numpy as np
import pytest

from initjax.plots import cell_edges


def test_cell_edges_are_midpoints_with_mirrored_ends():
    # uneven spacing: 1.0, 1.5, 2.5 -> midpoints 1.25, 2.0; ends 1 - 0.25 and 2.5 + 0.5
    np.testing.assert_allclose(cell_edges([1.0, 1.5, 2.5]), [0.75, 1.25, 2.0, 3.0])
    # every center lies inside its own cell
    e = cell_edges([10, 30, 50, 70])
    assert np.all((e[:-1] < [10, 30, 50, 70]) & ([10, 30, 50, 70] < e[1:]))


def test_cell_edges_of_a_single_center_span_one_unit():
    assert cell_edges([4.0]) == pytest.approx([3.5, 4.5])


def _lines(ax):
    return [(ln.get_label(), ln.get_color(), list(ln.get_xdata()), list(ln.get_ydata()))
            for ln in ax.get_lines()]  # fmt: skip


def test_seed_lines_one_line_per_seed_one_label_per_group():
    import matplotlib.pyplot as plt
    import pandas as pd

    from initjax.plots import seed_lines

    f = pd.DataFrame({"arm": ["b"] * 4 + ["a"] * 2, "seed": [1, 1, 0, 0, 0, 0],
                      "step": [2, 1, 1, 2, 1, 2], "y": [8.0, 4.0, 1.0, 2.0, 3.0, 6.0]})  # fmt: skip
    fig, ax = plt.subplots()
    assert seed_lines(ax, f, "step", "y", by="arm", norm="last") == ["b", "a"]
    got = _lines(ax)
    plt.close(fig)
    # groups in order of appearance (b: C0, a: C1); seeds sorted; x sorted; y / y at the last x
    assert got == [("b", "C0", [1, 2], [0.5, 1.0]), ("_child1", "C0", [1, 2], [0.5, 1.0]),
                   ("a", "C1", [1, 2], [0.5, 1.0])]  # fmt: skip


def test_hist_lines_probability_per_bin_and_density():
    import matplotlib.pyplot as plt
    import pandas as pd

    from initjax.plots import hist_lines

    h = pd.DataFrame({"bin_lo": [0.0, 0.5], "bin_hi": [0.5, 1.5], "count": [1, 3]})
    fig, ax = plt.subplots()
    hist_lines(ax, h)
    hist_lines(ax, h, density=True)
    (_, _, x, p), (_, _, _, d) = _lines(ax)
    plt.close(fig)
    assert x == [0.25, 1.0] and p == [0.25, 0.75]
    # density: 1 / (4 * 0.5), 3 / (4 * 1.0); it integrates to 1 over the bins
    assert d == [0.5, 0.75] and 0.5 * 0.5 + 0.75 * 1.0 == 1.0


def test_log_hist_density_on_decades_and_left_out_values():
    import matplotlib.pyplot as plt
    import numpy as np

    from initjax.plots import log_hist

    fig, ax = plt.subplots()
    v = [2e-3, 5e-3, 0.5, 0.0, np.nan, -1.0]
    dens, left_out = log_hist(ax, v, lo=1e-4, hi=1.0, bins=4)
    plt.close(fig)
    assert left_out == 3  # 0, NaN and -1
    # decades [1e-4, 1e-3), [1e-3, 1e-2), [1e-2, 1e-1), [1e-1, 1]: counts 0, 2, 0, 1 of 3
    want = np.array([0, 2 / (3 * 9e-3), 0, 1 / (3 * 0.9)])
    np.testing.assert_allclose(dens, want, rtol=1e-12)
    assert ax.get_xscale() == "log"


def test_errorbar_groups_one_series_per_level_with_k_se_bars_and_theory():
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    from initjax.plots import errorbar_groups

    f = pd.DataFrame({"arm": ["b", "b", "a", "a"], "x": [2, 1, 1, 2], "y": [4.0, 3.0, 1.0, 2.0],
                      "se": [0.5, 0.25, np.nan, 0.1], "th": [4.5, 3.0, 1.0, 2.0]})  # fmt: skip
    fig, ax = plt.subplots()
    levels = errorbar_groups(ax, f, "x", "y", "se", by="arm", theory="th", label_fmt="arm {}")
    assert levels == ["b", "a"]
    bars = list(ax.containers)  # one ErrorbarContainer per level, in order of appearance
    assert [b.get_label() for b in bars] == ["arm b", "arm a"]
    (b_line, _, (b_cols,)), (a_line, _, (a_cols,)) = (b.lines for b in bars)
    # rows sorted by x; bars of +-2 SE (a NaN SE: no bar, i.e. zero length)
    assert list(b_line.get_xdata()) == [1, 2] and list(b_line.get_ydata()) == [3.0, 4.0]
    np.testing.assert_allclose([s[:, 1] for s in b_cols.get_segments()], [[2.5, 3.5], [3.0, 5.0]])
    np.testing.assert_allclose([s[:, 1] for s in a_cols.get_segments()], [[1.0, 1.0], [1.8, 2.2]])
    # theory: dashed, in the level's colour
    th = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert [list(ln.get_ydata()) for ln in th] == [[3.0, 4.5], [1.0, 2.0]]
    assert [ln.get_color() for ln in th] == ["C0", "C1"]
    plt.close(fig)
    with pytest.raises(KeyError, match="zz"):
        errorbar_groups(ax, f, "x", "zz", "se", by="arm")
    with pytest.raises(ValueError, match="1 colors for 2 levels"):
        errorbar_groups(ax, f, "x", "y", "se", by="arm", colors=["k"])
