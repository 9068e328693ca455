"""mnist1d: exactly the package's dataset, cached outside the working directory, deterministic."""

from __future__ import annotations

import random

import numpy as np
import pytest

from initjax import data
from initjax.data import _mnist1d


@pytest.fixture(autouse=True, scope="module")
def _mnist1d_package():
    """Every test here needs the mnist1d package (imported here, not while collecting: ~1 s)."""
    pytest.importorskip("mnist1d")


def test_shapes_dtypes_classes(mnist1d_cache):
    x, y = data.load("mnist1d", "train", cache_dir=mnist1d_cache)
    xt, yt = data.load("mnist1d", "test", cache_dir=mnist1d_cache)
    assert x.shape == (4000, 40) and xt.shape == (1000, 40)
    assert x.dtype == xt.dtype == np.float32 and y.dtype == yt.dtype == np.int32
    assert set(np.unique(y)) == set(range(10)) and set(np.unique(yt)) == set(range(10))
    # make_dataset draws num_samples // 10 = 500 per class, then shuffles and splits 4000/1000
    np.testing.assert_array_equal(np.bincount(y, minlength=10) + np.bincount(yt, minlength=10), 500)


def test_equals_package_make_dataset(mnist1d_cache):
    from mnist1d.data import get_dataset_args, make_dataset

    ref = make_dataset(get_dataset_args())
    x, y = data.load("mnist1d", "train", cache_dir=mnist1d_cache, normalize="none")
    xt, yt = data.load("mnist1d", "test", cache_dir=mnist1d_cache, normalize="none")
    np.testing.assert_array_equal(x, ref["x"].astype(np.float32))
    np.testing.assert_array_equal(xt, ref["x_test"].astype(np.float32))
    np.testing.assert_array_equal(y, ref["y"])
    np.testing.assert_array_equal(yt, ref["y_test"])


def test_standardized_with_train_statistics(mnist1d_cache):
    x, _ = data.load("mnist1d", "train", cache_dir=mnist1d_cache)
    raw, _ = data.load("mnist1d", "train", cache_dir=mnist1d_cache, normalize="none")
    rawt, _ = data.load("mnist1d", "test", cache_dir=mnist1d_cache, normalize="none")
    xt, _ = data.load("mnist1d", "test", cache_dir=mnist1d_cache)
    # float32 standardization of O(1) values: per-feature moments exact to ~1e-6
    assert np.abs(x.mean(0)).max() < 1e-5
    np.testing.assert_allclose(x.std(0), 1.0, atol=1e-5)
    raw, rawt = raw.astype(np.float64), rawt.astype(np.float64)
    np.testing.assert_allclose(xt, (rawt - raw.mean(0)) / raw.std(0), atol=1e-4)


def test_cache_location_and_no_cwd_writes(tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    cache = tmp_path / "cache"
    assert data.status("mnist1d", cache_dir=cache) == "not cached"
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    x1, y1 = data.load("mnist1d", cache_dir=cache, num_samples=500)
    # make_dataset reseeds the global RNGs; initjax restores them
    assert random.getstate() == py_state
    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1])
    assert list(cwd.iterdir()) == []  # nothing written into the working directory
    files = list((cache / "mnist1d").glob("*.npz"))
    assert len(files) == 1 and files[0] == _mnist1d.cache_path({"num_samples": 500}, cache)
    x2, y2 = data.load("mnist1d", cache_dir=cache, num_samples=500)  # from the cache
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)


def test_deterministic_across_caches_and_seed_option(tmp_path):
    a, ya = data.load("mnist1d", cache_dir=tmp_path / "a", num_samples=500, normalize="none")
    b, yb = data.load("mnist1d", cache_dir=tmp_path / "b", num_samples=500, normalize="none")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    assert a.shape == (400, 40)  # train_split 0.8 of 500
    c, _ = data.load("mnist1d", cache_dir=tmp_path / "a", num_samples=500, seed=7, normalize="none")
    assert not np.array_equal(a, c)


def test_corrupt_cache_is_regenerated(tmp_path):
    file = _mnist1d.cache_path({"num_samples": 200}, tmp_path)
    file.parent.mkdir(parents=True)
    file.write_bytes(b"not an npz")
    x, y = data.load("mnist1d", cache_dir=tmp_path, num_samples=200)
    assert x.shape == (160, 40) and y.shape == (160,)
    with np.load(file) as z:
        assert z["x"].shape == (160, 40)


def test_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("INITJAX_CACHE_DIR", str(tmp_path / "env"))
    assert _mnist1d.cache_dir() == tmp_path / "env"
    monkeypatch.delenv("INITJAX_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _mnist1d.cache_dir() == tmp_path / "xdg" / "initjax"


def test_cache_file_mode_follows_the_umask(tmp_path):
    # 0o666 minus the umask, as open(path, "w") gives, not mkstemp's 0o600.
    import os

    old = os.umask(0o002)
    try:
        data.load("mnist1d", cache_dir=tmp_path, num_samples=200)
    finally:
        os.umask(old)
    (f,) = (tmp_path / "mnist1d").glob("*.npz")
    assert f.stat().st_mode & 0o777 == 0o664
