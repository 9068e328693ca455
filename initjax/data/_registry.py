"""The dataset registry: one entry per dataset name, with the metadata ``initjax data list`` shows.

An entry says where the data comes from (``"tfds"``: read offline from a prepared TFDS data_dir;
``"generated"``: computed on this machine, always available), its per-example input shape, number
of classes, split sizes, the options its generator accepts (with defaults), and the source.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from initjax._registry import Registry

__all__ = ["DatasetInfo", "SPLITS", "info", "names", "register"]

# Every registered dataset offers exactly these splits.
SPLITS: tuple[str, ...] = ("train", "test")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Metadata of one dataset.

    Attributes:
      name: registry name (the TFDS name for ``kind == "tfds"``).
      kind: ``"tfds"`` (prepared TFDS ArrayRecord data, read offline) or ``"generated"``.
      description: one line for listings.
      input_shape: shape of one example's input with the default options, e.g. ``(28, 28, 1)``.
      num_classes: number of label values, labels are ``0 .. num_classes - 1``.
      sizes: examples per split with the default options, e.g. ``{"train": 60000, "test": 10000}``.
      image: True when inputs are uint8 pixels (scaled by 1/255 before standardization).
      tokens: True when inputs are token ids (float32 integers): never normalized.
      options: options the generator accepts and their defaults (empty for TFDS datasets).
      reference: where the data comes from.
      source_url: where ``prepare`` downloads from (TFDS datasets only).
      loader: ``loader(split, **options) -> (x, y)`` for generated datasets (raw values).
    """

    name: str
    kind: str
    description: str
    input_shape: tuple[int, ...]
    num_classes: int
    sizes: Mapping[str, int]
    reference: str
    image: bool = False
    tokens: bool = False
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    source_url: str = ""
    loader: Callable[..., Any] | None = None


_REGISTRY: Registry[DatasetInfo] = Registry(
    "dataset",
    normalize=lambda n: n.strip().lower().replace("-", "_"),
    hint="`initjax data list` shows which are available.",
)


def register(entry: DatasetInfo) -> DatasetInfo:
    """Add ``entry`` to the registry under ``entry.name`` (case-insensitive, "-" = "_").

    Raises:
      TypeError: ``entry`` is not a :class:`DatasetInfo`.
      ValueError: the name is already registered, ``kind`` is not "tfds"/"generated", or a
        generated dataset has no ``loader``.
    """
    if not isinstance(entry, DatasetInfo):
        raise TypeError(f"register takes a DatasetInfo, got {type(entry).__name__}")
    if entry.kind not in ("tfds", "generated"):
        raise ValueError(f"dataset kind must be 'tfds' or 'generated', got {entry.kind!r}")
    if entry.kind == "generated" and entry.loader is None:
        raise ValueError(f"dataset {entry.name!r}: a generated dataset needs a loader")
    _REGISTRY.register(entry.name, entry, kind=entry.kind)
    return entry


def names() -> list[str]:
    """Registered dataset names, sorted."""
    return _REGISTRY.names()


def info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` registered as ``name``.

    Raises:
      TypeError: ``name`` is not a string.
      ValueError: unknown name; the message suggests the closest registered names.
    """
    return _REGISTRY.get(name)
