"""Entries plug into Flax unchanged (the jax.nn.initializers protocol); the package never imports
Flax itself."""

from __future__ import annotations

import subprocess
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from initjax import initializers


@pytest.mark.parametrize("name", ["he_normal", "orthogonal", "torch_default_linear", "ZerO"])
def test_dense_kernel_init(name):
    init = initializers.get(name)
    layer = nn.Dense(8, kernel_init=init, param_dtype=jnp.bfloat16)
    params = layer.init(jax.random.key(0), jnp.ones((1, 4)))
    k = params["params"]["kernel"]
    assert k.shape == (4, 8) and k.dtype == jnp.bfloat16
    if init.entry.deterministic:  # ZerO: the key does not matter, so the values must agree
        np.testing.assert_array_equal(
            np.asarray(k, np.float32),
            np.asarray(init(jax.random.key(9), (4, 8), jnp.bfloat16), np.float32),
        )


def test_conv_delta_orthogonal_kernel():
    layer = nn.Conv(8, (3, 3), kernel_init=initializers.get("delta_orthogonal"))
    k = np.asarray(layer.init(jax.random.key(0), jnp.ones((1, 5, 5, 4)))["params"]["kernel"])
    assert k.shape == (3, 3, 4, 8)
    np.testing.assert_allclose(k[1, 1] @ k[1, 1].T, np.eye(4), atol=1e-5)


def test_initializers_do_not_import_flax_or_theory():
    code = (
        "import sys, initjax.initializers; "
        "bad = [m for m in sys.modules if m.startswith(('flax', 'initjax.theory', 'scipy'))]; "
        "print(bad); sys.exit(bool(bad))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
