"""Vmapped optax training: correctness against separate runs, symmetry, divergence, bad input."""

import jax
import numpy as np
import pytest

from initjax import data, initializers, keys, models
from initjax.measure.train import TrainSpec, loss_and_accuracy, make_optimizer, train
from initjax.models import stack_of


@pytest.fixture(scope="module")
def separable():
    # Two far-apart Gaussian classes (separation 6 along orthonormal means): Bayes accuracy
    # Phi(6 / sqrt(2))-ish > 0.99, so a trained classifier must be near-perfect.
    kw = dict(n_train=512, n_test=256, dim=8, num_classes=2, separation=6.0, seed=0)
    x, y = data.gaussian_mixture("train", **kw)
    xt, yt = data.gaussian_mixture("test", **kw)
    return x, y, xt, yt


# One small network trained by the layer scan and by unrolled layers, per optimizer, shared by
# the tests below (each training program compiles once per module; the divergence test reuses
# the SGD layer-scan program with other learning rates).
UNROLL_NET = models.MLP(width=8, depth=4, activation="relu", kernel_init="he_normal", readout=2)
LRS = [0.05, 0.2]
_RUNS: dict = {}


def _spec(optimizer: str, unroll: bool) -> TrainSpec:
    """30 steps of batch 16, the final params kept."""
    return TrainSpec(
        optimizer=optimizer, steps=30, batch_size=16, eval_every=10, keep_params=True,
        unroll_layers=unroll,
    )  # fmt: skip


def _runs(separable, optimizer: str, unroll: bool):
    """2 learning rates x 2 seeds of :func:`_spec`."""
    if (optimizer, unroll) not in _RUNS:
        _RUNS[optimizer, unroll] = train(
            UNROLL_NET, separable, seeds=keys.seed_keys(2), learning_rate=LRS,
            spec=_spec(optimizer, unroll),
        )  # fmt: skip
    return _RUNS[optimizer, unroll]


def test_tiny_mlp_learns_separable_problem(separable):
    r = _runs(separable, "sgd", False)
    acc = r.arrays["test_acc"][..., -1]
    # 256 test points: at true accuracy 0.99 the binomial sd is 0.006; 0.95 is > 6 sd below.
    assert acc.min() > 0.95, acc
    assert not r.arrays["diverged"].any()
    # Training reduces the loss: last block's mean batch loss below the first block's.
    assert np.all(r.arrays["batch_loss"][..., -1] < r.arrays["batch_loss"][..., 0])


def test_grad_norm0_is_the_gradient_at_the_initial_params_on_minibatch_0(separable):
    # Per-layer norms of d loss / d (kernel, bias) at the initial params on the first
    # minibatch (indices from the network's batch key, initjax.keys), by a float64 numpy
    # backward pass of the relu MLP with mean softmax cross-entropy. Same for every cell.
    r = _runs(separable, "sgd", False)
    x_tr, y_tr = separable[0], separable[1]
    for s, k in enumerate(keys.seed_keys(2)):
        batch_key = jax.random.fold_in(keys.role(k, keys.BATCHES), 0)
        idx = np.asarray(jax.random.randint(batch_key, (16,), 0, len(x_tr)))
        x, y = np.asarray(x_tr[idx], np.float64), y_tr[idx]
        p = jax.tree.map(lambda a, s=s: np.asarray(a[0, s], np.float64), r.params0)
        layers = [(p["input"]["kernel"], p["input"]["bias"])]
        layers += list(zip(p["hidden"]["kernel"], p["hidden"]["bias"], strict=True))
        acts = [x]
        for w, b in layers:
            acts.append(np.maximum(acts[-1] @ w + b, 0.0))
        logits = acts[-1] @ p["readout"]["kernel"] + p["readout"]["bias"]
        prob = np.exp(logits - logits.max(1, keepdims=True))
        prob /= prob.sum(1, keepdims=True)
        d = (prob - np.eye(2)[y]) / len(y)  # d loss / d logits
        norms = [np.sqrt(np.sum((acts[-1].T @ d) ** 2) + np.sum(d.sum(0) ** 2))]
        d = (d @ p["readout"]["kernel"].T) * (acts[-1] > 0)  # d loss / d z of the last
        for i in range(len(layers) - 1, -1, -1):
            norms.append(np.sqrt(np.sum((acts[i].T @ d) ** 2) + np.sum(d.sum(0) ** 2)))
            d = (d @ layers[i][0].T) * (acts[i] > 0)
        want = np.array(norms[::-1])  # input, hidden 1..4, readout
        for h in range(2):
            np.testing.assert_allclose(r.arrays["grad_norm0"][h, s], want, rtol=1e-4)


