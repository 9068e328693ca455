"""Fits of measured per-layer statistics and their standard errors over seeds: gradient growth
and where it crosses 1, depth scales, mean, jackknife and finite-width SEs."""

import math

import numpy as np
import pandas as pd
import pytest

from initjax.measure import fits
from initjax.measure.fits import (
    chi1_crossing,
    depth_scale_fits,
    gradient_growth,
    unit_crossing,
)


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


def test_fit_depth_scale_seeds_se_matches_replicate_spread():
    """Synthetic seeds: dev_s(l) = 0.5 exp(-l / 8) + N(0, 0.02^2) per seed and layer, 24 seeds.
    Over 60 independent replicates the jackknife SE agrees with the spread of the fitted xi
    (ratio within [0.6, 1.6]: the SD of 60 draws is itself ~9% uncertain) and the estimate lies
    within 4 SE of 8."""
    from initjax.measure.fits import fit_depth_scale_seeds

    rng = np.random.default_rng(0)
    layers = np.arange(40)
    xis, ses = [], []
    for _ in range(60):
        d = 0.5 * np.exp(-layers / 8.0) + rng.normal(0, 0.02, (24, layers.size))
        xi, se, n, _ = fit_depth_scale_seeds(d, layers=layers)
        assert n >= 4 and np.isfinite(se)
        xis.append(xi)
        ses.append(se)
    xis, ses = np.array(xis), np.array(ses)
    assert 0.6 <= np.median(ses) / xis.std(ddof=1) <= 1.6
    assert np.mean(np.abs(xis - 8.0) <= 4 * ses) >= 0.95
    with pytest.raises(ValueError, match="seeds >= 2"):
        fit_depth_scale_seeds(np.ones((1, 5)))


def _growth_frame(cells, gains, crit, slope=4.0, depth=12):
    """grad_sq^l = chi^(L - l) with chi = gain_seed * exp(slope (sigma_w2 - crit)) per seed."""
    rows = [
        dict(sigma_w2=sw, seed=i, layer=layer, grad_sq=chi ** (depth - layer))
        for sw in cells
        for i, k in enumerate(gains)
        for chi in [k * np.exp(slope * (sw - crit))]
        for layer in range(depth + 1)
    ]
    return pd.DataFrame(rows)


def test_chi1_crossing_root_and_jackknife_se_by_hand():
    cells, gains, crit, slope = [1.7, 1.76, 1.85], np.array([0.99, 1.0, 1.02, 1.005]), 1.77, 4.0
    est = chi1_crossing(_growth_frame(cells, gains, crit, slope), 2, 2)
    # the seed-mean chi_1 is mean(gains) exp(slope (x - crit)): log-linear, root by hand
    assert est["value"] == pytest.approx(crit - np.log(gains.mean()) / slope, rel=1e-9)
    loo = np.array([crit - np.log(np.delete(gains, i).mean()) / slope for i in range(4)])
    assert est["se"] == pytest.approx(np.sqrt(3 / 4 * np.sum((loo - loo.mean()) ** 2)), rel=1e-6)
    np.testing.assert_allclose(est["cells"], cells)
    chi_mid = gains.mean() * np.exp(slope * (1.76 - crit))
    assert est["chi1"][1][0] == pytest.approx(chi_mid, rel=1e-9)
    assert est["seeds"] == 4 and est["why"] == ""


def test_chi1_crossing_outside_the_cells_says_why():
    est = chi1_crossing(_growth_frame([1.7, 1.76, 1.85], [1.0, 1.01], crit=2.5), 2, 2)
    assert np.isnan(est["value"])
    assert est["why"] == "chi_1 does not cross 1 between sigma_w2 = 1.7 and 1.85 (layers 2..L-2)"


