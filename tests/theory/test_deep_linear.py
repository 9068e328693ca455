"""Deep linear network theory: the whitened task, the sigmoid, the discrete recursion."""

import numpy as np
import pytest

from initjax.theory import deep_linear as dl


def test_whitened_task_is_exact():
    x, y, u, s, v = dl.whitened_task(6, 5, [3.0, 1.0], 24, seed=1)
    np.testing.assert_allclose(x.T @ x / 24, np.eye(6), atol=1e-12)
    np.testing.assert_allclose(y.T @ x / 24, u @ np.diag(s) @ v.T, atol=1e-12)
    with pytest.raises(ValueError, match="singular values"):
        dl.whitened_task(2, 2, [1.0, 1.0, 1.0], 8, seed=0)
    with pytest.raises(ValueError, match="examples"):
        dl.whitened_task(6, 5, [1.0], 4, seed=0)


def test_sigmoid_closed_forms():
    s, u0, lr = 2.0, 1e-3, 0.01
    assert dl.mode_strength(0.0, s, u0, lr) == pytest.approx(u0)
    assert dl.mode_strength(1e5, s, u0, lr) == pytest.approx(s)
    th = dl.half_time(s, u0, lr)
    assert dl.mode_strength(th, s, u0, lr) == pytest.approx(s / 2, rel=1e-9)


def test_discrete_recursion_approaches_the_sigmoid_as_eta_shrinks():
    """Balanced start a = b: the discrete half time exceeds the continuous one by a relative
    at most ~eta s / 2 (growth (1 + eta s)^2 vs e^{2 eta s} per step in the exponential phase;
    less overall); the gap is first order in eta, so halving eta halves it."""
    s, u0 = 1.0, 1e-4
    a = np.full((1, 1), np.sqrt(u0))
    gaps = []
    for lr in (0.02, 0.01):
        steps = int(2 * dl.half_time(s, u0, lr))
        u = dl.discrete_mode_strength(a, a, np.array([s]), lr, steps)[0]
        t_disc = dl.first_crossing(np.arange(steps), u / s, 0.5)
        gaps.append(t_disc / dl.half_time(s, u0, lr) - 1)
        assert u[0] == pytest.approx(u0) and u[-1] == pytest.approx(s, rel=1e-3)
    assert 0 < gaps[0] <= 0.01 and gaps[0] / gaps[1] == pytest.approx(2.0, rel=0.1)


def test_effective_u0_and_first_crossing():
    a, b = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
    assert dl.effective_u0(a, b)[0] == pytest.approx(0.5)
    t = np.array([0.0, 10.0, 20.0])
    assert dl.first_crossing(t, np.array([0.0, 0.4, 0.8]), 0.6) == pytest.approx(15.0)
    assert dl.first_crossing(t, np.array([0.0, 0.1, 0.2]), 0.6) == float("inf")
