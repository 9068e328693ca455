"""poole2016 at its tiny preset, and its verdict on the real table and on tables with a wrong
theory (wrong sigma_w2, missing bias variance): the same evaluate must FAIL those."""

import numpy as np
import pytest

from initjax import theory
from initjax.sweeps import load_experiment, resolve_config
from initjax.sweeps.runtime import run_experiment
from initjax.sweeps.summary import Summary


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    exp = load_experiment("poole2016")
    cfg = resolve_config(exp, ["preset=tiny"])
    out = tmp_path_factory.mktemp("poole2016")
    res = run_experiment(exp, cfg, out, progress=False, log=lambda *_: None)
    return exp, cfg, out, res


def test_tiny_run_outputs_and_verdict(tiny_run):
    exp, cfg, out, res = tiny_run
    for name in ("summary.md", "summary.json", "figure_maps.png", "figure_phase.png"):
        assert (out / name).is_file(), name
    s = Summary.read(out)
    # 16 networks per point, 4 SE + tolerance: a correct measurement passes every point.
    assert s.verdict.status == res.verdict.status == "PASS", s.verdict.reason
    assert s.verdict.not_reproduced and (out / "summary.md").read_text().count("**Verdict:") == 1
    ph = exp.module.phases(res.table, cfg)
    # Published phases (Poole et al. 2016, Fig. 2): sigma_w = 1.3 ordered, 2.5 and 4 chaotic.
    assert list(ph["phase_measured"]) == ["ordered", "chaotic", "chaotic"]
    assert {"kind", "piece", "seed", "measured", "theory", "q", "c", "q_theory"} <= set(
        res.table.columns
    )


def test_standard_deviations_become_variances(tiny_run):
    table = tiny_run[3].table
    maps = table[table["kind"] == "qmap"]
    np.testing.assert_allclose(sorted(maps["sigma_w2"].unique()), [1.3**2, 2.5**2, 4.0**2])
    np.testing.assert_allclose(maps["sigma_b2"].unique(), [0.3**2])


def test_single_layer_q_map_matches_independent_quadrature(tiny_run):
    """q^l = sigma_w2 E[tanh(sqrt(q) z)^2] + sigma_b2 by scipy's quad (not initjax.theory)."""
    from scipy import integrate

    _, cfg, _, res = tiny_run
    maps = res.table[res.table["kind"] == "qmap"]
    for (sw, q), g in maps.groupby(["sigma_w", "x"]):
        density = lambda z, q=q: np.tanh(np.sqrt(q) * z) ** 2 * np.exp(-z * z / 2)  # noqa: E731
        e_tanh2 = integrate.quad(density, -np.inf, np.inf, epsabs=1e-13, limit=200)[0]
        expected = sw**2 * e_tanh2 / np.sqrt(2 * np.pi) + 0.09
        se = g["measured"].std(ddof=1) / np.sqrt(len(g))
        # 16 networks of width 256: SE ~1% of q; 4 SE + 5/N fails a correct mean w.p. ~1e-3.
        assert abs(g["measured"].mean() - expected) <= 4 * se + 5 / cfg.compute.width * expected
        assert abs(g["theory"].iloc[0] - expected) <= 1e-4 * expected


def _with_theory(table, sw_factor=1.0, sigma_b2=None):
    """The table with every theory column recomputed at sigma_w2 * sw_factor (and sigma_b2)."""
    t = table.copy()
    maps = t["kind"].isin(["qmap", "cmap"])
    sw2 = t.loc[maps, "sigma_w2"].to_numpy() * sw_factor
    sb2 = t.loc[maps, "sigma_b2"].to_numpy() if sigma_b2 is None else sigma_b2
    x, q_star = t.loc[maps, "x"].to_numpy(), t.loc[maps, "q_star"].to_numpy()
    qm = np.asarray(theory.q_map("tanh", sw2, sb2, np.where(t.loc[maps, "kind"] == "qmap", x, 1)))
    cm = np.asarray(theory.c_map("tanh", sw2, sb2, q_star, q_star, np.clip(x, 0, 1)))
    t.loc[maps, "theory"] = np.where(t.loc[maps, "kind"] == "qmap", qm, cm)
    dyn = t["kind"] == "dyn"
    d = t.loc[dyn, ["piece", "seed", "layer", "q", "c", "sigma_w2"]].copy()
    d["sigma_w2"] *= sw_factor
    sb = 0.09 if sigma_b2 is None else sigma_b2
    th = theory.compare(d, "tanh", sigma_b2=sb, by=("piece",))
    t.loc[dyn, "q_theory"], t.loc[dyn, "c_theory"] = th["q_theory"].values, th["c_theory"].values
    return t


def test_negative_controls_fail(tiny_run):
    exp, cfg, _, res = tiny_run
    # Recomputing the theory columns at the true constants reproduces the verdict: PASS.
    assert exp.module.evaluate(_with_theory(res.table), cfg).status == "PASS"
    # Wrong sigma_w2 (10% too large): q^l off by ~10% = many SE at 16 networks: FAIL.
    v = exp.module.evaluate(_with_theory(res.table, sw_factor=1.1), cfg)
    assert v.status == "FAIL"
    assert [c.passed for c in v.checks if c.name.startswith("panel qmap")] == [False]
    # Wrong theory constant (the bias variance dropped from the maps): FAIL.
    assert exp.module.evaluate(_with_theory(res.table, sigma_b2=0.0), cfg).status == "FAIL"
    # A tighter pre-registered tolerance cannot turn these into PASS; a looser z_max must not
    # turn a wrong sigma_w2 into PASS at 4 SE either (the criterion has power, not slack).
    cfg2 = resolve_config(exp, ["preset=tiny", "analysis.partial_share=1.0"])
    assert exp.module.evaluate(_with_theory(res.table, sw_factor=1.1), cfg2).status == "FAIL"


def test_bad_config_values_name_the_key():
    exp = load_experiment("poole2016")
    for bad, key in (("sigma_b=-1.0", "sigma_b"), ("dyn_inputs=[[1.0, 1.0]]", "dyn_inputs")):
        cfg = resolve_config(exp, ["preset=tiny", bad])
        with pytest.raises(ValueError, match=key):
            list(exp.module.pieces(cfg.compute))
