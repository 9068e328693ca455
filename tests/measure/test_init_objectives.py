"""objective_scores against per-network references: GQ from the explicit Hessian matrix (not the
Hessian-vector product), the one-step loss from a hand-written normalized SGD step on the flat
parameter vector, and NaN for a method without such an objective."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

from initjax import models
from initjax.measure import initial_params
from initjax.measure.init_objectives import objective_scores

N = 8


@pytest.fixture(scope="module")
def net():
    model = models.MLP(width=4, depth=1, activation="tanh", readout=10)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2 * N, 3)).astype(np.float32)
    y = rng.integers(0, 10, size=2 * N)
    v, _ = initial_params(model, x, seeds=3)
    return model, v, (x, y)


def _flat_loss(model, params_one):
    flat, unravel = ravel_pytree(params_one)
    st = models.stack_of(model)

    def loss(f, x, y):
        logits = models.apply_stack(st, unravel(f), x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    return flat, loss


def _seed(v, s):
    return jax.tree.map(lambda a: np.asarray(a)[s], v["params"])


def test_gradient_quotient_matches_explicit_hessian(net):
    model, v, held = net
    got = objective_scores(model, "metainit", v, held, batch=N, root_seed=0)
    assert got.shape == (3,) and got.dtype == np.float64
    _, loss = _flat_loss(model, _seed(v, 0))

    @jax.jit  # one compiled program for the three seeds (not one per operation)
    def grad_and_hessian(params_one):
        kx, ky = jax.random.split(jax.random.key(7))  # root_seed 0 + 7, as documented
        x, y = jax.random.normal(kx, (N, 3)), jax.random.randint(ky, (N,), 0, 10)
        flat = ravel_pytree(params_one)[0]
        return jax.grad(loss)(flat, x, y), jax.hessian(loss)(flat, x, y)

    for s in range(3):
        g, h = (np.asarray(a, np.float64) for a in grad_and_hessian(_seed(v, s)))
        hg = h @ g
        gq = np.mean(np.abs((g - hg) / (g + 1e-5 * np.where(g >= 0, 1.0, -1.0)) - 1.0))
        assert got[s] == pytest.approx(gq, rel=1e-3)  # float32 Hessian-vector vs matrix product


def test_one_step_loss_matches_hand_step(net):
    model, v, (x, y) = net
    got = objective_scores(model, "gradinit", v, (x, y), batch=N)
    _, loss = _flat_loss(model, _seed(v, 0))

    @jax.jit  # one compiled program for the three seeds (not one per operation)
    def hand_step(params_one):
        flat = ravel_pytree(params_one)[0]
        g = jax.grad(loss)(flat, x[:N], y[:N])  # S: examples [0, N)
        moved = flat - 0.1 * g / jnp.linalg.norm(g)  # SGD, eta 0.1, normalized gradient
        return loss(moved, x[N // 2 : N + N // 2], y[N // 2 : N + N // 2])  # S~

    for s in range(3):
        want = float(hand_step(_seed(v, s)))
        assert got[s] == pytest.approx(want, rel=1e-5)


def test_no_objective_is_nan(net):
    model, v, held = net
    got = objective_scores(model, "lsuv", v, held, batch=N)
    assert got.shape == (3,) and np.isnan(got).all()
