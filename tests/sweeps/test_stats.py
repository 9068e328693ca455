"""Statistics helpers against closed forms and scipy (dev dependency)."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from initjax.sweeps import stats


def test_deviation_check():
    c = stats.deviation("x", 1.029, 1.0, 0.01, 3.0)
    assert c.z == pytest.approx(2.9) and c.passed and c.tolerance == "|z| <= 3"
    assert not stats.deviation("x", 0.969, 1.0, 0.01, 3.0).passed
    assert not stats.deviation("x", float("nan"), 1.0, 0.01, 3.0).passed
    assert not stats.deviation("x", 1.0, 1.0, 0.0, 3.0).passed  # no SE: cannot pass


@pytest.mark.parametrize("t,dof", [(0.0, 3.0), (1.5, 4.0), (-2.0, 7.5), (3.2, 30.0), (6.0, 2.0)])
def test_student_t_sf_matches_scipy(t, dof):
    assert stats.student_t_sf(t, dof) == pytest.approx(sps.t.sf(t, dof), abs=2e-6)


def test_welch_one_sided_matches_scipy():
    rng = np.random.default_rng(2)
    a, b = rng.normal(1.0, 1.0, 6), rng.normal(0.0, 2.0, 9)
    t, dof, p = stats.welch_one_sided(a, b)
    ref = sps.ttest_ind(a, b, equal_var=False, alternative="greater")
    assert t == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue, abs=2e-6)
    assert dof == pytest.approx(ref.df)
    with pytest.raises(ValueError, match=">= 2 values"):
        stats.welch_one_sided([1.0], b)


def test_sign_test_matches_scipy():
    for k, n in ((5, 5), (4, 5), (0, 4), (7, 10)):
        ref = sps.binomtest(k, n, 0.5, alternative="greater").pvalue
        assert stats.sign_test(k, n) == pytest.approx(ref, rel=1e-12)
    assert stats.sign_test(4, 4) == pytest.approx(1 / 16)
    with pytest.raises(ValueError):
        stats.sign_test(5, 4)


def test_variance_ratio_one_sided_matches_scipy():
    rng = np.random.default_rng(5)
    a, b = rng.normal(0, 3.0, 8), rng.normal(0, 1.0, 6)
    f, p = stats.variance_ratio_one_sided(a, b)
    assert f == pytest.approx(a.var(ddof=1) / b.var(ddof=1), rel=1e-12)
    assert p == pytest.approx(sps.f.sf(f, 7, 5), abs=1e-6)
    # the other direction is the complement
    f2, p2 = stats.variance_ratio_one_sided(b, a)
    assert f2 == pytest.approx(1 / f) and p2 == pytest.approx(1 - p, abs=1e-6)
    with pytest.raises(ValueError, match=">= 2 values"):
        stats.variance_ratio_one_sided([1.0], b)


def test_finite_width_fit_per_group_recovers_each_law():
    """Two groups with their own exact m_inf + b / N laws; a group with one width is left out."""
    laws = {("a", 2): (0.5, -3.0), ("b", 8): (2.0, 40.0)}
    rows = [
        dict(arm=arm, depth=d, width=n, mean=m + b / n, se=0.01 * n / 64)
        for (arm, d), (m, b) in laws.items()
        for n in (256, 64)  # unsorted widths: the fit sorts them
    ] + [dict(arm="c", depth=1, width=64, mean=1.0, se=0.1)]
    fit = stats.finite_width_fit(pd.DataFrame(rows), ["arm", "depth"]).set_index(["arm", "depth"])
    assert list(fit.index) == list(laws)
    for key, (m, b) in laws.items():
        r = fit.loc[key]
        assert (r["n1"], r["n2"]) == (64, 256)
        assert r["m_inf"] == pytest.approx(m) and r["b"] == pytest.approx(b)
        assert r["term1"] == pytest.approx(b / 64) and r["term2"] == pytest.approx(b / 256)
        # m_inf = (4 m2 - m1) / 3 with SEs 0.01 (N = 64) and 0.04 (N = 256)
        assert r["se_inf"] == pytest.approx(math.sqrt((0.01 / 3) ** 2 + (4 * 0.04 / 3) ** 2))
    with pytest.raises(KeyError, match="sem"):
        stats.finite_width_fit(pd.DataFrame(rows), ["arm"], se="sem")


def test_layer_deviation_and_flag_counts():
    rng = np.random.default_rng(3)
    rows = []
    for sw in (1.0, 2.0):
        for s in range(50):
            for ell in range(1, 4):
                rows.append(dict(sigma_w2=sw, seed=s, layer=ell, q=1 + 0.1 * rng.standard_normal(),
                                 q_theory=1.0 if sw == 1.0 else 0.9))  # fmt: skip
    f = pd.DataFrame(rows)
    z = stats.layer_deviation(f, "q", "q_theory")
    assert z["layers"].tolist() == [3, 3]
    assert z.loc[0, "max |z|"] < 4 and z.loc[1, "median |z|"] > 5  # 0.1 off, SE ~0.014
    flags = pd.DataFrame(
        dict(arm=["a"] * 4 + ["b"] * 2, width=8, sigma_w2=1.0, seed=[0, 0, 1, 1, 0, 0],
             layer=[0, 1, 0, 1, 0, 1], underflow=[False, True, False, True, False, False],
             nonfinite=[False, True, False, True, False, True],
             diverged=[False, False, False, False, True, True])
    )  # fmt: skip
    out = stats.flag_counts(flags).set_index("arm")
    assert out.loc["a", "underflow_rows"] == 2 and out.loc["a", "first_underflow_layer"] == 1
    assert out.loc["b", "diverged_networks"] == 1 and out.loc["a", "diverged_networks"] == 0
    checks = {c.name: c for c in stats.flag_checks(flags)}
    a, b = checks["float32 flags, a (width 8)"], checks["float32 flags, b (width 8)"]
    assert a.measured == "2 underflow rows, 2 non-finite, 0 diverged networks"
    assert a.note == "q < 1.18e-38 from layer 1" and a.passed is None
    assert b.measured == "0 underflow rows, 1 non-finite, 1 diverged networks" and b.note == ""
    clean = flags.assign(underflow=False, nonfinite=False, diverged=False)
    assert stats.flag_checks(clean) == []  # no flag, no row


def test_seed_means_against_hand_computed_values():
    f = pd.DataFrame(
        {
            "depth": [3, 3, 3, 10, 10],
            "seed": [0, 1, 2, 0, 1],
            "train_acc": [0.2, 0.4, 0.6, 0.1, 0.3],
            "train_loss": [2.0, 1.0, 0.0, 3.0, 1.0],
            "diverged": [False, True, False, True, True],
        }
    )
    out = stats.seed_means(f, ["depth"], ["train_acc", "train_loss"])
    assert list(out.columns) == [
        "depth", "train_acc", "train_loss", "train_acc_se", "diverged", "seeds"
    ]  # fmt: skip
    assert out["train_acc"].tolist() == pytest.approx([0.4, 0.2])
    assert out["train_loss"].tolist() == pytest.approx([1.0, 2.0])
    # sd of (0.2, 0.4, 0.6) is 0.2, over sqrt(3); of (0.1, 0.3) is sqrt(0.02), over sqrt(2)
    assert out["train_acc_se"].tolist() == pytest.approx([0.2 / math.sqrt(3), 0.1])
    assert out["diverged"].tolist() == [1, 2] and out["seeds"].tolist() == [3, 2]
    named = stats.seed_means(f.drop(columns="diverged"), ["depth"], ["train_acc"], se_name="se")
    assert "se" in named and named["diverged"].tolist() == [0, 0]


def test_welch_gain_check_passes_a_clear_gain_and_fails_a_small_one():
    a, b = pd.Series([0.9, 0.92, 0.88, 0.91]), pd.Series([0.1, 0.11, 0.09, 0.1])
    c = stats.welch_gain("gain", a, b, min_gain=0.1, alpha=0.05, labels=("He", "zero"))
    t, p = sps.ttest_ind(a, b, equal_var=False, alternative="greater")
    assert c.passed and c.measured == pytest.approx(a.mean() - b.mean())
    assert c.se == pytest.approx(math.hypot(a.sem(), b.sem()))
    assert f"t {t:.2f}, p {p:.2g}" in c.note and c.note.startswith("He 0.903, zero 0.100")
    # significant but below min_gain, and a gain in the wrong direction: both FAIL
    assert not stats.welch_gain("g", b + 0.05, b - 0.01, min_gain=0.1, alpha=0.05).passed
    assert not stats.welch_gain("g", b, a, min_gain=0.1, alpha=0.05).passed
    # one value per sample: Welch refuses, the check fails with NaN p and no SE
    lone = stats.welch_gain("g", a[:1], b[:1], min_gain=0.1, alpha=0.05)
    assert lone.passed is False and lone.se is None and "p nan" in lone.note


def test_growth_per_layer_recovers_geometric_growth_and_stops_at_underflow():
    rows = []
    for seed, scale in enumerate([0.5, 1.0, 2.0]):
        for layer in range(7):
            rows.append(
                {
                    "seed": seed,
                    "layer": layer,
                    "q": scale * 0.5**layer,  # seed-dependent scale, exact growth 0.5 per layer
                    "q_theory": 3.0 * 0.25**layer,
                    "underflow": seed == 1 and layer >= 5,  # layers 1-4 stay
                }
            )
    m, se, th, span = stats.growth_per_layer(pd.DataFrame(rows))
    assert m == pytest.approx(0.5, rel=1e-12) and th == pytest.approx(0.25, rel=1e-12)
    assert se == pytest.approx(0.0, abs=1e-12) and span == "1-4"
    one = pd.DataFrame(rows[:2]).assign(underflow=False)  # layers 0 and 1: no growth to measure
    assert math.isnan(stats.growth_per_layer(one)[0]) and stats.growth_per_layer(one)[3] == ""


def test_paired_reduction_matches_scipy_paired_t():
    before = np.array([3.0, 2.5, 4.0, 3.2, 2.9])
    after = np.array([1.0, 1.4, 2.1, 0.9, 1.5])
    c = stats.paired_reduction("gq", before, after, z_min=3.0)
    t = sps.ttest_rel(before, after).statistic  # paired t = mean(d) / (sd(d) / sqrt(n))
    assert c.z == pytest.approx(t, rel=1e-12) and c.passed
    assert c.measured == pytest.approx(np.mean(before - after))
    # log differences of a quantity that dropped 10x on every seed
    lg = stats.paired_reduction(
        "gq", before, before / 10 * [1, 1.1, 0.9, 1, 1.05], z_min=3, log=True
    )
    assert lg.measured == pytest.approx(np.log(10) - np.mean(np.log([1, 1.1, 0.9, 1, 1.05])))
    # negative control: no reduction (after = before plus noise), or an increase, fails
    noise = np.array([0.1, -0.1, 0.05, -0.05, 0.0])
    assert not stats.paired_reduction("gq", before, before + noise, z_min=3.0).passed
    assert not stats.paired_reduction("gq", after, before, z_min=3.0).passed
    assert not stats.paired_reduction("gq", [1.0], [0.5], z_min=3.0).passed  # one seed


def test_welch_not_worse():
    ref = pd.Series([0.80, 0.82, 0.81, 0.79])
    same = pd.Series([0.80, 0.81, 0.80, 0.82])
    c = stats.welch_not_worse("acc", ref, same, max_gap=0.05, z_min=3.0)
    assert c.passed and c.z == pytest.approx(stats.welch_one_sided(ref, same)[0])
    # clearly worse (by 0.3, many SE) fails; a gap above max_gap fails even when noisy
    assert not stats.welch_not_worse("acc", ref, ref - 0.3, max_gap=0.05, z_min=3.0).passed
    noisy = pd.Series([0.95, 0.40, 0.90, 0.45])
    assert not stats.welch_not_worse("acc", ref, noisy, max_gap=0.05, z_min=3.0).passed


def test_sign_check_is_the_exact_binomial_tail():
    from initjax.sweeps.stats import sign_check

    c = sign_check("x", 6, 6, alpha=0.05)
    # P(X >= 6), X ~ Bin(6, 1/2) = 1/64 = 0.0156
    assert c.passed and c.measured == "6 of 6" and c.note == "p = 0.016"
    c = sign_check("x", 5, 6, alpha=0.05, note="paired")
    # 7/64 = 0.109 > 0.05
    assert c.passed is False and c.note == "paired; p = 0.11"
    assert sign_check("x", 0, 0, alpha=0.05).passed is False


def test_excuse_negligible_only_for_a_small_failed_check():
    from initjax.sweeps.stats import deviation, excuse_negligible

    small = deviation("d", 0.004, 0.0, 0.001, 3.0, note="n")  # z = 4: resolved
    assert excuse_negligible(small, 0.004, 0.01, "negligible") and small.passed is None
    assert small.note == "n; negligible"
    big = deviation("d", 0.02, 0.0, 0.001, 3.0)
    assert not excuse_negligible(big, 0.02, 0.01, "negligible") and big.passed is False
    ok = deviation("d", 0.001, 0.0, 0.001, 3.0)
    assert not excuse_negligible(ok, 0.001, 0.01, "negligible") and ok.passed is True


def test_loglog_slopes_of_exact_power_laws():
    x = np.tile(np.geomspace(1e-4, 0.5, 7), (3, 1))
    y = np.array([2.0, 0.5, 7.0])[:, None] * x ** np.array([1.0, 1.5, -0.5])[:, None]
    y[1, 2] = np.nan  # skipped point
    np.testing.assert_allclose(stats.loglog_slopes(x, y), [1.0, 1.5, -0.5], rtol=1e-10)
    x1 = x.copy()
    x1[0, 1:] = np.nan  # fewer than 2 usable points -> NaN
    assert np.isnan(stats.loglog_slopes(x1, y)[0])
    with pytest.raises(ValueError, match="same shape"):
        stats.loglog_slopes(x, y[:, :3])


def test_per_doubling_check_bounds_the_mean_slope():
    """Slopes 0.1 +- 0.02 (SE 0.0115 over 4 seeds): growth 2**0.1 per doubling; the 3-SE bounds
    0.135 (x1.098) and 0.065 (x1.046) are each judged against log2(limit)."""
    slopes = [0.08, 0.12, 0.08, 0.12]  # mean 0.1, sd 0.0231, SE 0.01155
    se = np.std(slopes, ddof=1) / 2
    up = stats.per_doubling_check("orthogonal", slopes, 1.25, 3.0, upper=True)
    assert up.passed and up.measured == pytest.approx(2**0.1) and up.expected == 1.25
    assert up.se == pytest.approx(se) and up.note == f"bound x{2 ** (0.1 + 3 * se):.2f}"
    assert up.tolerance == "upper 3-SE bound <= 1.25"
    # the same slopes do not show growth beyond x1.05 per doubling (lower bound 2**0.065 < 1.05)
    low = stats.per_doubling_check("gaussian", slopes, 1.05, 3.0, upper=False)
    assert not low.passed and low.tolerance == "lower 3-SE bound >= 1.05"
    assert stats.per_doubling_check("g", slopes, 1.04, 3.0, upper=False).passed  # 1.046 >= 1.04
    assert not stats.per_doubling_check("o", slopes, 1.08, 3.0, upper=True).passed  # 1.098 > 1.08
    # one finite slope: no SE, the bound is NaN and the check fails
    assert not stats.per_doubling_check("o", [0.0, np.nan], 2.0, 3.0, upper=True).passed


def test_variance_ratio_check_is_the_f_test():
    rng = np.random.default_rng(7)
    a, b = rng.normal(0, 3.0, 8), rng.normal(0, 1.0, 6)
    c = stats.variance_ratio_check("spread", np.append(a, np.inf), b, alpha=0.01)
    f, p = a.var(ddof=1) / b.var(ddof=1), sps.f.sf(a.var(ddof=1) / b.var(ddof=1), 7, 5)
    assert c.measured == pytest.approx(a.std(ddof=1)) and c.expected == pytest.approx(b.std(ddof=1))
    assert c.passed == (p < 0.01) and c.note.startswith(f"F = {f:.3g}, p = ")
    assert float(c.note.split("p = ")[1]) == pytest.approx(p, rel=0.05)  # printed to 2 digits
    assert c.tolerance == "F test p < 0.01"
    assert not stats.variance_ratio_check("s", b, a, alpha=0.01).passed  # the other direction
    lone = stats.variance_ratio_check("s", a[:1], b, alpha=0.01)  # the test refuses: fails
    assert lone.passed is False and "nan" in lone.note
