"""saxe2014 at its tiny preset: the analytic three-layer sigmoid and depth-independent learning."""

import numpy as np
import pytest

from initjax.sweeps import load_experiment, resolve_config


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    exp = load_experiment("saxe2014")
    cfg = resolve_config(exp, ["preset=tiny"])
    out = tmp_path_factory.mktemp("saxe2014")
    table = exp.module.run(cfg, out, progress=False)
    return exp, cfg, out, table


def test_whitened_task_is_exact():
    m = _module()
    x, y, u, s, v = m.whitened_task(6, 5, [3.0, 1.0], 24, seed=1)
    # Whitened exactly (float64 ZCA), so Sigma_31 = y^T x / P = U diag(s) V^T.
    np.testing.assert_allclose(x.T @ x / 24, np.eye(6), atol=1e-12)
    np.testing.assert_allclose(y.T @ x / 24, u @ np.diag(s) @ v.T, atol=1e-12)
    with pytest.raises(ValueError, match="singular values"):
        m.whitened_task(2, 2, [1.0, 1.0, 1.0], 8, seed=0)


def test_analytic_solution_properties():
    m = _module()
    s, u0, lr = 2.0, 1e-3, 0.01
    # u(0) = u0, u(inf) = s, and t_half solves u(t_half) = s / 2 (closed forms of the sigmoid).
    assert m.analytic_u(0.0, s, u0, lr) == pytest.approx(u0)
    assert m.analytic_u(1e5, s, u0, lr) == pytest.approx(s)
    th = m.analytic_t_half(s, u0, lr)
    assert m.analytic_u(th, s, u0, lr) == pytest.approx(s / 2, rel=1e-9)


def test_tiny_run_outputs_and_criteria(tiny_run):
    exp, cfg, out, table = tiny_run
    for name in ("results.parquet", "manifest.json", "summary.md", "figure_modes.png"):
        assert (out / name).is_file(), name
    assert (out / "figure_depth.png").is_file()
    res = exp.module.criteria(table, cfg)
    # (a) From small random weights each mode follows the analytic sigmoid. With tau = 100 steps
    # and eta * s <= 0.02, discrete GD runs ~1% ahead of the continuous-time solution and the
    # cross-mode coupling of a width-16 hidden layer adds a few percent: 10% is the criterion.
    assert res["a_max_rel_err"] < 0.1
    ms = exp.module.mode_stats(table)
    assert (ms["u_final"] > 0.98).all()  # every mode reaches s (u / s -> 1)
    # Stronger modes are learned first (t_half ~ log(s / u0) / s).
    order = ms.groupby("s")["t_half"].mean().sort_index()
    assert order.is_monotonic_decreasing
    # (b) Orthogonal learning time roughly flat from N_w = 4 to 16; scaled Gaussian grows
    # (the Gaussian product's singular values spread as exp(+-sqrt(N_w / width)): slow modes).
    assert res["orthogonal_ratio"] <= cfg.flat_ratio
    assert res["gaussian_ratio"] >= cfg.growth_ratio
    summary = (out / "summary.md").read_text()
    assert summary.startswith("# saxe2014: ")
    verdicts = [line for line in summary.splitlines() if line.startswith("**Verdict: ")]
    assert len(verdicts) == 1 and verdicts[0].startswith("**Verdict: PASS** — ")


def test_rerun_resumes(tiny_run):
    exp, cfg, out, table = tiny_run
    before = {p.name: p.stat().st_mtime_ns for p in (out / "groups").glob("*.parquet")}
    again = exp.module.run(cfg, out, progress=False, analyze_results=False)
    after = {p.name: p.stat().st_mtime_ns for p in (out / "groups").glob("*.parquet")}
    assert before == after  # nothing recomputed
    assert len(again) == len(table)


def test_bad_config_names_key():
    exp = load_experiment("saxe2014")
    cfg = resolve_config(exp, ["preset=tiny", "b_depths=[1, 4]"])
    with pytest.raises(ValueError, match="b_depths"):
        exp.module.run(cfg, "/nonexistent/never-written", progress=False)
    cfg = resolve_config(exp, ["preset=tiny", "b_inits=['uniform']"])
    with pytest.raises(ValueError, match="b_inits"):
        exp.module.run(cfg, "/nonexistent/never-written", progress=False)


def _module():
    return load_experiment("saxe2014").module


def test_draw_params_equals_init_stack(tiny_run):
    import jax

    from initjax import keys
    from initjax.models import init_stack

    m = tiny_run[0].module  # its layer draws are compiled already (same shapes as the run)
    sk = keys.seed_keys(3)
    st = m._stack("gaussian", 16, 3, 4)
    got = m.draw_params(st, sk, (16,), 1.0)
    want = jax.vmap(lambda k: init_stack(st, keys.role(k, keys.PARAMS), (16,), 1.0))(sk)
    # Same keys, same layer functions: equal up to float32 rounding of separate programs.
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), got, want)
    assert got["hidden"]["kernel"].shape == (3, 1, 16, 16)
