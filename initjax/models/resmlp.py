"""Residual MLP: ``depth`` identical pre-activation residual blocks as a scan.

    z^0 = x W_0 + b_0
    z^l = z^{l-1} + alpha_l * f_l(z^{l-1}),   f(h) = W_m phi(... phi(W_1 phi(n(h)) + b_1) ...) + b_m

with m = ``branch_layers`` dense layers per branch (pre-activation ordering, He et al. 2016,
"Identity Mappings in Deep Residual Networks"), n = LayerNorm when ``pre_norm`` else identity, and
alpha_l a learnable scalar initialized at ``alpha``. The per-layer signal z^l is the residual
stream. Common residual inits are settings of this one block:

- plain residual: ``alpha=1``;
- SkipInit (De & Smith 2020, arXiv:2002.10444) / ReZero (Bachlechner et al. 2020,
  arXiv:2003.04887): ``alpha=0`` (ReZero without norm, SkipInit likewise at init);
- Fixup (Zhang, Dauphin & Ma 2019, arXiv:1901.09321): ``last_init="zeros"``,
  ``branch_scale=fixup_branch_scale(depth, m)`` = depth^(-1/(2m-2)), zero biases (Fixup's scalar
  biases and multiplier are 0 and 1 at init, so they do not change the init-time signal).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from initjax import activations
from initjax.models import _params
from initjax.models._core import Stack, StackModule, validate_common
from initjax.models._registry import register
from initjax.models._roles import ParamRole, dense_roles
from initjax.models._validate import nonneg_real, optional_positive_int, positive_int
from initjax.models.mlp import dense_apply, dense_init

__all__ = ["ResMLP", "ResMLPStack", "fixup_branch_scale"]

_LN_EPS = 1e-6


def fixup_branch_scale(depth: int, branch_layers: int) -> float:
    """Fixup's multiplier of the branch weights, L^(-1/(2m-2)) (Zhang et al. 2019, §3).

    Raises:
      ValueError: depth < 1 or branch_layers < 2 (the exponent is undefined for m = 1).
    """
    positive_int(depth, arg="depth")
    if positive_int(branch_layers, arg="branch_layers") < 2:
        raise ValueError("fixup_branch_scale: branch_layers must be >= 2 (exponent -1/(2m-2))")
    return float(depth) ** (-1.0 / (2 * branch_layers - 2))


@dataclasses.dataclass(frozen=True)
class ResMLPStack(Stack):
    """Pure residual-MLP description. Features are ``(B, width)``."""

    width: int
    branch_width: int
    branch_layers: int
    kernel_init: _params.Initializer
    last_init: _params.Initializer
    bias_init: _params.Initializer | None
    readout_init_fn: _params.Initializer
    branch_scale: float
    alpha: float
    pre_norm: bool
    precision: str | None = "highest"

    def _dims(self) -> list[tuple[int, int]]:
        m, w, bw = self.branch_layers, self.width, self.branch_width
        if m == 1:
            return [(w, w)]
        return [(w, bw)] + [(bw, bw)] * (m - 2) + [(bw, w)]

    def input_init(self, key, in_shape, sigma_w2, sigma_b2):
        (d_in,) = in_shape
        return dense_init(
            self.kernel_init, self.bias_init, key, d_in, self.width, sigma_w2, sigma_b2, self.dtype
        )

    def input_apply(self, p, x):
        return dense_apply(p, x.astype(self.dtype), self.precision)

    def layer_init(self, key, sigma_w2, sigma_b2):
        dims = self._dims()
        p = {}
        for j, (fi, fo) in enumerate(dims):
            init = self.last_init if j == len(dims) - 1 else self.kernel_init
            # Sub-layer j of block l: fold_in(layer_key, j), then KERNEL / BIAS as usual.
            p[f"dense_{j}"] = dense_init(
                init,
                self.bias_init,
                jax.random.fold_in(key, j),
                fi,
                fo,
                sigma_w2,
                sigma_b2,
                self.dtype,
                extra_scale=None if self.branch_scale == 1.0 else self.branch_scale,
            )
        p["alpha"] = jnp.asarray(self.alpha, self.dtype)
        if self.pre_norm:
            p["norm"] = {
                "scale": jnp.ones((self.width,), self.dtype),
                "bias": jnp.zeros((self.width,), self.dtype),
            }
        return p

    def _norm(self, p, h):
        if not self.pre_norm:
            return h
        mu = jnp.mean(h, axis=-1, keepdims=True)
        var = jnp.mean(jnp.square(h - mu), axis=-1, keepdims=True)
        return (h - mu) * jax.lax.rsqrt(var + _LN_EPS) * p["norm"]["scale"] + p["norm"]["bias"]

    def _branch_outputs(self, p, z) -> list[jax.Array]:
        """Outputs of the branch's dense layers dense_0..dense_{m-1} (before each activation)."""
        a = self.activation(self._norm(p, z))
        outs = []
        m = self.branch_layers
        for j in range(m):
            a = dense_apply(p[f"dense_{j}"], a, self.precision)
            outs.append(a)
            if j < m - 1:
                a = self.activation(a)
        return outs

    def layer_apply(self, p, z):
        return z + p["alpha"] * self._branch_outputs(p, z)[-1]

    def affine_units(self, group):
        # A block's affine maps are its branch's dense layers; input and readout are one map.
        if group != "hidden":
            return ((),)
        return tuple((f"dense_{j}",) for j in range(self.branch_layers))

    def affine_outputs(self, group, p, z):
        if group != "hidden":
            return super().affine_outputs(group, p, z)
        return tuple(self._branch_outputs(p, z))

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

    def readout_apply(self, p, z):
        return dense_apply(p, self.activation(z), self.precision)

    def roles(self):
        m = self.branch_layers
        hidden = {
            f"dense_{j}": dense_roles("hidden", branch=True, branch_output=j == m - 1)
            for j in range(m)
        }
        hidden["alpha"] = ParamRole("gain", branch=True)
        if self.pre_norm:
            hidden["norm"] = {
                "scale": ParamRole("norm_scale", (), (-1,), branch=True),
                "bias": ParamRole("norm_bias", (), (-1,), branch=True),
            }
        out = {"input": dense_roles("input"), "hidden": hidden}
        if self.readout is not None:
            out["readout"] = dense_roles("readout")
        return out

    def unit_weights(self, p, layer):
        # Units of the residual stream: the columns of the kernel that writes into it.
        if layer == 0:
            return p["kernel"]
        return p[f"dense_{self.branch_layers - 1}"]["kernel"]

    def units_matrix(self, a):
        return a

    def default_input_shape(self):
        return (self.width,)

    def check(self, in_shape):
        if len(in_shape) != 1:
            raise ValueError(
                f"x: a ResMLP takes inputs of shape (batch, features), got per-example shape "
                f"{in_shape}; flatten the inputs first"
            )
        positive_int(in_shape[0], arg="input features (x.shape[-1])")
        _params.check_init_shape(
            self.kernel_init, (in_shape[0], self.width), arg="kernel_init", where="input kernel"
        )
        dims = self._dims()
        for j, shape in enumerate(dims):
            last = j == len(dims) - 1
            _params.check_init_shape(
                self.last_init if last else self.kernel_init,
                shape,
                arg="last_init" if last else "kernel_init",
                where=f"branch kernel {j}",
            )
        if self.bias_init is not None:
            _params.check_init_shape(self.bias_init, (self.width,), arg="bias_init", where="bias")
        if self.readout is not None:
            _params.check_init_shape(
                self.readout_init_fn,
                (self.width, self.readout),
                arg="readout_init",
                where="readout kernel",
            )


