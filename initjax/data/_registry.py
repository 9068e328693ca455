"""The dataset registry: one entry per dataset name, with the metadata ``initjax data list`` shows.

An entry says where the data comes from (``"tfds"``: read offline from a prepared TFDS data_dir;
``"generated"``: computed on this machine, always available), its per-example input shape, number
of classes, split sizes, the options its generator accepts (with defaults), and the source.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping
from typing import Any

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


_REGISTRY: dict[str, DatasetInfo] = {}


def register(entry: DatasetInfo) -> DatasetInfo:
    """Add ``entry`` to the registry.

    Raises:
      ValueError: the name is already registered or ``kind`` is not "tfds"/"generated".
    """
    if entry.name in _REGISTRY:
        raise ValueError(f"dataset {entry.name!r} is already registered")
    if entry.kind not in ("tfds", "generated"):
        raise ValueError(f"dataset kind must be 'tfds' or 'generated', got {entry.kind!r}")
    _REGISTRY[entry.name] = entry
    return entry


def names() -> list[str]:
    """Registered dataset names, sorted."""
    return sorted(_REGISTRY)


def info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` registered as ``name``.

    Raises:
      TypeError: ``name`` is not a string.
      ValueError: unknown name; the message suggests the closest registered names.
    """
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    if key not in _REGISTRY:
        close = difflib.get_close_matches(key, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise ValueError(
            f"unknown dataset {name!r}.{hint} Known datasets: {', '.join(names())} "
            "(`initjax data list` shows which are available)."
        )
    return _REGISTRY[key]
