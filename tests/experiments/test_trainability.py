"""Trainability at its tiny preset: the training sweep path writes the heat map and summary."""

from initjax.sweeps import load_experiment, resolve_config, run_sweep


def test_trainability_tiny(tmp_path):
    exp = load_experiment("trainability")
    cfg = resolve_config(exp, ["preset=tiny"])
    cfg.arms[0]["sigma_w2"] = [1.0, 1.76, 4.0]
    res = run_sweep(exp, cfg, tmp_path, progress=False, log=lambda *_: None)
    t = res.table
    final = t[t["final"]]
    # 2 depths x 3 sigma_w2 x 1 seed networks, each with final train/test accuracy in [0, 1]
    assert len(final) == 6 and final["train_acc"].between(0, 1).all()
    assert (tmp_path / "heatmap.png").is_file()
    assert (
        "Cells on the side of L = 6 xi_c that theory predicts"
        in (tmp_path / "summary.md").read_text()
    )
