"""TFDS datasets (mnist, fashion_mnist, cifar10) read offline from a prepared data_dir.

Reading goes through ``tfds.data_source`` on ArrayRecord files: random access, no TensorFlow.
Reading never touches the network: GCS lookups are disabled while initjax calls TFDS, and a
dataset that is not prepared raises :class:`DatasetNotPreparedError` at once (measured: ~1 ms
after the first TFDS import, ~30 ms including the dataset module import) with the commands that
prepare it.

Preparing (``prepare`` / ``load(..., download=True)`` / ``initjax data prepare NAME``) runs the
TFDS builder's ``download_and_prepare`` with ``file_format="array_record"``. It downloads the
original files, so it needs internet, and TFDS encodes the images with TensorFlow, so it needs
the ``tf`` extra (``pip install -e '.[tf]'``). Both are checked first, so a machine without them
gets a clear error in seconds instead of TFDS's 10-attempt retry loop.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import socket
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from initjax.data._registry import DatasetInfo

__all__ = [
    "DatasetNotPreparedError",
    "DatasetPrepareError",
    "data_dir",
    "prepare",
    "read",
    "status",
]

FILE_FORMAT = "array_record"  # the TFDS format with random access that needs no TensorFlow
_PROXY_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")
_OFFLINE_HINT = "Offline datasets that always work: mnist1d, gaussian_mixture, teacher."


class DatasetNotPreparedError(FileNotFoundError):
    """A TFDS dataset is not prepared (as ArrayRecord) in the data_dir; the message says how."""


class DatasetPrepareError(RuntimeError):
    """Preparing a TFDS dataset failed (no TensorFlow, no internet, or TFDS raised)."""


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The TFDS data directory: ``path``, else ``$TFDS_DATA_DIR``, else ``~/tensorflow_datasets``.

    This is TFDS's own default order; the path is returned expanded but need not exist.
    """
    if path is None:
        path = os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets"
    return Path(os.fspath(path)).expanduser()


def _tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError as err:  # a core dependency, but say what to do if it is missing
        raise ImportError(
            "initjax.data needs tensorflow-datasets to read mnist/fashion_mnist/cifar10: "
            "pip install 'tensorflow-datasets>=4.9.6' (or reinstall initjax)."
        ) from err
    return tfds


@contextlib.contextmanager
def _no_gcs() -> Iterator[None]:
    """Disable TFDS's GCS lookups (dataset_info, prepared-data mirrors) and its absl warnings.

    tfds 4.9.10 ships with them disabled; older versions probe ``gs://tfds-data`` from builder
    construction, which hangs without internet. Restores the previous setting.
    """
    from tensorflow_datasets.core.utils import gcs_utils

    had = hasattr(gcs_utils, "_is_gcs_disabled")
    old = getattr(gcs_utils, "_is_gcs_disabled", None)
    gcs_utils._is_gcs_disabled = True
    # TFDS logs "Variant folder ... has no dataset_info.json" for every missing dataset; the
    # error initjax raises says it better.
    absl_log = logging.getLogger("absl")
    level = absl_log.level
    absl_log.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        absl_log.setLevel(level)
        if had:
            gcs_utils._is_gcs_disabled = old
        else:
            del gcs_utils._is_gcs_disabled


def _prepare_hint(name: str, root: Path) -> str:
    return (
        f"To prepare it (needs internet once, and TensorFlow to encode the images):\n"
        f"    pip install -e '.[tf]'\n"
        f"    initjax data prepare {name} --data-dir {root}\n"
        f"or call initjax.data.load({name!r}, download=True, data_dir={str(root)!r}), or run "
        f"`tfds build {name} --data_dir {root} --file_format {FILE_FORMAT}`. "
        f"A data_dir prepared elsewhere can be copied here. {_OFFLINE_HINT}"
    )


def status(name: str, path: str | os.PathLike | None = None) -> str:
    """Whether TFDS dataset ``name`` can be read from the data_dir, without network access.

    Returns:
      ``"prepared"`` (ArrayRecord files present), ``"tfrecord"`` (prepared, but in TFRecord
      format, which has no random access) or ``"missing"``.
    """
    tfds = _tfds()
    root = data_dir(path)
    with _no_gcs():
        builder = tfds.builder(name, data_dir=str(root))
        if not builder.is_prepared():
            return "missing"
        formats = {str(getattr(f, "value", f)) for f in builder.info.available_file_formats()}
        formats.add(str(getattr(builder.info.file_format, "value", builder.info.file_format)))
    return "prepared" if FILE_FORMAT in formats else "tfrecord"