@register(
    "resmlp",
    example={
        "width": 8,
        "depth": 3,
        "branch_width": 6,
        "pre_norm": True,
        "alpha": 0.5,
        "sigma_b2": 0.1,
        "readout": 3,
    },
    reference="He et al. 2016 (arXiv:1603.05027), pre-activation residual blocks",
)
class ResMLP(StackModule):
    """Residual MLP of ``depth`` identical blocks (a scan); see the module docstring.

    Attributes:
      width: width of the residual stream (> 0).
      depth: number of residual blocks (> 0).
      branch_layers: dense layers per branch, m >= 1 (default 2).
      branch_width: hidden width inside a branch (None: ``width``).
      activation, kernel_init, bias_init, sigma_w2, sigma_b2, readout, readout_init, dtype,
        precision: as in :class:`initjax.models.MLP` (kernel_init for every branch layer but the
        last).
      last_init: initializer of each branch's last layer (None: ``kernel_init``; "zeros" for
        Fixup).
      branch_scale: fixed multiplier of every branch kernel at init (Fixup:
        :func:`fixup_branch_scale`); a finite number >= 0.
      alpha: initial value of each block's learnable branch multiplier (0 for SkipInit/ReZero).
      pre_norm: LayerNorm (scale 1, bias 0, eps 1e-6) at the branch input.

    Params: ``input`` {kernel (d_in, width), bias}, ``hidden`` {dense_j {kernel (depth, fan_in,
    fan_out), bias}, alpha (depth,), [norm {scale, bias} (depth, width)]}, ``readout``.
    ``__call__(x)`` with x ``(B, d_in)`` returns logits ``(B, readout)`` or ``(B, width)``.

    Raises (at construction): ValueError / TypeError naming the bad argument.
    """

    width: int
    depth: int
    branch_layers: int = 2
    branch_width: int | None = None
    activation: str | activations.Activation | Callable = "relu"
    kernel_init: Any = "he_normal"
    last_init: Any = None
    bias_init: Any = None
    sigma_w2: float | None = None
    sigma_b2: float = 0.0
    branch_scale: float = 1.0
    alpha: float = 1.0
    pre_norm: bool = False
    readout: int | None = None
    readout_init: Any = None
    dtype: Any = jnp.float32
    precision: str | None = "highest"

    def __post_init__(self):
        positive_int(self.width, arg="width")
        positive_int(self.depth, arg="depth")
        positive_int(self.branch_layers, arg="branch_layers")
        optional_positive_int(self.branch_width, arg="branch_width")
        activations.get(self.activation)
        for arg in ("kernel_init", "last_init", "bias_init", "readout_init"):
            _params.resolve_initializer(
                getattr(self, arg), arg=arg, allow_none=arg != "kernel_init"
            )
        nonneg_real(self.branch_scale, arg="branch_scale")
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, int | float):
            raise TypeError(f"alpha must be a real number, got {self.alpha!r}")
        if not isinstance(self.pre_norm, bool):
            raise TypeError(f"pre_norm must be a bool, got {self.pre_norm!r}")
        validate_common(self)
        super().__post_init__()

    def stack(self) -> ResMLPStack:
        k = _params.resolve_initializer(self.kernel_init, arg="kernel_init")
        last = _params.resolve_initializer(self.last_init, arg="last_init", allow_none=True)
        r = _params.resolve_initializer(self.readout_init, arg="readout_init", allow_none=True)
        return ResMLPStack(
            depth=self.depth,
            activation=activations.get(self.activation),
            readout=self.readout,
            dtype=jnp.dtype(self.dtype),
            width=self.width,
            branch_width=self.branch_width or self.width,
            branch_layers=self.branch_layers,
            kernel_init=k,
            last_init=k if last is None else last,
            bias_init=_params.resolve_initializer(self.bias_init, arg="bias_init", allow_none=True),
            readout_init_fn=k if r is None else r,
            branch_scale=float(self.branch_scale),
            alpha=float(self.alpha),
            pre_norm=self.pre_norm,
            precision=self.precision,
        )
