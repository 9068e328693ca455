"""hanin2018 at its tiny preset: E[R_j] = 1 and E[R_j^2] = prod(1 + 5/n_j) within MC error."""

import jax
import numpy as np
import pytest

from initjax import keys
from initjax.report import parse_summary
from initjax.sweeps import load_experiment, resolve_config


@pytest.fixture(scope="module")
def exp():
    return load_experiment("hanin2018")


def test_hanin2018_tiny(exp, tmp_path):
    cfg = resolve_config(exp, ["preset=tiny"])
    table = exp.module.run(cfg, tmp_path, progress=False)
    for name in ("summary.md", "manifest.json", "figure_moments.png", "figure_collapse.png"):
        assert (tmp_path / name).is_file(), name
    info = parse_summary((tmp_path / "summary.md").read_text())
    assert info["problems"] == [] and info["title"].startswith("He-initialized ReLU")
    assert info["verdict"] == "PASS", info["reason"]
    last = table[(table["kind"] == "layer") & (table["layer"] == 3)].set_index("piece")
    # Tiny arms have widths (10, 16, 24) in both orders: E[R_3^2] = 1.5 * 1.3125 * (1 + 5/24)
    # = 2.37890625 for both (hand-computed). 4000 networks give an SE of ~5% here, and a 4-SE
    # band fails a correct estimate with probability ~1e-4 (Gaussian tails of the sample mean).
    for arm in ("increasing", "decreasing"):
        r = last.loc[arm]
        assert abs(r["mean_r2"] - 2.37890625) <= 4 * r["se_mean_r2"]
        assert abs(r["mean_r"] - 1.0) <= 4 * r["se_mean_r"]
        assert r["se_mean_r2"] < 0.2  # the MC error is small enough for the test to bite
    # Rerunning the same config resumes: nothing is recomputed, the table is identical.
    again = exp.module.run(cfg, tmp_path, progress=False)
    np.testing.assert_array_equal(again["mean_r2"].to_numpy(), table["mean_r2"].to_numpy())


def test_length_ratios_match_a_numpy_forward(exp):
    """The jitted forward equals a plain numpy ReLU net on the same weight draws."""
    m = exp.module
    widths, n0, seeds = (5, 3), 4, 3
    r = m.length_ratios(widths, n0, seeds, root_seed=7, seed_chunk=2)
    sk = keys.seed_keys(seeds, 7)
    x0 = np.asarray(jax.random.normal(keys.role(sk[0], keys.INPUTS), (n0,)), np.float64)
    for s in range(seeds):
        flat = np.asarray(jax.random.normal(keys.role(sk[s], keys.PARAMS), (4 * 5 + 5 * 3,)))
        w1 = flat[:20].reshape(4, 5) * np.sqrt(2 / 4)
        w2 = flat[20:].reshape(5, 3) * np.sqrt(2 / 5)
        x1 = np.maximum(x0 @ w1, 0)
        x2 = np.maximum(x1 @ w2, 0)
        a0 = x0 @ x0 / 4
        np.testing.assert_allclose(r[s], [x1 @ x1 / 5 / a0, x2 @ x2 / 3 / a0], rtol=1e-5)


def test_second_moment_theory_is_the_product(exp):
    np.testing.assert_allclose(exp.module.second_moment_theory([5, 10]), [2.0, 3.0])


def test_bad_widths_name_the_key(exp):
    with pytest.raises(ValueError, match="arms"):
        exp.module.length_ratios([4, 0], 3, 10)
    cfg = resolve_config(exp, ["preset=tiny", "arms=[{'name': 'x', 'widths': [3, -1]}]"])
    with pytest.raises(ValueError, match="arms"):
        exp.module.run(cfg, "/nonexistent/never-written", progress=False)