def _not_prepared(name: str, split: str, root: Path) -> DatasetNotPreparedError:
    try:
        state = status(name, root)
    except Exception:  # diagnosis must not hide the real message
        state = "missing"
    if state == "tfrecord":
        return DatasetNotPreparedError(
            f"TFDS dataset {name!r} is prepared in {root} as TFRecord files, which "
            f"tfds.data_source cannot read (random access needs {FILE_FORMAT}). Delete "
            f"{root / name} or choose another data_dir, then prepare it again.\n"
            + _prepare_hint(name, root)
        )
    if state == "prepared":  # files exist but reading failed: report as a read failure
        return DatasetNotPreparedError(
            f"TFDS dataset {name!r} (split {split!r}) is prepared in {root} but could not be "
            "read (see the chained error); the files may be incomplete. Prepare it again.\n"
            + _prepare_hint(name, root)
        )
    return DatasetNotPreparedError(
        f"TFDS dataset {name!r} (split {split!r}) is not prepared in data_dir {root} "
        "(set with data_dir=..., --data-dir or $TFDS_DATA_DIR). initjax reads TFDS data offline "
        "and downloads only when asked.\n" + _prepare_hint(name, root)
    )


def read(
    entry: DatasetInfo,
    split: str,
    path: str | os.PathLike | None = None,
    limit: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``limit`` examples (all if None) of a prepared split, in stored order.

    Returns:
      ``(x, y)``: uint8 images ``(n, *entry.input_shape)`` and int32 labels ``(n,)``.

    Raises:
      DatasetNotPreparedError: not prepared as ArrayRecord in the data_dir (fast, no network).
    """
    tfds = _tfds()
    root = data_dir(path)
    with _no_gcs():
        try:
            source = tfds.data_source(
                entry.name,
                split=split,
                data_dir=str(root),
                download=False,
                builder_kwargs={"file_format": FILE_FORMAT},
                try_gcs=False,
            )
            total = len(source)
        except Exception as err:  # TFDS raises KeyError/NotImplementedError/... here
            raise _not_prepared(entry.name, split, root) from err
    count = total if limit is None else min(limit, total)
    x = np.empty((count, *entry.input_shape), np.uint8)
    y = np.empty((count,), np.int32)
    # Item by item: ArrayRecord reads are random access, and TFDS's mocked sources used in tests
    # support neither slicing nor batched __getitems__.
    for i in range(count):
        example = source[i]
        image = np.asarray(example["image"])
        if image.shape != entry.input_shape:
            raise ValueError(
                f"TFDS dataset {entry.name!r}: example {i} has image shape {image.shape}, "
                f"expected {entry.input_shape}"
            )
        x[i] = image
        y[i] = int(example["label"])
    return x, y


def _check_reachable(url: str, timeout: float) -> None:
    """Fail fast when the download host cannot be reached (no proxy configured)."""
    if not url or any(os.environ.get(v) for v in _PROXY_VARS):
        return  # behind a proxy a direct connection says nothing; let TFDS try
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except OSError as err:
        raise DatasetPrepareError(
            f"cannot reach {parts.hostname}:{port} (needed to download {url}) within "
            f"{timeout:g} s: {err}. Preparing a TFDS dataset needs internet; on an offline "
            f"machine copy a prepared data_dir from elsewhere. {_OFFLINE_HINT}"
        ) from err


def prepare(
    entry: DatasetInfo,
    path: str | os.PathLike | None = None,
    *,
    timeout: float = 5.0,
) -> Path:
    """Download and prepare TFDS dataset ``entry`` as ArrayRecord in the data_dir.

    A no-op when it is already prepared. Needs TensorFlow (the ``tf`` extra) and internet.

    Args:
      entry: a registry entry of kind ``"tfds"``.
      path: the data_dir (default: ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``).
      timeout: seconds allowed to open a connection to the download host.

    Returns:
      The data_dir it was prepared in.

    Raises:
      DatasetPrepareError: TensorFlow missing, host unreachable, the data_dir holds a TFRecord
        copy, or TFDS failed (chained).
    """
    tfds = _tfds()
    root = data_dir(path)
    state = status(entry.name, root)
    if state == "prepared":
        return root
    if state == "tfrecord":
        raise DatasetPrepareError(
            f"{root / entry.name} holds a TFRecord copy of {entry.name!r}; delete it or choose "
            f"another data_dir, then prepare again ({FILE_FORMAT} is needed for random access)."
        )
    if importlib.util.find_spec("tensorflow") is None:
        raise DatasetPrepareError(
            f"preparing {entry.name!r} needs TensorFlow (TFDS encodes the images with it; "
            "reading later does not): pip install -e '.[tf]'  (or pip install tensorflow-cpu). "
            + _OFFLINE_HINT
        )
    _check_reachable(entry.source_url, timeout)
    try:
        builder = tfds.builder(entry.name, data_dir=str(root), file_format=FILE_FORMAT)
        builder.download_and_prepare()
    except Exception as err:
        raise DatasetPrepareError(
            f"TFDS could not prepare {entry.name!r} in {root}: {type(err).__name__}: {err}"
        ) from err
    return root
