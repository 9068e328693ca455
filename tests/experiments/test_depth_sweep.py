"""The main job at its tiny preset: outputs exist and the qualitative picture holds."""

import numpy as np

from initjax.sweeps import load_experiment, resolve_config, run_sweep


def test_depth_sweep_tiny(tmp_path):
    exp = load_experiment("depth-sweep")
    cfg = resolve_config(exp, ["preset=tiny"])
    res = run_sweep(exp, cfg, tmp_path, progress=False, log=lambda *_: None)
    for name in (
        "results.parquet",
        "manifest.json",
        "summary.md",
        "figure_q.png",
        "figure_c.png",
        "figure_xi.png",
    ):
        assert (tmp_path / name).is_file(), name
    t = res.table
    # Zero init never breaks symmetry: every input lands on the same point (c = 1 exactly) and
    # q^l = mean of the squared biases at every hidden layer.
    zero = t[(t["arm"] == "tanh-zero") & (t["layer"] >= 1)]
    np.testing.assert_allclose(zero["c"], 1.0, atol=1e-6)
    # Glorot on ReLU: q halves per square layer (He et al. 2015); at width 32 and 3 seeds the
    # per-layer factor over 10 layers is 0.5 up to a few percent of sampling noise.
    g = t[t["arm"] == "relu-glorot"].groupby("layer")["q"].mean()
    assert abs((g.iloc[-1] / g.iloc[1]) ** (1 / (len(g) - 2)) - 0.5) < 0.1
    summary = (tmp_path / "summary.md").read_text()
    assert "Critical sigma_w2 (chi_1 = 1), initjax.theory: 1.76" in summary
