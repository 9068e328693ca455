"""Non-finite values and float32 limits: underflow, nonfinite and diverged (overflow) flags.

Definitions (initjax.measure.metrics): a row underflows when q^l (or one example's mean square)
is below float32's smallest normal number 1.18e-38; ratios built from q (c) are then NaN;
``diverged`` means overflow only: +-inf, or NaN not explained by underflow.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from initjax import plots  # noqa: E402
from initjax.cli import main  # noqa: E402
from initjax.measure import metrics, propagate  # noqa: E402
from initjax.measure import plot as mplot  # noqa: E402
from initjax.models import MLP  # noqa: E402

TINY = float(np.finfo(np.float32).tiny)


def test_tiny_is_float32s_smallest_normal():
    assert metrics.UNDERFLOW_Q == TINY == pytest.approx(1.1754944e-38)


@pytest.fixture(scope="module")
def relu_glorot():
    # ReLU with Glorot on square layers: Var[w] = 1/N, so q^l halves per layer (chi = 1/2) and
    # leaves float32's normal range after about log2(q^0 / 1.18e-38) = 126 layers.
    net = MLP(width=128, depth=200, activation="relu", kernel_init="glorot_normal")
    return propagate(net, seeds=2)


def test_vanishing_relu_signal_is_underflow_not_divergence(relu_glorot):
    r = relu_glorot
    u, nf = r.arrays["underflow"], r.arrays["nonfinite"]
    assert u.shape == nf.shape == (2, 201) and u.dtype == bool
    assert not r.diverged.any() and r.arrays["diverged"].shape == (2,)
    # Every seed underflows, once and for good, near the mean-field layer 126. Finite-width
    # fluctuations of log q (and the per-example minimum) move it by a few layers; the band is
    # wide so that only a wrong definition fails.
    first = r.underflow_from()
    assert np.all((first >= 100) & (first <= 127)), first
    for s in range(2):
        assert not u[s, : first[s]].any() and u[s, first[s] :].all()
    # Consistent with q itself: q < tiny is always underflow; q far above tiny never is.
    q = r.arrays["q"]
    assert np.all(u[q < TINY]) and not np.any(u[q > 1e3 * TINY])
    # c is undefined (NaN) exactly on underflowed rows; elsewhere finite.
    c = r.arrays["c"]
    assert np.array_equal(np.isnan(c), u) and np.array_equal(nf, u)
    df = r.to_frame()
    assert df["underflow"].sum() == u.sum() and not df["diverged"].any()
    s = r.summary(layers=[0, 200])
    assert s["underflow"].tolist() == [0, 2] and s["diverged"].tolist() == [0, 0]


# The overflow test's network; the all-zero test runs the same compiled program (a grid of two
# sigma_w2 values, metrics q, c, act_std) with other values.
OVERFLOW_NET = MLP(width=32, depth=200, activation="relu", kernel_init="he_normal")


def test_overflow_is_divergence():
    # sigma_w2 = 20 with ReLU: q grows tenfold per layer and overflows float32 (3.4e38) after
    # about 38 layers; sigma_w2 = 1 in the same grid call halves q and underflows.
    g = propagate(OVERFLOW_NET, seeds=2, sigma_w2=np.array([1.0, 20.0]), metrics="q,c,act_std")
    assert g.diverged.tolist() == [[False, False], [True, True]]
    assert g.arrays["underflow"][0].any() and not g.arrays["underflow"][1].any()
    nf = g.arrays["nonfinite"][1]
    first_bad = np.argmax(nf, axis=1)
    assert np.all((first_bad > 30) & (first_bad < 45)), first_bad
    assert nf[:, -1].all() and not np.isfinite(g.arrays["q"][1][:, -1]).any()


def test_all_zero_layers_underflow():
    # Zero kernels (He's draw rescaled to sigma_w2 = 0) and sigma_b2 = 0: every pre-activation
    # is exactly 0 (q = 0 < tiny), in both cells of the grid.
    sw = np.zeros(2, np.float32)
    g = propagate(OVERFLOW_NET, seeds=2, sigma_w2=sw, sigma_b2=0.0, metrics="q,c,act_std")
    assert g.arrays["underflow"].all() and not g.diverged.any()
    assert np.all(g.arrays["q"] == 0) and np.isnan(g.arrays["c"]).all()


def _arrays(**cols):
    base = {"_q": np.ones((2, 3), np.float32), "_qmin": np.ones((2, 3), np.float32)}
    base.update(cols)
    return base


def test_flags_policies_on_synthetic_arrays():
    nan, inf = np.nan, np.inf
    # Seed 0 underflows from layer 1; seed 1 is normal.
    q = np.array([[1.0, 0.0, 0.0], [1.0, 0.5, 0.25]], np.float32)
    qmin = q.copy()
    c = np.array([[0.2, 0.7, 0.9], [0.2, 0.3, 0.4]], np.float32)  # garbage on underflow rows
    arrays, u, nf, div = metrics.flags(_arrays(_q=q, _qmin=qmin, q=q, c=c), ["q", "c"])
    assert u.tolist() == [[False, True, True], [False, False, False]]
    assert np.isnan(arrays["c"][0, 1:]).all() and arrays["c"][1].tolist() == pytest.approx(
        [0.2, 0.3, 0.4]
    )  # undefined_on_underflow: recorded as NaN
    assert "_q" not in arrays and "_qmin" not in arrays
    assert nf.tolist() == u.tolist() and div.tolist() == [False, False]
    # NaN on a row that did not underflow is an overflow; inf is one even where q underflowed.
    c2 = np.array([[0.2, 0.3, 0.4], [0.2, nan, 0.4]], np.float32)
    assert metrics.flags(_arrays(q=np.ones((2, 3)), c=c2), ["q", "c"])[3].tolist() == [
        False,
        True,
    ]
    a = np.array([[0.0, inf, 0.0], [1.0, 1.0, 1.0]], np.float32)
    assert metrics.flags(_arrays(_q=q, _qmin=qmin, act_std=a), ["act_std"])[3].tolist() == [
        True,
        False,
    ]
    # A per-example mean square below tiny underflows the row even when q^l does not.
    qmin2 = np.array([[1.0, 1e-39, 1.0], [1.0, 1.0, 1.0]], np.float32)
    assert metrics.flags(_arrays(_qmin=qmin2), [])[1][0].tolist() == [False, True, False]
    # "ignore": flagged nonfinite, never diverged.
    ud = np.array([[nan, 1.0, 1.0], [1.0, 1.0, 1.0]], np.float32)
    _, _, nf3, div3 = metrics.flags(
        _arrays(unit_dist=ud, act_rank=np.ones((2, 3))), ["unit_symmetry"]
    )
    assert nf3[0, 0] and not div3.any()
    # Whole-network metrics: any non-finite value overflows the seed.
    sv = np.array([[1.0, nan], [1.0, 0.5]], np.float32)
    assert metrics.flags(_arrays(jac_sv=sv), ["jac_sv"])[3].tolist() == [True, False]
    # An overflowing z (q = inf or NaN) is non-finite and diverged whatever was measured.
    qq = np.array([[1.0, inf, nan], [1.0, 1.0, 1.0]], np.float32)
    _, u4, nf4, div4 = metrics.flags(_arrays(_q=qq), [])
    assert (
        not u4.any()
        and nf4[0].tolist() == [False, True, True]
        and div4.tolist()
        == [
            True,
            False,
        ]
    )
    # Grid arrays (H, seeds, layers).
    g = {k: np.stack([v, v]) for k, v in _arrays(_q=q, _qmin=qmin, c=c).items()}
    _, ug, _, dg = metrics.flags(g, ["c"])
    assert ug.shape == (2, 2, 3) and dg.shape == (2, 2)


def test_propagate_command_reports_flag_counts(tmp_path, capsys):
    out = tmp_path / "run"
    # The relu_glorot fixture's network and metrics: the command reuses its compiled program.
    argv = ["propagate", "--init", "glorot_normal", "--activation", "relu", "--depth", "200",
            "--width", "128", "--seeds", "2", "--metrics", "q,c", "--out", str(out),
            "--no-progress", "--layers", "0,200"]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "underflow: 2/2 seeds from layer" in text and "1.18e-38" in text
    assert "diverged (overflow: inf, or NaN not explained by underflow): 0/2 seeds" in text
    row = [line for line in text.splitlines() if line.strip().startswith("200")][0]
    assert row.split()[-3:] == ["2/2", "2/2", "0/2"]  # underflow, nonfinite, diverged
    df = pd.read_parquet(out / "propagate.parquet")
    assert df["underflow"].any() and not df["diverged"].any()
    assert (out / "propagate.png").stat().st_size > 1000


def test_figures_mark_a_curve_that_stops(relu_glorot, tmp_path):
    # The tidy-table helper used by experiments' figures.
    df = relu_glorot.to_frame().assign(arm="relu-glorot")
    fig, ax = plt.subplots()
    plots.plot_layers(ax, df, "q", by="arm", logy=True)
    first = int(relu_glorot.underflow_from().min())
    notes = [t.get_text() for t in ax.texts]
    assert f"underflow from layer {first} (2/2 seeds)" in notes
    assert any(line.get_marker() == "x" for line in ax.lines)
    plt.close(fig)
    on = plots.underflow_onsets(df, ("arm",))
    assert on.to_dict("records") == [
        {"arm": "relu-glorot", "first_layer": first, "seeds_underflowed": 2, "seeds": 2}
    ]
    assert plots.layer_summary(df, "q")["n_underflow"].iloc[-1] == 2
    # No underflow: nothing marked.
    fig, ax = plt.subplots()
    plots.plot_layers(ax, df.assign(underflow=False), "q", by="arm", logy=True)
    assert not ax.texts and not any(line.get_marker() == "x" for line in ax.lines)
    plt.close(fig)
    # propagate's own figure draws with the marks (a PNG is written).
    assert mplot.plot_layers(relu_glorot, tmp_path / "p.png").stat().st_size > 1000
