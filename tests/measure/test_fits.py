"""Fits of measured per-layer statistics: gradient growth and where it crosses 1."""

import numpy as np
import pytest

from initjax.measure.fits import gradient_growth, unit_crossing


def test_gradient_growth_recovers_a_geometric_law():
    depth, chi = 30, 0.97
    g = chi ** (depth - np.arange(depth + 1))  # grad_sq^l = chi^(L - l)
    assert gradient_growth(g, 5, 5) == pytest.approx(chi, rel=1e-12)
    stacked = np.stack([g, 2 * g])  # leading axes are kept; a scale does not matter
    np.testing.assert_allclose(gradient_growth(stacked, 0, 0), [chi, chi], rtol=1e-12)
    assert np.isnan(gradient_growth(g, 20, 10))


def test_gradient_growth_is_the_mean_of_ratios_not_of_logs():
    # ratios 0.5 and 1.5 alternate: mean ratio 1.0, while exp(mean log) = sqrt(0.75)
    r = np.array([0.5, 1.5] * 10)
    g = np.concatenate([np.cumprod(r[::-1])[::-1], [1.0]])
    assert gradient_growth(g, 0, 0) == pytest.approx(1.0)


def test_unit_crossing():
    x = np.array([1.7, 1.76, 1.85])
    assert unit_crossing(x, 0.2 * (x - 1.77)) == pytest.approx(1.77)  # linear
    assert unit_crossing(x, (x - 1.72) * (x + 3.0)) == pytest.approx(1.72)  # quadratic
    assert np.isnan(unit_crossing(x, x))  # no root inside the range
    assert np.isnan(unit_crossing(x, np.array([np.nan, np.nan, 1.0])))
