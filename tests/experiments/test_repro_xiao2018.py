"""xiao2018 at its tiny preset: delta-orthogonal CNNs keep mean-field propagation, Gaussian
kernels lose it when depth >> channels; the training path runs on MNIST-1D (1-D convs)."""

import numpy as np
import pytest

from initjax.sweeps import load_experiment, resolve_config


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    exp = load_experiment("xiao2018")
    cfg = resolve_config(exp, ["preset=tiny"])
    out = tmp_path_factory.mktemp("xiao2018")
    table = exp.module.run(cfg, out, progress=False)
    return exp, cfg, out, table


def test_demo_critical_point_small_q():
    m = load_experiment("xiao2018").module
    q_star, sw2, sb2 = m.critical_point(1000)
    # Small-q expansion: E[tanh'(sqrt(q) z)^2] = 1 - 2q + O(q^2), E[tanh(sqrt(q) z)^2] =
    # q - 2q^2 + O(q^3), so sigma_w2 = 1 + 2q + O(q^2) and sigma_b2 = O(q^3) at q* = 1e-3.
    assert q_star == 1e-3
    assert sw2 == pytest.approx(1.002, abs=1e-5)
    assert 0.0 <= sb2 < 1e-8


def test_tiny_run_outputs_and_criteria(tiny_run):
    exp, cfg, out, table = tiny_run
    for name in ("results.parquet", "manifest.json", "summary.md", "figure_propagation.png"):
        assert (out / name).is_file(), name
    assert (out / "figure_training.png").is_file()
    res = exp.module.criteria(table, cfg)
    ps = res["prop_stats"].set_index("init")
    d, g = ps.loc["delta_orthogonal"], ps.loc["gaussian"]
    # Depth 200 >> 8 channels. Delta-orthogonal layers are per-position isometries: c^L stays on
    # the mean-field curve and gradient norms barely vary across seeds. Gaussian kernels: each
    # Fourier mode is a product of 200 Gaussian 8x8 matrices (log singular values spread like
    # sqrt(L / C) ~ 5): the inputs drift towards one direction, the typical q collapses and
    # gradients scatter by orders of magnitude across seeds.
    assert res["p1_pass"] and res["p2_pass"]
    assert abs(d["cL"] - d["cL_theory"]) < 0.05 and g["cL"] > d["cL"]
    assert d["qL_median"] > 0.5 * d["q_star"] and g["qL_median"] < 0.1 * g["q_star"]
    assert g["sd_log_grad_ratio"] > 1.0 > 10 * d["sd_log_grad_ratio"]
    # The mean field itself cannot tell the inits apart (same maps for both).
    assert d["cL_theory"] == pytest.approx(g["cL_theory"], abs=0.02)
    # The training path runs end to end (ConvNet + measure.train); at this scale the inits are
    # not compared (tiny trains one of them).
    ts = res["train_stats"]
    assert set(ts["dataset"]) <= {"mnist1d", "mnist"} and len(ts) == 1
    assert np.isfinite(ts["loss_final"]).all() and ts["loss_final"].iloc[0] < np.log(10) + 0.1
    summary = (out / "summary.md").read_text()
    assert summary.startswith("# xiao2018: ")
    verdicts = [line for line in summary.splitlines() if line.startswith("**Verdict: ")]
    assert len(verdicts) == 1


def test_bad_config_names_key():
    exp = load_experiment("xiao2018")
    cfg = resolve_config(exp, ["preset=tiny", "train_inits=['delta_orthogonal', 'uniform']"])
    with pytest.raises(ValueError, match="train_inits"):
        exp.module.run(cfg, "/nonexistent/never-written", progress=False)
    cfg = resolve_config(exp, ["preset=tiny", "train_depths=[0]"])
    with pytest.raises(ValueError, match="train_depths"):
        exp.module.run(cfg, "/nonexistent/never-written", progress=False)
