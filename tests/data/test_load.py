"""load(): train statistics for the test split follow the data on disk, never a stale cache."""

from __future__ import annotations

import os
import shutil

import numpy as np

from initjax import data
from initjax.data import _load, _mnist1d


def _standardized(x: np.ndarray, train: np.ndarray) -> np.ndarray:
    x, train = x.astype(np.float64), train.astype(np.float64)
    sd = train.std(0)
    return (x - train.mean(0)) / np.where(sd < 1e-6, 1.0, sd)


def test_test_split_statistics_follow_replaced_files(tmp_path, mnist1d_cache):
    d = tmp_path / "cache"
    shutil.copytree(mnist1d_cache, d)
    xt_raw, _ = data.load("mnist1d", "test", cache_dir=d, normalize="none")
    x_raw, _ = data.load("mnist1d", "train", cache_dir=d, normalize="none")
    before, _ = data.load("mnist1d", "test", cache_dir=d)
    np.testing.assert_allclose(before, _standardized(xt_raw, x_raw), atol=1e-4)
    # Replace the cached file under d by other data (train features x3 + 1, same test split).
    file = _mnist1d.cache_path({}, d)
    with np.load(file) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["x"] = arrays["x"] * 3 + 1
    os.unlink(file)
    np.savez(file, **arrays)
    after, _ = data.load("mnist1d", "test", cache_dir=d)
    np.testing.assert_allclose(after, _standardized(xt_raw, arrays["x"]), atol=1e-4)
    assert np.abs(after - before).max() > 0.1


def test_tfds_statistics_key_changes_with_the_files(fake_mnist_dir, tmp_path):
    d = tmp_path / "tfds"
    shutil.copytree(fake_mnist_dir, d)
    entry = data.info("mnist")
    key = _load._stats_key(entry, d, None, None, {})
    assert key == _load._stats_key(entry, d, None, None, {})
    shard = sorted((d / "mnist").rglob("*train.array_record*"))[0]
    payload = shard.read_bytes()
    shard.unlink()
    shard.write_bytes(payload)  # same bytes, a new file: the key must still change
    assert _load._stats_key(entry, d, None, None, {}) != key


def test_generated_datasets_need_no_files():
    entry = data.info("gaussian_mixture")
    assert _load._stats_key(entry, None, None, None, {"seed": 1})[-1] == ()
