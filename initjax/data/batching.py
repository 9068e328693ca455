"""Host-side minibatches and input pairs for signal-propagation measurements.

Randomness comes from a JAX key or an int seed (see :func:`initjax.data._checks.numpy_rng`),
so the same key always gives the same batches / pairs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from initjax.data import _checks

__all__ = ["batches", "input_pairs", "pair_indices"]


def _check_xy(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim < 1 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x must be (n, ...) and y (n,) with the same n, got x {x.shape} and y {y.shape}"
        )
    return x, y


def batches(
    x: Any,
    y: Any,
    batch_size: int,
    key: Any,
    *,
    drop_remainder: bool = True,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch of shuffled minibatches ``(x[idx], y[idx])``.

    Args:
      x: inputs ``(n, ...)``.
      y: labels ``(n,)``.
      batch_size: examples per batch, 1 <= batch_size <= n.
      key: JAX PRNG key or int seed for the permutation.
      drop_remainder: drop the last ``n % batch_size`` examples (every batch then has the same
        shape, so a jitted step compiles once); False yields them as a smaller last batch.

    Yields:
      ``(x_batch (batch_size, ...), y_batch (batch_size,))``; each example appears at most once.

    Raises:
      TypeError/ValueError: ``batch_size`` not a positive int or larger than n; bad ``key``;
        mismatched x/y.
    """
    x, y = _check_xy(x, y)
    batch_size = _checks.positive_int(batch_size, "batch_size")
    n = x.shape[0]
    if batch_size > n:
        raise ValueError(f"batch_size={batch_size} is larger than the dataset ({n} examples)")
    order = _checks.numpy_rng(key).permutation(n)
    stop = n - n % batch_size if drop_remainder else n
    for start in range(0, stop, batch_size):
        idx = order[start : start + batch_size]
        yield x[idx], y[idx]


def pair_indices(y: Any, n_pairs: int, key: Any) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(i, j)`` of ``n_pairs`` example pairs with ``y[i] != y[j]``.

    ``i`` is uniform over all examples; given ``i``, ``j`` is uniform over the examples of every
    other class (sampling with replacement across pairs).

    Returns:
      Two int64 arrays ``(n_pairs,)``.

    Raises:
      ValueError: ``n_pairs`` < 1, ``y`` not 1-D, or fewer than two classes present.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D label array, got shape {y.shape}")
    n_pairs = _checks.positive_int(n_pairs, "n_pairs")
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"pairs from different classes need >= 2 classes in y, got {classes}")
    rng = _checks.numpy_rng(key)
    order = np.argsort(y, kind="stable")  # examples grouped by class
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    i = rng.integers(0, y.shape[0], n_pairs)
    c = np.searchsorted(classes, y[i])
    # Uniform position among the n - n_c examples outside class c: skip over c's block.
    r = (rng.random(n_pairs) * (y.shape[0] - counts[c])).astype(np.int64)
    r = np.minimum(r, y.shape[0] - counts[c] - 1)
    pos = np.where(r < starts[c], r, r + counts[c])
    return i.astype(np.int64), order[pos].astype(np.int64)


def input_pairs(x: Any, y: Any, n_pairs: int, key: Any) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of inputs from different classes, for the initial correlation c^0.

    Signal-propagation measurements of c^l (Poole et al. 2016, correlation map; Schoenholz et al.
    2017) start from two distinct inputs; drawing them from different classes gives a c^0 typical
    of inputs a network must separate.

    Args:
      x: inputs ``(n, ...)``; y: labels ``(n,)``; n_pairs: number of pairs >= 1;
      key: JAX PRNG key or int seed.

    Returns:
      ``(x1, x2)``, each ``(n_pairs, ...)`` with x's dtype, ``y`` of x1 != ``y`` of x2 pairwise.

    Raises:
      ValueError/TypeError: as :func:`pair_indices`, or mismatched x/y.
    """
    x, y = _check_xy(x, y)
    i, j = pair_indices(y, n_pairs, key)
    return x[i], x[j]
