"""``load``: one entry point returning normalized numpy arrays for any registered dataset."""

from __future__ import annotations

import numbers
import os
from pathlib import Path
from typing import Any

import numpy as np

from initjax import activations
from initjax.data import _checks, _mnist1d, _tfds
from initjax.data._registry import DatasetInfo, info
from initjax.data.normalize import feature_stats, standardize

__all__ = ["NORMALIZE", "available", "load", "prepare", "status"]

NORMALIZE: tuple[str, ...] = ("standardize", "scale", "none")

# Per-feature train statistics, keyed by (name, location, limit, options), so loading the test
# split after the train split does not read the train split twice.
_STATS: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

_POSITIVE = {
    "n_train",
    "n_test",
    "dim",
    "num_classes",
    "width",
    "num_samples",
    "final_seq_length",
    "n_pairs",
    "n_keys",
    "n_values",
}
_NONNEG_INT = {"depth", "seed", "max_translation"}


def _check_options(entry: DatasetInfo, options: dict[str, Any]) -> dict[str, Any]:
    """Validate dataset options against the entry's defaults (names, types, ranges)."""
    unknown = sorted(set(options) - set(entry.options))
    if unknown:
        allowed = ", ".join(sorted(entry.options)) or "none"
        raise ValueError(
            f"dataset {entry.name!r} does not take option(s) {', '.join(unknown)}; "
            f"allowed options: {allowed}"
        )
    out = dict(entry.options)
    for k, v in options.items():
        d = entry.options[k]
        if isinstance(d, bool):
            ok = isinstance(v, bool)
        elif isinstance(d, int):
            ok = isinstance(v, numbers.Integral) and not isinstance(v, bool)
        elif isinstance(d, float):
            ok = isinstance(v, numbers.Real) and not isinstance(v, bool)
        elif isinstance(d, str):
            ok = isinstance(v, str)
        elif isinstance(d, tuple):
            ok = isinstance(v, tuple | list) and len(v) == len(d)
            ok = ok and all(isinstance(e, numbers.Integral) for e in v)
        else:
            ok = True
        if not ok:
            raise TypeError(
                f"dataset {entry.name!r}: option {k} must be a {type(d).__name__} like its "
                f"default {d!r}, got {v!r}"
            )
        if k in _POSITIVE:
            v = _checks.positive_int(v, k)
        elif k in _NONNEG_INT and v < 0:
            raise ValueError(f"dataset {entry.name!r}: option {k} must be >= 0, got {v}")
        elif isinstance(d, float) and not isinstance(d, bool):
            v = _checks.nonneg_float(v, k)
        if k == "activation":
            activations.get(v)  # unknown name -> ValueError listing the registered ones
        out[k] = tuple(v) if isinstance(d, tuple) else v
    if entry.name == "mnist1d" and not 0.0 < out["train_split"] < 1.0:
        raise ValueError(f"mnist1d option train_split must be in (0, 1), got {out['train_split']}")
    return out


def _raw(
    entry: DatasetInfo,
    split: str,
    data_dir: Any,
    cache_dir: Any,
    limit: int | None,
    options: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray]:
    """Unnormalized arrays: uint8 pixels for images, the generator's float32 otherwise."""
    if entry.kind == "tfds":
        return _tfds.read(entry, split, data_dir, limit)
    x, y = entry.loader(split, cache_dir=cache_dir, **options)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    return x, y


def _scaled(entry: DatasetInfo, x: np.ndarray, normalize: str) -> np.ndarray:
    x = x.astype(np.float32)
    if entry.image and normalize != "none":
        x /= np.float32(255.0)
    return x


def _stats_key(entry, data_dir, cache_dir, limit, options) -> tuple:
    where = (
        str(_tfds.data_dir(data_dir))
        if entry.kind == "tfds"
        else str(_mnist1d.cache_dir(cache_dir))
    )
    return (entry.name, where, limit, tuple(sorted(options.items())))


