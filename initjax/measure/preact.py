"""The pre-activation path of :func:`initjax.measure.propagate`: draw z = A W, not W.

For a dense layer with i.i.d. Gaussian kernel entries W_kj ~ N(0, s^2) (s^2 = sigma_w2 / fan_in
in standard parameterization) and a layer input A (B x n, the activations of the B inputs), the
pre-activations Z = A W + 1 b^T are, given A, exactly Gaussian: the columns of A W are
independent with covariance s^2 A A^T (each column is A times an independent N(0, s^2 I_n)
vector). So with any L such that L L^T = A A^T (B x B) and G a B x N matrix of N(0, s^2)
numbers, L G has exactly the law of A W given A. Drawing B N numbers instead of n N and
multiplying B x B by B x N instead of B x n by n x N wins from N ~ 3-4 B on (BENCHMARKS.md, case 1).
Forward-only statistics that are functions of the pre-activations (q, c, act_std,
act_saturation) then have exactly the law of the weight path's, layer after layer, since each
layer's Z is drawn from its exact conditional law given the previous one. This is the
conditional-Gaussian view of wide random networks (Neal 1996; Lee et al. 2018, "Deep Neural
Networks as Gaussian Processes", eq. 2-4 hold for finite width conditionally on the layer
input). The values are *not* those of ``model.init``'s weights (no weights exist): the path is
exact in distribution, not bit for bit; tests/measure/test_preact.py compares its statistics
with the weight path's at stated numbers of seeds.

Factorization: L is the Cholesky factor of the Gram matrix A A^T (float32, LAPACK potrf). A
Cholesky factor in float32 is the exact factor of A A^T + E with |E_ij| <~ B eps sqrt(G_ii G_jj)
(Higham 2002, Thm. 10.3), i.e. a relative covariance error of about B eps / lambda in a
direction whose relative variance is lambda. To keep that far below the sampling error, a
layer is drawn through A A^T only when every Cholesky pivot satisfies
L_kk^2 >= PIVOT_TOL * max_k G_kk (PIVOT_TOL = 1e-2: relative error <= B eps / 1e-2, 1.5e-3 at
B = 128); otherwise (rank-deficient or nearly collinear inputs, e.g. c -> 1 in the ordered phase,
an all-zero layer, inputs with fewer features than B) that layer is drawn through the weights,
with the same keys and bit-identical weights as the fused path, for every seed of the call.
Choosing per layer from A only keeps the law exact: in both branches Z given A has the same law.
``PropagationResult.meta["preact_weight_layers"]`` counts such layers per layer index.

Only MLP stacks (:class:`initjax.models.mlp.MLPStack`) in float32 whose kernel initializer is an
i.i.d. zero-mean Gaussian (``normal``, ``variance_scaling`` with ``distribution="normal"``,
``torch_kaiming_normal``, ``torch_xavier_normal``) qualify (:func:`reason_not_applicable`).
Biases are drawn exactly as in the weight path (same keys, same values). Dropout
(``keep_prob`` < 1) multiplies the layer input A by the same masks as the weight path (same keys)
before the Gram matrix is formed, so Z given the masked A again has the exact law.

Shapes: the seed and grid axes are flattened into one explicit batch axis M = H x S (no vmap
around the layer step), so the per-layer choice is a real branch (``lax.cond``), not a select
that would run both.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from initjax import keys
from initjax.initializers import BoundInitializer, sampling
from initjax.measure.inputs import gaussian_inputs
from initjax.models import MLPStack, draw_bias, dropout, hidden_apply

__all__ = [
    "METRICS",
    "PIVOT_TOL",
    "GAUSSIAN_ENTRIES",
    "kernel_is_gaussian",
    "reason_not_applicable",
    "is_faster",
    "run",
]

METRICS = ("q", "c", "act_std", "act_saturation")
PIVOT_TOL = 1e-2
GAUSSIAN_ENTRIES = ("normal", "torch_kaiming_normal", "torch_xavier_normal")
# Measured on this project's 2-core CPU (tanh MLP, depth 100, 32 seeds, median of 3; fused time /
# pre-activation time): batch 128: 0.71 at width 256 (2 B), 0.79 at 320, 1.01 at 384 (3 B), 1.06
# at 448, 1.05-1.25 at 512 (4 B); batch 64: 0.78 at 128 (2 B), 0.90 at 192, 1.08 at 256 (4 B). So
# the switch pays from width >= 4 x batch, and only from width 256 on (below it both take well
# under a second). Command: python scripts/preact_crossover.py (its defaults). BENCHMARKS.md,
# case 1, shows the two paths side by side.
AUTO_MIN_RATIO = 4
AUTO_MIN_WIDTH = 256


def kernel_is_gaussian(init: Any) -> bool:
    """Whether ``init`` draws i.i.d. zero-mean Gaussian entries (a registry entry we know)."""
    if not isinstance(init, BoundInitializer):
        return False
    e = init.entry
    if e.name in GAUSSIAN_ENTRIES:
        return True
    return e.name == "variance_scaling" and init.hparams.get("distribution") == "normal"


def reason_not_applicable(stack: Any, metrics: tuple[str, ...], uses_params: bool) -> str | None:
    """None if the pre-activation path can measure this call exactly, else why not."""
    if type(stack) is not MLPStack:
        return f"only MLP stacks (got {type(stack).__name__})"
    if jnp.dtype(stack.dtype) != jnp.float32:
        return f"only float32 (got {jnp.dtype(stack.dtype)})"
    if not kernel_is_gaussian(stack.kernel_init):
        return "the kernel initializer is not an i.i.d. Gaussian"
    try:  # a zero promise (stddev=0) is drawn as zeros, not rescaled: not a Gaussian
        v = stack.kernel_init.promised_variance(stack.width, stack.width)
    except (TypeError, ValueError):  # traced or array hyper-parameters
        v = None
    if v is None or not v > 0:
        return "the kernel initializer's variance is zero or undefined"
    other = [m for m in metrics if m not in METRICS]
    if other:
        return f"metrics {other} need the weights (supported: {', '.join(METRICS)})"
    if uses_params:
        return "params= gives the weights"
    return None


def is_faster(width: int, batch: int) -> bool:
    """The automatic rule: width >= max(AUTO_MIN_RATIO x batch, AUTO_MIN_WIDTH)."""
    return width >= max(AUTO_MIN_RATIO * batch, AUTO_MIN_WIDTH)


def _kernel_std(stack: MLPStack, fan_in: int, fan_out: int, sw2: jax.Array | None) -> jax.Array:
    """Standard deviation of the kernel entries (``sw2``: per-batch sigma_w2, or None)."""
    if sw2 is not None:  # standard parameterization: Var = sigma_w2 / fan_in
        return jnp.sqrt(sw2.astype(jnp.float32) / jnp.float32(fan_in))
    v = stack.kernel_init.promised_variance(fan_in, fan_out)
    return jnp.float32(math.sqrt(v))


def _bias(stack: MLPStack, layer_keys: jax.Array, sb2: jax.Array) -> jax.Array:
    """The layer's biases (M, N), drawn exactly as the weight path draws them."""
    w = stack.width
    return jax.vmap(
        lambda k, b2: draw_bias(
            stack.bias_init, jax.random.fold_in(k, keys.BIAS), (w,), b2, stack.dtype
        )
    )(layer_keys, sb2)


