"""Per-parameter optax optimizers: one step against hand-computed updates, and training."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from initjax import data, keys, models
from initjax import parametrizations as P
from initjax.measure.train import TrainSpec, make_optimizer, train
from initjax.parametrizations import Rule, Scaling
from tests.measure import test_train as shared


@functools.cache
def _key():
    """Seed 0 of the key scheme (made on first use: collecting compiles nothing)."""
    return keys.seed_keys(1)[0]


LR, WD, EPS = 0.1, 0.01, 1e-3


@pytest.fixture(scope="module")
def setup():
    m = models.MLP(width=16, depth=2, readout=2, activation="tanh")
    pz = P.parametrize(m, "mup", base_width=4, in_shape=(3,))
    params = jax.jit(pz.init)(_key())  # one compiled program (not one per operation)
    # Gradients of the size of eps, so the per-parameter epsilon matters (any law will do).
    rng = np.random.default_rng(7)
    g1, g2 = (
        jax.tree.map(lambda a: 1e-3 * rng.standard_normal(a.shape).astype(np.float32), params)
        for _ in range(2)
    )
    return pz, params, g1, g2


def _by_leaf(pz, fn, *trees):
    """Apply fn(leaf_rule, *arrays) per parameter, in float64 numpy."""
    rules = pz.tree_of(lambda lf: lf)
    return jax.tree.map(
        lambda lf, *a: fn(lf, *(np.asarray(x, np.float64) for x in a)),
        rules,
        *trees,
        is_leaf=lambda x: isinstance(x, P.LeafRule),
    )


def _expected(name, pz, p0, g1, g2):
    """The update of step 1 (step 2 for momentum) from the formulas, per parameter."""
    mu = 0.9

    def one(lf, p, g, h):
        lr, wd, eps = LR * lf.lr(name), WD * lf.wd(name), EPS * lf.eps
        if name == "sgd":
            return -lr * (g + wd * p)
        if name == "momentum":
            t1 = g + wd * p
            p1 = p - lr * t1
            return -lr * (h + wd * p1 + mu * t1)
        if name == "adam":
            gg = g + wd * p  # coupled L2; bias-corrected moments at step 1 are g and g^2
            return -lr * gg / (np.abs(gg) + eps)
        if name == "adamw":
            return -lr * (g / (np.abs(g) + eps) + wd * p)
        gg = g + wd * p  # rmsprop: nu = (1 - 0.9) g^2, eps inside the square root
        return -lr * gg / np.sqrt(0.1 * gg**2 + EPS * lf.eps**2)

    return _by_leaf(pz, one, p0, g1, g2)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam", "adamw", "rmsprop"])
def test_one_step_equals_the_hand_computed_update(setup, name):
    pz, params, g1, g2 = setup
    tx = pz.optimizer(name, LR, eps=EPS, weight_decay=WD)

    def steps(g1, g2, params):
        upd, state = tx.update(g1, tx.init(params), params)
        if name == "momentum":
            p1 = optax.apply_updates(params, upd)  # float32 sum p + u
            upd = tx.update(g2, state, p1)[0]
        return upd

    # The optimizer's init and its one (or two) updates in one compiled program (not one per
    # operation).
    upd = jax.jit(steps)(g1, g2, params)
    want = _expected(name, pz, params, g1, g2)
    got = jax.tree.map(lambda a: np.asarray(a, np.float64), upd)
    flat_w, flat_g = jax.tree.leaves(want), jax.tree.leaves(got)
    names = jax.tree.leaves(pz.tree_of(lambda lf: lf.name))
    for n, w, g in zip(names, flat_w, flat_g, strict=True):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=1e-9, err_msg=f"{name} {n}")
    # The multipliers differ between groups, so this is not one global learning rate.
    assert len({lf.lr(name) for lf in pz.leaves}) > 1


def test_without_multipliers_it_is_the_plain_optimizer(setup):
    pz, params, g1, _ = setup
    base = P.parametrize(
        models.MLP(width=16, depth=2, readout=2, activation="tanh"), "sp", in_shape=(3,)
    )
    names = ("sgd", "adam", "adamw")
    pairs = [
        (base.optimizer(n, LR, weight_decay=WD), make_optimizer(n, LR, weight_decay=WD))
        for n in names
    ]
    first = lambda tx, g, p: tx.update(g, tx.init(p), p)[0]
    # Every optimizer's two updates in one compiled program (not one per optimizer or per
    # operation), compared on the host.
    updates = jax.jit(lambda g, p: [(first(a, g, p), first(b, g, p)) for a, b in pairs])
    for n, (ua, ub) in zip(names, updates(g1, params), strict=True):
        assert jax.tree.all(jax.tree.map(np.array_equal, ua, ub)), n
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        pz.optimizer("adam", 0.0)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        pz.optimizer("lion", 0.1)


@pytest.fixture(scope="module")
def mixture():
    # The shapes of tests/measure/test_train.py's training set: the same compiled samplers.
    kw = dict(n_train=512, n_test=256, dim=8, num_classes=2, separation=4.0, seed=0)
    return (*data.gaussian_mixture("train", **kw), *data.gaussian_mixture("test", **kw))


def test_training_at_the_base_width_is_sp_training(mixture):
    # The network, spec and 2 rates x 2 seeds of tests/measure/test_train.py's Adam runs (on
    # data of the same shapes): the plain run is that module's compiled training program.
    m = shared.UNROLL_NET
    spec = shared._spec("adam", True)
    plain = train(m, mixture, seeds=2, learning_rate=shared.LRS, spec=spec)
    mup = train(
        P.parametrize(m, "mup", base_width=m.width, in_shape=(8,)),
        mixture,
        seeds=2,
        learning_rate=shared.LRS,
        spec=spec,
    )
    assert not plain.arrays["diverged"].any()  # finite curves: equal values, not equal NaNs
    for k in ("train_loss", "test_acc", "grad_norm0"):
        np.testing.assert_array_equal(plain.arrays[k], mup.arrays[k])
    for a, b in zip(jax.tree.leaves(plain.params), jax.tree.leaves(mup.params), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_vmapped_parametrized_training_equals_separate_runs(mixture):
    m = models.MLP(width=32, depth=2, readout=2, activation="relu", kernel_init="he_normal")
    pz = P.parametrize(m, "mup", base_width=8, in_shape=(8,))
    spec = TrainSpec(optimizer="adamw", steps=20, batch_size=16, eval_every=10, weight_decay=1e-3)
    ks = keys.seed_keys(2)
    lrs = [0.003, 0.03]
    together = train(pz, mixture, seeds=ks, learning_rate=lrs, spec=spec)
    for h, lr in enumerate(lrs):
        alone = train(pz, mixture, seeds=ks[1:], learning_rate=lr, spec=spec)
        np.testing.assert_allclose(
            together.arrays["train_loss"][h, 1], alone.arrays["train_loss"][0, 0], rtol=2e-5
        )
    with pytest.raises(ValueError, match="parametrized for inputs of shape"):
        train(P.parametrize(m, "mup", base_width=8, in_shape=(4,)), mixture, spec=spec)


# TP5's Table 3 form of muP (no output multiplier): readout init var x m_in^-1, multiplier 1,
# SGD and Adam lr x m_in^-1; its gradient is the effective one, so its epsilon is unscaled.
_T3_READOUT = Rule(
    init_var=Scaling(fan_in=-1.0),
    lr_sgd=Scaling(fan_in=-1.0),
    lr_adam=Scaling(fan_in=-1.0),
)
MUP_TABLE3 = P.MUP.replace_rule("readout", _T3_READOUT, name="mup_table3")


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_table3_and_table8_forms_train_the_same_function(name):
    """Table 3 and Table 8 of TP5 differ in how the readout is written (W vs W / fan_in) but are
    the same parametrization: with the same keys the logits agree at every step (float32)."""
    m = models.MLP(width=64, depth=2, readout=3, activation="tanh")
    x = np.random.default_rng(3).standard_normal((32, 5), np.float32)

    def logits(p, key):
        """(6, 32, 3): the logits at init and after each of 5 full-batch steps."""
        pz = P.parametrize(m, p, base_width=16, in_shape=(5,))
        tx = pz.optimizer(name, 0.05 if name == "sgd" else 0.01)
        y = jax.random.randint(jax.random.key(4), (32,), 0, 3)

        def step(carry, _):
            q, state = carry
            loss = lambda q: optax.softmax_cross_entropy_with_integer_labels(
                pz.apply(q, x), y
            ).mean()
            upd, state = tx.update(jax.grad(loss)(q), state, q)
            q = optax.apply_updates(q, upd)
            return (q, state), pz.apply(q, x)

        q = pz.init(key)
        later = jax.lax.scan(step, (q, tx.init(q)), None, 5)[1]
        return jnp.concatenate([pz.apply(q, x)[None], later])

    # Both forms, from init through the 5 steps, in one compiled program (not one per form
    # and operation).
    both = jax.jit(lambda key: (logits(P.MUP, key), logits(MUP_TABLE3, key)))
    a, b = (np.asarray(v) for v in both(_key()))
    assert np.abs(a[-1] - a[0]).max() > 0.05  # the function moved
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


# One compile per optimizer. sgd (stateless) and adamw (moments + decoupled weight decay) cover
# the code path by default; the one-step test above checks every optimizer's update formula.
@pytest.mark.parametrize(
    "name",
    [
        "sgd",
        pytest.param("momentum", marks=pytest.mark.slow),
        pytest.param("adam", marks=pytest.mark.slow),
        "adamw",
    ],
)
def test_seeds_by_learning_rates_train_in_one_compile(mixture, name):
    """A parametrized model under ``train``: H learning rates x S seeds are one compiled program
    (new rate values reuse it), and each network's run depends on its own seed and rate only: in
    another slot beside other networks it trains the same (truly separate runs of a parametrized
    model: test_vmapped_parametrized_training_equals_separate_runs, slow)."""
    from initjax.measure import train as train_mod

    m = models.MLP(width=16, depth=1, readout=2, activation="relu", kernel_init="he_normal")
    pz = P.parametrize(m, "mup", base_width=4, in_shape=(8,))
    wd = 1e-3 if name == "adamw" else 0.0
    spec = TrainSpec(optimizer=name, steps=6, batch_size=16, eval_every=3, weight_decay=wd)
    ks = keys.seed_keys(3)
    fn = train_mod._train_jit("default")
    before = fn._cache_size()
    kw = dict(spec=spec, xla_options="default")
    together = train(pz, mixture, seeds=ks[:2], learning_rate=[0.003, 0.03], **kw)
    after = fn._cache_size()
    assert after <= before + 1
    # Other values, same program: network (rate 0.03, seed 1) at slot (0, 0) beside a new
    # rate and a new seed.
    other = train(pz, mixture, seeds=ks[np.array([1, 2])], learning_rate=[0.03, 0.001], **kw)
    assert fn._cache_size() == after
    loss = together.arrays["train_loss"]
    assert loss.shape == (2, 2, 2) and np.all(np.isfinite(loss))
    assert not np.allclose(loss[0], loss[1], rtol=1e-3)  # the rate reaches every group
    np.testing.assert_allclose(loss[1, 1], other.arrays["train_loss"][0, 0], rtol=2e-5)
