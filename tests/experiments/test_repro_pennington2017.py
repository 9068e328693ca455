"""pennington2017 at its tiny preset: orthogonal tanh concentrated, ReLU spread, Var/L vs theory."""

import numpy as np
import pytest

from initjax.report import parse_summary
from initjax.sweeps import load_experiment, resolve_config


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    exp = load_experiment("pennington2017")
    cfg = resolve_config(exp, ["preset=tiny"])
    out = tmp_path_factory.mktemp("pennington2017")
    return exp, cfg, out, exp.module.run(cfg, out, progress=False)


def test_pennington2017_tiny(tiny_run):
    exp, cfg, out, table = tiny_run
    for name in ("summary.md", "figure_spectra.png", "figure_variance.png", "figure_training.png"):
        assert (out / name).is_file(), name
    info = parse_summary((out / "summary.md").read_text())
    assert info["problems"] == [] and info["verdict"] == "PASS", info["reason"]
    mom = exp.module.evaluate(table, cfg)["moments"].set_index("arm")
    # Closed forms at L = 3 (independent of initjax.theory): Gaussian ReLU at (2, 0) has
    # Var[lambda] = 2 L = 6 (mu_1 = mu_2 = 1/2, s_1 = -1); the mean is 1 at criticality.
    relu = mom.loc["relu-gaussian"]
    assert relu["var_theory"] == pytest.approx(6.0, rel=1e-5)
    # 4 networks x 32 eigenvalues: the per-network spectral variance scatters by ~25% at this
    # width, so 4 SE of the 4-network mean (plus the N/8 finite-width regime) is the band.
    assert abs(relu["var"] - 6.0) <= 4 * relu["var_se"] + 0.25 * 6.0
    # Orthogonal tanh at q* = 1/64 is near-isometric: every lambda within [0.6, 1.4] (theory std
    # 0.07 at L = 3, a little wider at width 32; the smallest is the input's length direction,
    # ~(q-map slope)^(2(L-1)) = 0.89, see the summary). Gaussian ReLU spreads: its largest
    # lambda exceeds 3 (theory std sqrt(6) = 2.4).
    lam = table[(table["kind"] == "spectrum") & (table["piece"] == "spectra-tanh-orthogonal")]
    assert np.all((lam["lam"] > 0.6) & (lam["lam"] < 1.4))
    assert relu["lam_max"] > 3
    assert mom.loc["tanh-orthogonal", "mean"] == pytest.approx(1.0, abs=0.01)


def test_inputs_start_at_q_star(tiny_run):
    """The first pre-activation's q is q* (inputs scaled by (q* - sigma_b2) / sigma_w2), and at
    the critical point q^l stays there: the last layer's q within 10% of q* = 1/64 (width 32)."""
    _, cfg, _, table = tiny_run
    sp = table[(table["kind"] == "spectrum") & (table["piece"] == "spectra-tanh-orthogonal")]
    assert sp["q_last"].mean() == pytest.approx(cfg.q_star, rel=0.1)


def test_training_curves_are_recorded(tiny_run):
    _, cfg, _, table = tiny_run
    tr = table[table["kind"] == "train"]
    assert set(tr["step"]) == {10, 20} and tr["test_acc"].between(0, 1).all()
    assert not tr["diverged"].any()


def test_unknown_train_arm_names_the_key():
    exp = load_experiment("pennington2017")
    cfg = resolve_config(exp, ["preset=tiny", "train_arms=['nope']"])
    with pytest.raises(ValueError, match="train_arms"):
        exp.module.run(cfg, "/nonexistent/never-written", progress=False)