def load(
    name: str,
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    limit: int | None = None,
    normalize: str = "standardize",
    flatten: bool = False,
    cache_dir: str | os.PathLike | None = None,
    **options: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of a registered dataset as numpy arrays.

    Datasets (``initjax.data.names()``): ``mnist``, ``fashion_mnist``, ``cifar10`` (TFDS,
    read offline from a prepared ArrayRecord data_dir), ``mnist1d``, ``gaussian_mixture``,
    ``teacher`` (generated here, always available; options below).

    Normalization (``normalize``):
      * ``"standardize"`` (default): images are scaled to [0, 1] (pixel / 255), then every
        input feature (pixel-channel, or coordinate) is shifted and scaled by the mean and
        population std of that feature over the *train* split, the same statistics for
        ``split="train"`` and ``"test"``. When ``limit`` is given the statistics come from the
        first ``limit`` train examples, so ``load(.., "train", limit=n)`` has exactly zero mean
        and unit std per non-constant feature and the test split uses the same map. Features
        that are constant on the train split (std < 1e-6, e.g. MNIST's border) are only centred.
      * ``"scale"``: images pixel / 255 in [0, 1]; generated data unchanged.
      * ``"none"``: raw values as float32 (pixels 0 .. 255).
      Token datasets (``info(name).tokens``, e.g. ``associative_recall``) hold token ids and are
      returned unchanged whatever ``normalize`` says.

    Args:
      name: dataset name (see above).
      split: ``"train"`` or ``"test"``.
      data_dir: TFDS data directory (default ``$TFDS_DATA_DIR``, else ``~/tensorflow_datasets``).
      download: TFDS datasets only: prepare the dataset first if it is missing (needs internet
        and TensorFlow, ``pip install -e '.[tf]'``). False (default): never touches the network.
      limit: at most this many examples (the first ones, in stored order).
      normalize: ``"standardize"`` | ``"scale"`` | ``"none"``, see above.
      flatten: reshape x to ``(n, prod(input_shape))``.
      cache_dir: where ``mnist1d`` is cached (default ``$INITJAX_CACHE_DIR``, else
        ``$XDG_CACHE_HOME/initjax``, else ``~/.cache/initjax``).
      **options: generator options of generated datasets, e.g.
        ``gaussian_mixture``: n_train=4000, n_test=1000, dim=32, num_classes=10,
        separation=3.0, seed=0; ``teacher``: n_train, n_test, dim=32, num_classes=10, width=64,
        depth=2, activation="tanh", sigma_w2=1.0, sigma_b2=0.0, seed=0; ``mnist1d``: any
        ``mnist1d.get_dataset_args()`` field except url (seed=42, num_samples=5000, ...).

    Returns:
      ``(x, y)``: x float32 ``(n, *input_shape)`` (``(n, 28, 28, 1)`` for mnist, ``(n, 32, 32,
      3)`` for cifar10, ``(n, 40)`` for mnist1d, ``(n, dim)`` for the synthetic sets), y int32
      ``(n,)`` with values in ``0 .. num_classes - 1``.

    Raises:
      ValueError: unknown dataset (closest names suggested), split, normalize value or option;
        non-positive ``limit``.
      TypeError: wrongly typed arguments or options.
      DatasetNotPreparedError: a TFDS dataset is not prepared in data_dir (raised at once, no
        network access); the message gives the commands that prepare it.
      DatasetPrepareError: ``download=True`` but TensorFlow or internet is missing.
    """
    entry = info(name)
    split = _checks.split(split)
    if limit is not None:
        limit = _checks.positive_int(limit, "limit")
    if normalize not in NORMALIZE:
        raise ValueError(
            f"normalize must be one of {', '.join(map(repr, NORMALIZE))}, got {normalize!r}"
        )
    if not isinstance(download, bool):
        raise TypeError(f"download must be True or False, got {download!r}")
    if not isinstance(flatten, bool):
        raise TypeError(f"flatten must be True or False, got {flatten!r}")
    if entry.kind == "tfds":
        if options:
            raise ValueError(
                f"dataset {entry.name!r} does not take option(s) {', '.join(sorted(options))}; "
                "TFDS datasets take no options"
            )
        if download:
            _tfds.prepare(entry, data_dir)
    else:
        if download:
            raise ValueError(
                f"download=True applies to TFDS datasets only; {entry.name!r} is generated locally"
            )
        options = _check_options(entry, options)

    x_raw, y = _raw(entry, split, data_dir, cache_dir, limit, options)
    x = _scaled(entry, x_raw, normalize)
    if normalize == "standardize" and not entry.tokens:
        key = _stats_key(entry, data_dir, cache_dir, limit, options)
        if split == "train":
            _STATS[key] = feature_stats(x)
        elif key not in _STATS:
            train_raw, _ = _raw(entry, "train", data_dir, cache_dir, limit, options)
            _STATS[key] = feature_stats(_scaled(entry, train_raw, normalize))
        x = standardize(x, *_STATS[key])
    if flatten:
        x = x.reshape(x.shape[0], -1)
    return x, np.asarray(y, np.int32)


def status(
    name: str,
    *,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> str:
    """Availability of ``name`` on this machine, without network access.

    Returns:
      TFDS datasets: ``"prepared"``, ``"missing"`` or ``"tfrecord"`` (prepared in a format
      without random access). ``mnist1d``: ``"cached"`` or ``"not cached"`` (generated on first
      use, ~1 s). Other generated datasets: ``"generated"``.
    """
    entry = info(name)
    if entry.kind == "tfds":
        return _tfds.status(entry.name, data_dir)
    if entry.name == "mnist1d":
        return "cached" if _mnist1d.cache_path({}, cache_dir).exists() else "not cached"
    return "generated"


def available(
    name: str,
    *,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> bool:
    """True when ``load(name)`` works offline here: TFDS data prepared, or a generated set."""
    return status(name, data_dir=data_dir, cache_dir=cache_dir) not in ("missing", "tfrecord")


def prepare(
    name: str,
    *,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Path | None:
    """Make ``name`` available offline.

    TFDS datasets: download and prepare as ArrayRecord in data_dir (needs internet and the
    ``tf`` extra; no-op if prepared). ``mnist1d``: generate its default arguments into the cache.
    ``gaussian_mixture`` / ``teacher``: nothing to do (generated on every load).

    Returns:
      The data_dir (TFDS), the cache file (mnist1d), or None.

    Raises:
      DatasetPrepareError: TFDS preparation failed (no TensorFlow, no internet, ...).
    """
    entry = info(name)
    if entry.kind == "tfds":
        return _tfds.prepare(entry, data_dir)
    if entry.name == "mnist1d":
        _mnist1d.load_split("train", {}, cache_dir)
        return _mnist1d.cache_path({}, cache_dir)
    return None
