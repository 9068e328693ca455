"""The objectives data-dependent initializers minimize, scored per network after the fact.

MetaInit (Dauphin & Schoenholz 2019, eq. 2) lowers the gradient quotient
GQ = (1/P) sum_i |(g_i - (Hg)_i) / (g_i + eps sign g_i) - 1| over the P parameters of the loss on
a batch; GradInit (Zhu et al. 2021, eq. 2) lowers the loss on a batch S~ after the target
optimizer's first step on a batch S. ``objective_scores`` measures
either on batches independent of the ones the methods refined on, so that "the method lowered
its objective" is checked on fresh data, not read from the method's own bookkeeping.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["objective_scores"]


def objective_scores(
    model: Any,
    method: str,
    variables: dict[str, Any],
    held_out: tuple[Any, Any],
    *,
    batch: int,
    root_seed: int = 0,
    classes: int = 10,
) -> np.ndarray:
    """Per network: GQ (``method`` "metainit") or GradInit's one-step loss ("gradinit").

    The loss is the mean softmax cross-entropy of the model's logits. "metainit": GQ (eps 1e-5)
    on ``batch`` standard-normal inputs with uniformly random labels in [0, classes), drawn from
    ``jax.random.key(root_seed + 7)``, the same batch for every network. "gradinit": the loss on
    S~ = ``held_out`` examples [batch / 2, 3 batch / 2) after one SGD step (eta 0.1, normalized
    gradient, GradInit's launch setting) on S = examples [0, batch): S~ is half of S plus a fresh
    half.

    Args:
      model: an initjax model with a ``readout`` of ``classes`` logits.
      method: "metainit" or "gradinit"; any other name (e.g. "lsuv", which has no such
        objective) gives NaN.
      variables: ``{"params": ...}`` with a leading seed axis (``initial_params``).
      held_out: ``(x, y)`` examples (at least ``3 batch / 2``); x's per-example shape also sets
        the Gaussian batch's shape.
      batch: examples per batch.
      root_seed: the Gaussian batch's key offset.
      classes: number of labels.

    Returns:
      float64 array (seeds,).
    """
    import jax
    import optax

    from initjax import models
    from initjax.initializers import gradinit, metainit

    p = variables["params"]
    n_seeds = jax.tree.leaves(p)[0].shape[0]
    st, n = models.stack_of(model), int(batch)

    def ce(q, x, y):
        logits = models.apply_stack(st, q, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    if method == "metainit":
        kx, ky = jax.random.split(jax.random.key(int(root_seed) + 7))
        x = jax.random.normal(kx, (n, *held_out[0].shape[1:]))
        y = jax.random.randint(ky, (n,), 0, int(classes))
        f = lambda q: metainit.gradient_quotient(lambda r: ce(r, x, y), q, 1e-5)  # noqa: E731
    elif method == "gradinit":
        x, y = held_out[0][: n + n // 2], held_out[1][: n + n // 2]
        xs, ys, xt, yt = x[:n], y[:n], x[n // 2 :], y[n // 2 :]
        f = lambda q: gradinit.one_step_loss(ce, q, xs, ys, xt, yt, eta=0.1, alg="sgd",  # noqa: E731
                                             normalize_grad=True)  # fmt: skip
    else:
        return np.full(n_seeds, np.nan)
    return np.asarray(jax.jit(jax.vmap(f))(p), np.float64)
