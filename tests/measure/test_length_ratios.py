"""initjax.measure.length_ratios: the jitted forward against a plain numpy ReLU net on the same
weight draws, and its input checks.

The tests run one architecture (WIDTHS, N0): its forward is compiled once per number of networks
in a chunk (2 for the memory analysis, and the chunk sizes below: 1, 2, 3), and the tests share
those programs.
"""

import jax
import numpy as np
import pytest

from initjax import keys
from initjax.measure.length_ratios import bytes_per_network, length_ratio_moments, length_ratios

WIDTHS, N0 = (5, 3), 4


def test_length_ratios_match_a_numpy_forward():
    """The jitted forward equals a plain numpy ReLU net on the same weight draws."""
    widths, n0, seeds = WIDTHS, N0, 3
    r = length_ratios(widths, n0, seeds, root_seed=7, seed_chunk=2)
    sk = keys.seed_keys(seeds, 7)

    @jax.jit  # the reference draws as one compiled program
    def draws(sk):
        x0 = jax.random.normal(keys.role(sk[0], keys.INPUTS), (n0,))
        return x0, [jax.random.normal(keys.role(k, keys.PARAMS), (4 * 5 + 5 * 3,)) for k in sk]

    x0, flats = draws(sk)
    x0 = np.asarray(x0, np.float64)
    for s in range(seeds):
        flat = np.asarray(flats[s])
        w1 = flat[:20].reshape(4, 5) * np.sqrt(2 / 4)
        w2 = flat[20:].reshape(5, 3) * np.sqrt(2 / 5)
        x1 = np.maximum(x0 @ w1, 0)
        x2 = np.maximum(x1 @ w2, 0)
        a0 = x0 @ x0 / 4
        np.testing.assert_allclose(r[s], [x1 @ x1 / 5 / a0, x2 @ x2 / 3 / a0], rtol=1e-5)


@pytest.mark.parametrize(
    "args,match",
    [(([4, 0], 3, 10), "widths"), (([4, 2.5], 3, 10), "widths"), (([4], 0, 10), "input_dim"),
     (([4], 3, 1), "seeds")],
)  # fmt: skip
def test_bad_sizes_are_refused(args, match):
    with pytest.raises(ValueError, match=match):
        length_ratios(*args)
    with pytest.raises(ValueError, match="sigma_w2"):
        length_ratios([4], 3, 10, sigma_w2=0.0)


def test_chunking_does_not_change_values_and_none_fits_memory():
    # chunks of 2 networks and a last one of 1, against all 3 at once
    r = length_ratios(WIDTHS, N0, 3, root_seed=1, seed_chunk=2)
    np.testing.assert_array_equal(r, length_ratios(WIDTHS, N0, 3, root_seed=1, seed_chunk=None))


def test_bytes_per_network_holds_at_least_the_weights():
    widths, n0 = WIDTHS, N0
    weights = 4 * (4 * 5 + 5 * 3)  # float32, one flat draw per network
    assert bytes_per_network(widths, n0) >= weights


def test_a_chunk_that_cannot_fit_is_refused_before_compiling(monkeypatch):
    from initjax.measure import device_memory

    per_net = bytes_per_network(WIDTHS, N0)
    monkeypatch.setattr(device_memory, "available", lambda: (6 * per_net, 6 * per_net, "test"))
    with pytest.raises(ValueError, match="length_ratios needs at least .* lower seed_chunk"):
        length_ratios(WIDTHS, N0, 1000, seed_chunk=20)
    assert length_ratios(WIDTHS, N0, 40, seed_chunk=None).shape == (40, 2)  # 3 per chunk: fits


def test_length_ratio_moments_by_hand():
    r = np.array([[1.0, 0.0], [3.0, 2.0]])  # 2 networks, 2 layers of widths 5 and 10
    m = length_ratio_moments([5, 10], r)
    np.testing.assert_allclose(m["mean_r"], [2.0, 1.0])
    np.testing.assert_allclose(m["se_mean_r"], [1.0, 1.0])  # sd sqrt(2) / sqrt(2)
    np.testing.assert_allclose(m["mean_r2"], [5.0, 2.0])
    # sqrt((mean R^4 - (mean R^2)^2) / n): (41 - 25) / 2 and (8 - 4) / 2
    np.testing.assert_allclose(m["se_mean_r2"], [np.sqrt(8.0), np.sqrt(2.0)])
    np.testing.assert_allclose(m["theory_r2"], [1.0 + 5 / 5, 2.0 * (1.0 + 5 / 10)])
    np.testing.assert_allclose(m["inv_width_sum"], [0.2, 0.3])
    assert m["layer"].tolist() == [1, 2] and m["n"].tolist() == [2, 2]
    assert m["nonfinite"].tolist() == [0, 0]
    with pytest.raises(ValueError, match="r must be"):
        length_ratio_moments([5, 10, 20], r)
