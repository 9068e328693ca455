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
    x = np.random.default_rng(1).standard_normal((5, 7), np.float32)
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

    @jax.jit  # the reference as one compiled program, not one per eager operation
    def reference(k, act):
        p = init_stack(st, keys.role(k, keys.PARAMS), (7,), None, 0.0)
        out = []
        for i in range(st.depth):
            w, b = p["hidden"]["kernel"][i], p["hidden"]["bias"][i]
            # d h^{k+1} / d h^k
            out.append(jax.jacobian(lambda h, w=w, b=b: jnp.tanh(h @ w + b))(act[i, 0]))
        return out

    for i, ref in enumerate(reference(k, act)):
        np.testing.assert_allclose(jac[i], ref.T, rtol=1e-5, atol=1e-6)
    sv = ls.singular_values(jac)
    np.testing.assert_allclose((sv**2).sum(-1), (np.float64(jac) ** 2).sum((-2, -1)), rtol=1e-10)


def test_histogram_counts_and_outside():
    h = ls.histogram([-2.0, -0.5, 0.0, 0.5, 0.99, 3.0], bins=2, lim=1.0)
    assert list(h["count"]) == [1, 3] and h["outside"] == 2
    with pytest.raises(ValueError, match="bins"):
        ls.histogram([0.0], bins=0, lim=1.0)


def test_signal_histograms_ranges_and_counts():
    acts = np.array([[0.5, -0.5, 2.0], [0.1, 0.2, 0.3]])  # K = 2 layers
    grads = np.array([[1.0, -1.0, 1.0, -1.0], [0.0, 0.0, 0.0, 0.0]])  # sd 1 and 0
    h = ls.signal_histograms(acts, grads, bins=2)
    a1 = h[(h["quantity"] == "activation") & (h["layer"] == 1)]
    assert a1["bin_lo"].tolist() == [-1.0, 0.0] and a1["count"].tolist() == [1, 1]
    assert a1["outside"].iloc[0] == 1  # 2.0 > 1
    g = h[h["quantity"] == "gradient"]
    assert g["bin_lo"].min() == -4.0 and g["bin_hi"].max() == 4.0  # 4 x the largest sd (1)
    assert g[g["layer"] == 2]["count"].tolist() == [0, 4]  # zeros fall in [0, 4)
    assert h["quantity"].tolist()[:4] == ["activation"] * 4


def test_jacobian_sv_frame_on_known_spectra():
    jacs = [np.stack([np.diag([3.0, 4.0]), 2.0 * np.eye(2)]), np.stack([np.eye(2), np.eye(2)])]
    f = ls.jacobian_sv_frame(jacs)
    assert f["seed"].tolist() == [0, 0, 1, 1] and f["layer"].tolist() == [1, 2, 1, 2]
    np.testing.assert_allclose(f["mean_sv"], [3.5, 2.0, 1.0, 1.0])
    np.testing.assert_allclose(f["mean_sv2"], [12.5, 4.0, 1.0, 1.0])
    np.testing.assert_allclose(f["min_sv"], [3.0, 2.0, 1.0, 1.0])
    np.testing.assert_allclose(f["max_sv"], [4.0, 2.0, 1.0, 1.0])
    assert ls.jacobian_sv_frame([]).empty