def test_chi1_crossing_without_cells_says_why():
    frame = _growth_frame([1.7, 1.76, 1.85], [1.0, 1.01], crit=1.76)
    for empty in (frame.iloc[:0], frame.drop(columns="grad_sq")):
        est = chi1_crossing(empty, 2, 2)
        assert np.isnan(est["value"]) and np.isnan(est["se"]) and est["seeds"] == 0
        assert est["cells"].size == 0 and est["chi1"] == []
        assert est["why"] == "no cells with grad_sq"


def test_depth_scale_fits_recovers_an_exponential_approach():
    from initjax import theory

    sws, sb2, xi, layers = [1.5, 2.5], 0.05, 7.0, np.arange(40)
    c_star = np.asarray(theory.analyse("tanh", np.float32(sws), sb2).c_star, np.float64)
    rows = []
    for sw, cs in zip(sws, c_star, strict=True):
        c = cs + 0.4 * np.exp(-layers / xi)  # |c^l - c*| = 0.4 exp(-l / 7) exactly
        for seed in range(3):
            rows.append(pd.DataFrame(dict(sigma_w2=sw, sigma_b2=sb2, seed=seed, layer=layers,
                                          c=c, c_theory=c)))  # fmt: skip
    frame = pd.concat(rows, ignore_index=True)
    frame.loc[0, "c"] = np.nan  # a non-finite value is left out, not propagated
    out = depth_scale_fits(frame)
    assert out["sigma_w2"].tolist() == sws
    np.testing.assert_allclose(out["c*"], c_star)
    np.testing.assert_allclose(out["xi_c measured"], xi, rtol=1e-6)
    np.testing.assert_allclose(out["xi_c theory, same layers"], xi, rtol=1e-6)
    assert depth_scale_fits(frame.iloc[:0]).empty


def test_mean_se_and_jackknife_of_the_mean_agree():
    x = np.random.default_rng(0).standard_normal(20)
    m, se = fits.mean_se(x)
    assert m == pytest.approx(x.mean()) and se == pytest.approx(x.std(ddof=1) / math.sqrt(20))
    # the jackknife SE of a mean is exactly the usual SE of the mean
    theta, jse = fits.jackknife(lambda a: a.mean(), x)
    assert theta == pytest.approx(m) and jse == pytest.approx(se, rel=1e-12)
    assert math.isnan(fits.mean_se([1.0])[1]) and math.isnan(fits.jackknife(np.mean, x[:1])[1])


def test_jackknife_along_an_axis():
    x = np.random.default_rng(1).standard_normal((10, 3))
    theta, se = fits.jackknife(lambda a: a[:, 1].mean(), x, axis=0)
    assert se == pytest.approx(x[:, 1].std(ddof=1) / math.sqrt(10), rel=1e-12)


def test_finite_width_recovers_an_exact_one_over_n_law():
    m_inf, b = 1.76, 2.5
    fw = fits.finite_width(m_inf + b / 128, 0.01, 128, m_inf + b / 512, 0.003, 512)
    assert fw["m_inf"] == pytest.approx(m_inf) and fw["b"] == pytest.approx(b)
    assert fw["term2"] == pytest.approx(b / 512) and fw["term1"] == pytest.approx(b / 128)
    # m_inf = (4 m2 - m1) / 3: its SE from the two SEs
    assert fw["se_inf"] == pytest.approx(math.sqrt((0.01 / 3) ** 2 + (4 * 0.003 / 3) ** 2))
    with pytest.raises(ValueError, match="two different widths"):
        fits.finite_width(1, 1, 64, 1, 1, 64)


def test_jackknife_of_a_vector_statistic_is_the_per_column_jackknife():
    x = np.random.default_rng(2).lognormal(size=(12, 4))
    theta, se = fits.jackknife(lambda a: a.mean(0) / a[:, 0].mean(), x)
    assert theta.shape == se.shape == (4,) and se[0] == pytest.approx(0.0, abs=1e-12)
    for j in range(1, 4):
        tj, sj = fits.jackknife(lambda a, j=j: a[:, j].mean() / a[:, 0].mean(), x)
        assert theta[j] == pytest.approx(tj, rel=1e-12) and se[j] == pytest.approx(sj, rel=1e-12)
