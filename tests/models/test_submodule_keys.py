"""initjax models nested in other Linen modules: keys derived injectively from the module path."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from initjax import keys
from initjax.models import MLP, init_params
from initjax.models._core import _init_stack_jit


class _Box(nn.Module):
    child: str

    @nn.compact
    def __call__(self, x):
        return MLP(width=4, depth=2, name=self.child)(x)


class _Twins(nn.Module):
    """Submodules at ("block", "1_mlp") and ("block1", "_mlp"): the same string when joined."""

    @nn.compact
    def __call__(self, x):
        return _Box("1_mlp", name="block")(x) + _Box("_mlp", name="block1")(x)


def test_paths_that_join_to_the_same_string_get_different_weights():
    params = _Twins().init(jax.random.key(0), jnp.ones((1, 3)))["params"]
    a = params["block"]["1_mlp"]["hidden"]["kernel"]
    b = params["block1"]["_mlp"]["hidden"]["kernel"]
    assert not np.array_equal(a, b)
    # Flax's own path folding (no separator) would have given the two the same key.
    from flax.core.scope import _fold_in_static

    root = jax.random.key(0)
    flax_a = _fold_in_static(root, ("block", "1_mlp"))
    flax_b = _fold_in_static(root, ("block1", "_mlp"))
    assert np.array_equal(jax.random.key_data(flax_a), jax.random.key_data(flax_b))


def test_submodule_weights_follow_keys_submodule_and_top_level_the_key_scheme():
    seed_key = keys.seed_keys(2)[1]
    x = jnp.ones((1, 3))
    root = keys.role(seed_key, keys.PARAMS)
    params = _Twins().init({"params": root}, x)["params"]
    m = MLP(width=4, depth=2)
    for path in (("block", "1_mlp"), ("block1", "_mlp")):
        want = _init_stack_jit(m.stack(), keys.submodule(root, path), (3,), None, 0.0)
        got = params[path[0]][path[1]]
        for k in ("input", "hidden"):
            np.testing.assert_array_equal(got[k]["kernel"], want[k]["kernel"])
    top = m.init({"params": root}, x)["params"]
    ref = init_params(m, seed_key, x)["params"]
    np.testing.assert_array_equal(top["hidden"]["kernel"], ref["hidden"]["kernel"])


@pytest.mark.parametrize(
    "a,b",
    [
        (("ab", "c"), ("a", "bc")),
        (("1",), (1,)),
        (("a", "b"), ("a/b",)),
        (("a",), ("a", "")),
    ],
)
def test_submodule_keys_are_distinct_for_distinct_paths(a, b):
    k = jax.random.key(3)
    ka, kb = keys.submodule(k, a), keys.submodule(k, b)
    assert not np.array_equal(jax.random.key_data(ka), jax.random.key_data(kb))
    assert keys.submodule(k, ()) is k


def test_submodule_rejects_non_string_components():
    with pytest.raises(TypeError, match="path components"):
        keys.submodule(jax.random.key(0), ("a", 1.5))
