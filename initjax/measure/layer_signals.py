"""Full per-layer signals of one fully connected network at initialization: the activations
h^k = phi(s^k), the back-propagated gradients d C / d s^k and the layer Jacobians
J^k = d h^{k+1} / d h^k (Glorot & Bengio 2010, Sec. 4.2, Figs. 6-7: their z^k are our h^k), for
histograms and exact singular values.

:func:`initjax.measure.propagate` gives per-layer *summaries* of many networks; this module keeps
every value of one network (``(K, B, N)`` arrays), drawn with the same key scheme
(``init_stack`` from ``role(seed_key, PARAMS)``), so the networks are the ones ``propagate``
measures with the same seed keys.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = [
    "histogram",
    "jacobian_sv_frame",
    "layer_signals",
    "signal_histograms",
    "singular_values",
    "softmax_xent_sum",
]


def softmax_xent_sum(labels) -> Callable:
    """``logits (B, C) -> sum_b CE(logits_b, labels_b)``: the summed softmax cross-entropy on fixed
    integer labels ``(B,)``, so d C / d s is per example (not divided by the batch size)."""
    import optax

    def loss(logits):
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).sum()

    return loss


@functools.lru_cache(maxsize=8)
def layer_signals(stack, in_dim: int) -> Callable:
    """Jitted ``(seed_key, x (B, in_dim), labels (B,)) -> (act, grad, jac)`` for a dense stack.

    ``act``: ``(K, B, N)`` float32 phi(s^k), k = 1..K (K = stack.depth + 1 hidden layers);
    ``grad``: ``(K, B, N)`` d C / d s^k of the summed softmax cross-entropy
    (:func:`softmax_xent_sum`);
    ``jac``: ``(K - 1, N, N)`` J^k = W^{k+1} diag(phi'(s^{k+1})) at input 0, the transpose of
    d h^{k+1} / d h^k in the row-vector layout s^{k+1} = h^k W^{k+1} + b (same singular values).
    Biases are drawn by ``init_stack`` with sigma_b2 = 0. Cached per (stack, in_dim).
    """
    import jax
    import jax.numpy as jnp
    import optax

    from initjax import keys
    from initjax.models import init_stack

    if not hasattr(stack, "activation") or stack.depth < 1:
        raise ValueError(f"stack must be a dense stack with depth >= 1, got {stack!r}")

    def one(seed_key, x, y):
        p = init_stack(stack, keys.role(seed_key, keys.PARAMS), (in_dim,), None, 0.0)
        hidden = [jax.tree.map(lambda a, i=i: a[i], p["hidden"]) for i in range(stack.depth)]

        def cost(eps):
            z = stack.input_apply(p["input"], x) + eps[0]
            zs = [z]
            for i, hp in enumerate(hidden):
                z = stack.layer_apply(hp, z) + eps[i + 1]
                zs.append(z)
            logits = stack.readout_apply(p["readout"], z)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).sum(), zs

        eps = [jnp.zeros((x.shape[0], stack.width), jnp.float32)] * (stack.depth + 1)
        grads, zs = jax.grad(cost, has_aux=True)(eps)
        zs, grads = jnp.stack(zs), jnp.stack(grads)
        dphi = stack.activation.derivative(zs[1:, 0, :])
        jac = jnp.stack([hp["kernel"] for hp in hidden]) * dphi[:, None, :]
        return stack.activation(zs), grads, jac

    return jax.jit(one)


def singular_values(jac) -> np.ndarray:
    """Exact singular values of a ``(..., N, N)`` stack of matrices, float64 LAPACK (descending)."""
    return np.linalg.svd(np.asarray(jac, np.float64), compute_uv=False)


def histogram(values, bins: int, lim: float) -> dict:
    """Counts of ``values`` in ``bins`` equal bins on [-lim, lim] and the number outside.

    Returns dict of ``bin_lo``, ``bin_hi`` (``(bins,)`` float64), ``count`` (``(bins,)`` int) and
    ``outside`` (int: |v| > lim; kept out of the counts, never silently clipped).
    """
    if int(bins) < 1 or not lim > 0:
        raise ValueError(f"bins must be >= 1 and lim > 0, got bins={bins!r}, lim={lim!r}")
    v = np.asarray(values).ravel()
    counts, edges = np.histogram(v, bins=int(bins), range=(-lim, lim))
    return dict(
        bin_lo=edges[:-1],
        bin_hi=edges[1:],
        count=counts,
        outside=int(np.sum(np.abs(v) > lim)),
    )


def signal_histograms(acts, grads, bins: int) -> pd.DataFrame:
    """Per hidden layer k = 1..K: :func:`histogram` of the activations on [-1, 1] (a bounded,
    tanh-like unit) and of the back-propagated gradients on +-4 times the largest per-layer
    gradient sd (Glorot & Bengio 2010, Figs. 6-7: one common range, so the layers compare).

    Args:
      acts, grads: ``(K, ...)`` per-layer values (e.g. ``(K, S, B, N)`` stacked over seeds).
      bins: bins per histogram.

    Returns:
      Rows ``quantity`` ("activation" | "gradient"), ``layer``, ``bin_lo``, ``bin_hi``,
      ``count``, ``outside``: activations first, layers in order.
    """
    grads = np.asarray(grads)
    g_range = 4.0 * float(max(grads[k].std() for k in range(grads.shape[0])))
    rows = [
        pd.DataFrame(dict(quantity=quantity, layer=k + 1, **histogram(vals[k], int(bins), lim)))
        for quantity, vals, lim in (
            ("activation", np.asarray(acts), 1.0),
            ("gradient", grads, g_range),
        )
        for k in range(vals.shape[0])
    ]
    return pd.concat(rows, ignore_index=True)


def jacobian_sv_frame(jacs) -> pd.DataFrame:
    """Per network and layer, summaries of the exact singular values of the layer Jacobians.

    Args:
      jacs: one ``(K - 1, N, N)`` stack of layer Jacobians per network (the ``jac`` output of
        :func:`layer_signals`), in seed order.

    Returns:
      Rows ``seed`` (0..), ``layer`` (1..K-1), ``mean_sv``, ``mean_sv2`` (mean squared singular
      value), ``min_sv``, ``max_sv`` (float64).
    """
    rows = []
    for s, jac in enumerate(jacs):
        sv = singular_values(jac)  # (K - 1, N)
        rows.append(pd.DataFrame(dict(seed=s, layer=np.arange(1, sv.shape[0] + 1),
                                      mean_sv=sv.mean(1), mean_sv2=(sv**2).mean(1),
                                      min_sv=sv.min(1), max_sv=sv.max(1))))  # fmt: skip
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
