"""The main job: the tiny preset end to end, and its verdict on synthetic tables (negative
controls: a wrong theory constant, a shifted transition)."""

import functools

import numpy as np
import pandas as pd
import pytest

from initjax import theory
from initjax.sweeps import load_experiment, resolve_config, run_sweep
from initjax.sweeps.summary import Summary


@functools.cache
def theory_critical() -> float:
    """theory's critical sigma_w2 for tanh at sigma_b2 = 0.05 (1.76095), computed on first use
    (not while collecting)."""
    return float(theory.critical_sigma_w2("tanh", 0.05))


@pytest.fixture(scope="module")
def exp():
    return load_experiment("depth-sweep")


def test_depth_sweep_tiny(exp, tmp_path):
    cfg = resolve_config(exp, ["preset=tiny"])
    res = run_sweep(exp, cfg, tmp_path, progress=False, log=lambda *_: None)
    for name in ("results.parquet", "manifest.json", "summary.md", "summary.json",
                 "figure_q.png", "figure_c.png", "figure_xi.png", "figure_chi1.png"):  # fmt: skip
        assert (tmp_path / name).is_file(), name
    t = res.table
    # Zero init never breaks symmetry: every input lands on the same point (c = 1 exactly).
    zero = t[(t["arm"] == "tanh-zero") & (t["layer"] >= 1)]
    np.testing.assert_allclose(zero["c"], 1.0, atol=1e-6)
    # Glorot on ReLU: q halves per square layer (He et al. 2015); at width 32 and 3 seeds the
    # per-layer factor over 10 layers is 0.5 up to a few percent of sampling noise.
    g = t[(t["arm"] == "relu-glorot")].groupby("layer")["q"].mean()
    assert abs((g.iloc[-1] / g.iloc[1]) ** (1 / (len(g) - 2)) - 0.5) < 0.1
    # The critical arm ran at both of its widths, with grad_sq.
    crit = t[t["arm"] == "tanh-critical"]
    assert sorted(crit["width"].unique()) == [16, 32] and crit["grad_sq"].gt(0).all()
    s = Summary.read(tmp_path)
    first = s.verdict.checks[0]
    assert first.name == "critical sigma_w2, width 32" and first.expected == pytest.approx(
        theory_critical()
    )
    assert {"underflow", "nonfinite", "diverged"} <= set(t.columns)


def _synthetic(chi_shift=0.0, widths=(128, 512), seeds=16, depth=60, noise=0.02, seed=0):
    """A results table whose grad_sq grows by theory's chi_1 at sigma_w2 - chi_shift per layer
    (times noise), with ReLU arms: He level, Glorot halving and underflowing from layer 40."""
    rng = np.random.default_rng(seed)
    rows = []
    cells = [1.7, 1.76, 1.85]
    for w in widths:
        for sw in cells:
            chi = float(theory.chi_1("tanh", sw - chi_shift, 0.05))
            ratio = chi * (1 + noise * rng.standard_normal((seeds, depth)))  # g^l / g^(l+1)
            g = np.ones((seeds, depth + 1))
            for ell in range(depth - 1, -1, -1):
                g[:, ell] = g[:, ell + 1] * ratio[:, ell]
            for s in range(seeds):
                for ell in range(depth + 1):
                    rows.append(dict(arm="tanh-critical", activation="tanh", init="vs",
                                     width=w, depth=depth, sigma_w2=sw, sigma_b2=0.05, seed=s,
                                     layer=ell, q=0.5, c=0.9, q_theory=0.5, c_theory=0.9,
                                     grad_sq=g[s, ell], underflow=False, nonfinite=False,
                                     diverged=False))  # fmt: skip
    for arm, f in (("relu-he", 1.0), ("relu-glorot", 0.5)):
        for s in range(seeds):
            for ell in range(depth + 1):
                q = 2.0**-ell if f == 0.5 else 1.0
                under = f == 0.5 and ell >= 40
                rows.append(dict(arm=arm, activation="relu", init="x", width=widths[-1],
                                 depth=depth, sigma_w2=2 * f, sigma_b2=0.0, seed=s, layer=ell,
                                 q=0.0 if under else q * (1 + 0.01 * rng.standard_normal()),
                                 c=np.nan if under else 0.5, q_theory=q, c_theory=0.5,
                                 grad_sq=np.nan, underflow=under, nonfinite=under,
                                 diverged=False))  # fmt: skip
    return pd.DataFrame(rows)


