"""Transformer encoder / decoder stack: ``depth`` identical attention blocks as a scan.

Layer 0 embeds the input, layers 1..depth are blocks, the readout pools the tokens::

    z^0 = E(x) + P                                   (B, T, width): the residual stream
    pre-LN:  z <- s z + tau a Attn(LN_1(z));   z <- s z + tau a MLP(LN_2(z))
    post-LN: z <- LN_1(s z + tau a Attn(z));   z <- LN_2(s z + tau a MLP(z))
    none:    z <- s z + tau a Attn(z);         z <- s z + tau a MLP(z)
    y = pool(LN_f(z^depth)) W_r + b_r            (LN_f only for pre-LN)

- E: a token embedding table ``(vocab, width)`` (inputs are token ids), a patch embedding (a
  flat input of n features cut into T = n / patch patches, each projected by a ``(patch,
  width)`` kernel: MNIST-1D's 40 features as 10 tokens of 4), or a linear embedding of
  ``(T, features)`` inputs.
- P: learned positions ``(T, width)``, fixed sinusoidal ones (Vaswani et al. 2017, §3.5), or none.
- Attn: multi-head self-attention (bidirectional or causal) with ``heads`` heads of d_head =
  width / heads; logits q.k times 1/sqrt(d_head) (Vaswani et al. 2017, eq. 1) or 1/d_head (muP,
  Yang et al. 2022, §4); optional QK-norm: LayerNorm of queries and keys over d_head with a
  learnable scale (Dehghani et al. 2023, arXiv:2302.05442, §3.1.2).
- MLP: ``W_out phi(W_in h + b_in) + b_out`` with ``mlp_width`` hidden units (0: attention-only
  blocks).
- Residual scaling: tau = depth^(-branch_exponent) a fixed branch multiplier (1/sqrt(L) at 0.5,
  Noci et al. 2022, arXiv:2206.03126, §4); a = a learnable scalar per block initialised at
  ``alpha`` (ReZero, Bachlechner et al. 2020, arXiv:2003.04887; SkipInit, De & Smith 2020,
  arXiv:2002.10444: alpha = 0), absent when alpha is None; s = ``skip_scale`` multiplying the
  skip path (DeepNorm's alpha, Wang et al. 2022, arXiv:2203.00555, eq. 2). L = ``depth`` blocks.

Every weight has a *role* (:data:`ROLES`): embed, patch, pos, query, key, value, out, mlp_in,
mlp_out, readout, each with its fans. A role's initializer comes from the initializer registry
through a named recipe (:mod:`initjax.models.transformer_recipes`: GPT-2, BERT, ViT, T-Fixup,
DeepNorm, Flax, PyTorch), with per-role overrides; kernels follow the standard-parameterization
rule of :mod:`initjax.models._params` (``sigma_w2``: Var = sigma_w2 / fan_in, times the recipe's
multiplier, e.g. GPT-2's 1/sqrt(2L)); biases are N(0, sigma_b2) unless the recipe gives one.
Embedding and position tables take their initializer as given (no fan_in to rescale by).

Keys: layer l's key k_l (``initjax.keys``); a role's key is ``fold_in(k_l, ROLES[role].index)``
and a dense layer's kernel / bias keys are ``fold_in(role_key, KERNEL | BIAS)``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from initjax import activations, initializers, keys
from initjax.models import _params
from initjax.models._core import Stack, StackModule, validate_common
from initjax.models._registry import register
from initjax.models._roles import ParamRole, dense_paths, dense_roles
from initjax.models._validate import choice, positive_int

__all__ = [
    "ROLES",
    "Role",
    "RoleInit",
    "Transformer",
    "TransformerStack",
    "NORMS",
    "POSITIONS",
    "POOLS",
    "LOGIT_SCALES",
    "param_roles",
    "sinusoidal_positions",
    "layer_norm",
]

NORMS = ("pre", "post", "none")
POSITIONS = ("learned", "sinusoidal", "none")
POOLS = ("mean", "last", "first")
LOGIT_SCALES = ("inv_sqrt_dhead", "inv_dhead")


@dataclasses.dataclass(frozen=True)
class Role:
    """One weight role of the Transformer.

    Attributes:
      index: folded into the layer key to give the role's key (stable across versions).
      group: "input" (layer 0), "hidden" (a block), "readout".
      path: the kernel's path in its group's params.
      fan_in, fan_out: the fans in words (sizes of the axes, kernel layout ``(in, out)``).
      scaled: True if ``sigma_w2`` rescales it (dense kernels); False for lookup tables.
      residual_output: True if it writes into the residual stream (GPT-2's "c_proj").
      in_axis, out_axis: the array's fan axes, counted from the end so they hold for one layer's
        params and for params stacked along depth (axis 0 then being a batch axis): -2 / -1
        for every kernel and for the token table (one-hot inputs: fan_in = vocab); None for
        the position table (added, not multiplied).
    """

    index: int
    group: str
    path: tuple[str, ...]
    fan_in: str
    fan_out: str
    scaled: bool
    residual_output: bool = False
    in_axis: int | None = -2
    out_axis: int | None = -1


# The role table: the one place a parametrization reads fans and groups from.
ROLES: dict[str, Role] = {
    "embed": Role(0, "input", ("embed",), "vocab", "width", False),
    "patch": Role(1, "input", ("patch", "kernel"), "patch (or features)", "width", True),
    "pos": Role(2, "input", ("pos",), "seq_len", "width", False, in_axis=None, out_axis=None),
    "query": Role(3, "hidden", ("attn", "query", "kernel"), "width", "width", True),
    "key": Role(4, "hidden", ("attn", "key", "kernel"), "width", "width", True),
    "value": Role(5, "hidden", ("attn", "value", "kernel"), "width", "width", True),
    "out": Role(6, "hidden", ("attn", "out", "kernel"), "width", "width", True, True),
    "mlp_in": Role(7, "hidden", ("mlp", "in", "kernel"), "width", "mlp_width", True),
    "mlp_out": Role(8, "hidden", ("mlp", "out", "kernel"), "mlp_width", "width", True, True),
    "readout": Role(9, "readout", ("dense", "kernel"), "width", "readout", True),
}
DENSE_ROLES = ("patch", "query", "key", "value", "out", "mlp_in", "mlp_out", "readout")
TABLE_ROLES = ("embed", "pos")


@dataclasses.dataclass(frozen=True)
class RoleInit:
    """How one role is drawn: ``multiplier * init(key, shape)`` (kernels also rescaled by
    sigma_w2 when given); its bias from ``bias_init``, or U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    when ``torch_bias`` (``torch.nn.Linear``'s bias), else N(0, sigma_b2)."""

    init: _params.Initializer
    multiplier: float | None = None
    bias_init: _params.Initializer | None = None
    torch_bias: bool = False

    def bias_for(self, fan_in: int) -> _params.Initializer | None:
        """The bias initializer of a layer with this fan_in (None: N(0, sigma_b2))."""
        if self.torch_bias:
            return initializers.get("uniform_symmetric", limit=float(fan_in) ** -0.5)
        return self.bias_init


def layer_norm(h: jax.Array, eps: float, p: Mapping[str, jax.Array] | None = None) -> jax.Array:
    """LayerNorm over the last axis (Ba et al. 2016): (h - mean) / sqrt(var + eps) * scale + bias.

    ``p`` = {"scale"[, "bias"]} or None (scale 1, bias 0). Statistics in the input dtype.
    """
    mu = jnp.mean(h, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(h - mu), axis=-1, keepdims=True)
    out = (h - mu) * jax.lax.rsqrt(var + eps)
    if p is not None:
        out = out * p["scale"]
        if "bias" in p:
            out = out + p["bias"]
    return out


def sinusoidal_positions(seq_len: int, width: int, dtype=jnp.float32) -> jax.Array:
    """Vaswani et al. 2017, §3.5: PE[t, 2i] = sin(t / 10000^(2i/width)), PE[t, 2i+1] = cos(.).

    Returns ``(seq_len, width)`` (an odd width drops the last cosine). Computed in float64 numpy.
    """
    t = np.arange(seq_len, dtype=np.float64)[:, None]
    i = np.arange(0, width, 2, dtype=np.float64)[None, :]
    ang = t / np.power(10000.0, i / width)
    pe = np.zeros((seq_len, width), np.float64)
    pe[:, 0::2] = np.sin(ang)
    pe[:, 1::2] = np.cos(ang)[:, : width // 2]
    return jnp.asarray(pe, dtype)


def _dense(ri: RoleInit, key, fan_in, fan_out, sigma_w2, sigma_b2, dtype) -> dict[str, jax.Array]:
    return {
        "kernel": _params.draw_kernel(
            ri.init,
            jax.random.fold_in(key, keys.KERNEL),
            (fan_in, fan_out),
            fan_in,
            fan_out,
            sigma_w2,
            dtype,
            ri.multiplier,
        ),
        "bias": _params.draw_bias(
            ri.bias_for(fan_in), jax.random.fold_in(key, keys.BIAS), (fan_out,), sigma_b2, dtype
        ),
    }


@dataclasses.dataclass(frozen=True)
class TransformerStack(Stack):
    """Pure Transformer description. Features are the residual stream ``(B, T, width)``.

    ``inits`` is a tuple of (role, :class:`RoleInit`) pairs covering every role.
    """

    width: int
    heads: int
    mlp_width: int
    norm: str
    norm_eps: float
    causal: bool
    qk_norm: bool
    logit_scale: float
    alpha: float | None
    branch_multiplier: float
    skip_scale: float
    vocab: int | None
    patch: int | None
    positions: str
    pool: str
    seq_len: int
    inits: tuple[tuple[str, RoleInit], ...]
    precision: str | None = "highest"
    # The model's kernel_init (resolved) or None: a data-dependent one (LSUV, ...) refines the
    # drawn params on data (initjax.models.refine_params reads it from here).
    kernel_init: Any = None

    # -- helpers -------------------------------------------------------------------------------
    def role_init(self, role: str) -> RoleInit:
        return dict(self.inits)[role]

    @property
    def d_head(self) -> int:
        return self.width // self.heads

    @property
    def bias_init(self) -> _params.Initializer | None:
        """An explicit bias initializer of some role, or None if every bias is N(0, sigma_b2)
        (then a ``sigma_b2`` override of ``propagate`` applies to all biases)."""
        for _, ri in self.inits:
            b = ri.bias_for(1)
            if b is not None:
                return b
        return None

    def _role_key(self, key, role: str):
        return jax.random.fold_in(key, ROLES[role].index)

    def _mm(self, a, b):
        return jnp.matmul(a, b, precision=self.precision)

    def _linear(self, p, h):
        return self._mm(h, p["kernel"]) + p["bias"]

    def _tokens(self, in_shape: tuple[int, ...]) -> int:
        if self.vocab is not None:
            return in_shape[0]
        if self.patch is not None:
            return in_shape[0] // self.patch
        return in_shape[0]

    # -- layer 0: embedding ----------------------------------------------------------------------
    def input_init(self, key, in_shape, sigma_w2, sigma_b2):
        t = self._tokens(in_shape)
        d = self.width
        p = {}
        if self.vocab is not None:
            ri = self.role_init("embed")
            p["embed"] = _params.draw_kernel(
                ri.init,
                self._role_key(key, "embed"),
                (self.vocab, d),
                self.vocab,
                d,
                None,
                self.dtype,
                ri.multiplier,
            )
        else:
            fan_in = self.patch if self.patch is not None else in_shape[-1]
            p["patch"] = _dense(
                self.role_init("patch"),
                self._role_key(key, "patch"),
                fan_in,
                d,
                sigma_w2,
                sigma_b2,
                self.dtype,
            )
        if self.positions == "learned":
            ri = self.role_init("pos")
            p["pos"] = _params.draw_kernel(
                ri.init, self._role_key(key, "pos"), (t, d), t, d, None, self.dtype, ri.multiplier
            )
        return p

    def input_apply(self, p, x):
        b = x.shape[0]
        if self.vocab is not None:
            # Token ids may arrive as floats (propagate / train cast inputs to the model dtype);
            # ids that are not integers in [0, vocab) give NaN rows, never a silent clip.
            xf = jnp.asarray(x)
            ids = jnp.round(xf).astype(jnp.int32)
            ok = (xf == ids) & (ids >= 0) & (ids < self.vocab)
            z = jnp.take(p["embed"], jnp.where(ok, ids, 0), axis=0)
            z = jnp.where(ok[..., None], z, jnp.nan).astype(self.dtype)
        else:
            h = x.astype(self.dtype)
            if self.patch is not None:
                h = h.reshape(b, -1, self.patch)
            z = self._linear(p["patch"], h)
        t = z.shape[1]
        if self.positions == "learned":
            z = z + p["pos"]
        elif self.positions == "sinusoidal":
            z = z + sinusoidal_positions(t, self.width, self.dtype)
        return z

    # -- blocks --------------------------------------------------------------------------------
    def layer_init(self, key, sigma_w2, sigma_b2):
        d, f, dt = self.width, self.mlp_width, self.dtype
        attn = {}
        for role in ("query", "key", "value", "out"):
            attn[role] = _dense(
                self.role_init(role), self._role_key(key, role), d, d, sigma_w2, sigma_b2, dt
            )
        if self.qk_norm:
            attn["query_norm"] = {"scale": jnp.ones((self.d_head,), dt)}
            attn["key_norm"] = {"scale": jnp.ones((self.d_head,), dt)}
        p: dict[str, Any] = {"attn": attn}
        if f > 0:
            p["mlp"] = {
                "in": _dense(
                    self.role_init("mlp_in"),
                    self._role_key(key, "mlp_in"),
                    d,
                    f,
                    sigma_w2,
                    sigma_b2,
                    dt,
                ),
                "out": _dense(
                    self.role_init("mlp_out"),
                    self._role_key(key, "mlp_out"),
                    f,
                    d,
                    sigma_w2,
                    sigma_b2,
                    dt,
                ),
            }
        if self.norm != "none":
            for name in ("ln1",) + (("ln2",) if f > 0 else ()):
                p[name] = {"scale": jnp.ones((d,), dt), "bias": jnp.zeros((d,), dt)}
        if self.alpha is not None:
            p["alpha"] = jnp.asarray(self.alpha, dt)
        return p

    # -- parameter roles (initjax.parametrizations) -----------------------------------------------
    def roles(self) -> dict[str, Any]:
        """Every parameter's :class:`~initjax.models.ParamRole`, shaped like the params (one
        block, no depth axis). Attention and MLP sub-layers are residual branches; the attention
        output and the MLP output kernels (and biases) write into the residual stream. Post-LN
        norms sit on the stream but are listed with their block (branch=True), as for ResMLP."""
        norm = lambda: {  # noqa: E731
            "scale": ParamRole("norm_scale", (), (-1,), branch=True),
            "bias": ParamRole("norm_bias", (), (-1,), branch=True),
        }
        inp: dict[str, Any] = {}
        if self.vocab is not None:
            inp["embed"] = ParamRole("embedding", (-2,), (-1,))
        else:
            inp["patch"] = dense_roles("input")
        if self.positions == "learned":
            inp["pos"] = ParamRole("position", (-2,), (-1,))
        attn: dict[str, Any] = {r: dense_roles(r, branch=True) for r in ("query", "key", "value")}
        attn["out"] = dense_roles("attn_out", branch=True, branch_output=True)
        if self.qk_norm:
            for name in ("query_norm", "key_norm"):
                attn[name] = {"scale": ParamRole("norm_scale", (), (-1,), branch=True)}
        hidden: dict[str, Any] = {"attn": attn}
        if self.mlp_width > 0:
            hidden["mlp"] = {
                "in": dense_roles("hidden", branch=True),
                "out": dense_roles("hidden", branch=True, branch_output=True),
            }
        if self.norm != "none":
            for name in ("ln1",) + (("ln2",) if self.mlp_width > 0 else ()):
                hidden[name] = norm()
        if self.alpha is not None:
            hidden["alpha"] = ParamRole("gain", branch=True)
        out: dict[str, Any] = {"input": inp, "hidden": hidden}
        if self.readout is not None:
            ro: dict[str, Any] = {"dense": dense_roles("readout")}
            if self.norm == "pre":
                ro["norm"] = {
                    "scale": ParamRole("norm_scale", (), (-1,)),
                    "bias": ParamRole("norm_bias", (), (-1,)),
                }
            out["readout"] = ro
        return out

    def attention_input(self, p, z):
        """The attention sub-layer's input: LN_1(z) for pre-LN, z otherwise."""
        return layer_norm(z, self.norm_eps, p["ln1"]) if self.norm == "pre" else z

    def attention_logits(self, p, h) -> tuple[jax.Array, jax.Array]:
        """Scaled logits ``(B, heads, T, T)`` (masked entries -inf) and the mask (T, T) bool."""
        a = p["attn"]
        return self._logits(p, self._linear(a["query"], h), self._linear(a["key"], h))

    def _heads(self, u):
        return u.reshape(*u.shape[:2], self.heads, self.d_head)

    def _logits(self, p, q, k):
        # q, k: the query / key projections (B, T, width), before the heads split.
        q, k = self._heads(q), self._heads(k)
        if self.qk_norm:
            q = layer_norm(q, self.norm_eps, p["attn"]["query_norm"])
            k = layer_norm(k, self.norm_eps, p["attn"]["key_norm"])
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k, precision=self.precision)
        logits = logits * jnp.asarray(self.logit_scale, logits.dtype)
        t = logits.shape[-1]
        mask = jnp.tril(jnp.ones((t, t), bool)) if self.causal else jnp.ones((t, t), bool)
        return jnp.where(mask, logits, -jnp.inf), mask

    def attention_probs(self, p, h) -> jax.Array:
        """Attention weights ``(B, heads, T, T)``, rows sum to 1 over the allowed keys."""
        logits, _ = self.attention_logits(p, h)
        return jax.nn.softmax(logits, axis=-1)

    def attention(self, p, h, taps: list | None = None) -> jax.Array:
        """Multi-head self-attention output ``(B, T, width)`` (before residual scaling).

        ``taps``: a list that receives the outputs of the query, key, value and output
        projections ``(B, T, width)`` in that order (for :meth:`affine_outputs`), or None."""
        a = p["attn"]
        q, k, v = (self._linear(a[r], h) for r in ("query", "key", "value"))
        w = jax.nn.softmax(self._logits(p, q, k)[0], axis=-1)
        o = jnp.einsum("bhqk,bkhd->bqhd", w, self._heads(v), precision=self.precision)
        y = self._linear(a["out"], o.reshape(*o.shape[:2], -1))
        if taps is not None:
            taps.extend((q, k, v, y))
        return y

    def mlp(self, p, h, taps: list | None = None) -> jax.Array:
        """``W_out phi(W_in h + b_in) + b_out``; ``taps`` receives both maps' outputs."""
        u = self._linear(p["mlp"]["in"], h)
        y = self._linear(p["mlp"]["out"], self.activation(u))
        if taps is not None:
            taps.extend((u, y))
        return y

    def _branch(self, p, y):
        if self.branch_multiplier != 1.0:
            y = y * jnp.asarray(self.branch_multiplier, y.dtype)
        if self.alpha is not None:
            y = y * p["alpha"]
        return y

    def _skip(self, z):
        return z if self.skip_scale == 1.0 else z * jnp.asarray(self.skip_scale, z.dtype)

    def layer_apply(self, p, z, taps: list | None = None):
        eps = self.norm_eps
        subs = [("ln1", self.attention)] + ([("ln2", self.mlp)] if self.mlp_width > 0 else [])
        for ln, f in subs:
            if self.norm == "pre":
                z = self._skip(z) + self._branch(p, f(p, layer_norm(z, eps, p[ln]), taps))
            elif self.norm == "post":
                z = layer_norm(self._skip(z) + self._branch(p, f(p, z, taps)), eps, p[ln])
            else:
                z = self._skip(z) + self._branch(p, f(p, z, taps))
        return z

    # -- data-dependent initialization (LSUV) ----------------------------------------------------
    def affine_units(self, group: str) -> tuple[tuple[str, ...], ...]:
        """Paths of the dense maps ``{kernel, bias}`` of one ``group`` layer, from
        :meth:`roles` in forward order: input: the patch projection (none for a token table);
        hidden: query, key, value, out, then mlp in, mlp out; readout: the dense readout."""
        return dense_paths(self.roles()[group])

    def affine_outputs(self, group: str, p, z) -> tuple[jax.Array, ...]:
        """Outputs of the maps of :meth:`affine_units` for the layer input ``z``: the patch
        projection before positions are added; each projection of a block, computed inside the
        block's forward pass (so a map sees the earlier maps' current weights); the readout's
        logits."""
        if group == "input":
            if self.vocab is not None:
                return ()
            h = z.astype(self.dtype)
            if self.patch is not None:
                h = h.reshape(h.shape[0], -1, self.patch)
            return (self._linear(p["patch"], h),)
        if group == "readout":
            return (self.readout_apply(p, z),)
        taps: list = []
        self.layer_apply(p, z, taps)
        return tuple(taps)

    # -- readout -------------------------------------------------------------------------------
    def readout_init(self, key, sigma_w2, sigma_b2):
        p = {
            "dense": _dense(
                self.role_init("readout"),
                self._role_key(key, "readout"),
                self.width,
                self.readout,
                sigma_w2,
                sigma_b2,
                self.dtype,
            )
        }
        if self.norm == "pre":
            p["norm"] = {
                "scale": jnp.ones((self.width,), self.dtype),
                "bias": jnp.zeros((self.width,), self.dtype),
            }
        return p

    def _pool(self, h):
        if self.pool == "mean":
            return jnp.mean(h, axis=1)
        return h[:, -1] if self.pool == "last" else h[:, 0]

    def readout_apply(self, p, z):
        h = layer_norm(z, self.norm_eps, p["norm"]) if self.norm == "pre" else z
        return self._linear(p["dense"], self._pool(h))

    def features(self, z):
        """The output without readout: LN_f(z^depth) (scale 1, bias 0) for pre-LN, else z^depth."""
        return layer_norm(z, self.norm_eps) if self.norm == "pre" else z

    # -- measurement hooks -----------------------------------------------------------------------
    @property
    def UNSUPPORTED_METRICS(self) -> dict[str, str]:  # noqa: N802 (the Stack protocol's name)
        out = {
            "act_std": "the residual stream is not a pre-activation: phi(z^l) is no layer's "
            "output in a Transformer",
            "act_saturation": "the residual stream is not a pre-activation",
        }
        if self.vocab is not None:
            out["jac_sv"] = (
                "the output is not differentiable with respect to token ids (use patch or "
                "feature inputs)"
            )
        return out

    def unit_weights(self, p, layer):
        # The residual stream's units: columns of the kernel that writes into it.
        if layer == 0:
            return p["embed"] if self.vocab is not None else p["patch"]["kernel"]
        return p["mlp"]["out"]["kernel"] if self.mlp_width > 0 else p["attn"]["out"]["kernel"]

    def units_matrix(self, a):
        return a.reshape(-1, a.shape[-1])

    def default_input_shape(self):
        if self.vocab is not None:
            return (self.seq_len,)
        if self.patch is not None:
            return (self.seq_len * self.patch,)
        return (self.seq_len, self.width)

    def input_shape_of(self, x_shape):
        return tuple(x_shape[1:])

    def check(self, in_shape):
        in_shape = tuple(in_shape)
        if self.vocab is not None:
            if len(in_shape) != 1:
                raise ValueError(
                    f"x: a token Transformer (vocab={self.vocab}) takes token ids of shape "
                    f"(batch, seq_len), got per-example shape {in_shape}"
                )
        elif self.patch is not None:
            if len(in_shape) != 1 or in_shape[0] % self.patch:
                raise ValueError(
                    f"x: patch={self.patch} cuts a flat input (batch, n) with n a multiple of "
                    f"{self.patch} into n/{self.patch} tokens, got per-example shape {in_shape}"
                )
        elif len(in_shape) != 2:
            raise ValueError(
                "x: a Transformer without vocab or patch takes (batch, seq_len, features) "
                f"inputs, got per-example shape {in_shape}; set patch= for flat inputs"
            )
        for n in in_shape:
            positive_int(n, arg="input shape")
        t = self._tokens(in_shape)
        if t < 1:
            raise ValueError(f"x: the input gives no tokens (per-example shape {in_shape})")
        d, f = self.width, self.mlp_width
        shapes = {"query": (d, d), "key": (d, d), "value": (d, d), "out": (d, d)}
        if f > 0:
            shapes |= {"mlp_in": (d, f), "mlp_out": (f, d)}
        if self.vocab is not None:
            shapes["embed"] = (self.vocab, d)
        else:
            shapes["patch"] = (self.patch or in_shape[-1], d)
        if self.positions == "learned":
            shapes["pos"] = (t, d)
        if self.readout is not None:
            shapes["readout"] = (d, self.readout)
        for role, shape in shapes.items():
            ri = self.role_init(role)
            _params.check_init_shape(ri.init, shape, arg=f"init of {role!r}", where=role)
            if ri.bias_init is not None:
                _params.check_init_shape(
                    ri.bias_init, (shape[-1],), arg=f"bias init of {role!r}", where=f"{role} bias"
                )


def param_roles(params: Mapping[str, Any]) -> Any:
    """The role of every leaf of Transformer params ``{"input", "hidden", ["readout"]}``.

    Returns the same pytree with strings: a role of :data:`ROLES` for kernels and tables,
    ``"<role>.bias"`` for biases, ``"norm_scale"``, ``"norm_bias"``, ``"qk_norm_scale"``,
    ``"alpha"``. Works on stacked (materialized) and per-layer params.
    """
    by_path = {(r.group, *r.path): name for name, r in ROLES.items()}

    def role_of(path, _leaf):
        names = tuple(getattr(k, "key", getattr(k, "name", str(k))) for k in path)
        if names in by_path:
            return by_path[names]
        if names[-1] == "bias" and (*names[:-1], "kernel") in by_path:
            return by_path[(*names[:-1], "kernel")] + ".bias"
        if names[-2:-1] in (("query_norm",), ("key_norm",)):
            return "qk_norm_scale"
        if names[-1] == "alpha":
            return "alpha"
        if names[-1] in ("scale", "bias"):
            return f"norm_{names[-1]}"
        raise ValueError(f"param_roles: unknown parameter path {'/'.join(names)}")

    return jax.tree_util.tree_map_with_path(role_of, dict(params))


def _check_real(value: Any, *, arg: str, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(
            f"{arg} must be a real number{' or None' if allow_none else ''}, got {value!r}"
        )
    if not math.isfinite(value):
        raise ValueError(f"{arg} must be finite, got {value!r}")


@register(
    "transformer",
    example={"width": 8, "depth": 3, "heads": 2, "seq_len": 4, "qk_norm": True, "readout": 3},
    description="Transformer blocks (attention + MLP; pre/post/no LayerNorm) as a scan",
    reference="Vaswani et al. 2017 (arXiv:1706.03762); Xiong et al. 2020 (arXiv:2002.04745)",
)
class Transformer(StackModule):
    """Transformer stack of ``depth`` identical blocks (a scan); see the module docstring.

    Attributes:
      width: d_model, the residual stream's width (> 0, divisible by ``heads``).
      depth: number of blocks L (> 0).
      heads: attention heads (default 4).
      mlp_width: hidden units of the MLP sub-layer (None: 4 * width; 0: attention-only blocks).
      activation: MLP activation (registered name or callable); None: the recipe's.
      recipe: named init recipe (``initjax.models.transformer_recipes.names()``): per-role
        initializers, default norm placement, LayerNorm epsilon, skip scale and activation.
      norm: "pre", "post" or "none" (None: the recipe's).
      causal: causal (decoder) attention mask instead of bidirectional.
      qk_norm: LayerNorm on queries and keys (learnable scale, init 1).
      attn_logit_scale: "inv_sqrt_dhead" (1/sqrt(d_head), default) or "inv_dhead" (1/d_head).
      alpha: None (no learnable branch gain) or its initial value (ReZero / SkipInit: 0.0).
      branch_exponent: fixed branch multiplier depth^(-branch_exponent) (0.5: 1/sqrt(L)).
      skip_scale: multiplier of the skip path (DeepNorm's alpha); None: the recipe's (1 except
        "deepnorm": (2 depth)^(1/4)).
      inits: per-role overrides ``{role or "<role>_bias": initializer}`` (roles in
        :data:`ROLES`); the recipe's multipliers stay.
      kernel_init: if given, the initializer of every dense kernel role (patch, query, key,
        value, out, mlp_in, mlp_out, readout); multipliers stay.
      sigma_w2: None (initializers as given) or weight variance times fan_in for dense kernels.
      sigma_b2: variance of the biases the recipe leaves to N(0, sigma_b2) (default 0: zeros).
      vocab: token vocabulary size (inputs are ids ``(B, T)``) or None.
      patch: patch size for flat inputs ``(B, n)`` (T = n / patch tokens), or None (then inputs
        are ``(B, T, features)`` unless ``vocab`` is set).
      positions: "learned", "sinusoidal" or "none".
      seq_len: tokens per example of generated inputs (``propagate`` without x; default 16).
      pool: how the readout pools tokens: "mean", "last" (causal / recall tasks) or "first".
      readout, dtype, precision: as in :class:`initjax.models.MLP`.

    Params: ``input`` {embed (vocab, width) | patch {kernel, bias}, [pos (T, width)]},
    ``hidden`` {attn {query, key, value, out {kernel (depth, width, width), bias},
    [query_norm, key_norm {scale (depth, d_head)}]}, [mlp {in, out}], [ln1, ln2 {scale, bias}],
    [alpha (depth,)]}, ``readout`` {dense {kernel (width, readout), bias}, [norm]}.
    ``__call__(x)`` returns logits ``(B, readout)`` or the features ``(B, T, width)``.

    Raises (at construction): ValueError / TypeError naming the bad argument.
    """

    width: int
    depth: int
    heads: int = 4
    mlp_width: int | None = None
    activation: str | activations.Activation | Callable | None = None
    recipe: str = "flax"
    norm: str | None = None
    causal: bool = False
    qk_norm: bool = False
    attn_logit_scale: str = "inv_sqrt_dhead"
    alpha: float | None = None
    branch_exponent: float = 0.0
    skip_scale: float | None = None
    inits: Mapping[str, Any] | None = None
    kernel_init: Any = None
    sigma_w2: float | None = None
    sigma_b2: float = 0.0
    vocab: int | None = None
    patch: int | None = None
    positions: str = "learned"
    seq_len: int = 16
    pool: str = "mean"
    readout: int | None = None
    dtype: Any = jnp.float32
    precision: str | None = "highest"

    def __post_init__(self):
        from initjax.models import transformer_recipes as recipes

        positive_int(self.width, arg="width")
        positive_int(self.depth, arg="depth")
        positive_int(self.heads, arg="heads")
        if self.width % self.heads:
            raise ValueError(f"width={self.width} must be divisible by heads={self.heads}")
        if self.mlp_width is not None:
            if (
                isinstance(self.mlp_width, bool)
                or not isinstance(self.mlp_width, int)
                or (self.mlp_width < 0)
            ):
                raise ValueError(
                    f"mlp_width must be an integer >= 0 or None, got {self.mlp_width!r}"
                )
        if self.activation is not None:
            activations.get(self.activation)
        recipes.get(self.recipe)  # unknown name -> ValueError listing the recipes
        if self.norm is not None:
            choice(self.norm, NORMS, arg="norm")
        for arg in ("causal", "qk_norm"):
            if not isinstance(getattr(self, arg), bool):
                raise TypeError(f"{arg} must be a bool, got {getattr(self, arg)!r}")
        choice(self.attn_logit_scale, LOGIT_SCALES, arg="attn_logit_scale")
        _check_real(self.alpha, arg="alpha", allow_none=True)
        _check_real(self.branch_exponent, arg="branch_exponent")
        _check_real(self.skip_scale, arg="skip_scale", allow_none=True)
        if self.skip_scale is not None and self.skip_scale < 0:
            raise ValueError(f"skip_scale must be >= 0, got {self.skip_scale!r}")
        for arg in ("vocab", "patch"):
            v = getattr(self, arg)
            if v is not None:
                positive_int(v, arg=arg)
        if self.vocab is not None and self.patch is not None:
            raise ValueError("give vocab (token inputs) or patch (flat inputs), not both")
        choice(self.positions, POSITIONS, arg="positions")
        positive_int(self.seq_len, arg="seq_len")
        choice(self.pool, POOLS, arg="pool")
        if self.inits is not None:
            if not isinstance(self.inits, Mapping):
                raise TypeError(f"inits must be a mapping role -> initializer, got {self.inits!r}")
            for k, v in self.inits.items():
                base = k[: -len("_bias")] if k.endswith("_bias") else k
                if base not in ROLES:
                    raise ValueError(
                        f"inits: unknown role {k!r}; roles: {', '.join(ROLES)} (and "
                        "'<role>_bias' for dense roles)"
                    )
                if k.endswith("_bias") and base not in DENSE_ROLES:
                    raise ValueError(f"inits: {base!r} has no bias")
                if initializers.is_data_dependent(
                    _params.resolve_initializer(v, arg=f"inits[{k!r}]")
                ):
                    raise ValueError(
                        f"inits[{k!r}]: {v!r} is a data-dependent initializer; it refines the "
                        "whole network, so give it as kernel_init"
                    )
        _params.resolve_initializer(self.kernel_init, arg="kernel_init", allow_none=True)
        validate_common(self)
        super().__post_init__()

    def _inits(self, rec) -> tuple[tuple[str, RoleInit], ...]:
        base = rec.role_inits(depth=self.depth, width=self.width, mlp_width=self._mlp_width())
        out = dict(base)
        if self.kernel_init is not None:
            k = _params.resolve_initializer(self.kernel_init, arg="kernel_init")
            for role in DENSE_ROLES:
                out[role] = dataclasses.replace(out[role], init=k)
        for key, v in (self.inits or {}).items():
            init = _params.resolve_initializer(v, arg=f"inits[{key!r}]")
            if key.endswith("_bias"):
                role = key[: -len("_bias")]
                out[role] = dataclasses.replace(out[role], bias_init=init)
            else:
                out[key] = dataclasses.replace(out[key], init=init)
        return tuple((r, out[r]) for r in ROLES)

    def _mlp_width(self) -> int:
        return 4 * self.width if self.mlp_width is None else self.mlp_width

    def stack(self) -> TransformerStack:
        from initjax.models import transformer_recipes as recipes

        rec = recipes.get(self.recipe)
        d_head = self.width // self.heads
        scale = d_head**-0.5 if self.attn_logit_scale == "inv_sqrt_dhead" else 1.0 / d_head
        act = rec.activation if self.activation is None else self.activation
        return TransformerStack(
            depth=self.depth,
            activation=activations.get(act),
            readout=self.readout,
            dtype=jnp.dtype(self.dtype),
            width=self.width,
            heads=self.heads,
            mlp_width=self._mlp_width(),
            norm=rec.norm if self.norm is None else self.norm,
            norm_eps=rec.norm_eps,
            causal=self.causal,
            qk_norm=self.qk_norm,
            logit_scale=float(scale),
            alpha=None if self.alpha is None else float(self.alpha),
            branch_multiplier=float(self.depth) ** (-float(self.branch_exponent)),
            skip_scale=float(
                rec.skip_scale(self.depth) if self.skip_scale is None else self.skip_scale
            ),
            vocab=self.vocab,
            patch=self.patch,
            positions=self.positions,
            pool=self.pool,
            seq_len=self.seq_len,
            inits=self._inits(rec),
            precision=self.precision,
            kernel_init=_params.resolve_initializer(
                self.kernel_init, arg="kernel_init", allow_none=True
            ),
        )
