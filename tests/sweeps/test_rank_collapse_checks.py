"""rank_collapse_checks on hand-made trajectories and per-layer rows (values derived by hand)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from initjax.sweeps import rank_collapse_checks as RCC


def _tr(norm="none", attention="uniform", dev=(0.0, 0.01, -0.02, 0.5), exponent=0.0):
    # one stack of depth 3: theory 1 - rho and measured = theory + dev, SE 0.01 per layer
    theory = np.array([0.5, 0.4, 0.3, 0.2])
    return pd.DataFrame({
        "norm": norm, "branch_exponent": exponent, "attention": attention, "depth": 3,
        "layer": np.arange(4), "theory": theory, "dev": dev, "se": 0.01,
        "one_minus_rho": theory + np.asarray(dev), "rho_limit": 0.85,
    })  # fmt: skip


KW = dict(width=100, floor=0.25, z_max=3.0, atol_rho=0.0, finite_width=5.0)


def test_theory_checks_judge_resolved_layers_in_se_units():
    # floor 0.25 leaves out layer 3 (theory 0.2) and layer 0 is never judged: layers 1, 2 have
    # |dev| 0.01, 0.02 <= 3 x 0.01
    (c,) = RCC.theory_checks(_tr(), **KW)
    assert c.name == "1 - rho vs closed form, uniform, none, b = L^-0, L = 3"
    assert (c.measured, c.expected, c.passed) == ("2/2", "2/2", True)
    assert c.z == pytest.approx(-2.0) and "worst layer 2: 0.28 vs 0.3" in c.note
    # floor 0.1 brings layer 3 in: |dev| 0.5 = 50 SE fails
    (c,) = RCC.theory_checks(_tr(), **{**KW, "floor": 0.1})
    assert (c.measured, c.passed) == ("2/3", False) and c.z == pytest.approx(50.0)


def test_theory_checks_allow_the_layernorm_width_term_and_report_softmax():
    # dev 0.05 = 5 SE: fails without LayerNorm, passes with tol 5 / width = 0.05 on top
    dev = (0.0, 0.05, 0.05, 0.0)
    assert RCC.theory_checks(_tr(dev=dev), **KW)[0].passed is False
    (c,) = RCC.theory_checks(_tr(norm="post", dev=dev), **KW)
    assert c.passed is True and c.tolerance == "|dev| <= 3 SE + 0.05"
    assert c.name.startswith("1 - rho vs LN recursion (large width), uniform, post")
    assert RCC.theory_checks(_tr(attention="softmax"), **KW)[0].passed is None


def test_depth_limit_checks_only_unnormalised_scaled_uniform_stacks():
    # last layer: 1 - rho = 0.2 + dev; rho = 0.8 - dev vs limit 0.85 + 3 x 0.01
    tr = pd.concat([_tr(exponent=0.5, dev=(0, 0, 0, 0.0)), _tr(exponent=0.0)])
    (c,) = RCC.depth_limit_checks(tr, z_max=3.0)
    assert c.measured == pytest.approx(0.8) and c.expected == 0.85 and c.passed is True
    assert c.z == pytest.approx(-5.0)
    (c,) = RCC.depth_limit_checks(_tr(exponent=0.5, dev=(0, 0, 0, -0.1)), z_max=3.0)
    assert c.measured == pytest.approx(0.9) and c.passed is False  # 0.9 > 0.88


def _rows(norm, exponent, last_cos, ratio_power=1.0):
    """Softmax stack rows of depth 2: per seed, token_cos per layer and grads whose Q/K-to-V
    ratio is (1 - cos of the block input)^ratio_power."""
    rows = []
    for s, end in enumerate(last_cos):
        cos = np.array([0.2, 0.6, end])
        ratio = np.r_[np.nan, (1 - cos[:-1]) ** ratio_power * (1 + 0.1 * s)]
        rows.append(pd.DataFrame({
            "norm": norm, "branch_exponent": exponent, "attention": "softmax", "depth": 2,
            "seed": s, "layer": np.arange(3), "token_cos": cos, "grad_wq": ratio,
            "grad_wk": 0.0, "grad_wv": 1.0}))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def test_scaling_checks_welch_t_by_hand():
    s_cos, u_cos = [0.5, 0.6, 0.7], [0.9, 0.95, 0.85]
    table = pd.concat([_rows("pre", 0.5, s_cos), _rows("pre", 0.0, u_cos)])
    (c,) = RCC.scaling_checks(table, depth=2, norms=["pre"], t_min=3.0)
    s, u = 1 - np.array(s_cos), 1 - np.array(u_cos)
    t = (s.mean() - u.mean()) / np.sqrt(s.var(ddof=1) / 3 + u.var(ddof=1) / 3)
    assert c.z == pytest.approx(t) and c.measured == pytest.approx(0.4)
    assert c.expected == pytest.approx(0.1) and t > 3.0 and c.passed is True
    # negative control: scaling without effect
    table = pd.concat([_rows("pre", 0.5, u_cos), _rows("pre", 0.0, u_cos)])
    assert RCC.scaling_checks(table, depth=2, norms=["pre"], t_min=3.0)[0].passed is False


@pytest.mark.parametrize("power, ok", [(1.0, True), (0.0, False)])
def test_qk_slope_checks_recover_the_power(power, ok):
    # blocks 1, 2 have inputs 1 - cos = 0.8, 0.4: the per-seed log-log slope is exactly `power`
    table = _rows("post", 0.0, [0.9, 0.9, 0.9], ratio_power=power)
    (c,) = RCC.qk_slope_checks(table, depth=2, floor=1e-4, collapse_max=0.9, z_max=3.0,
                               slope_tol=0.2, norms=("post",))  # fmt: skip
    assert c.measured == pytest.approx(power) and c.expected == 1.0 and c.passed is ok
    assert c.tolerance == "|slope - 1| <= 3 SE + 0.2" and c.se == pytest.approx(0.0, abs=1e-12)
