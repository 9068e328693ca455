"""Parity with the reference implementation of muP, the ``mup`` package (PyTorch).

The same MLP (input Linear, ``depth`` hidden Linears, ``mup.MuReadout``) is built in both at a base
width and a wider width. For every parameter, initjax's muP must give what mup gives:

- the learning-rate multipliers of ``MuSGD`` and ``MuAdam`` (param-group lr / base lr) and their
  weight-decay multipliers, exactly;
- the width scaling of the init variances: Var(param at width n under muP) / Var(param at the
  base width, where muP is SP), measured on both sides over independent draws. The two packages'
  SP inits differ (torch's default Linear draws U(+-1/sqrt(fan_in)) for weights *and* biases;
  initjax draws N(0, sigma_w2 / fan_in) weights and N(0, sigma_b2) biases), and mup's
  ``set_base_shapes`` multiplies biases of layers with a growing fan_in by sqrt(width_mult) to
  undo torch's 1/fan_in bias variance; the ratios are what both promise (TP5, Table 8);
- the readout's forward multiplier (MuReadout computes W (x / width_mult) + b);
- one optimizer step from the same weights and batch: MuSGD and MuAdam against initjax's
  per-parameter optax optimizers.

Deliberate difference (initjax.parametrizations.builtin): mup keeps Adam's epsilon fixed; initjax
scales it like the gradient (x 1/width_mult). With eps = 1e-8 and gradient entries ~1e-3 the
one-step difference is ~1e-5 relative, inside the step test's tolerance; the test also asserts
the difference itself so it cannot silently vanish.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from initjax import keys, models
from initjax import parametrizations as P

D_IN, N_OUT, DEPTH, BASE, WIDTH = 12, 10, 2, 64, 256
REPLICAS = 48
# torch, mup and the torch model class are set by _packages (importing torch takes seconds: not
# while collecting).
torch = mup = TorchMLP = None


@pytest.fixture(autouse=True, scope="module")
def _packages():
    global torch, mup, TorchMLP
    torch = pytest.importorskip(
        "torch", reason="torch not installed (CPU build: pip install torch; or the compare extra)"
    )
    mup = pytest.importorskip("mup", reason="mup not installed: pip install --no-deps mup")

    class TorchMLP(torch.nn.Module):  # noqa: F811 (module global, defined once torch is here)
        def __init__(self, width: int):
            super().__init__()
            self.input = torch.nn.Linear(D_IN, width)
            self.hidden = torch.nn.ModuleList([torch.nn.Linear(width, width) for _ in range(DEPTH)])
            self.readout = mup.MuReadout(width, N_OUT)

        def forward(self, x):
            z = self.input(x)
            for layer in self.hidden:
                z = layer(torch.relu(z))
            return self.readout(torch.relu(z))


def _torch_model(width: int, seed: int):
    torch.manual_seed(seed)
    model = TorchMLP(width)
    mup.set_base_shapes(model, TorchMLP(BASE))
    return model


# torch parameter name -> initjax params path (+ hidden layer index); torch weights are (out, in).
def _path(name: str) -> tuple[tuple[str, ...], int | None]:
    parts = name.split(".")
    leaf = "kernel" if parts[-1] == "weight" else "bias"
    if parts[0] == "hidden":
        return ("hidden", leaf), int(parts[1])
    return (parts[0], leaf), None


def _jax_model(width: int):
    return models.MLP(
        width=width, depth=DEPTH, readout=N_OUT, activation="relu", sigma_w2=2.0, sigma_b2=0.05
    )


@pytest.fixture(scope="module")
def pz():
    return P.parametrize(_jax_model(WIDTH), "mup", base_width=BASE, in_shape=(D_IN,))


def _rule(pz, name):
    path, _ = _path(name)
    return {lf.path: lf for lf in pz.leaves}[path]


def test_learning_rate_and_weight_decay_multipliers_equal_mup(pz):
    model = _torch_model(WIDTH, 0)
    for opt_name, make in (("sgd", mup.MuSGD), ("adam", mup.MuAdam)):
        opt = make(model.parameters(), lr=1.0, weight_decay=1.0)
        group_of = {id(p): g for g in opt.param_groups for p in g["params"]}
        for name, p in model.named_parameters():
            lf = _rule(pz, name)
            g = group_of[id(p)]
            assert g["lr"] == pytest.approx(lf.lr(opt_name), rel=1e-12), (opt_name, name)
            assert g["weight_decay"] == pytest.approx(lf.wd(opt_name), rel=1e-12), (opt_name, name)
    # Not one global rate: mup and initjax both split the parameters.
    assert {lf.lr("adam") for lf in pz.leaves} == {1.0, BASE / WIDTH}
    assert {lf.lr("sgd") for lf in pz.leaves} == {1.0, WIDTH / BASE}


def _torch_variances(width: int) -> dict[str, float]:
    draws: dict[str, list[np.ndarray]] = {}
    for r in range(REPLICAS):
        for name, p in _torch_model(width, 1000 + r).named_parameters():
            draws.setdefault(name, []).append(p.detach().numpy().ravel())
    return {k: float(np.var(np.concatenate(v))) for k, v in draws.items()}


def _jax_variances(width: int) -> dict[str, float]:
    z = P.parametrize(_jax_model(width), "mup", base_width=BASE, in_shape=(D_IN,))
    params = jax.vmap(z.init)(keys.seed_keys(REPLICAS, 5))
    out = {}
    for name in _torch_variances_names():
        path, _ = _path(name)
        out[name] = float(np.var(np.asarray(params[path[0]][path[1]])))
    return out


def _torch_variances_names() -> list[str]:
    return [n for n, _ in TorchMLP(8).named_parameters()]


def test_init_variance_scaling_equals_mup():
    t_wide, t_base = _torch_variances(WIDTH), _torch_variances(BASE)
    j_wide, j_base = _jax_variances(WIDTH), _jax_variances(BASE)
    sizes = {n: p.numel() * REPLICAS for n, p in TorchMLP(BASE).named_parameters()}
    for name in t_wide:
        ratio_torch = t_wide[name] / t_base[name]
        ratio_jax = j_wide[name] / j_base[name]
        # Relative SE of a sample variance <= sqrt(2 / n) (Gaussian; uniform is smaller); four
        # variances, the smallest sample (the base's) for all four: 5 SE.
        tol = 5 * 2 * np.sqrt(2 / sizes[name])
        assert abs(np.log(ratio_torch / ratio_jax)) < tol, (name, ratio_torch, ratio_jax)
    # The ratios are not all 1: hidden weights shrink like 1 / width_mult in both.
    assert j_wide["hidden.0.weight"] / j_base["hidden.0.weight"] == pytest.approx(
        BASE / WIDTH, rel=0.05
    )


def _copy_into_torch(model, params) -> None:
    with torch.no_grad():
        for name, p in model.named_parameters():
            path, layer = _path(name)
            a = np.asarray(params[path[0]][path[1]])
            if layer is not None:
                a = a[layer]
            if a.ndim == 2:
                a = a.T
            p.data.copy_(torch.from_numpy(np.array(a, copy=True)))


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_forward_and_one_step_equal_mup(pz, opt_name):
    params = pz.init(keys.seed_keys(1)[0])
    model = _torch_model(WIDTH, 0)
    _copy_into_torch(model, params)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, D_IN)).astype(np.float32)
    y = rng.integers(0, N_OUT, size=16)
    # Forward: MuReadout's W (x / width_mult) + b == initjax's x (W * multiplier) + b.
    out_t = model(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(out_t, jax.jit(pz.apply)(params, x), rtol=1e-4, atol=1e-5)
    lr = 0.1 if opt_name == "sgd" else 1e-3
    # One step on the cross-entropy of the batch.
    opt = (mup.MuSGD if opt_name == "sgd" else mup.MuAdam)(model.parameters(), lr=lr)
    loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
    opt.zero_grad()
    loss.backward()
    opt.step()
    tx = pz.optimizer(opt_name, lr)

    @jax.jit  # one compiled program (not one per operation)
    def step(params):
        grads = jax.grad(
            lambda q: optax.softmax_cross_entropy_with_integer_labels(pz.apply(q, x), y).mean()
        )(params)
        upd, _ = tx.update(grads, tx.init(params), params)
        return grads, optax.apply_updates(params, upd)

    grads, new = step(params)
    for name, p in model.named_parameters():
        path, layer = _path(name)
        a = np.asarray(new[path[0]][path[1]])
        a = a[layer] if layer is not None else a
        a = a.T if a.ndim == 2 else a
        before = np.asarray(params[path[0]][path[1]])
        before = before[layer] if layer is not None else before
        before = before.T if before.ndim == 2 else before
        g = np.asarray(grads[path[0]][path[1]])
        g = g[layer] if layer is not None else g
        g = g.T if g.ndim == 2 else g
        step_t, step_j = p.detach().numpy() - before, a - before
        assert np.abs(step_j).max() > 0, name
        # Adam's first step is lr g / (|g| + eps): where |g| is near eps (1e-8) or near float32
        # rounding of the gradient, the two frameworks and the two epsilons legitimately differ;
        # compare where |g| > 1e-5 (eps / |g| < 1e-3) and require that to be most entries.
        keep = np.abs(g) > 1e-5 if opt_name == "adam" else np.ones(g.shape, bool)
        assert keep.mean() > 0.5, (name, keep.mean())
        np.testing.assert_allclose(
            step_t[keep], step_j[keep], rtol=2e-3, atol=2e-3 * np.abs(step_j).max(), err_msg=name
        )


def test_the_adam_epsilon_difference_is_deliberate(pz):
    # mup: one eps for every group; initjax: eps x 1/width_mult except the readout bias.
    opt = mup.MuAdam(_torch_model(WIDTH, 0).parameters(), lr=1.0, eps=1e-8)
    assert {g["eps"] for g in opt.param_groups} == {1e-8}
    eps = {lf.name: lf.eps for lf in pz.leaves}
    assert eps["readout/bias"] == 1.0 and eps["hidden/kernel"] == BASE / WIDTH
    assert jnp.isfinite(jnp.asarray(list(eps.values()))).all()
