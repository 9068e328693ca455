"""Associative recall: a token-sequence task that needs attention, generated offline.

Each example is ``n_pairs`` key-value pairs followed by a query key::

    k_1 v_1 k_2 v_2 ... k_K v_K q        label = the value paired with q

Keys are ``n_pairs`` distinct ids drawn from ``0 .. n_keys - 1``; values are drawn independently
and uniformly from ``n_values`` ids, written as tokens ``n_keys .. n_keys + n_values - 1``; the
query is one of the example's keys, uniformly. The label is the query's value id in
``0 .. n_values - 1``, so the vocabulary has ``n_keys + n_values`` tokens, sequences have
``2 n_pairs + 1`` tokens and there are ``n_values`` classes (Ba et al. 2016, "Using Fast
Weights to Attend to the Recent Past", §4.1; Olsson et al. 2022's induction heads solve it).

Why it needs attention: read out at the last token (``pool="last"``), a model without token
mixing sees only the query key, which is independent of its value: its expected accuracy is
exactly ``1 / n_values``. Solving it means moving each value onto its key's position (or the
key onto its value's) and then matching the query against the keys by content: two attention
layers. Inputs are float32 token ids (``initjax.models.Transformer(vocab=...)`` reads them).

Keys follow :mod:`initjax.keys`: ``data = role(key(seed), DATA)``, split s (train = 1, test = 2)
from ``fold_in(data, s)``; train and test are independent samples.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from initjax import keys

__all__ = ["associative_recall", "recall_chance_accuracy", "recall_value_guess_accuracy"]

_SPLIT_IDS = {"train": 1, "test": 2}


def recall_chance_accuracy(n_values: int) -> float:
    """Expected accuracy of any predictor that sees only the query (no attention): 1/n_values."""
    return 1.0 / n_values


def recall_value_guess_accuracy(n_pairs: int, n_values: int) -> float:
    """Expected accuracy of the best predictor that sees the context's values but not which key
    each belongs to (attention to values without key matching): it answers the most frequent
    value, right with probability max_v count(v) / n_pairs. Exact: E[max count] / n_pairs over
    ``n_pairs`` values i.i.d. uniform on ``n_values``, summed over the count patterns (integer
    partitions of n_pairs). E.g. 2 pairs: 1/2 + 1/(2 n_values).

    Raises:
      ValueError: n_pairs < 1 or n_values < 1.
    """
    if n_pairs < 1 or n_values < 1:
        raise ValueError(f"n_pairs and n_values must be >= 1, got {n_pairs}, {n_values}")

    def patterns(rest: int, largest: int):  # partitions of rest, parts <= largest
        if rest == 0:
            yield ()
        for part in range(min(rest, largest), 0, -1):
            for tail in patterns(rest - part, part):
                yield (part, *tail)

    total = 0.0
    for lam in patterns(n_pairs, n_pairs):
        if len(lam) > n_values:
            continue
        values = math.perm(n_values, len(lam))  # ordered choice of the distinct values
        for m in (lam.count(c) for c in set(lam)):
            values //= math.factorial(m)  # equal counts: unordered among themselves
        orders = math.factorial(n_pairs)
        for c in lam:
            orders //= math.factorial(c)
        total += values * orders * max(lam)
    return total / n_values**n_pairs / n_pairs


def associative_recall(
    split: str,
    *,
    n_train: int = 8000,
    n_test: int = 1000,
    n_pairs: int = 4,
    n_keys: int = 16,
    n_values: int = 8,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Associative-recall examples (see the module docstring).

    Returns:
      ``(x, y)``: float32 token ids ``(n, 2 n_pairs + 1)`` and int32 labels ``(n,)`` in
      ``0 .. n_values - 1``, n = n_train or n_test.

    Raises:
      ValueError: ``n_pairs > n_keys`` (keys must be distinct), ``n_values < 2`` or a
        non-positive size.
    """
    for name, v in (("n_pairs", n_pairs), ("n_keys", n_keys), ("n_values", n_values)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if n_pairs > n_keys:
        raise ValueError(f"n_pairs={n_pairs} distinct keys need n_keys >= n_pairs, got {n_keys}")
    if n_values < 2:
        raise ValueError(f"n_values must be >= 2 (a class per value), got {n_values}")
    if split not in _SPLIT_IDS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    n = n_train if split == "train" else n_test
    k = jax.random.fold_in(keys.role(jax.random.key(seed), keys.DATA), _SPLIT_IDS[split])
    x, y = _recall(k, n, n_pairs, n_keys, n_values)
    return np.asarray(x, np.float32), np.asarray(y, np.int32)


# One compiled program per size (integer operations only: the same values as op-by-op
# execution, which compiled ~30 small programs per call).
@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _recall(k: jax.Array, n: int, n_pairs: int, n_keys: int, n_values: int):
    k_keys, k_vals, k_query = (jax.random.fold_in(k, i) for i in range(3))
    # Distinct keys per example: the first n_pairs entries of a random permutation.
    perm = jax.vmap(lambda kk: jax.random.permutation(kk, n_keys))(jax.random.split(k_keys, n))
    kk = perm[:, :n_pairs]
    vv = jax.random.randint(k_vals, (n, n_pairs), 0, n_values)
    which = jax.random.randint(k_query, (n,), 0, n_pairs)
    q = jnp.take_along_axis(kk, which[:, None], axis=1)
    y = jnp.take_along_axis(vv, which[:, None], axis=1)[:, 0]
    pairs = jnp.stack([kk, vv + n_keys], axis=-1).reshape(n, 2 * n_pairs)
    return jnp.concatenate([pairs, q], axis=1), y
