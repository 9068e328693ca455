"""Fully connected network: input projection, ``depth`` identical hidden layers (a scan), readout.

    z^0 = x W_0 + b_0,   z^l = phi(z^{l-1}) W_l + b_l  (l = 1..depth),   y = phi(z^depth) W_r + b_r

(with ``keep_prob`` rho < 1 and a dropout key: phi(z^{l-1}) m^l / rho in place of phi(z^{l-1}),
m^l ~ Bernoulli(rho) per example and unit; Schoenholz et al. 2017, Sec. 4)

with W_l ~ kernel_init rescaled to Var = sigma_w2 / fan_in and b_l ~ N(0, sigma_b2) (standard
parameterization; Poole et al. 2016, eq. 1, with sigma_w2 / sigma_b2 as variances).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from initjax import activations, keys
from initjax.models import _params
from initjax.models._core import Stack, StackModule, dropout, validate_common
from initjax.models._registry import register
from initjax.models._roles import dense_roles
from initjax.models._validate import positive_int

__all__ = ["MLP", "MLPStack", "dense_init"]


def dense_init(
    kernel_init: _params.Initializer,
    bias_init: _params.Initializer | None,
    key: jax.Array,
    fan_in: int,
    fan_out: int,
    sigma_w2,
    sigma_b2,
    dtype,
    extra_scale=None,
) -> dict[str, jax.Array]:
    """``{"kernel": (fan_in, fan_out), "bias": (fan_out,)}`` from a layer key (key scheme)."""
    return {
        "kernel": _params.draw_kernel(
            kernel_init,
            jax.random.fold_in(key, keys.KERNEL),
            (fan_in, fan_out),
            fan_in,
            fan_out,
            sigma_w2,
            dtype,
            extra_scale,
        ),
        "bias": _params.draw_bias(
            bias_init, jax.random.fold_in(key, keys.BIAS), (fan_out,), sigma_b2, dtype
        ),
    }


def dense_apply(p: dict[str, jax.Array], h: jax.Array, precision=None) -> jax.Array:
    """``h @ kernel + bias``; ``precision`` as in ``jnp.matmul`` ("highest" avoids TF32)."""
    return jnp.matmul(h, p["kernel"], precision=precision) + p["bias"]


@dataclasses.dataclass(frozen=True)
class MLPStack(Stack):
    """Pure MLP description (see module docstring). Features are ``(B, width)``."""

    width: int
    kernel_init: _params.Initializer
    bias_init: _params.Initializer | None
    readout_init_fn: _params.Initializer
    precision: str | None = "highest"
    keep_prob: float = 1.0

    SUPPORTS_DROPOUT = True

    def _in(self, z, key):
        """phi(z), with inverted dropout when a mask key is given."""
        a = self.activation(z)
        return a if key is None else dropout(a, key, self.keep_prob)

    def input_init(self, key, in_shape, sigma_w2, sigma_b2):
        (d_in,) = in_shape
        return dense_init(
            self.kernel_init, self.bias_init, key, d_in, self.width, sigma_w2, sigma_b2, self.dtype
        )

    def input_apply(self, p, x):
        return dense_apply(p, x.astype(self.dtype), self.precision)

    def layer_init(self, key, sigma_w2, sigma_b2):
        w = self.width
        return dense_init(
            self.kernel_init, self.bias_init, key, w, w, sigma_w2, sigma_b2, self.dtype
        )

    def layer_apply(self, p, z, key=None):
        return dense_apply(p, self._in(z, key), self.precision)

    def readout_init(self, key, sigma_w2, sigma_b2):
        return dense_init(
            self.readout_init_fn,
            self.bias_init,
            key,
            self.width,
            self.readout,
            sigma_w2,
            sigma_b2,
            self.dtype,
        )

    def readout_apply(self, p, z, key=None):
        return dense_apply(p, self._in(z, key), self.precision)

    def roles(self):
        out = {"input": dense_roles("input"), "hidden": dense_roles("hidden")}
        if self.readout is not None:
            out["readout"] = dense_roles("readout")
        return out

    def unit_weights(self, p, layer):
        return p["kernel"]

    def units_matrix(self, a):
        return a

    def default_input_shape(self):
        return (self.width,)

    def check(self, in_shape):
        if len(in_shape) != 1:
            raise ValueError(
                f"x: an MLP takes inputs of shape (batch, features), got per-example shape "
                f"{in_shape}; flatten the inputs first"
            )
        positive_int(in_shape[0], arg="input features (x.shape[-1])")
        w = self.width
        _params.check_init_shape(
            self.kernel_init, (in_shape[0], w), arg="kernel_init", where="input kernel"
        )
        _params.check_init_shape(self.kernel_init, (w, w), arg="kernel_init", where="hidden kernel")
        if self.bias_init is not None:
            _params.check_init_shape(self.bias_init, (w,), arg="bias_init", where="bias")
        if self.readout is not None:
            _params.check_init_shape(
                self.readout_init_fn, (w, self.readout), arg="readout_init", where="readout kernel"
            )


@register(
    "mlp",
    example={"width": 8, "depth": 3, "sigma_w2": 1.5, "sigma_b2": 0.1, "readout": 3},
    reference="Poole et al. 2016 (arXiv:1606.05340), eq. 1",
)
class MLP(StackModule):
    """Multilayer perceptron whose ``depth`` identical hidden layers are a scan.

    Attributes:
      width: units per layer (> 0).
      depth: number of hidden layers after the input projection (> 0).
      activation: registered name (tanh, relu, leaky_relu, erf, sigmoid, selu, elu, gelu,
        silu/swish, softplus, linear, hard_tanh, sin, softsign), an Activation, or a callable.
      kernel_init: registry name, BoundInitializer, or jax.nn.initializers-style callable.
      bias_init: None (biases ~ N(0, sigma_b2)) or an initializer for the ``(width,)`` bias.
      sigma_w2: None (use ``kernel_init`` as given) or the weight variance times fan_in; see
        :mod:`initjax.models._params` for the rescaling rule.
      sigma_b2: bias variance (>= 0); ignored when ``bias_init`` is given.
      readout: None, or the number of readout units (then ``__call__`` returns logits).
      readout_init: initializer of the readout kernel (None: ``kernel_init``).
      dtype: parameter and compute dtype.
      precision: matmul precision ("highest" default: float32 measurements stay float32 on
        GPUs/TPUs instead of TF32/bf16 passes; None for the backend's fastest).
      keep_prob: dropout keep probability rho in (0, 1] on the activations feeding each hidden
        layer and the readout (inverted dropout; masks from the dropout key role, see
        :mod:`initjax.models._core`); 1 (default) = no dropout. Active only when a dropout key
        is given (``__call__(x, dropout_key)``, ``propagate``).

    Params: ``input`` {kernel (d_in, width), bias (width,)}, ``hidden`` {kernel (depth, width,
    width), bias (depth, width)}, ``readout`` {kernel (width, readout), bias (readout,)}.
    ``__call__(x)`` with x of shape ``(B, d_in)`` returns ``(B, readout)`` logits or the
    features phi(z^depth) of shape ``(B, width)``.

    Raises (at construction): ValueError / TypeError naming the bad argument.
    """

    width: int
    depth: int
    activation: str | activations.Activation | Callable = "tanh"
    kernel_init: Any = "lecun_normal"
    bias_init: Any = None
    sigma_w2: float | None = None
    sigma_b2: float = 0.0
    readout: int | None = None
    readout_init: Any = None
    dtype: Any = jnp.float32
    precision: str | None = "highest"
    keep_prob: float = 1.0

    def __post_init__(self):
        positive_int(self.width, arg="width")
        positive_int(self.depth, arg="depth")
        activations.get(self.activation)
        _params.resolve_initializer(self.kernel_init, arg="kernel_init")
        _params.resolve_initializer(self.bias_init, arg="bias_init", allow_none=True)
        _params.resolve_initializer(self.readout_init, arg="readout_init", allow_none=True)
        validate_common(self)
        super().__post_init__()

    def stack(self) -> MLPStack:
        k = _params.resolve_initializer(self.kernel_init, arg="kernel_init")
        r = _params.resolve_initializer(self.readout_init, arg="readout_init", allow_none=True)
        return MLPStack(
            depth=self.depth,
            activation=activations.get(self.activation),
            readout=self.readout,
            dtype=jnp.dtype(self.dtype),
            width=self.width,
            kernel_init=k,
            bias_init=_params.resolve_initializer(self.bias_init, arg="bias_init", allow_none=True),
            readout_init_fn=k if r is None else r,
            precision=self.precision,
            keep_prob=float(self.keep_prob),
        )