def _config(exp, **analysis):
    cfg = resolve_config(exp, ["chi1_skip_first=5", "chi1_skip_last=5"])
    with cfg.unlocked():
        for k, v in analysis.items():
            cfg.analysis[k] = v
    return cfg


def test_verdict_passes_on_a_table_that_follows_theory(exp):
    v = exp.module.evaluate(_synthetic(), _config(exp))
    assert v.status == "PASS", v.reason
    first = v.checks[0]
    assert first.measured == pytest.approx(theory_critical(), abs=3 * first.se) and first.se < 0.01
    names = [c.name for c in v.checks]
    assert "width -> infinity (1/N fit, widths 128, 512)" in names
    flags = [c for c in v.checks if c.name.startswith("float32 flags, relu-glorot")]
    assert flags and "from layer 40" in flags[0].note
    assert flags[0].measured.startswith("336 underflow rows, 336 non-finite, 0 diverged")
    growth = {c.name: c for c in v.checks if c.name.startswith("q growth")}
    assert growth["q growth per layer, relu-glorot"].measured == pytest.approx(0.5, abs=0.01)


def test_negative_control_wrong_theory_constant_fails(exp):
    v = exp.module.evaluate(_synthetic(), _config(exp, expected_critical=1.80))
    assert v.status == "FAIL" and not v.checks[0].passed


def test_negative_control_shifted_transition_fails(exp):
    # the data's chi_1 crosses 1 at 1.76 + 0.03: about 10 SE from theory
    v = exp.module.evaluate(_synthetic(chi_shift=-0.03), _config(exp))
    assert v.status == "FAIL"
    assert v.checks[0].measured == pytest.approx(theory_critical() - 0.03, abs=0.01)


def test_noisy_data_fails_the_se_bound(exp):
    v = exp.module.evaluate(_synthetic(noise=0.5, seeds=4), _config(exp))
    se_check = v.checks[1]
    assert se_check.name.startswith("SE of the critical") and not se_check.passed
    assert v.status == "FAIL"


def test_one_width_is_partial(exp):
    cfg = _config(exp)
    cfg.compute.critical_widths = [512]
    v = exp.module.evaluate(_synthetic(widths=(512,)), cfg)
    assert v.status == "PARTIAL" and "one width" in v.reason


def test_not_estimable_is_partial_never_fail_nor_pass(exp):
    """chi_1 < 1 in every cell (the transition lies beyond the cells): no crossing, so the
    critical sigma_w2 cannot be estimated; the verdict says so and is PARTIAL."""
    v = exp.module.evaluate(_synthetic(chi_shift=0.5), _config(exp))
    assert v.status == "PARTIAL", v.reason
    assert v.reason.startswith("not estimable: at width 128 chi_1 does not cross 1 between")
    assert "nan" not in v.reason
    judged = [c for c in v.checks if c.passed is not None]
    assert not judged and v.checks[0].note.startswith("not estimable")
    # one width estimable and wrong (a wrong theory constant), the other not: still a FAIL
    t = _synthetic(chi_shift=0.5)
    t = pd.concat([t[t["width"] != 512], _synthetic(widths=(512,))[lambda f: f["width"] == 512]])
    v = exp.module.evaluate(t, _config(exp, expected_critical=1.80))
    assert v.status == "FAIL" and "not estimable: at width 128" in v.reason
    assert "nan" not in v.reason
