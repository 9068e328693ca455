"""Standard parameterization: kernel rescaling from the promised variance, bias draws."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from initjax import initializers
from initjax.models import MLP, _params


@functools.cache
def _key():
    """The key of every draw (made on first use: collecting compiles nothing)."""
    return jax.random.key(0)


def _var_tol(n: int) -> float:
    # Relative standard error of a sample variance of n i.i.d. values is sqrt((kurtosis - 1) / n);
    # kurtosis <= 3 for the normal, truncated-normal and uniform laws here, so sqrt(2 / n) bounds
    # it. Six standard errors: a false failure has probability < 1e-8.
    return 6.0 * np.sqrt(2.0 / n)


@pytest.mark.parametrize(
    "name,shape",
    [("he_normal", (64, 64)), ("glorot_uniform", (48, 96)), ("lecun_normal", (96, 48))],
)
@pytest.mark.parametrize("sigma_w2", [0.5, 2.0])
def test_kernel_variance_is_sigma_w2_over_fan_in(name, shape, sigma_w2):
    init = initializers.get(name)
    fan_in, fan_out = shape
    w = _params.draw_kernel(init, _key(), shape, fan_in, fan_out, sigma_w2)
    got = float(np.var(np.asarray(w))) * fan_in
    assert abs(got / sigma_w2 - 1) < _var_tol(w.size)


def test_kernel_rescale_is_a_multiple_of_the_raw_draw():
    # w = sqrt(sigma_w2 / (fan_in * v)) * init(key, shape) with v = 2 / fan_in for he_normal.
    init = initializers.get("he_normal")
    raw = init(_key(), (32, 16))
    w = _params.draw_kernel(init, _key(), (32, 16), 32, 16, 0.5)
    np.testing.assert_allclose(np.asarray(w), np.asarray(raw) * np.sqrt(0.5 / 2.0), rtol=1e-6)


def test_sigma_w2_none_uses_the_initializer_as_given():
    init = initializers.get("glorot_normal")
    w = _params.draw_kernel(init, _key(), (8, 8), 8, 8, None)
    assert np.array_equal(np.asarray(w), np.asarray(init(_key(), (8, 8))))


def test_callable_without_promise_and_sigma_w2_is_an_error():
    # No silent unit-gain guess: a He-scaled callable would get Var 2 sigma_w2 / fan_in.
    he = jax.nn.initializers.he_normal()
    with pytest.raises(ValueError, match="kernel initializer: sigma_w2 rescales.*with_variance"):
        _params.draw_kernel(he, _key(), (16, 16), 16, 16, 1.0)
    with pytest.raises(ValueError, match="kernel_init: sigma_w2.*no known variance"):
        MLP(width=8, depth=2, kernel_init=he, sigma_w2=1.0)
    with pytest.raises(ValueError, match="registry entry 'identity' promises no variance"):
        MLP(width=8, depth=2, kernel_init="identity", sigma_w2=2.0)
    with pytest.raises(ValueError, match="readout_init: sigma_w2"):
        MLP(width=8, depth=2, readout=3, readout_init=he, sigma_w2=1.0)
    # As given (sigma_w2=None), any callable is fine.
    MLP(width=8, depth=2, kernel_init=he)


def test_declared_variance_rescales_exactly():
    # Orthogonal square W has W^T W = I, i.e. Var = 1/fan_in: declared as such and rescaled by
    # sqrt(sigma_w2 / (fan_in * 1/fan_in)), the Gram matrix is sigma_w2 * I (float32 rounding).
    ortho = initializers.with_variance(jax.nn.initializers.orthogonal(), lambda fi, fo: 1 / fi)
    w = _params.draw_kernel(ortho, _key(), (16, 16), 16, 16, 3.0)
    np.testing.assert_allclose(np.asarray(w.T @ w), 3.0 * np.eye(16), atol=1e-5)
    # A declared He callable gets Var = sigma_w2 / fan_in, not 2 sigma_w2 / fan_in.
    he = initializers.with_variance(jax.nn.initializers.he_normal(), lambda fi, fo: 2 / fi)
    w = _params.draw_kernel(he, _key(), (512, 512), 512, 512, 1.0)
    # 512^2 Gaussian draws: relative SE of the sample variance sqrt(2 / 512^2) = 0.28 %.
    assert abs(float(np.var(np.asarray(w))) * 512 - 1.0) < 5 * np.sqrt(2 / 512**2)
    MLP(width=8, depth=2, kernel_init=he, sigma_w2=1.0)


def test_declared_initializers_are_equal_only_for_the_same_callable():
    a, b = jax.nn.initializers.orthogonal(), jax.nn.initializers.orthogonal()
    unit = lambda fi, fo: 1 / fi  # noqa: E731
    assert initializers.with_variance(a, unit) == initializers.with_variance(a, unit)
    assert initializers.with_variance(a, unit) != initializers.with_variance(b, unit)


@pytest.mark.parametrize(
    "init,variance,exc",
    [
        (None, lambda fi, fo: 1.0, TypeError),
        (jax.nn.initializers.orthogonal(), 1.0, TypeError),
        (jax.nn.initializers.orthogonal(), lambda fi, fo: float("nan"), ValueError),
        (jax.nn.initializers.orthogonal(), lambda fi, fo: -1.0, ValueError),
        (jax.nn.initializers.orthogonal(), lambda fi: 1.0, ValueError),
    ],
)
def test_with_variance_rejects_bad_declarations(init, variance, exc):
    with pytest.raises(exc, match="with_variance"):
        initializers.with_variance(init, variance)


@pytest.mark.parametrize("name", ["zeros", "ones"])
def test_zero_promise_is_not_rescaled(name):
    init = initializers.get(name)
    w = _params.draw_kernel(init, _key(), (4, 5), 4, 5, 2.0)
    assert np.array_equal(np.asarray(w), np.asarray(init(_key(), (4, 5))))


def test_bias_draws():
    assert not np.any(np.asarray(_params.draw_bias(None, _key(), (64,), 0.0)))
    b = _params.draw_bias(None, _key(), (4096,), 0.25)
    assert abs(float(np.var(np.asarray(b))) / 0.25 - 1) < _var_tol(b.size)
    c = _params.draw_bias(initializers.get("constant", value=0.3), _key(), (3,), 5.0)
    np.testing.assert_allclose(np.asarray(c), 0.3)


def test_traced_sigma_gives_common_random_numbers():
    init = initializers.get("he_normal")
    s = jnp.array([0.5, 1.0, 4.0])
    ws = jax.vmap(lambda v: _params.draw_kernel(init, _key(), (8, 8), 8, 8, v))(s)
    # Same draw, different multipliers: w(4) / w(1) = 2 and w(0.5) / w(1) = sqrt(0.5) exactly
    # up to one rounding of the multiplier.
    np.testing.assert_allclose(np.asarray(ws[2]), 2 * np.asarray(ws[1]), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(ws[0]), np.sqrt(0.5) * np.asarray(ws[1]), rtol=1e-6)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_check_variance_rejects(bad):
    with pytest.raises(ValueError, match="sigma_w2"):
        _params.check_variance(bad, arg="sigma_w2")


def test_check_variance_types():
    with pytest.raises(TypeError, match="sigma_b2"):
        _params.check_variance("1", arg="sigma_b2")
    with pytest.raises(TypeError, match="sigma_b2"):
        _params.check_variance(None, arg="sigma_b2")
    _params.check_variance(None, arg="sigma_w2", allow_none=True)


def test_resolve_initializer_errors():
    with pytest.raises(ValueError, match="kernel_init"):
        _params.resolve_initializer("he_nrmal", arg="kernel_init")
    with pytest.raises(TypeError, match="kernel_init"):
        _params.resolve_initializer(3, arg="kernel_init")


def test_incompatible_init_shape_names_the_argument():
    with pytest.raises(ValueError, match=r"kernel_init=.*hidden kernel.*\(8, 8\)"):
        _params.check_init_shape(
            jax.nn.initializers.delta_orthogonal(), (8, 8), arg="kernel_init", where="hidden kernel"
        )
