"""glorot2010 at its tiny preset: the published shrinking / level pattern and the Jacobian."""

import numpy as np
import pytest

from initjax.report import parse_summary
from initjax.sweeps import load_experiment, resolve_config


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    exp = load_experiment("glorot2010")
    cfg = resolve_config(exp, ["preset=tiny"])
    out = tmp_path_factory.mktemp("glorot2010")
    return exp, cfg, out, exp.module.run(cfg, out, progress=False)


def test_glorot2010_tiny_pattern(tiny_run):
    exp, cfg, out, table = tiny_run
    for name in ("summary.md", "figure_hist_tanh.png", "figure_layers.png"):
        assert (out / name).is_file(), name
    info = parse_summary((out / "summary.md").read_text())
    assert info["problems"] == [] and info["verdict"] == "PASS", info["reason"]
    ev = exp.module.evaluate(table, cfg)
    std, norm = ev["arms"][("tanh", "standard")], ev["arms"][("tanh", "normalized")]
    # Standard init shrinks activations and gradients layer to layer; normalized keeps them.
    assert std["act_factor"] < 0.8 and std["grad_factor"] < 0.8
    assert norm["act_factor"] > 0.85 and norm["grad_factor"] > 0.85


def test_histogram_path_and_propagate_measure_the_same_networks(tiny_run):
    _, _, _, table = tiny_run
    lay = table[table["kind"] == "layer"]
    np.testing.assert_allclose(lay["act_std_check"], lay["act_std"], rtol=1e-4)
    hist = table[(table["kind"] == "hist") & (table["quantity"] == "activation")]
    # Every activation lands in a bin: tanh values lie in [-1, 1].
    counts = hist.groupby(["init", "layer"])["count"].sum()
    assert (counts == 2 * 64 * 128).all()


def test_standard_init_mean_squared_singular_value(tiny_run):
    """J = W diag(phi'): mean sv^2 = tr(J^T J) / n = n Var[W] * mean(phi'^2) = mean(phi'^2) / 3.

    phi'^2 = (1 - tanh^2)^2 <= 1 and close to 1 in the deep, small-q layers 3-5, so mean sv^2
    lies in (0.2, 1/3] up to sampling: the uniform entries' squared column norms fluctuate by
    sqrt(4/5 / 128) = 8% per column, 0.7% averaged over 128 columns.
    """
    _, _, _, table = tiny_run
    jac = table[(table["kind"] == "jac") & (table["init"] == "standard")]
    deep = jac[jac["layer"] >= 3]["mean_sv2"]
    assert ((deep > 0.3) & (deep < 1 / 3 * 1.03)).all()


@pytest.mark.parametrize(
    "override, key", [("activations=['relu']", "activations"), ("hidden_layers=1", "hidden_layers")]
)
def test_bad_config_names_the_key(override, key):
    exp = load_experiment("glorot2010")
    cfg = resolve_config(exp, ["preset=tiny", override])
    with pytest.raises(ValueError, match=key):
        exp.module.run(cfg, "/nonexistent/never-written", progress=False)
