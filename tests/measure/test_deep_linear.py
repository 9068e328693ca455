"""measure.deep_linear: stack shapes and key scheme, mode strengths at step 0 against the
identity u_alpha(0) = sum_h a b, learning steps and log-log slopes on closed-form inputs."""

import jax
import numpy as np
import pytest

from initjax import keys
from initjax.measure import deep_linear as sim
from initjax.models import init_stack
from initjax.theory.deep_linear import whitened_task


def test_linear_stack_and_init_seeds_follow_the_key_scheme():
    st = sim.linear_stack("orthogonal", 6, 4, 3)
    assert st.depth == 2
    p = sim.init_seeds(st, 3, 7, 5)
    assert p["input"]["kernel"].shape == (3, 5, 6) and p["readout"]["kernel"].shape == (3, 6, 3)
    # the third seed's params drawn alone (one compiled program, not one per eager operation)
    one = jax.jit(lambda k: init_stack(st, keys.role(k, keys.PARAMS), (5,), None, 0.0))(
        keys.seed_keys(3, 7)[2]
    )
    for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(p), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b)[2])
    assert sim.linear_stack("orthogonal", 6, 2, 3).depth == 0
    with pytest.raises(ValueError, match="n_weights"):
        sim.linear_stack("orthogonal", 6, 1, 3)


def test_mode_strengths_start_at_sum_of_a_b():
    x, y, u, s, v = whitened_task(4, 3, [2.0, 1.0], 16, 0)
    st = sim.linear_stack("glorot_normal", 8, 2, 3)
    p = sim.init_seeds(st, 2, 0, 4, 0.5)
    us, a, b = sim.train_mode_strengths(st, p, x, y, u, v, 0.01, 20, 5)
    assert us.shape == (2, 4, 2) and a.shape == (2, 2, 8)
    np.testing.assert_allclose(us[:, 0], (a * b).sum(-1), rtol=1e-4, atol=1e-6)


def test_learning_steps_and_loglog_slopes():
    losses = np.array([[1.0, 0.5, 0.01, 0.001], [1.0, np.nan, 0.9, 0.8]])
    np.testing.assert_array_equal(sim.learning_steps(losses, 0.01), [2.0, np.inf])
    depths = np.array([8.0, 16.0, 32.0])
    times = np.stack([5.0 * depths**0.5, 3.0 * depths**2])
    np.testing.assert_allclose(sim.loglog_slopes(times, depths), [0.5, 2.0])
    assert sim.loglog_slopes(times[:, :1], depths[:1]).size == 0


def test_half_rise_times_by_hand():
    import pandas as pd

    s, u0, lr = 2.0, 0.02, 0.01
    t = np.arange(0.0, 201.0, 10.0)
    frame = pd.DataFrame(
        dict(hidden=8, seed=0, mode=0, step=t, s=s, u0_eff=u0, learning_rate=lr)
        | dict(u=s * t / 100.0, u_discrete=s * t / 200.0)  # linear: s / 2 at t = 50 and 100
    )
    row = sim.half_rise_times(frame.iloc[::-1]).iloc[0]  # rows in any order
    assert row["t_half"] == pytest.approx(50.0) and row["t_half_discrete"] == pytest.approx(100.0)
    assert row["rel_err"] == pytest.approx(-0.5)
    # tau / (2 s) log(s / u0 - 1) = 100 / 4 * log(99)
    assert row["t_half_continuous"] == pytest.approx(25.0 * np.log(99.0))
    assert row["rel_err_continuous"] == pytest.approx(50.0 / (25.0 * np.log(99.0)) - 1.0)
    never = sim.half_rise_times(frame.assign(u=0.1))  # never reaches s / 2
    assert np.isinf(never["t_half"].iloc[0])


def test_mode_strength_table_starts_at_the_seeds_own_modes():
    """Step 0 of every curve, by hand from the drawn weights: u = sum_h a b (measured and the
    discrete recursion), u_theory = u0_eff = |a + b|^2 / 4 (Saxe et al. 2014, eq. 7 at t = 0)."""
    x, y, u, s, v = whitened_task(4, 3, [2.0, 1.0], 16, 0)
    st = sim.linear_stack("glorot_normal", 8, 2, 3)
    p = sim.init_seeds(st, 2, 0, 4, 0.5)
    t = sim.mode_strength_table(st, p, x, y, u, s, v, 0.01, 20, 5)
    assert len(t) == 2 * 2 * 4  # seeds x modes x records
    cols = ["seed", "mode", "s", "step", "u", "u_discrete", "u_theory", "u0_eff", "learning_rate"]
    assert list(t.columns) == cols
    a = np.einsum("ik,sih->skh", v, np.asarray(p["input"]["kernel"], np.float64))
    b = np.einsum("shj,jk->skh", np.asarray(p["readout"]["kernel"], np.float64), u)
    first = t[t["step"] == 0].set_index(["seed", "mode"]).sort_index()
    np.testing.assert_allclose(first["u"], (a * b).sum(-1).ravel(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(first["u_discrete"], (a * b).sum(-1).ravel(), rtol=1e-12)
    u0 = (((a + b) ** 2).sum(-1) / 4).ravel()
    np.testing.assert_allclose(first["u0_eff"], u0, rtol=1e-12)
    np.testing.assert_allclose(first["u_theory"], u0, rtol=1e-12)
    assert sorted(t["step"].unique()) == [0, 5, 10, 15] and set(t["s"]) == {2.0, 1.0}


def test_relative_loss_curves_by_hand():
    """Zero weights: the net is the zero map, its gradient vanishes, the ratio stays exactly 1;
    other weights: the first loss is 0.5 mean |x W1 W2 - y|^2 over the zero map's loss. The
    stack, params and learning rate are those of the tests above: their compiled programs."""
    x, y, _, _, _ = whitened_task(4, 3, [2.0, 1.0], 16, 0)
    st = sim.linear_stack("glorot_normal", 8, 2, 3)
    p = sim.init_seeds(st, 2, 0, 4, 0.5)
    zero = jax.tree.map(np.zeros_like, p)
    flat = sim.relative_loss_curves(st, zero, x, y, 0.01, 6)
    np.testing.assert_allclose(flat, 1.0, rtol=1e-6)  # the loss is summed in float32
    assert np.all(flat == flat[0, 0])  # no gradient: every step has the same loss
    curves = sim.relative_loss_curves(st, p, x, y, 0.01, 6)
    assert curves.shape == (2, 6) and curves.dtype == np.float64
    w1, w2 = (np.asarray(p[k]["kernel"], np.float64) for k in ("input", "readout"))
    for k in range(2):
        loss = 0.5 * np.mean(np.sum((x @ w1[k] @ w2[k] - y) ** 2, -1))
        assert curves[k, 0] == pytest.approx(loss / (0.5 * np.mean(np.sum(y**2, -1))), rel=1e-4)
    assert np.all(np.diff(curves, axis=1) < 0)  # small steps descend
