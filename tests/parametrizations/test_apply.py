"""parametrize(): per-parameter numbers, init rescaling, forward multipliers, errors."""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest

from initjax import keys, models
from initjax import parametrizations as P
from initjax.models import apply_stack


@functools.cache
def _key():
    """Seed 0 of the key scheme (made on first use: collecting the tests compiles nothing)."""
    return keys.seed_keys(1)[0]


def _mlp(width, **kw):
    return models.MLP(width=width, depth=2, readout=5, activation="relu", sigma_w2=2.0, **kw)


# The width of the MLP the tests initialise: the variance test's (512 x 5 readout draws), which
# the forward and SP tests share (one compiled init for the three; same keys, same shapes).
WIDTH = 512


def test_leaf_numbers_of_an_mlp():
    pz = P.parametrize(_mlp(256), "mup", base_width=64, in_shape=(12,))
    by = {lf.name: lf for lf in pz.leaves}
    assert set(by) == {
        f"{g}/{k}" for g in ("input", "hidden", "readout") for k in ("kernel", "bias")
    }
    ro, hid, inp = by["readout/kernel"], by["hidden/kernel"], by["input/kernel"]
    assert (ro.fan_in, ro.fan_out, ro.m_in, ro.m_out) == (256, 5, 4.0, 1.0)
    assert (ro.init_var, ro.multiplier, ro.lr("sgd"), ro.lr("adam")) == (4.0, 0.25, 4.0, 1.0)
    assert (hid.lr("adam"), hid.lr("momentum"), hid.wd("adamw"), hid.eps) == (0.25, 1.0, 4.0, 0.25)
    assert (inp.fan_in, inp.m_in, inp.lr("sgd"), inp.lr("adam")) == (12, 1.0, 4.0, 1.0)
    assert by["readout/bias"].lr("sgd") == 1.0 and by["hidden/bias"].lr("sgd") == 4.0
    assert hid.stacked and not ro.stacked and hid.shape == (256, 256)
    frame = pz.frame("adam")
    assert {"path", "role", "lr", "wd", "init_var", "multiplier"} <= set(frame.columns)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        ro.lr("lion")


def test_init_is_the_sp_draw_rescaled_and_has_the_promised_variance():
    width, base = WIDTH, 64
    m = _mlp(width)
    sp = P.parametrize(m, "sp", in_shape=(12,))
    mup = P.parametrize(m, "mup", base_width=base, in_shape=(12,))
    ntk = P.parametrize(m, "ntk", base_width=base, in_shape=(12,))
    p_sp, p_mup, p_ntk = sp.init(_key()), mup.init(_key()), ntk.init(_key())
    # Same keys: each parameter is the SP draw times sqrt(init_var), exactly.
    np.testing.assert_array_equal(p_sp["hidden"]["kernel"], p_mup["hidden"]["kernel"])
    np.testing.assert_allclose(
        p_mup["readout"]["kernel"], p_sp["readout"]["kernel"] * np.sqrt(8.0), rtol=1e-6
    )
    np.testing.assert_allclose(
        p_ntk["hidden"]["kernel"], p_sp["hidden"]["kernel"] * np.sqrt(8.0), rtol=1e-6
    )
    # Absolute variance of muP's readout: sigma_w2 / fan_in * (fan_in / base) = 2 / 64, width
    # independent (TP5 Table 8: "init var 1"). 512 x 5 draws: relative SE sqrt(2 / 2560) = 2.8%.
    v = float(np.var(np.asarray(p_mup["readout"]["kernel"])))
    assert abs(v / (2.0 / base) - 1) < 5 * np.sqrt(2 / (width * 5)), v
    # The hidden kernels stay at He's 2 / fan_in under muP.
    v = float(np.var(np.asarray(p_mup["hidden"]["kernel"])))
    assert abs(v / (2.0 / width) - 1) < 5 * np.sqrt(2 / (2 * width * width)), v


