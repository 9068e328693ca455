"""Exact second moment of a He ReLU net's length ratio against hand values and Monte Carlo."""

import numpy as np
import pytest

from initjax.theory.length_moments import relu_length_second_moment


def test_hand_values_and_order_independence():
    np.testing.assert_allclose(relu_length_second_moment([5, 10]), [2.0, 3.0])
    # (10, 16, 24) in either order ends at 1.5 * 1.3125 * (1 + 5/24) = 2.37890625.
    assert relu_length_second_moment([10, 16, 24])[-1] == pytest.approx(2.37890625)
    assert relu_length_second_moment([24, 16, 10])[-1] == pytest.approx(2.37890625)
    np.testing.assert_allclose(relu_length_second_moment([4], constant=4.0), [2.0])


def test_matches_numpy_monte_carlo():
    """200,000 one-layer nets of width 4 (numpy Gaussians): E[R^2] = 1 + 5/4 = 2.25; the SE
    of the sample mean of R^2 is sqrt(Var[R^2] / n) ~ 0.01, so 5 SE is 0.05."""
    rng = np.random.default_rng(0)
    n0, n1, s = 3, 4, 200_000
    x0 = rng.standard_normal(n0)
    w = rng.standard_normal((s, n0, n1)) * np.sqrt(2.0 / n0)
    r = (np.maximum(np.einsum("i,sij->sj", x0, w), 0) ** 2).sum(1) / n1 / (x0 @ x0 / n0)
    se = np.sqrt(np.var(r**2) / s)
    assert abs(np.mean(r**2) - relu_length_second_moment([n1])[0]) < 5 * se
    assert abs(np.mean(r) - 1.0) < 5 * np.std(r) / np.sqrt(s)


@pytest.mark.parametrize("bad", [[], [3, 0], [2.5]])
def test_bad_widths(bad):
    with pytest.raises(ValueError, match="widths"):
        relu_length_second_moment(bad)
