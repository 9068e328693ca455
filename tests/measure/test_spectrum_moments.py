"""Moments of measured spectra per network and over networks, against hand computations."""

import numpy as np
import pandas as pd
import pytest

from initjax.measure.spectrum_moments import network_moments, spectrum_moments


def _frame():
    # arm a: two networks with spectra {1, 3} and {2, 2, 2, 6}; arm b: one network {4, 4}
    lam = {("a", 0): [1.0, 3.0], ("a", 1): [2.0, 2.0, 2.0, 6.0], ("b", 0): [4.0, 4.0]}
    rows = [dict(arm=a, seed=s, lam=v) for (a, s), vs in lam.items() for v in vs]
    return pd.DataFrame(rows)


def test_network_moments_by_hand():
    net = network_moments(_frame(), ["arm"])
    # {1, 3}: mean 2, var (ddof 1) 2, normalized 2 / 4; {2, 2, 2, 6}: mean 3, var 4, 4 / 9
    assert net.loc[("a", 0)].tolist() == pytest.approx([2.0, 2.0, 3.0, 0.5])
    assert net.loc[("a", 1)].tolist() == pytest.approx([3.0, 4.0, 6.0, 4.0 / 9.0])
    assert net.loc[("b", 0), "normalized_var"] == 0.0
    with pytest.raises(KeyError, match="lam2"):
        network_moments(_frame(), ["arm"], value="lam2")


def test_spectrum_moments_by_hand():
    out = spectrum_moments(_frame(), ["arm"]).set_index("arm")
    nv = np.array([0.5, 4.0 / 9.0])
    assert out.loc["a", "var"] == pytest.approx(nv.mean())
    assert out.loc["a", "var_se"] == pytest.approx(abs(nv[0] - nv[1]) / 2)  # sd / sqrt(2)
    assert out.loc["a", "raw_var"] == pytest.approx(3.0)
    assert out.loc["a", "mean"] == pytest.approx(2.5)
    assert out.loc["a", "lam_max"] == 6.0 and out.loc["a", "networks"] == 2
    assert out.loc["b", "networks"] == 1 and np.isnan(out.loc["b", "var_se"])


def test_per_network_columns_are_aggregated_over_networks():
    # q_last and diverged hold one value per network (repeated on its rows)
    f = _frame().assign(q_last=[1.0, 1.0, 3.0, 3.0, 3.0, 3.0, 5.0, 5.0])
    f["diverged"] = [False, False, True, True, True, True, False, False]
    out = spectrum_moments(f, ["arm"], per_network={"q_last": "mean", "diverged": "sum"})
    out = out.set_index("arm")
    assert out.loc["a", "q_last"] == 2.0 and out.loc["b", "q_last"] == 5.0
    assert out.loc["a", "diverged"] == 1 and out.loc["b", "diverged"] == 0
    assert out.loc["a", "var"] == pytest.approx((0.5 + 4.0 / 9.0) / 2)  # the moments unchanged
    with pytest.raises(KeyError, match="q_first"):
        spectrum_moments(f, ["arm"], per_network={"q_first": "mean"})


def test_spectrum_rows_unroll_each_network():
    from types import SimpleNamespace

    from initjax.measure.spectrum_moments import spectrum_rows

    sv = np.array([[1.0, 2.0, 0.5], [3.0, 1.0, 1.0]])  # 2 networks, 3 singular values
    q = np.array([[1.0, 0.7, 0.4], [1.0, 0.9, 0.8]])  # q per layer; the last one is kept
    res = SimpleNamespace(arrays={"jac_sv": sv, "q": q}, diverged=np.array([False, True]))
    rows = spectrum_rows(res)
    assert list(rows.columns) == ["seed", "index", "lam", "q_last", "diverged"]
    assert rows["seed"].tolist() == [0, 0, 0, 1, 1, 1] and rows["index"].tolist() == [0, 1, 2] * 2
    assert rows["lam"].tolist() == [1.0, 4.0, 0.25, 9.0, 1.0, 1.0]
    assert rows["q_last"].tolist() == [0.4] * 3 + [0.8] * 3
    assert rows["diverged"].tolist() == [False] * 3 + [True] * 3
    mom = spectrum_moments(rows.assign(arm="x"), ["arm"]).iloc[0]
    assert mom["networks"] == 2 and mom["lam_max"] == 9.0
