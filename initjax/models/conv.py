"""Vanilla CNN (Xiao et al. 2018, arXiv:1806.05393): ``depth`` identical conv layers as a scan.

    z^0 = conv(x, W_0) + b_0,   z^l = conv(phi(z^{l-1}), W_l) + b_l  (l = 1..depth),
    y = mean_over_space(phi(z^depth)) W_r + b_r

Kernels are HWIO ``(*kernel_size, C_in, C_out)`` with fan_in = prod(kernel_size) * C_in; circular
padding keeps the translation symmetry assumed by the mean-field theory of CNNs (and by their
delta-orthogonal demo: 3x3 kernels, circular padding, tanh).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from initjax import activations, keys
from initjax.models import _params
from initjax.models._core import Stack, StackModule, dropout, validate_common
from initjax.models._registry import register
from initjax.models._roles import dense_roles
from initjax.models._validate import choice, positive_int
from initjax.models.mlp import dense_apply, dense_init

__all__ = ["ConvNet", "ConvStack", "PADDINGS"]

PADDINGS = ("CIRCULAR", "SAME")
_DIMENSION_NUMBERS = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC")}


@dataclasses.dataclass(frozen=True)
class ConvStack(Stack):
    """Pure CNN description. Features are ``(B, *spatial, channels)``."""

    channels: int
    kernel_size: tuple[int, ...]
    padding: str
    kernel_init: _params.Initializer
    bias_init: _params.Initializer | None
    readout_init_fn: _params.Initializer
    precision: str | None = "highest"
    keep_prob: float = 1.0

    SUPPORTS_DROPOUT = True

    def _in(self, z, key):
        """phi(z), with inverted dropout (one mask entry per example, position, channel)."""
        a = self.activation(z)
        return a if key is None else dropout(a, key, self.keep_prob)

    @property
    def ndim(self) -> int:
        return len(self.kernel_size)

    def _conv_init(self, key, c_in, c_out, sigma_w2, sigma_b2):
        shape = (*self.kernel_size, c_in, c_out)
        rf = math.prod(self.kernel_size)
        return {
            "kernel": _params.draw_kernel(
                self.kernel_init,
                jax.random.fold_in(key, keys.KERNEL),
                shape,
                rf * c_in,
                rf * c_out,
                sigma_w2,
                self.dtype,
            ),
            "bias": _params.draw_bias(
                self.bias_init, jax.random.fold_in(key, keys.BIAS), (c_out,), sigma_b2, self.dtype
            ),
        }

    def _conv(self, p, h):
        if self.padding == "CIRCULAR":
            pads = [(0, 0)] + [((k - 1) // 2, k - 1 - (k - 1) // 2) for k in self.kernel_size]
            h = jnp.pad(h, pads + [(0, 0)], mode="wrap")
            pad = "VALID"
        else:
            pad = "SAME"
        out = jax.lax.conv_general_dilated(
            h,
            p["kernel"],
            window_strides=(1,) * self.ndim,
            padding=pad,
            dimension_numbers=_DIMENSION_NUMBERS[self.ndim],
            precision=self.precision,
        )
        return out + p["bias"]

    def input_init(self, key, in_shape, sigma_w2, sigma_b2):
        return self._conv_init(key, in_shape[-1], self.channels, sigma_w2, sigma_b2)

    def input_apply(self, p, x):
        return self._conv(p, x.astype(self.dtype))

    def layer_init(self, key, sigma_w2, sigma_b2):
        return self._conv_init(key, self.channels, self.channels, sigma_w2, sigma_b2)

    def layer_apply(self, p, z, key=None):
        return self._conv(p, self._in(z, key))

    def readout_init(self, key, sigma_w2, sigma_b2):
        return dense_init(
            self.readout_init_fn,
            self.bias_init,
            key,
            self.channels,
            self.readout,
            sigma_w2,
            sigma_b2,
            self.dtype,
        )

    def readout_apply(self, p, z, key=None):
        pooled = jnp.mean(self._in(z, key), axis=tuple(range(1, 1 + self.ndim)))
        return dense_apply(p, pooled, self.precision)

    def roles(self):
        # Conv kernels (*k, C_in, C_out): the receptive field counts in both fans.
        out = {"input": dense_roles("input"), "hidden": dense_roles("hidden")}
        if self.readout is not None:
            out["readout"] = dense_roles("readout")
        return out

    def unit_weights(self, p, layer):
        return p["kernel"].reshape(-1, p["kernel"].shape[-1])

    def units_matrix(self, a):
        return a.reshape(-1, a.shape[-1])

    def default_input_shape(self):
        return (16,) * self.ndim + (self.channels,)

    def check(self, in_shape):
        if len(in_shape) != self.ndim + 1:
            raise ValueError(
                f"x: a {self.ndim}-D ConvNet takes inputs of shape (batch, "
                f"{', '.join(['size'] * self.ndim)}, channels), got per-example shape {in_shape}"
            )
        for d in in_shape:
            positive_int(d, arg="input shape entries")
        c, ks = self.channels, self.kernel_size
        _params.check_init_shape(
            self.kernel_init, (*ks, in_shape[-1], c), arg="kernel_init", where="input conv kernel"
        )
        _params.check_init_shape(
            self.kernel_init, (*ks, c, c), arg="kernel_init", where="hidden conv kernel"
        )
        if self.bias_init is not None:
            _params.check_init_shape(self.bias_init, (c,), arg="bias_init", where="bias")
        if self.readout is not None:
            _params.check_init_shape(
                self.readout_init_fn, (c, self.readout), arg="readout_init", where="readout kernel"
            )


@register(
    "conv",
    width_field="channels",
    example={
        "channels": 4,
        "depth": 3,
        "ndim": 1,
        "activation": "relu",
        "kernel_init": "he_normal",
        "sigma_b2": 0.05,
        "readout": 2,
    },
    reference="Xiao et al. 2018 (arXiv:1806.05393)",
)
class ConvNet(StackModule):
    """Vanilla CNN of ``depth`` identical convolutions (a scan), 1-D or 2-D, stride 1.

    Attributes:
      channels: channels of every layer (> 0).
      depth: number of hidden conv layers after the input conv (> 0).
      kernel_size: odd sizes keep the centre tap centred (delta-orthogonal needs odd sizes); an
        int (same size on every spatial axis) or a tuple of ``ndim`` ints.
      ndim: 1 (inputs ``(B, W, C)``) or 2 (inputs ``(B, H, W, C)``).
      padding: "CIRCULAR" (wrap-around, as Xiao et al. 2018) or "SAME" (zeros).
      activation, kernel_init, bias_init, sigma_w2, sigma_b2, readout, readout_init, dtype,
        precision, keep_prob: as in :class:`initjax.models.MLP`; fans are
        fan_in = prod(kernel_size) * C_in.

    Params: ``input`` {kernel (*k, C_in, C), bias (C,)}, ``hidden`` {kernel (depth, *k, C, C),
    bias (depth, C)}, ``readout`` {kernel (C, readout), bias (readout,)} after global average
    pooling. ``__call__(x)`` returns logits ``(B, readout)`` or features ``(B, *spatial, C)``.

    Raises (at construction): ValueError / TypeError naming the bad argument.
    """

    channels: int
    depth: int
    kernel_size: int | tuple[int, ...] = 3
    ndim: int = 2
    padding: str = "CIRCULAR"
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
        positive_int(self.channels, arg="channels")
        positive_int(self.depth, arg="depth")
        choice(self.ndim, (1, 2), arg="ndim")
        self._kernel_size()
        choice(self.padding, PADDINGS, arg="padding")
        activations.get(self.activation)
        _params.resolve_initializer(self.kernel_init, arg="kernel_init")
        _params.resolve_initializer(self.bias_init, arg="bias_init", allow_none=True)
        _params.resolve_initializer(self.readout_init, arg="readout_init", allow_none=True)
        validate_common(self)
        super().__post_init__()

    def _kernel_size(self) -> tuple[int, ...]:
        ks = self.kernel_size
        if isinstance(ks, int) and not isinstance(ks, bool):
            ks = (ks,) * self.ndim
        if not isinstance(ks, tuple | list) or len(ks) != self.ndim:
            raise ValueError(
                f"kernel_size must be an int or a tuple of ndim={self.ndim} ints, got "
                f"{self.kernel_size!r}"
            )
        return tuple(positive_int(k, arg="kernel_size") for k in ks)

    def stack(self) -> ConvStack:
        k = _params.resolve_initializer(self.kernel_init, arg="kernel_init")
        r = _params.resolve_initializer(self.readout_init, arg="readout_init", allow_none=True)
        return ConvStack(
            depth=self.depth,
            activation=activations.get(self.activation),
            readout=self.readout,
            dtype=jnp.dtype(self.dtype),
            channels=self.channels,
            kernel_size=self._kernel_size(),
            padding=self.padding,
            kernel_init=k,
            bias_init=_params.resolve_initializer(self.bias_init, arg="bias_init", allow_none=True),
            readout_init_fn=k if r is None else r,
            precision=self.precision,
            keep_prob=float(self.keep_prob),
        )
