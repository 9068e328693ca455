"""Per-layer statistics of token sequences: rank collapse and attention, as pure functions.

Shapes: ``z`` is one layer's residual stream ``(B, T, d)`` (B examples of T tokens); attention
logits and weights are ``(B, heads, T, T)`` with a ``(T, T)`` bool mask of allowed (query, key)
pairs (all True for bidirectional attention, lower-triangular for causal). Every function returns
a float32 scalar, works under ``jit`` / ``vmap``, and returns NaN (never raises) for non-finite
input.

Definitions:

- ``token_cos``: mean over examples of the mean over token pairs i < j of the (uncentred) cosine
  <z_i, z_j> / (|z_i| |z_j|). 1 = every token points the same way: rank collapse (Noci et al.
  2022, arXiv:2206.03126, §3; Dong et al. 2021, arXiv:2103.03404). NaN if T < 2 or a token is 0.
- ``token_cross``: mean over examples of the mean over token pairs t != s of <z_t, z_s> / d,
  the cross moment p of :mod:`initjax.theory.transformer` (with ``q`` = mean_t |z_t|^2 / d its
  ratio p / q is the theory's rho). Unlike the cosine it is linear in the Gram matrix, so its
  expectation over random weights is what the uniform-attention maps predict at any width.
  NaN if T < 2.
- ``erank``: mean over examples of the effective rank of the ``(T, d)`` token matrix (Roy &
  Vetterli 2007, "The effective rank: a measure of effective dimensionality", EUSIPCO, eq. 1-2):
  exp(-sum_k p_k log p_k) with p_k = s_k / sum_j s_j over its singular values s_k (uncentred).
  It lies in [1, min(T, d)]: 1 for a rank-one matrix, min(T, d) for equal singular values.
- ``attn_entropy``: mean over examples, heads and queries of the Shannon entropy (nats) of the
  attention row, -sum_k A_qk log A_qk over the allowed keys. At most log(T) (uniform attention;
  causal row q allows q + 1 keys: at most log(q + 1)); 0 = each query attends to one key
  (entropy collapse, Zhai et al. 2023, arXiv:2303.06296).
- ``attn_logit_std``: sqrt of the mean over examples, heads and queries with >= 2 allowed keys
  of the variance of that row's scaled logits over its allowed keys. The softmax is
  shift-invariant, so this within-row spread is what sets the attention's entropy.
- ``grad_wq``, ``grad_wk``, ``grad_wv``: Frobenius norms of d loss / d W of the block's query,
  key and value kernels (Noci et al. 2022, Theorem 3.2: under rank collapse the query and key
  gradients vanish while the value gradients do not).

Registered metrics (:mod:`initjax.measure.metrics`): ``token_cos``, ``token_cross``, ``erank``
(any model whose per-layer signal has positions, ``(B, *positions, d)``: Transformer tokens, or
a ConvNet's spatial positions), ``attn`` (columns ``attn_entropy``, ``attn_logit_std``: the
block's attention recomputed from its input z^{l-1} and params, so it is what the forward pass
used) and ``qkv_grad`` (columns ``grad_wq``, ``grad_wk``, ``grad_wv``, from
the backward pass) for models with attention blocks (a stack with ``attention_input`` /
``attention_logits``). The last two are NaN at layer 0, which has no attention.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from initjax.measure import metrics as M

__all__ = [
    "token_cosine",
    "token_cross_moment",
    "effective_rank",
    "attention_entropy",
    "attention_logit_std",
    "attention_stats",
    "qkv_grad_norms",
]

_HI = jax.lax.Precision.HIGHEST


def _tokens(z: jax.Array) -> jax.Array:
    """``(B, T, d)`` float32 view of a per-layer signal ``(B, *positions, d)``."""
    zf = z.astype(jnp.float32)
    return zf.reshape(zf.shape[0], -1, zf.shape[-1])


def token_cosine(z: jax.Array) -> jax.Array:
    """Mean pairwise cosine of the tokens of each example, averaged over the batch."""
    zt = _tokens(z)
    t = zt.shape[1]
    if t < 2:
        return jnp.float32(jnp.nan)
    g = jnp.einsum("btd,bsd->bts", zt, zt, precision=_HI)
    n = jnp.sqrt(jnp.diagonal(g, axis1=1, axis2=2))
    cos = g / (n[:, :, None] * n[:, None, :])
    iu = jnp.triu_indices(t, k=1)
    return jnp.mean(cos[:, iu[0], iu[1]])


def token_cross_moment(z: jax.Array) -> jax.Array:
    """Mean over examples and token pairs t != s of <z_t, z_s> / d (float32 scalar)."""
    zt = _tokens(z)
    t, d = zt.shape[1], zt.shape[2]
    if t < 2:
        return jnp.float32(jnp.nan)
    s = jnp.sum(zt, axis=1)  # sum over pairs t != s = |sum_t z_t|^2 - sum_t |z_t|^2
    off = jnp.sum(s * s, axis=-1) - jnp.sum(zt * zt, axis=(1, 2))
    return jnp.mean(off) / (t * (t - 1) * d)


def effective_rank(z: jax.Array) -> jax.Array:
    """Effective rank (Roy & Vetterli 2007) of each example's ``(T, d)`` matrix, batch mean."""
    zt = _tokens(z)
    ok = jnp.all(jnp.isfinite(zt))
    s = jnp.linalg.svd(jnp.where(ok, zt, 0.0), compute_uv=False)  # (B, min(T, d))
    p = s / jnp.sum(s, axis=-1, keepdims=True)
    h = jnp.sum(jax.scipy.special.entr(p), axis=-1)
    return jnp.where(ok, jnp.mean(jnp.exp(h)), jnp.nan)


