"""layer_signals: gradients agree with propagate's grad_sq (another engine, same networks), the
layer Jacobians with jax.jacobian of the activation map; histogram and SVD helpers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from initjax import keys, measure, models
from initjax.measure import layer_signals as ls
from initjax.models import init_stack, stack_of


@pytest.fixture(scope="module")
def net():
    model = models.MLP(width=16, depth=2, activation="tanh", kernel_init="glorot_uniform",
                       sigma_b2=0.0, readout=3)  # fmt: skip
    x = jax.random.normal(jax.random.PRNGKey(1), (5, 7))
    y = jnp.array([0, 1, 2, 1, 0])
    return model, stack_of(model), x, y


def test_gradients_and_activations_match_propagate(net):
    model, st, x, y = net
    res = measure.propagate(model, x, seeds=2, metrics=("act_std", "grad_sq"), root_seed=3,
                            loss=ls.softmax_xent_sum(y))  # fmt: skip
    fr = res.to_frame()
    for s, k in enumerate(keys.seed_keys(2, 3)):
        act, grad, _ = (np.asarray(a, np.float64) for a in ls.layer_signals(st, 7)(k, x, y))
        row = fr[fr["seed"] == s].sort_values("layer")
        np.testing.assert_allclose((grad**2).sum(-1).mean(-1), row["grad_sq"], rtol=1e-4)
        np.testing.assert_allclose(act.reshape(3, -1).std(-1), row["act_std"], rtol=1e-4)


def test_jacobian_is_that_of_the_activation_map(net):
    _, st, x, y = net
    k = keys.seed_keys(1, 0)[0]
    act, _, jac = ls.layer_signals(st, 7)(k, x, y)
    p = init_stack(st, keys.role(k, keys.PARAMS), (7,), None, 0.0)
    for i in range(st.depth):
        w, b = p["hidden"]["kernel"][i], p["hidden"]["bias"][i]
        ref = jax.jacobian(lambda h, w=w, b=b: jnp.tanh(h @ w + b))(act[i, 0])  # d h^{k+1}/d h^k
        np.testing.assert_allclose(jac[i], ref.T, rtol=1e-5, atol=1e-6)
    sv = ls.singular_values(jac)
    np.testing.assert_allclose((sv**2).sum(-1), (np.float64(jac) ** 2).sum((-2, -1)), rtol=1e-10)


def test_histogram_counts_and_outside():
    h = ls.histogram([-2.0, -0.5, 0.0, 0.5, 0.99, 3.0], bins=2, lim=1.0)
    assert list(h["count"]) == [1, 3] and h["outside"] == 2
    with pytest.raises(ValueError, match="bins"):
        ls.histogram([0.0], bins=0, lim=1.0)