def test_last_evaluation_is_of_the_final_params_on_the_test_set_and_the_eval_subset(separable):
    # The last point of the test curves is the loss and accuracy of the final params on the test
    # set (256 examples), and of the train curves on the first eval_size (1000, so all 512)
    # training examples: computed here by separate forward passes of each set. Other batch
    # shapes may sum in another order: float32 rounding on the loss; an accuracy may move by
    # one example (1/256) only if rounding flips an argmax.
    r = _runs(separable, "sgd", False)
    x_tr, y_tr, x_te, y_te = separable
    f = jax.jit(lambda p, x, y: loss_and_accuracy(stack_of(UNROLL_NET), p, x, y))
    for h in range(2):
        for s in range(2):
            p = jax.tree.map(lambda a, h=h, s=s: a[h, s], r.params)
            for split, x, y in (("test", x_te, y_te), ("train", x_tr, y_tr)):
                loss, acc = f(p, x, y)
                got = r.arrays[f"{split}_loss"][h, s, -1], r.arrays[f"{split}_acc"][h, s, -1]
                np.testing.assert_allclose(got[0], loss, rtol=1e-5, atol=1e-7)
                np.testing.assert_allclose(got[1], acc, atol=1.5 / len(y))


def test_vmapped_training_equals_separate_runs(separable):
    # Adam: the optimizer state is vmapped too. Unrolled layers (the default at this depth).
    together = _runs(separable, "adam", True)
    ks = keys.seed_keys(2)
    spec = _spec("adam", True)
    for h, lr in enumerate(LRS):
        for s in range(2):
            alone = train(UNROLL_NET, separable, seeds=ks[s : s + 1], learning_rate=lr, spec=spec)
            for k in ("test_acc", "train_loss", "grad_norm0"):
                # Batched and unbatched matmuls may sum in a different order: float32 rounding.
                np.testing.assert_allclose(
                    together.arrays[k][h, s], alone.arrays[k][0, 0], rtol=2e-5, atol=1e-6
                )


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_unrolled_layers_train_like_the_layer_scan(separable, optimizer):
    # The same operations in another program: XLA may fuse (and so round) them differently,
    # hence the float32 tolerance of the batched-vs-separate test above, on every curve and on
    # every final parameter (a wrong layer order, a skipped layer or a stale gradient would move
    # them by O(1)).
    a, b = _runs(separable, optimizer, False), _runs(separable, optimizer, True)
    for k in a.arrays:
        np.testing.assert_allclose(a.arrays[k], b.arrays[k], rtol=2e-5, atol=1e-6, err_msg=k)
    for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True):
        np.testing.assert_allclose(x, y, rtol=2e-5, atol=1e-6)
    assert TrainSpec().layer_unroll(10) and not TrainSpec().layer_unroll(10_000)
    assert not TrainSpec(unroll_layers=False).layer_unroll(1)


