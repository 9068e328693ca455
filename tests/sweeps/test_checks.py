"""checks: seed count, McNemar agreement gain and two-width extrapolation, values by hand."""

import numpy as np
import pandas as pd
import pytest

from initjax.sweeps.checks import (
    agreement_gain,
    finite_width_checks,
    paired_worse_check,
    seeds_check,
)


def test_seeds_check_takes_the_smallest_count():
    c = seeds_check([6, 4, 5], 4, what="cell")
    assert (c.name, c.measured, c.expected, c.passed) == ("seeds per cell (min)", 4, 4, True)
    assert c.tolerance == ">= 4"
    assert seeds_check([6, 3], 4).passed is False
    assert seeds_check([], 4).measured == 0 and seeds_check([], 4).passed is False


def test_agreement_gain_counts_discordant_cells():
    # 10 cells: predictor right on 9, rival right on 4; discordant: b = 5 (only the predictor),
    # c = 0 (only the rival). Exact one-sided McNemar p = P(Bin(5, 1/2) >= 5) = 1/32.
    right = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 0], bool)
    rival = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], bool)
    c = agreement_gain("gain", right, rival, margin=0.1, alpha=0.05)
    assert c.measured == pytest.approx(0.5) and c.passed is True
    assert c.tolerance == ">= 0.1 and McNemar p <= 0.05"
    assert c.note == (
        "rival agrees on 40%; discordant cells: theory right 5, rival right 0; exact one-sided "
        "McNemar p = 0.0312"
    )
    # the same gain with p = 1/32 above alpha = 0.01 fails; untested, only the margin counts
    assert agreement_gain("g", right, rival, margin=0.1, alpha=0.01).passed is False
    untested = agreement_gain("g", right, rival, margin=0.1, alpha=0.01, tested=False)
    assert untested.passed is True and untested.tolerance == ">= 0.1"


def test_agreement_gain_below_margin_or_without_discordance_fails():
    same = np.array([1, 0, 1], bool)
    c = agreement_gain("g", same, same, margin=0.1, alpha=0.05, labels=("A", "B"))
    # no discordant cell: p = 1, gain 0
    assert c.measured == 0.0 and c.passed is False
    assert c.note.endswith("A right 0, B right 0; exact one-sided McNemar p = 1")
    # a gain of one cell in 3 (0.333) passes the margin but 1 discordant cell gives p = 0.5
    c = agreement_gain("g", [1, 1, 1], [1, 1, 0], margin=0.1, alpha=0.05)
    assert c.measured == pytest.approx(1 / 3) and c.passed is False


def test_agreement_gain_refuses_mismatched_inputs():
    with pytest.raises(ValueError, match="same shape"):
        agreement_gain("g", [True, False], [True], margin=0.1, alpha=0.05)
    with pytest.raises(ValueError, match="non-empty"):
        agreement_gain("g", [], [], margin=0.1, alpha=0.05)


def test_finite_width_checks_extrapolate_by_hand():
    # m(100) = 1.0, m(200) = 0.9 => b = 0.1 / (1/100 - 1/200) = 20, m_inf = 0.9 - 20/200 = 0.8;
    # SE_inf = sqrt((1 x 0.01)^2 + (2 x 0.01)^2) (weights -n1/(n2-n1) = -1, n2/(n2-n1) = 2)
    checks, fit = finite_width_checks((1.0, 0.01, 100), (0.9, 0.01, 200), 0.8, z_max=3.0)
    limit, term = checks
    assert fit["m_inf"] == pytest.approx(0.8) and fit["b"] == pytest.approx(20.0)
    assert limit.name == "width -> infinity (1/N fit, widths 100, 200)" and limit.passed is True
    assert limit.se == pytest.approx(np.sqrt(5e-4)) and limit.z == pytest.approx(0.0, abs=1e-9)
    assert term.name == "finite-width term b/N at width 200" and term.passed is None
    assert term.measured == pytest.approx(0.1) and term.note == "at width 100: 0.2000"
    assert term.se == pytest.approx(np.sqrt(2e-4) / 0.005 / 200)
    # negative control: a theory value 0.1 away is 4.5 SE off
    (limit, _), _ = finite_width_checks((1.0, 0.01, 100), (0.9, 0.01, 200), 0.9, z_max=3.0)
    assert limit.passed is False and limit.z == pytest.approx(-0.1 / np.sqrt(5e-4))
    with pytest.raises(ValueError, match="two different widths"):
        finite_width_checks((1.0, 0.01, 100), (0.9, 0.01, 100), 0.8, z_max=3.0)


def _finals(losses, diverged):
    return pd.DataFrame({"seed": range(len(losses)), "train_loss": losses, "diverged": diverged})


def test_paired_worse_check_counts_seeds_and_sign_test():
    ref = _finals([1.0] * 5, [False] * 5)
    # worse: 1.2 (>= 1.0 + 0.1), diverged, 1.3, 1.25; not worse: 1.05 -> 4 of 5, p = 6/32
    other = _finals([1.2, 1.05, np.nan, 1.3, 1.25], [False, False, True, False, False])
    c = paired_worse_check("c", ref, other, margin=0.1, alpha=0.05, labels=("He", "small"))
    assert c.measured == "4 of 5" and c.passed is False
    assert c.tolerance == "loss +0.1 nats or diverged; sign p <= 0.05"
    # mean final loss of the finite "small" seeds: (1.2 + 1.05 + 1.3 + 1.25) / 4 = 1.2
    assert c.note == "final train loss He 1, small 1.2 (1 diverged); p = 0.19"
    worse = _finals([1.2, 1.3, 1.4, 1.5, 1.6], [False] * 5)
    assert paired_worse_check("c", ref, worse, margin=0.1, alpha=0.05).passed is True  # p = 1/32
    # a seed on which the reference itself diverged never counts as worse; unpaired seeds drop
    ref_div = _finals([1.0] * 5, [True] + [False] * 4)
    c = paired_worse_check("c", ref_div, worse.iloc[:4], margin=0.1, alpha=0.05)
    assert c.measured == "3 of 4" and c.passed is False