def _layer(stack, a, layer_keys, std, sb2, weight_path):
    """Z (M, B, N) for layer input ``a`` (M, B, n); returns (Z, drawn through the weights)."""
    hi = jax.lax.Precision.HIGHEST
    gram = jnp.einsum("mbk,mck->mbc", a, a, precision=hi)
    chol = jnp.linalg.cholesky(gram)
    piv = jnp.square(jnp.diagonal(chol, axis1=1, axis2=2))
    top = jnp.max(jnp.diagonal(gram, axis1=1, axis2=2), axis=1)
    small = jnp.min(piv, axis=1) < PIVOT_TOL * top
    ok = jnp.all(jnp.isfinite(chol)) & ~jnp.any(small | (top <= 0))
    bsz, n_out = a.shape[1], stack.width

    def through_preacts():
        g = jax.vmap(
            lambda k, s: sampling.normal(
                jax.random.fold_in(k, keys.PREACT), (bsz, n_out), jnp.float32, s
            )
        )(layer_keys, jnp.broadcast_to(std, layer_keys.shape))
        bias = _bias(stack, layer_keys, sb2)
        return jnp.matmul(chol, g, precision=hi) + bias[:, None, :]

    z = jax.lax.cond(ok, through_preacts, weight_path)
    return z, ~ok


