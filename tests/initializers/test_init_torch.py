"""PyTorch presets against torch.nn.init's documented formulas (torch itself is not required)."""

from __future__ import annotations

import functools
import math

import jax
import numpy as np
import pytest

from initjax import initializers


@functools.cache
def _key():
    """The key of every draw (made on first use: collecting compiles nothing)."""
    return jax.random.key(11)


def _max_abs(name, shape, **hp):
    return float(np.abs(np.asarray(initializers.get(name, **hp)(_key(), shape))).max())


def _assert_uniform_bound(name, shape, bound, **hp):
    # n >= 2048 iid draws of U(-b, b): P(max |w| < 0.99 b) = 0.99^n < 1e-8, so the sample's
    # maximum pins the bound from below; it may never exceed it.
    m = _max_abs(name, shape, **hp)
    assert 0.99 * bound < m <= bound * (1 + 1e-6), (m, bound)


# torch docs: kaiming_uniform_: bound = gain * sqrt(3 / fan_mode), gain = calculate_gain(nl, a).
@pytest.mark.parametrize(
    "shape,hp,fan,gain",
    [((64, 32), {}, 64, math.sqrt(2.0)),  # defaults: a=0, fan_in, leaky_relu -> sqrt(2)
     ((64, 32), {"mode": "fan_out"}, 32, math.sqrt(2.0)),
     ((64, 32), {"nonlinearity": "tanh"}, 64, 5 / 3),
     ((64, 32), {"a": 0.2}, 64, math.sqrt(2 / (1 + 0.04))),
     ((64, 32), {"nonlinearity": "relu", "a": 0.2}, 64, math.sqrt(2.0)),  # a ignored, as torch
     ((3, 3, 16, 32), {}, 144, math.sqrt(2.0)),
     ((32, 16, 3, 3), {"layout": "OIHW"}, 144, math.sqrt(2.0)),  # torch's own layout
     ((32, 16, 3, 3), {"layout": "OIHW", "mode": "fan_out"}, 288, math.sqrt(2.0)),
     ((16, 4, 8), {"in_axis": 0, "out_axis": (1, 2)}, 16, math.sqrt(2.0))],
)  # fmt: skip
def test_torch_kaiming_uniform_bound(shape, hp, fan, gain):
    _assert_uniform_bound("torch_kaiming_uniform", shape, gain * math.sqrt(3.0 / fan), **hp)
    init = initializers.get("torch_kaiming_uniform", **hp)
    assert init.promised_variance_for(shape) == pytest.approx(gain**2 / fan, rel=1e-12)


def test_torch_kaiming_normal_std():
    # std = gain / sqrt(fan): the promise the moment test in test_init_registry holds it to.
    init = initializers.get("torch_kaiming_normal", nonlinearity="selu", mode="fan_out")
    assert init.promised_variance_for((64, 32)) == pytest.approx((3 / 4) ** 2 / 32)
    # n = 65536 normal draws: relative std of the sample variance sqrt(2/n) = 0.55%; 6 sigma.
    w = np.asarray(initializers.get("torch_kaiming_normal")(_key(), (256, 256)), np.float64)
    assert w.var() == pytest.approx(2.0 / 256, rel=6 * math.sqrt(2 / w.size))


def test_torch_default_linear():
    # nn.Linear(in=100, out=30).weight ~ U(+-1/sqrt(100)); equals kaiming_uniform_(a=sqrt(5)).
    _assert_uniform_bound("torch_default_linear", (100, 30), 0.1)
    _assert_uniform_bound("torch_default_linear", (30, 100, 1, 1), 0.1, layout="OIHW")
    ours = np.asarray(initializers.get("torch_default_linear")(_key(), (100, 30)))
    kaiming = np.asarray(
        initializers.get("torch_kaiming_uniform", a=math.sqrt(5))(_key(), (100, 30))
    )
    np.testing.assert_allclose(ours, kaiming, rtol=1e-6)
    assert initializers.get("torch_default_linear").promised_variance(100, 30) == pytest.approx(
        1 / 300
    )


@pytest.mark.parametrize(
    "shape,hp,fan_sum", [((64, 32), {}, 96), ((64, 32), {"gain": 2.0}, 96),
                         ((32, 16, 3, 3), {"layout": "OIHW"}, 432)]
)  # fmt: skip
def test_torch_xavier(shape, hp, fan_sum):
    gain = hp.get("gain", 1.0)
    _assert_uniform_bound("torch_xavier_uniform", shape, gain * math.sqrt(6.0 / fan_sum), **hp)
    for name in ("torch_xavier_uniform", "torch_xavier_normal"):
        v = initializers.get(name, **hp).promised_variance_for(shape)
        assert v == pytest.approx(2 * gain**2 / fan_sum)


def test_torch_presets_hwio_equals_oihw():
    # The same conv read in either layout has the same fans, hence the same law.
    for name in ("torch_kaiming_uniform", "torch_xavier_normal", "torch_default_linear"):
        a = initializers.get(name).promised_variance_for((5, 5, 6, 10))
        b = initializers.get(name, layout="OIHW").promised_variance_for((10, 6, 5, 5))
        assert a == b


def test_torch_grouped_fans_follow_torch():
    # torch: fan_out = size(0) * receptive field, not divided by groups. Grouped Flax kernel
    # (3, 3, C_in/groups=2, C_out=8): fan_out = 8 * 9 = 72.
    v = initializers.get("torch_xavier_uniform").promised_variance_for((3, 3, 2, 8))
    assert v == pytest.approx(2 / (18 + 72))


def test_torch_kaiming_traced_negative_slope():
    shape = (64, 32)
    slopes = np.array([0.0, 0.5], np.float32)
    batched = jax.vmap(lambda a: initializers.get("torch_kaiming_uniform", a=a)(_key(), shape))(
        slopes
    )
    for i, a in enumerate(slopes):
        single = initializers.get("torch_kaiming_uniform", a=float(a))(_key(), shape)
        np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(single), rtol=1e-6)


@pytest.mark.parametrize(
    "hp,match",
    [({"mode": "fan_avg"}, "mode"), ({"nonlinearity": "gelu"}, "nonlinearity"),
     ({"layout": "NCHW"}, "layout"), ({"a": float("nan")}, "a")],
)  # fmt: skip
def test_torch_kaiming_rejects(hp, match):
    with pytest.raises(ValueError, match=match):
        initializers.get("torch_kaiming_uniform", **hp)
