"""Recipe arms: block variances against the recipes' published formulas, the pre-LN growth bounds
against a closed form with an independent quadrature, growth slopes on constructed tables, and
the checks on constructed samples (including their negative cases)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from initjax.sweeps import recipes as RX

D, F, L = 32, 128, 8
TRUNC2 = 0.7737413  # Var[N(0,1) | |z| < 2]: BERT's uncorrected truncated normal


def test_parse_arm_defaults_to_the_recipe_norm_and_refuses_bad_names():
    assert RX.parse_arm("flax") == ("flax", "pre")
    assert RX.parse_arm("flax-post") == ("flax", "post")
    assert RX.parse_arm("tfixup") == ("tfixup", "none")
    with pytest.raises(ValueError, match="norm must be one of"):
        RX.parse_arm("gpt2-mid")
    with pytest.raises(ValueError, match="gpt2"):
        RX.parse_arm("gtp2")


@pytest.mark.parametrize(
    "recipe,expected",
    [
        # GPT-2: N(0, 0.02^2), residual projections (out, mlp_out) / sqrt(2L); tables 0.02^2.
        ("gpt2", dict(v=4e-4 * D, o=4e-4 * D / (2 * L), m1=4e-4 * D, m2=4e-4 * F / (2 * L),
                      b1=0.0, q0=8e-4, skip=1.0)),
        # BERT: truncated normal 0.02 (+-2 std, uncorrected) everywhere.
        ("bert", dict(v=4e-4 * TRUNC2 * D, o=4e-4 * TRUNC2 * D, m1=4e-4 * TRUNC2 * D,
                      m2=4e-4 * TRUNC2 * F, b1=0.0, q0=8e-4 * TRUNC2, skip=1.0)),
        # PyTorch: packed xavier in-projection Var 1/(2d); out 1/(3d); Linear bias 1/(3 fan_in).
        ("torch", dict(v=0.5, o=1 / 3, m1=1 / 3, m2=1 / 3, b1=1 / (3 * D), q0=2.0, skip=1.0)),
        # DeepNorm: xavier_normal x (8L)^(-1/4) on v/out/MLP; skip (2L)^(1/4).
        ("deepnorm", dict(v=(8 * L) ** -0.5, o=(8 * L) ** -0.5,
                          m1=(8 * L) ** -0.5 * 2 * D / (D + F),
                          m2=(8 * L) ** -0.5 * 2 * F / (D + F), b1=0.0, q0=2 / D,
                          skip=(2 * L) ** 0.25)),
        # T-Fixup: xavier_uniform x 0.67 L^(-1/4); tokens (9L)^(-1/4) x N(0, 1/d) x sqrt(d)
        # (fairseq's embed_scale), pos N(0, 1/d).
        ("tfixup", dict(v=0.67**2 / L**0.5, o=0.67**2 / L**0.5,
                        m1=0.67**2 / L**0.5 * 2 * D / (D + F),
                        m2=0.67**2 / L**0.5 * 2 * F / (D + F),
                        b1=0.0, q0=1 / (9 * L) ** 0.5 + 1 / D, skip=1.0)),
    ],
)  # fmt: skip
def test_block_variances_follow_the_recipe_formulas(recipe, expected):
    v = RX.block_variances(recipe, depth=L, width=D, mlp_width=F)
    got = dict(v=v.attention.sigma_v2, o=v.attention.sigma_o2, m1=v.mlp.sigma_12,
               m2=v.mlp.sigma_22, b1=v.mlp.sigma_b12, q0=v.q0, skip=v.skip)  # fmt: skip
    for k, want in expected.items():
        assert got[k] == pytest.approx(want, rel=1e-5), k


def _gelu_sq_mean() -> float:
    """E[gelu(z)^2], z ~ N(0, 1), exact-erf GELU, by the trapezoid rule on [-12, 12]."""
    z = np.linspace(-12.0, 12.0, 200001)
    erf = np.vectorize(math.erf)
    g = z * 0.5 * (1.0 + erf(z / math.sqrt(2.0)))
    return float(np.trapezoid(g**2 * np.exp(-(z**2) / 2) / math.sqrt(2 * math.pi), z))


def test_pre_ln_growth_bounds_closed_form_for_flax():
    # Flax: v, out, mlp_in Var 1/fan_in and mlp_out 1/f, so sigma2 = 1 everywhere: per block
    # the attention adds between 1/T (orthogonal tokens) and 1, the MLP E[gelu(z)^2].
    m, t, q0 = _gelu_sq_mean(), 9, 0.05
    lo, hi = RX.pre_ln_growth_bounds("flax", depth=L, width=D, tokens=t, q0=q0)
    assert lo == pytest.approx(1 + L * (1 / t + m) / q0, rel=1e-5)
    assert hi == pytest.approx(1 + L * (1 + m) / q0, rel=1e-5)


def _frame(growth_by_depth, seeds=4):
    rows = []
    for depth, g in growth_by_depth.items():
        for s in range(seeds):
            q0 = 1.0 + 0.1 * s
            q = [q0, q0 * g(depth, s)]
            rows.append(pd.DataFrame({"arm": "a", "depth": depth, "seed": s,
                                      "layer": [0, depth], "q": q}))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def test_growth_and_slopes_on_constructed_tables():
    lin = _frame({d: (lambda d, s: 3.0 * d) for d in (4, 16, 64)})
    g = RX.growth(lin)
    assert g.growth.to_numpy() == pytest.approx(np.repeat([12.0, 48.0, 192.0], 4))
    np.testing.assert_allclose(RX.growth_slopes(lin), 1.0, rtol=1e-12)
    flat = _frame({d: (lambda d, s: 1.5 + 0.01 * s) for d in (4, 16, 64)})
    np.testing.assert_allclose(RX.growth_slopes(flat), 0.0, atol=1e-12)
    assert np.isnan(RX.growth_slopes(_frame({4: lambda d, s: 2.0}))).all()


def test_slope_check_decides_in_standard_errors():
    lin = _frame({d: (lambda d, s: d * (1 + 0.01 * s)) for d in (4, 16, 64)})
    lin["arm"] = "flax"
    noisy = _frame({d: (lambda d, s: d ** (0.4 + 0.05 * s)) for d in (4, 64)})
    noisy["arm"] = "x"  # slopes 0.4 .. 0.55 straddle the split
    t = pd.concat([lin, noisy])
    assert RX.slope_check(t, "flax", split=0.5, bounded=False, t_min=3).passed
    assert not RX.slope_check(t, "flax", split=0.5, bounded=True, t_min=3).passed
    assert not RX.slope_check(t, "x", split=0.5, bounded=True, t_min=3).passed
    assert not RX.slope_check(t, "absent", split=0.5, bounded=True, t_min=3).passed


def test_welch_and_worse_checks():
    a, b = np.array([0.9, 0.92, 0.91, 0.93]), np.array([0.2, 0.25, 0.22, 0.21])
    assert RX.welch_check("a > b", a, b, 3.0).passed
    assert not RX.welch_check("b > a", b, a, 3.0).passed
    assert not RX.welch_check("one value", a[:1], b, 3.0).passed
    rows = [dict(arm=arm, depth=4, seed=s, learning_rate=lr, final=True, diverged=False,
                 test_acc=acc + 0.01 * s, train_loss=loss)
            for arm, acc in (("bad", 0.2), ("good", 0.9)) for s in range(4)
            for lr, loss in ((1e-3, 0.5), (1e-2, np.nan))]  # fmt: skip
    t = pd.DataFrame(rows)
    acc, lr, div = RX.final_accuracy(t, "good", 4)
    assert lr == 1e-3 and div == 0 and acc.mean() == pytest.approx(0.915)  # nan loss: not chosen
    support, contra = RX.worse_checks(t, "bad", ["good"], 4, t_min=3.0, tag="x")
    assert support[0].passed and contra[0].passed
    support, contra = RX.worse_checks(t, "good", ["bad"], 4, t_min=3.0, tag="x")
    assert not support[0].passed and not contra[0].passed  # the reverse: contradicted
    assert RX.trains_check(t, "good", 4, baseline=0.125, gap=0.5, t_min=3).passed
    assert not RX.trains_check(t, "bad", 4, baseline=0.125, gap=0.5, t_min=3).passed
    # On the 2-pair no-key-matching plateau (guess 1/2 + 1/16): above the guess by many SE, yet
    # short of half the way to 1 (0.5625 + 0.5 * 0.4375 = 0.78125), so it has not learned recall.
    plateau = t.assign(test_acc=0.575 + 0.001 * t.seed)
    c = RX.trains_check(plateau, "good", 4, baseline=0.5625, gap=0.5, t_min=3)
    assert c.expected == pytest.approx(0.78125) and c.z > 3 and not c.passed


def test_recall_data_follows_the_config_and_is_deterministic():
    import ml_collections

    from initjax.data.sequence import associative_recall

    comp = ml_collections.ConfigDict(dict(n_pairs=3, n_keys=10, n_values=5, root_seed=2))
    x_tr, y_tr, x_te, y_te = RX.recall_data(comp, 40, 12)
    assert x_tr.shape[0] == y_tr.shape[0] == 40 and x_te.shape[0] == y_te.shape[0] == 12
    assert int(y_tr.max()) < 5 and int(x_tr.max()) < 10 + 5  # keys, then values, as token ids
    kw = dict(n_pairs=3, n_keys=10, n_values=5, seed=2)
    np.testing.assert_array_equal(x_te, associative_recall("test", n_test=12, **kw)[0])


def test_uniform_cosine_by_hand_for_tfixup_one_block():
    # T-Fixup at L = 1 (no LayerNorm, ReLU, zero biases, skip 1): uniform attention adds
    # x m to q and p alike, x = sigma_v2 sigma_o2 = (0.67^2)^2, m = (q0 + (T-1) p0) / T; the
    # ReLU MLP adds sigma_22 Q / 2 to q and that times the arc-cosine kernel
    # (sqrt(1 - c^2) + (pi - arccos c) c) / pi to p (Cho & Saul 2009), Q = sigma_12 q1.
    t, q0, p0, g = 9, 0.02, 0.005, 0.67**2
    q1 = q0 + g * g * (q0 + (t - 1) * p0) / t
    p1 = p0 + (q1 - q0)
    c = p1 / q1
    dq = g * 2 * F / (D + F) * g * 2 * D / (D + F) * q1 / 2
    kernel = (math.sqrt(1 - c * c) + (math.pi - math.acos(c)) * c) / math.pi
    want = (p1 + dq * kernel) / (q1 + dq)
    rho = RX.uniform_cosine("tfixup", "none", depth=1, width=D, tokens=t, q0=q0, p0=p0)
    assert rho.shape == (2,) and rho[0] == pytest.approx(p0 / q0, rel=1e-12)
    assert rho[1] == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("recipe,norm", [("gpt2", "pre"), ("bert", "post")])
def test_uniform_cosine_keeps_collapsed_tokens_collapsed(recipe, norm):
    # Uniform attention gives every token the same output and identical tokens the same MLP
    # output: tokens that start equal stay equal, at any depth and norm placement.
    rho = RX.uniform_cosine(recipe, norm, depth=6, width=D, tokens=9, q0=0.3, p0=0.3)
    np.testing.assert_allclose(rho, 1.0, rtol=1e-9)
    with pytest.raises(ValueError, match="p0"):
        RX.uniform_cosine(recipe, norm, depth=2, width=D, tokens=9, q0=0.3, p0=0.5)


def _cos_rows(arm, depth, cos_last, seeds=4, q0=0.01, p0=0.001):
    """Per-layer rows of one arm whose last-layer token cosine is ``cos_last`` (+ 0.002 s)."""
    recipe, norm = RX.parse_arm(arm)
    rows = []
    for s in range(seeds):
        cos = np.r_[np.full(depth, p0 / q0), cos_last + 0.002 * s]
        rows.append(pd.DataFrame({"arm": arm, "recipe": recipe, "norm": norm, "depth": depth,
                                  "tokens": 9, "seed": s, "layer": np.arange(depth + 1),
                                  "q": q0, "token_cross": p0, "token_cos": cos, "erank": 5.0,
                                  "entropy_frac": 1.0, "attn_logit_std": 0.01,
                                  "diverged": False}))  # fmt: skip
    return rows


def test_cosine_checks_pass_at_the_theory_and_fail_far_from_it():
    depth = 4
    want = RX.uniform_cosine("gpt2", "pre", depth=depth, width=D, tokens=9, q0=0.01, p0=0.001)
    near = _cos_rows("gpt2", depth, want[-1] - 0.003)
    far = _cos_rows("bert", depth, 0.9)  # negative control: collapsed where theory is not
    t = pd.concat(near + far, ignore_index=True)
    out = RX.init_outcomes(t, width=D, cosine_arms=["gpt2", "bert"])
    assert out.set_index("arm").token_cos_theory["gpt2"] == pytest.approx(want[-1], rel=1e-9)
    ok, bad = RX.cosine_checks(out, ["gpt2", "bert"], tol=5 / D, t_min=3)
    assert ok.passed and ok.expected == pytest.approx(want[-1])
    assert not bad.passed and bad.measured == pytest.approx(0.903)
    # Within the finite-width allowance but beyond it by more than t_min SE: fails.
    shifted = _cos_rows("gpt2", depth, want[-1] + 5 / D + 0.02)
    out = RX.init_outcomes(pd.concat(shifted, ignore_index=True), width=D, cosine_arms=["gpt2"])
    assert not RX.cosine_checks(out, ["gpt2"], tol=5 / D, t_min=3)[0].passed
    assert np.isnan(RX.init_outcomes(t, width=D).token_cos_theory).all()  # no arms named
