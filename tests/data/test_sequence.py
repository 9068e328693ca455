"""Associative recall: structure of every example, determinism, and the no-attention bound."""

from __future__ import annotations

import math

import numpy as np
import pytest

from initjax import data
from initjax.data.sequence import associative_recall, recall_chance_accuracy


def test_every_example_is_well_formed():
    k, nk, nv = 3, 10, 5
    x, y = associative_recall("train", n_train=200, n_pairs=k, n_keys=nk, n_values=nv, seed=3)
    assert x.shape == (200, 2 * k + 1) and x.dtype == np.float32 and y.dtype == np.int32
    ids = x.astype(int)
    np.testing.assert_array_equal(ids, x)
    keys_, vals, q = ids[:, 0 : 2 * k : 2], ids[:, 1 : 2 * k : 2], ids[:, -1]
    assert keys_.min() >= 0 and keys_.max() < nk
    assert vals.min() >= nk and vals.max() < nk + nv
    for i in range(len(x)):
        assert len(set(keys_[i])) == k  # distinct keys
        (pos,) = np.nonzero(keys_[i] == q[i])  # the query is one of them ...
        assert len(pos) == 1 and y[i] == vals[i, pos[0]] - nk  # ... and y is its value


def test_deterministic_and_splits_independent():
    a = associative_recall("train", n_train=64, seed=1)
    b = associative_recall("train", n_train=64, seed=1)
    t = associative_recall("test", n_test=64, seed=1)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], t[0])
    x, y = data.load("associative_recall", "test", n_test=64, seed=1)  # registry: unnormalized
    np.testing.assert_array_equal(x, t[0])
    np.testing.assert_array_equal(y, t[1])


def test_query_alone_predicts_at_chance():
    # The value of the query is independent of the query: the best query-only rule (majority
    # value per query id, fitted on train) scores 1/n_values on test up to binomial noise.
    nv = 4
    x, y = associative_recall("train", n_train=2000, n_values=nv, seed=2)
    xt, yt = associative_recall("test", n_test=2000, n_values=nv, seed=2)
    q, qt = x[:, -1].astype(int), xt[:, -1].astype(int)
    rule = {k: np.bincount(y[q == k], minlength=nv).argmax() for k in np.unique(q)}
    acc = np.mean([rule.get(k, 0) == v for k, v in zip(qt, yt, strict=True)])
    p = recall_chance_accuracy(nv)
    assert abs(acc - p) < 5 * math.sqrt(p * (1 - p) / len(yt)), acc


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(n_pairs=5, n_keys=4), "n_keys >= n_pairs"),
        (dict(n_values=1), "n_values must be >= 2"),
        (dict(n_pairs=0), "positive integer"),
    ],
)
def test_bad_options(kw, match):
    with pytest.raises(ValueError, match=match):
        associative_recall("train", **kw)


@pytest.mark.parametrize("n_pairs,n_values", [(1, 8), (2, 8), (3, 8), (4, 8), (4, 3), (5, 2)])
def test_value_guess_accuracy_against_enumeration(n_pairs, n_values):
    # Brute force over every tuple of context values: the most frequent value's share.
    import itertools
    from collections import Counter

    from initjax.data.sequence import recall_value_guess_accuracy

    tuples = list(itertools.product(range(n_values), repeat=n_pairs))
    want = sum(max(Counter(t).values()) for t in tuples) / len(tuples) / n_pairs
    assert recall_value_guess_accuracy(n_pairs, n_values) == pytest.approx(want, rel=1e-12)
    if n_pairs == 2:
        assert want == pytest.approx(0.5 + 0.5 / n_values)
