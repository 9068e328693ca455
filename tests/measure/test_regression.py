"""full_batch_gd: one step equals the hand-derived update of a two-matrix linear network."""

import dataclasses

import jax
import numpy as np
import pytest

from initjax import keys, models
from initjax.measure.regression import full_batch_gd, squared_loss


def _linear(width=5, n_out=3):
    mlp = models.MLP(width=width, depth=1, activation="linear", kernel_init="lecun_normal",
                     readout=n_out)  # fmt: skip
    return dataclasses.replace(mlp.stack(), depth=0)


def test_one_step_matches_numpy():
    st = _linear()
    p = models.init_stack(st, keys.role(keys.seed_keys(1)[0], keys.PARAMS), (4,), None, 0.0)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((7, 4)), rng.standard_normal((7, 3))
    w1, w2 = (np.asarray(p[k]["kernel"], np.float64) for k in ("input", "readout"))
    lr = 0.1
    losses, _ = full_batch_gd(st, p, x.astype(np.float32), y.astype(np.float32), lr, 2)
    # L = 1/(2P) ||X W1 W2 - Y||^2: dL/dW1 = X^T E W2^T / P, dL/dW2 = (X W1)^T E / P.
    e = x @ w1 @ w2 - y
    loss0 = 0.5 * np.mean(np.sum(e**2, 1))
    g1, g2 = x.T @ e @ w2.T / 7, (x @ w1).T @ e / 7
    w1n, w2n = w1 - lr * g1, w2 - lr * g2
    loss1 = 0.5 * np.mean(np.sum((x @ w1n @ w2n - y) ** 2, 1))
    np.testing.assert_allclose(losses, [loss0, loss1], rtol=1e-5)
    assert float(squared_loss(st, p, x, y)) == pytest.approx(loss0, rel=1e-5)


def test_biases_frozen_and_observe_and_errors():
    st = _linear()
    p = models.init_stack(st, keys.role(keys.seed_keys(1)[0], keys.PARAMS), (4,), None, 0.1)
    x = np.ones((3, 4), np.float32)
    y = np.zeros((3, 3), np.float32)
    _, obs = full_batch_gd(st, p, x, y, 0.1, 4, record_every=2,
                           observe=lambda q: q["input"]["bias"])  # fmt: skip
    np.testing.assert_array_equal(obs, np.stack([p["input"]["bias"]] * 2))
    with pytest.raises(ValueError, match="record_every"):
        full_batch_gd(st, p, x, y, 0.1, 5, record_every=2)
    jax.block_until_ready(obs)