def attention_entropy(probs: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean attention-row entropy in nats (see the module docstring)."""
    p = probs.astype(jnp.float32)
    ok = jnp.all(jnp.isfinite(p))
    h = jnp.sum(jnp.where(mask, jax.scipy.special.entr(jnp.where(mask, p, 0.0)), 0.0), axis=-1)
    return jnp.where(ok, jnp.mean(h), jnp.nan)


def attention_logit_std(logits: jax.Array, mask: jax.Array) -> jax.Array:
    """Root mean within-row variance of the scaled logits over the allowed keys."""
    lg = jnp.where(mask, logits.astype(jnp.float32), 0.0)
    ok = jnp.all(jnp.isfinite(lg))
    n = jnp.sum(mask, axis=-1).astype(jnp.float32)  # (T,) allowed keys per query
    mean = jnp.sum(lg, axis=-1, keepdims=True) / n[:, None]
    var = jnp.sum(jnp.where(mask, jnp.square(lg - mean), 0.0), axis=-1) / n
    rows = n >= 2
    v = jnp.sum(jnp.where(rows, var, 0.0), axis=-1) / jnp.maximum(jnp.sum(rows), 1)
    return jnp.where(ok & jnp.any(rows), jnp.sqrt(jnp.mean(v)), jnp.nan)


def attention_stats(stack: Any, p: Any, z_in: jax.Array) -> dict[str, jax.Array]:
    """``attn_entropy`` and ``attn_logit_std`` of the block with params ``p`` on its input
    residual stream ``z_in`` ``(B, T, d)``, recomputed from the stack's own attention
    (``stack.attention_input`` / ``attention_logits``), so they are what the forward pass used.
    """
    h = stack.attention_input(p, z_in)
    logits, mask = stack.attention_logits(p, h)
    probs = jax.nn.softmax(logits, axis=-1)
    return {
        "attn_entropy": attention_entropy(probs, mask),
        "attn_logit_std": attention_logit_std(logits, mask),
    }


def qkv_grad_norms(grads: Any) -> dict[str, jax.Array]:
    """Frobenius norms of the query / key / value kernel gradients of one block's params."""
    a = grads["attn"]

    def norm(g):
        g = g.astype(jnp.float32)
        return jnp.sqrt(jnp.sum(jnp.square(g)))

    return {
        "grad_wq": norm(a["query"]["kernel"]),
        "grad_wk": norm(a["key"]["kernel"]),
        "grad_wv": norm(a["value"]["kernel"]),
    }


# --- registry entries ------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _feature_rank(stack: Any) -> int:
    shape = stack.default_input_shape()
    out = jax.eval_shape(
        lambda: stack.input_apply(
            stack.input_init(jax.random.key(0), shape, None, 0.0),
            jnp.zeros((1, *shape), stack.dtype),
        )
    )
    return len(out.shape) - 1


def _sequence_stack(stack: Any) -> str | None:
    try:
        rank = _feature_rank(stack)
    except TypeError:  # an unhashable stack: trust the call's own check
        return None
    if rank < 2:
        return (
            f"needs token sequences (per-layer features (T, d)); {type(stack).__name__} has "
            f"{rank}-D features per example"
        )
    return None


def _token_sequences(info: M.CallInfo) -> None:
    if len(info.feat_shape) < 2:
        raise ValueError(
            f"needs token sequences (per-layer features (T, d)); {type(info.stack).__name__} "
            f"has per-example features of shape {info.feat_shape}"
        )


def _has_attention(stack: Any) -> str | None:
    if hasattr(stack, "attention_input") and hasattr(stack, "attention_logits"):
        return _sequence_stack(stack)
    return f"{type(stack).__name__} has no attention blocks (arch 'transformer' has)"


def _nan(columns: tuple[str, ...]) -> dict[str, jax.Array]:
    return {c: jnp.float32(jnp.nan) for c in columns}


_ATTN = ("attn_entropy", "attn_logit_std")
_QKV = ("grad_wq", "grad_wk", "grad_wv")


def _attn(ctx: M.LayerContext) -> dict[str, jax.Array]:
    if ctx.kind == 0:
        return _nan(_ATTN)
    return attention_stats(ctx.stack, jax.lax.stop_gradient(ctx.params), ctx.z_in)


def _qkv(ctx: M.LayerContext) -> dict[str, jax.Array]:
    if ctx.kind == 0 or ctx.param_grad is None:
        return _nan(_QKV)
    return qkv_grad_norms(ctx.param_grad)


M.register(
    "token_cos",
    lambda ctx: token_cosine(ctx.z),
    supports=_sequence_stack,
    check=_token_sequences,
    description="mean pairwise cosine of the tokens of each example (rank collapse: 1)",
    reference="Noci et al. 2022, arXiv:2206.03126, §3",
)
M.register(
    "token_cross",
    lambda ctx: token_cross_moment(ctx.z),
    supports=_sequence_stack,
    check=_token_sequences,
    description="mean cross moment <z_t, z_s> / d of two different tokens (theory's p)",
    reference="Noci et al. 2022, arXiv:2206.03126, §4",
)
M.register(
    "erank",
    lambda ctx: effective_rank(ctx.z),
    supports=_sequence_stack,
    check=_token_sequences,
    description="effective rank exp(entropy of normalized singular values) of the token matrix",
    reference="Roy & Vetterli 2007, EUSIPCO, eq. 1-2",
)
M.register(
    "attn",
    _attn,
    columns=_ATTN,
    needs=("params", "input"),
    nonfinite_policy="hidden_only",
    supports=_has_attention,
    check=_token_sequences,
    description="attention entropy (nats, mean over heads and queries); within-row logit std",
    reference="Zhai et al. 2023, arXiv:2303.06296 (entropy collapse); Noci et al. 2022",
)
M.register(
    "qkv_grad",
    _qkv,
    columns=_QKV,
    needs=("param_grad",),
    nonfinite_policy="hidden_only",
    supports=_has_attention,
    check=_token_sequences,
    description="Frobenius norms of the query / key / value kernel gradients of each block",
    reference="Noci et al. 2022, arXiv:2206.03126, Theorem 3.2",
    log_scale=True,
)
