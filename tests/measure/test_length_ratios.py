"""initjax.measure.length_ratios: the jitted forward against a plain numpy ReLU net on the same
weight draws, and its input checks."""

import jax
import numpy as np
import pytest

from initjax import keys
from initjax.measure.length_ratios import length_ratios


def test_length_ratios_match_a_numpy_forward():
    """The jitted forward equals a plain numpy ReLU net on the same weight draws."""
    widths, n0, seeds = (5, 3), 4, 3
    r = length_ratios(widths, n0, seeds, root_seed=7, seed_chunk=2)
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
