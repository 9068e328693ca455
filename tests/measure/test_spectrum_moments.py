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