def test_zero_init_hidden_units_stay_identical(separable):
    yt = separable[3]
    m = models.MLP(
        width=6, depth=1, activation="tanh", kernel_init="zeros", readout=2, bias_init="zeros"
    )
    spec = TrainSpec(optimizer="sgd", steps=100, batch_size=32, eval_every=50, keep_params=True)
    r = train(m, separable, seeds=1, learning_rate=0.5, spec=spec)
    p = jax.tree.map(lambda a: np.asarray(a)[0, 0], r.params)
    for name, kernel in [("input", p["input"]["kernel"]), ("hidden", p["hidden"]["kernel"][0])]:
        # every unit (column) has exactly the same incoming weights: symmetry never breaks
        assert np.array_equal(kernel, np.broadcast_to(kernel[..., :1], kernel.shape)), name
    # ... so the net is no better than its readout bias: at most the majority-class rate + noise.
    assert r.arrays["test_acc"][0, 0, -1] <= np.bincount(yt).max() / len(yt) + 1e-6


def _max_unit_distance(kernel: np.ndarray, bias: np.ndarray) -> float:
    """max_ij |v_i - v_j| / RMS_j |v_j| over a layer's units v_j = (W[:, j], b_j)."""
    v = np.concatenate([kernel.T, bias[:, None]], axis=1).astype(np.float64)
    d = np.sqrt(((v[:, None, :] - v[None, :, :]) ** 2).sum(-1)).max()
    return float(d / np.sqrt((v**2).sum(1).mean()))


def test_constant_init_units_stay_equal_within_the_rounding_bound(separable):
    # In exact arithmetic equal units get equal gradients and stay equal. In float32 XLA may
    # compute the columns of one matmul with different kernels (vectorized body vs remainder,
    # thread partitions; batched dots under vmap differ from unbatched ones), so a unit can be
    # rounded differently from the others: one ulp of the weights' scale per step at most, before
    # the dynamics amplify it. Stated bound after T steps: max distance <= T * eps32 relative to
    # the RMS unit norm (observed drifts, ~1e-8 after 50-100 steps, are ~10x below it).
    steps = 200
    m = models.MLP(width=24, depth=2, activation="tanh", readout=2,
                   kernel_init=initializers.get("constant", value=1 / 24))  # fmt: skip
    spec = TrainSpec(optimizer="momentum", steps=steps, batch_size=32, eval_every=100,
                     keep_params=True)  # fmt: skip
    r = train(m, separable, seeds=4, learning_rate=[0.02, 0.05], spec=spec)
    bound = steps * float(np.finfo(np.float32).eps)
    worst = 0.0
    for h in range(2):
        for s in range(4):
            p = jax.tree.map(lambda a, h=h, s=s: np.asarray(a)[h, s], r.params)
            layers = [(p["input"]["kernel"], p["input"]["bias"])]
            layers += [(p["hidden"]["kernel"][i], p["hidden"]["bias"][i]) for i in range(2)]
            worst = max(worst, *(_max_unit_distance(k, b) for k, b in layers))
    assert worst <= bound, (worst, bound)
    # Negative control: one unit moved by 10 x the bound is detected.
    k, b = layers[0]
    moved = k.copy()
    moved[:, 3] += 10 * bound * np.sqrt((k**2).sum(0).mean())
    assert _max_unit_distance(moved, b) > bound


def test_divergence_is_recorded_per_network(separable):
    # The shared relu network's SGD layer-scan program (same shapes: no new compile) at a
    # learning rate that trains and one that overflows.
    r = train(UNROLL_NET, separable, seeds=2, learning_rate=[0.05, 1e6], spec=_spec("sgd", False))
    assert not r.arrays["diverged"][0].any()
    assert r.arrays["diverged"][1].all()
    frame = r.to_frame()
    assert frame["diverged"].tolist() == [False, False, True, True]
    curves = r.curves_frame(diverged=True)  # per (cell, seed, step): the network's flag
    assert len(curves) == 2 * 2 * len(r.steps)
    assert (curves["diverged"] == (curves["cell"] == 1)).all()
    assert "diverged" not in r.curves_frame().columns