def run(cfg: Any, seed_keys: jax.Array, sw2: jax.Array, sb2: jax.Array, x, input_key):
    """The engine's computation for ``cfg.path == "preact"``: the same outputs as the weight
    path (per-layer statistics with leading (H, S) axes, from which the engine derives the
    underflow / nonfinite / diverged flags), plus ``preact_weight_layers`` (H, S, depth + 1):
    True where a layer was drawn through weights."""
    from initjax.measure.engine import _layer_stats  # the per-layer statistics, shared

    st: MLPStack = cfg.stack
    n_cells, n_seeds = sb2.shape[0], seed_keys.shape[0]
    m = n_cells * n_seeds
    kf = seed_keys[jnp.arange(m) % n_seeds]  # (H*S,) cell-major, seed-minor
    sb_f = jnp.repeat(sb2, n_seeds)
    sw_f = jnp.repeat(sw2, n_seeds) if cfg.rescale else None
    w2_of = (lambda i: sw_f[i]) if cfg.rescale else (lambda i: None)
    if cfg.inputs == "per_seed":
        xs = jax.vmap(
            lambda k: gaussian_inputs(
                keys.role(k, keys.INPUTS), cfg.batch, cfg.in_shape, q0=cfg.q0, c0=cfg.c0
            )
        )(kf)
    else:
        if cfg.inputs == "shared":
            x = gaussian_inputs(input_key, cfg.batch, cfg.in_shape, q0=cfg.q0, c0=cfg.c0)
        xs = jnp.broadcast_to(x.astype(st.dtype), (m, *x.shape))
    roots = jax.vmap(lambda k: keys.role(k, keys.PARAMS))(kf)
    idx = jnp.arange(m)
    d_in, width = cfg.in_shape[0], st.width

    def layer_keys(i):
        return jax.vmap(lambda r: keys.layer(r, i))(roots)

    # Layer 0: the input projection.
    k0 = layer_keys(0)

    def input_weights():
        def one(j, k):
            p = st.input_init(k, cfg.in_shape, w2_of(j), sb_f[j])
            return st.input_apply(p, xs[j])

        return jax.vmap(one)(idx, k0)

    z0, fb0 = _layer(st, xs, k0, _kernel_std(st, d_in, width, sw_f), sb_f, input_weights)
    stats0 = jax.vmap(lambda z: _layer_stats(cfg, z, None, 0, 0))(z0)
    std_h = _kernel_std(st, width, width, sw_f)

    drops = None
    if st.keep_prob < 1.0:
        drops = jax.vmap(lambda k: keys.role(k, keys.DROPOUT))(kf)

    def body(z, i):
        ki = layer_keys(i)

        def hidden_weights():
            def one(j, k):
                drop = None if drops is None else drops[j]
                return hidden_apply(st, st.layer_init(k, w2_of(j), sb_f[j]), z[j], drop, i)

            return jax.vmap(one)(idx, ki)

        a = st.activation(z)
        if drops is not None:  # the masks of the weight path (same keys, same shapes)
            a = jax.vmap(lambda d, aa: dropout(aa, keys.layer(d, i), st.keep_prob))(drops, a)
        z_new, fb = _layer(st, a, ki, std_h, sb_f, hidden_weights)
        return z_new, (jax.vmap(lambda zz: _layer_stats(cfg, zz, None, i, 1))(z_new), fb)

    layers = jnp.arange(1, st.depth + 1, dtype=jnp.int32)
    _, (stats, fbs) = jax.lax.scan(body, z0, layers)
    out = {
        k: jnp.concatenate([stats0[k][:, None], jnp.moveaxis(v, 0, 1)], 1) for k, v in stats.items()
    }
    fb = jnp.concatenate([fb0[None], fbs])
    out["preact_weight_layers"] = jnp.broadcast_to(fb, (m, st.depth + 1))
    return {k: v.reshape(n_cells, n_seeds, *v.shape[1:]) for k, v in out.items()}
