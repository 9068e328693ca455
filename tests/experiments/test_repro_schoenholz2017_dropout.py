"""schoenholz2017_dropout at its tiny preset: dropout moves c* below 1 and bounds xi_c."""

import numpy as np
import pytest

from initjax.sweeps import load_experiment, resolve_config


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    exp = load_experiment("schoenholz2017-dropout")
    cfg = resolve_config(exp, ["preset=tiny"])
    out = tmp_path_factory.mktemp("schoenholz2017_dropout")
    table = exp.module.run(cfg, out, progress=False)
    return exp, cfg, out, table


def test_forward_without_dropout_matches_propagate(tiny_run):
    """At keep_prob = 1 the experiment's forward scan is the model's: same keys, same layers."""
    import jax.numpy as jnp

    from initjax import keys, measure, models

    exp, cfg, _, _ = tiny_run
    m = exp.module
    stack = m._stack(cfg)
    x = m._inputs(cfg)  # (G, B, n)
    sw2 = np.asarray(cfg.sigma_w2, np.float32)  # the run's shapes: its compiled scan is reused
    q, c = m._compiled(stack)(keys.seed_keys(2), x, sw2, np.float32(0.05), np.float32(1.0))
    model = models.MLP(
        width=cfg.width,
        depth=cfg.depth,
        activation="tanh",
        kernel_init=stack.kernel_init,
    )
    ref = measure.propagate(
        model,
        jnp.asarray(x[0]),
        seeds=2,
        metrics=("q", "c"),
        sigma_w2=jnp.asarray(sw2),
        sigma_b2=jnp.full(len(sw2), 0.05, jnp.float32),
    )
    # Same draws (a unit-variance draw times sqrt(sigma_w2) vs a draw at sigma_w2) through the
    # same layers: float32 rounding only, compounded over 30 layers.
    np.testing.assert_allclose(np.moveaxis(q[:, :, 0], 0, 1), ref.arrays["q"], rtol=1e-3)
    np.testing.assert_allclose(np.moveaxis(c[:, :, 0], 0, 1), ref.arrays["c"], atol=1e-3)


def test_tiny_run_outputs_and_criteria(tiny_run):
    exp, cfg, out, table = tiny_run
    for name in ("results.parquet", "manifest.json", "summary.md", "figure_xi.png"):
        assert (out / name).is_file(), name
    assert (out / "figure_c.png").is_file()
    res = exp.module.criteria(table, cfg)
    cells = res["cells"].set_index(["keep_prob", "sigma_w2"])
    # Ordered phase (sigma_w2 = 1): without dropout c^l -> 1; with rho = 0.9 the fixed point
    # moves to c* = 0.719 (theory) and the measured c^L sits there. Tolerance: 4 standard errors
    # over 8 seeds plus 0.02 for the O(1/width) finite-width shift at width 128.
    assert cells.loc[(1.0, 1.0), "c_end"] > 0.99
    r = cells.loc[(0.9, 1.0)]
    assert r["c_star"] == pytest.approx(0.719, abs=2e-3)
    assert abs(r["c_end"] - r["c_star"]) < 4 * r["c_end_se"] + 0.02
    # xi_c with dropout tracks theory and stays bounded; without dropout it peaks at the critical
    # point above every dropout value (the criterion written in the experiment).
    assert res["track_pass"] and res["bounded_pass"] and res["critical_pass"]
    # Without dropout theory diverges at the critical point: on the 600-point grid over [1, 3]
    # (spacing 0.0033) some point lies within 0.0017 of sigma_w2 = 1.761, where
    # |chi_1 - 1| <= 0.0017 dchi_1/dsigma_w2 (~0.57 / layer) ~ 1e-3, so xi_c ~ 1/|1 - chi| >= 500
    # (inf if a point lands on the line to float32 rounding) - 100x every dropout peak.
    peak_1 = res["per"][1.0]["peak_theory"]
    assert peak_1 >= 500 and peak_1 >= 100 * max(res["per"][r]["peak_theory"] for r in (0.9,))
    assert res["per"][0.9]["peak_theory"] == pytest.approx(4.68, abs=0.02)
    # With dropout the q-map carries sigma_w2 / rho: measured q^L vs theory within 10% (the
    # seed-to-seed spread of q at width 128 with 8 inputs is a few percent).
    last = table[(table["keep_prob"] == 0.9) & (table["layer"] == cfg.depth)]
    ratio = last.groupby("sigma_w2")[["q", "q_theory"]].mean()
    np.testing.assert_allclose(ratio["q"], ratio["q_theory"], rtol=0.1)
    summary = (out / "summary.md").read_text()
    assert summary.startswith("# schoenholz2017_dropout: ")
    verdicts = [line for line in summary.splitlines() if line.startswith("**Verdict: ")]
    assert len(verdicts) == 1 and verdicts[0].startswith("**Verdict: PASS** — ")


def test_bad_config_names_key():
    exp = load_experiment("schoenholz2017-dropout")
    cfg = resolve_config(exp, ["preset=tiny", "keep_probs=[1.0, 1.5]"])
    with pytest.raises(ValueError, match="keep_probs"):
        exp.module.run(cfg, "/nonexistent/never-written", progress=False)
    cfg = resolve_config(exp, ["preset=tiny", "n_inputs=1"])
    with pytest.raises(ValueError, match="n_inputs"):
        exp.module.run(cfg, "/nonexistent/never-written", progress=False)