@pytest.mark.parametrize(
    "kwargs,spec,match",
    [
        ({"learning_rate": 0.0}, TrainSpec(), "learning_rate"),
        ({"learning_rate": -1.0}, TrainSpec(), "learning_rate"),
        ({}, TrainSpec(optimizer="adagrad"), "optimizer must be one of"),
        ({}, TrainSpec(batch_size=0), "batch_size"),
        ({}, TrainSpec(batch_size=100000), "larger than the training set"),
        ({}, TrainSpec(steps=0), "steps"),
        ({"sigma_w2": -1.0}, TrainSpec(), "sigma_w2"),
        ({}, TrainSpec(unroll_layers=1), "unroll_layers must be None, True or False"),
    ],
)
def test_bad_input(separable, kwargs, spec, match):
    m = models.MLP(width=4, depth=1, readout=2)
    with pytest.raises(ValueError, match=match):
        train(m, separable, spec=spec, **kwargs)


def test_no_readout_is_an_error(separable):
    with pytest.raises(ValueError, match="readout"):
        train(models.MLP(width=4, depth=1), separable)


def test_make_optimizer_names():
    for name in ("sgd", "momentum", "adam", "adamw", "rmsprop"):
        make_optimizer(name, 0.1)
    with pytest.raises(ValueError, match="sgd, momentum, adam, adamw, rmsprop"):
        make_optimizer("lion", 0.1)


def test_train_spec_from_config():
    import ml_collections

    from initjax.measure.train import TrainSpec

    cfg = ml_collections.ConfigDict(
        dict(optimizer="momentum", steps=300, batch_size=32, momentum=0.95, lr=0.1)
    )
    spec = TrainSpec.from_config(cfg)
    assert spec == TrainSpec(optimizer="momentum", steps=300, batch_size=32, eval_every=300,
                             momentum=0.95)  # fmt: skip
    assert TrainSpec.from_config({"steps": 10}, eval_every=5, keep_params=True) == TrainSpec(
        steps=10, eval_every=5, keep_params=True
    )
    with pytest.raises(ValueError, match="config key 'steps' must be an int"):
        TrainSpec.from_config({"steps": 2.5})
    with pytest.raises(ValueError, match="config key 'optimizer' must be a str"):
        TrainSpec.from_config({"optimizer": 3})
    with pytest.raises(ValueError, match="unknown TrainSpec field"):
        TrainSpec.from_config({}, lr=0.1)


def test_data_dependent_init_refined_on_the_training_set(separable):
    # kernel_init="lsuv": each network starts from LSUV's refinement of its base draw on the
    # whole training set (batch_size=0), so every layer's pre-activation variance on the
    # training inputs is within LSUV's tolerance 0.1 of 1 (numpy forward of the initial params).
    m = models.MLP(width=8, depth=2, activation="tanh", kernel_init="lsuv", readout=2)
    spec = TrainSpec(optimizer="sgd", steps=2, batch_size=16, eval_every=2, keep_params=True)
    r = train(m, separable, seeds=2, learning_rate=0.1, spec=spec)
    x = np.asarray(separable[0], np.float64)
    for s in range(2):
        p = jax.tree.map(lambda a, s=s: np.asarray(a[0, s], np.float64), r.params0)
        z = x @ p["input"]["kernel"] + p["input"]["bias"]
        variances = [z.var()]
        for w, b in zip(p["hidden"]["kernel"], p["hidden"]["bias"], strict=True):
            z = np.tanh(z) @ w + b
            variances.append(z.var())
        variances.append((np.tanh(z) @ p["readout"]["kernel"] + p["readout"]["bias"]).var())
        assert np.all(np.abs(np.array(variances) - 1.0) < 0.1), variances
        k0, k1 = r.params0["hidden"]["kernel"][0, s], r.params["hidden"]["kernel"][0, s]
        assert not np.allclose(k0, k1)  # then trained
