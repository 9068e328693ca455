"""MetaInit (Dauphin & Schoenholz 2019): the gradient quotient, and its reduction by MetaInit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from initjax import initializers, keys, models
from initjax.initializers import _network as N
from initjax.initializers.metainit import gradient_quotient


def test_gradient_quotient_closed_form(x64):
    # L(theta) = sum a theta^2 / 2 + theta^4 / 4: g = a theta + theta^3, H = diag(a + 3 theta^2),
    # so GQ = mean |(g - H g) / (g + eps sign g) - 1| in closed form (float64).
    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 2.0, 7)
    th = {"w": rng.normal(size=(3, 2)), "b": np.array([0.3, -0.2, 0.0])}
    aw, ab = a[:6].reshape(3, 2), np.r_[a[6:], 1.0, 1.0]
    eps = 1e-5

    def loss(p):
        return jnp.sum(aw * p["w"] ** 2 / 2 + p["w"] ** 4 / 4) + jnp.sum(
            ab * p["b"] ** 2 / 2 + p["b"] ** 4 / 4
        )

    terms = []
    for t, c in ((th["w"], aw), (th["b"], ab)):
        g = c * t + t**3
        hg = (c + 3 * t**2) * g
        terms.append(np.abs((g - hg) / (g + eps * np.where(g >= 0, 1.0, -1.0)) - 1).ravel())
    expected = np.concatenate(terms).mean()
    got = jax.jit(lambda p: gradient_quotient(loss, p, eps))(jax.tree.map(jnp.asarray, th))
    np.testing.assert_allclose(float(got), expected, rtol=1e-10)


@pytest.mark.slow
def test_metainit_reduces_the_gradient_quotient():
    # A ReLU MLP at 0.1 x the He variance (vanishing signal). MetaInit's promise: a lower
    # gradient quotient. Measured on 16 fresh synthetic batches (inputs N(0, 1), random labels:
    # MetaInit's own data law, other keys) before and after, per seed; the mean drop must exceed
    # 4 standard errors of the paired differences.
    sw2, d_in, n_out = 0.2, 16, 10
    init = initializers.get("metainit")  # init2winit's defaults: 50 steps of batch 8
    model = models.MLP(
        width=32, depth=6, activation="relu", kernel_init=init, sigma_w2=sw2, readout=n_out
    )
    st = models.stack_of(model)
    x = jnp.zeros((1, d_in))  # gives the input shape (data="gaussian")
    eval_keys = jax.random.split(jax.random.key(99), 16)

    def gq(p, k):
        kx, ky = jax.random.split(k)
        xb = jax.random.normal(kx, (8, d_in))
        yb = jax.random.randint(ky, (8,), 0, n_out)
        return gradient_quotient(lambda q: N.cross_entropy(st, q, xb, yb), p, 1e-5)

    @jax.jit
    @jax.vmap
    def run(root):
        base = models.init_stack(st, root, (d_in,), sw2, 0.0)
        p, info = models.refine_params(st, base, x, None, root)
        before = jax.vmap(lambda k: gq(base, k))(eval_keys)
        after = jax.vmap(lambda k: gq(p, k))(eval_keys)
        return p, info, before, after, base

    roots = jax.vmap(lambda k: keys.role(k, keys.PARAMS))(keys.seed_keys(4))
    p, info, before, after, base = run(roots)
    diff = np.asarray(before - after, np.float64)
    se = diff.std(1, ddof=1) / np.sqrt(diff.shape[1])
    assert np.all(diff.mean(1) > 4 * se), (before.mean(1), after.mean(1))
    # Its own objective went down too (first vs last 10 of the 50 steps).
    assert np.all(info["gq"][:, :10].mean(1) > info["gq"][:, -10:].mean(1))
    # Only the norms of weight tensors change: each kernel is its base draw times its learned
    # norm over its initial norm; biases (zero here) stay.
    ratio = np.asarray(info["norms"]["hidden"]["kernel"] / info["norms0"]["hidden"]["kernel"])
    np.testing.assert_allclose(
        np.asarray(p["hidden"]["kernel"]),
        ratio[..., None, None] * np.asarray(base["hidden"]["kernel"]),
        rtol=1e-5,
        atol=1e-7,
    )
    assert np.all(np.asarray(p["hidden"]["bias"]) == 0.0)
    # A seed's result does not depend on the other seeds in the batch.
    perm = np.array([2, 0, 3, 1])
    p2 = run(roots[perm])[0]
    for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(p2), strict=True):
        np.testing.assert_allclose(np.asarray(a)[perm], np.asarray(b), rtol=1e-5, atol=1e-7)