def test_forward_uses_the_multipliers():
    m = _mlp(WIDTH)
    pz = P.parametrize(m, "mup", base_width=WIDTH // 4, in_shape=(12,))
    params = pz.init(_key())
    x = np.random.default_rng(1).standard_normal((3, 12), np.float32)
    # By hand: the readout computes relu(z^L) @ (W_r / 4) + b_r; everything else as SP.
    z = x @ params["input"]["kernel"] + params["input"]["bias"]
    for i in range(2):
        z = jax.nn.relu(z) @ params["hidden"]["kernel"][i] + params["hidden"]["bias"][i]
    want = jax.nn.relu(z) @ (params["readout"]["kernel"] / 4) + params["readout"]["bias"]
    np.testing.assert_allclose(pz.apply(params, x), want, rtol=2e-5, atol=1e-6)
    with pytest.raises(ValueError, match="params do not match"):
        pz.apply({"input": params["input"]}, x)


def test_branch_multiplier_acts_on_the_branch_output():
    """Multiplying the branch's last kernel and bias by m_L^-alpha is the same network as
    dividing each block's learnable gain by m_L^alpha (z + alpha (W a + b))."""
    r = models.ResMLP(width=32, depth=8, readout=3, pre_norm=True, sigma_b2=0.1)
    pz = P.parametrize(r, "completep", base_width=32, base_depth=2, in_shape=(6,))
    x = np.random.default_rng(2).standard_normal((4, 6), np.float32)
    params = pz.init(_key())
    gains = {**params, "hidden": {**params["hidden"], "alpha": params["hidden"]["alpha"] / 4}}
    np.testing.assert_allclose(
        pz.apply(params, x), apply_stack(models.stack_of(r), gains, x), rtol=1e-5, atol=1e-6
    )
    by = {lf.name: lf for lf in pz.leaves}
    assert by["hidden/dense_1/kernel"].multiplier == 0.25
    assert by["hidden/dense_0/kernel"].multiplier == 1.0 and by["hidden/alpha"].branch
    assert by["hidden/dense_0/kernel"].lr("adam") == 1.0  # m_L^(alpha - 1) = 1 at alpha = 1
    assert by["hidden/dense_0/kernel"].lr("sgd") == 4.0  # m_L^(2 alpha - 1)
    assert by["hidden/norm/scale"].eps == 0.25 and by["input/kernel"].lr("sgd") == 1.0


def test_errors_name_the_argument():
    m = _mlp(64)
    with pytest.raises(ValueError, match="base_width: parametrization 'mup' scales with width"):
        P.parametrize(m, "mup")
    with pytest.raises(ValueError, match="base_depth"):
        P.parametrize(models.ResMLP(width=8, depth=4), "depth_mup", base_width=8)
    with pytest.raises(ValueError, match="resmlp"):
        P.parametrize(m, "completep", base_width=16, base_depth=1)
    with pytest.raises(ValueError, match="base_width must be a positive integer"):
        P.parametrize(m, "mup", base_width=0)
    with pytest.raises(TypeError, match="initjax.models module"):
        P.parametrize(models.stack_of(m), "sp")
    with pytest.raises(TypeError, match="the same family"):
        P.parametrize(m, "mup", base=models.ResMLP(width=8, depth=2))
    with pytest.raises(ValueError, match="x: an MLP takes inputs"):
        P.parametrize(m, "sp", in_shape=(3, 4))


def test_base_model_instead_of_base_width():
    m, base = _mlp(128), _mlp(32)
    a = P.parametrize(m, "mup", base=base, in_shape=(12,))
    b = P.parametrize(m, "mup", base_width=32, in_shape=(12,))
    assert a.leaves == b.leaves and hash(a) == hash(b)


def test_sp_init_equals_the_model_init():
    m = _mlp(WIDTH)
    pz = P.parametrize(m, "sp", in_shape=(12,))
    # model.init's params (``init_params``: compiled ``init_stack`` from role(key, PARAMS)).
    want = models.init_params(m, _key(), in_shape=(12,))["params"]
    got = pz.init(_key())
    assert jax.tree.all(jax.tree.map(lambda a, b: bool(np.array_equal(a, b)), got, want))


def test_a_family_without_roles_is_refused_by_name(monkeypatch):
    # The base Stack's optional capabilities raise UnsupportedCapability (a TypeError), which
    # parametrize turns into a ValueError naming the model and the missing method.
    stack = _mlp(64).stack()
    for method, args in (("roles", ()), ("unit_weights", ({}, 0)), ("units_matrix", (None,))):
        with pytest.raises(models.UnsupportedCapability, match=method):
            getattr(models.Stack, method)(stack, *args)
    monkeypatch.setattr(models.MLPStack, "roles", models.Stack.roles)
    with pytest.raises(ValueError, match=r"MLP declares no parameter roles \(Stack.roles\)"):
        P.parametrize(_mlp(64), "sp", in_shape=(12,))
