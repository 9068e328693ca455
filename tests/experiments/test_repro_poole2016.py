"""poole2016 at its tiny preset: measured maps within sampling error of mean-field theory."""

import numpy as np
import pytest

from initjax.report import parse_summary
from initjax.sweeps import load_experiment, resolve_config


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    exp = load_experiment("poole2016")
    cfg = resolve_config(exp, ["preset=tiny"])
    out = tmp_path_factory.mktemp("poole2016")
    return exp, cfg, out, exp.module.run(cfg, out, progress=False)


def test_poole2016_tiny_verdict_and_outputs(tiny_run):
    exp, cfg, out, table = tiny_run
    for name in ("summary.md", "figure_maps.png", "figure_phase.png", "results.parquet"):
        assert (out / name).is_file(), name
    info = parse_summary((out / "summary.md").read_text())
    assert info["problems"] == []
    assert info["verdict"] == "PASS", info["reason"]
    ev = exp.module.evaluate(table, cfg)
    # Published phases (Poole et al. 2016, Fig. 2): sigma_w = 1.3 ordered, 2.5 and 4 chaotic.
    assert [p["phase_measured"] for p in ev["phases"]] == ["ordered", "chaotic", "chaotic"]


def test_standard_deviations_become_variances(tiny_run):
    _, _, _, table = tiny_run
    maps = table[table["kind"] == "qmap"]
    got = sorted(maps["sigma_w2"].unique())
    np.testing.assert_allclose(got, [1.3**2, 2.5**2, 4.0**2])
    np.testing.assert_allclose(maps["sigma_b2"].unique(), [0.3**2])


def test_single_layer_q_map_matches_independent_quadrature(tiny_run):
    """q^l = sigma_w2 E[tanh(sqrt(q) z)^2] + sigma_b2 by scipy's quad (not initjax.theory)."""
    from scipy import integrate

    _, cfg, _, table = tiny_run
    maps = table[table["kind"] == "qmap"]
    for (sw, q), g in maps.groupby(["sigma_w", "x"]):
        density = lambda z, q=q: np.tanh(np.sqrt(q) * z) ** 2 * np.exp(-z * z / 2)
        e_tanh2 = integrate.quad(density, -np.inf, np.inf, epsabs=1e-13, limit=200)[0]
        expected = sw**2 * e_tanh2 / np.sqrt(2 * np.pi) + 0.09
        se = g["measured"].std(ddof=1) / np.sqrt(len(g))
        # 16 networks of width 256 per point: the mean has SE ~1% of q; 4 SE (+ the experiment's
        # 5/N finite-width allowance) fails a correct estimate with probability ~1e-3 (t, 15 dof).
        assert abs(g["measured"].mean() - expected) <= 4 * se + 5 / cfg.width * expected
        assert abs(g["theory"].iloc[0] - expected) <= 1e-4 * expected


def test_bad_sigma_names_the_key():
    exp = load_experiment("poole2016")
    cfg = resolve_config(exp, ["preset=tiny", "sigma_b=-1.0"])
    with pytest.raises(ValueError, match="sigma_b"):
        exp.module.run(cfg, "/nonexistent/never-written", progress=False)


def test_bad_dynamics_inputs_name_the_key():
    exp = load_experiment("poole2016")
    cfg = resolve_config(exp, ["preset=tiny", "dyn_inputs=[[1.0, 1.0]]"])
    with pytest.raises(ValueError, match="dyn_inputs"):
        exp.module.run(cfg, "/nonexistent/never-written", progress=False)
