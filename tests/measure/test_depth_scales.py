"""xi_c_cells on tables built from the mean-field curves themselves: the fitted xi_c equals the
theory fitted over the same window, and the end-point deviation and its 1/N extrapolation equal
hand-computed values."""

import numpy as np
import pandas as pd
import pytest

from initjax import theory
from initjax.measure.depth_scales import xi_c_cells

RHO, SW2, SB2, DEPTH, SEEDS = 0.9, 1.5, 0.05, 30, 4


def _table():
    rows = [
        dict(keep_prob=RHO, width=w, c0=c0, sigma_w2=SW2, sigma_b2=SB2, seed=s, layer=layer,
             q=1.0, c=c0, diverged=False)
        for w in (32, 64) for c0 in (0.2, 0.95) for s in range(SEEDS) for layer in range(DEPTH + 1)
    ]  # fmt: skip
    t = theory.compare(pd.DataFrame(rows), "tanh", keep_prob=RHO, by=("width", "c0"))
    # measured = theory exactly at width 32; at width 64 an offset 0.004 + 0.001 seed (l >= 1)
    offset = np.where((t["width"] == 64) & (t["layer"] >= 1), 0.004 + 0.001 * t["seed"], 0.0)
    return t.assign(c=t["c_theory"] + offset).drop(columns=["q_theory", "c_theory"])


def test_xi_c_cells_on_the_theory_curve():
    kw = dict(activation="tanh", sigma_b2=SB2, widths=(32, 64), n_sigma=3.0, tail=5)
    row = xi_c_cells(_table(), **kw).iloc[0]
    mf = theory.analyse("tanh", np.array([SW2]), SB2, keep_prob=RHO)
    c_star = float(mf.c_star[0])
    assert row["c_star"] == pytest.approx(c_star) and row["chi_c"] == pytest.approx(mf.chi_c[0])
    assert row["c0"] == max((0.2, 0.95), key=lambda c0: abs(c0 - c_star))
    assert np.isfinite(row["xi_c_measured"]) and row["xi_c_measured"] > 0
    assert row["xi_c_measured"] == pytest.approx(row["xi_c_theory_window"], rel=1e-9)
    assert row["xi_c_se"] == pytest.approx(0.0, abs=1e-9)  # identical seeds
    offsets = 0.004 + 0.001 * np.arange(SEEDS)
    assert row["dc_n1"] == pytest.approx(0.0, abs=1e-12)
    assert row["dc_n2"] == pytest.approx(offsets.mean())
    # m_inf = (n2 m2 - n1 m1) / (n2 - n1) = 2 m2; its SE is 2 SE(m2)
    assert row["dc_inf"] == pytest.approx(2 * offsets.mean())
    assert row["dc_inf_se"] == pytest.approx(2 * offsets.std(ddof=1) / np.sqrt(SEEDS))
    assert row["diverged"] == 0
