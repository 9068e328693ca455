"""Experiment configs: ``experiments/<name>.py`` modules exposing ``get_config()``.

Convention (as in Flax's examples): ``get_config()`` returns an ``ml_collections.ConfigDict``.
A module may also define ``DESCRIPTION`` (one line for ``initjax run --list``), ``PRESETS``
(name -> dict of overrides, e.g. ``"full"`` for an accelerator, ``"tiny"`` for tests) and
``analyze(run_dir, table, config)`` (figures + summary.md from a finished run).

Overrides use ``key=value`` strings (``--set seeds=64 --set widths=[256,1024]``); values are parsed
as Python literals, falling back to a plain string. ``preset=NAME`` is applied first, then the other
overrides in order. Unknown keys and ill-typed values raise ``ValueError`` naming the key.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import os
import types
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import ml_collections

__all__ = [
    "Experiment",
    "experiments_dir",
    "list_experiments",
    "load_experiment",
    "parse_override",
    "resolve_config",
]


def experiments_dir() -> Path:
    """Folder holding experiment configs: ``$INITJAX_EXPERIMENTS`` or ``<repo>/experiments``."""
    env = os.environ.get("INITJAX_EXPERIMENTS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "experiments"


class Experiment:
    """A loaded experiment module: name, description, config factory, presets, analysis hook."""

    def __init__(self, name: str, module: types.ModuleType, path: Path):
        self.name = name
        self.module = module
        self.path = path
        if not callable(getattr(module, "get_config", None)):
            raise ValueError(f"experiment {name!r} ({path}) does not define get_config()")

    @property
    def description(self) -> str:
        doc = getattr(self.module, "DESCRIPTION", None) or (self.module.__doc__ or "")
        return doc.strip().splitlines()[0] if doc.strip() else ""

    @property
    def presets(self) -> dict[str, dict[str, Any]]:
        return dict(getattr(self.module, "PRESETS", {}))

    def get_config(self) -> ml_collections.ConfigDict:
        return self.module.get_config()

    def analyze(self, run_dir: Path, table, config) -> None:
        fn = getattr(self.module, "analyze", None)
        if fn is not None:
            fn(Path(run_dir), table, config)


def _canonical(name: str) -> str:
    return name.strip().replace("-", "_")


def list_experiments(folder: Path | None = None) -> dict[str, Path]:
    """Map of experiment name (dashes, as typed on the command line) -> file path."""
    folder = folder or experiments_dir()
    if not folder.is_dir():
        return {}
    return {
        p.stem.replace("_", "-"): p
        for p in sorted(folder.glob("*.py"))
        if not p.name.startswith("_")
    }


def load_experiment(name_or_path: str, folder: Path | None = None) -> Experiment:
    """Load an experiment by name (``depth-sweep`` or ``depth_sweep``) or by a ``.py`` path.

    Raises:
      ValueError: unknown name; the message suggests the closest experiment names.
    """
    path = Path(name_or_path)
    if path.suffix == ".py" and path.is_file():
        name = path.stem.replace("_", "-")
    else:
        known = list_experiments(folder)
        name = _canonical(name_or_path).replace("_", "-")
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.4)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            listing = ", ".join(known) or f"none found in {folder or experiments_dir()}"
            raise ValueError(f"unknown experiment {name_or_path!r}.{hint} Available: {listing}.")
        path = known[name]
    spec = importlib.util.spec_from_file_location(f"initjax_experiment_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Experiment(name, module, path)


def parse_override(item: str) -> tuple[str, Any]:
    """``"key=value"`` -> (key, literal value). Raises ValueError without ``=``."""
    if "=" not in item:
        raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key:
        raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError):
        value = raw.strip()
    return key, value


def _set(config: ml_collections.ConfigDict, key: str, value: Any) -> None:
    parts = key.split(".")
    node = config
    for i, part in enumerate(parts):
        keys = list(node.keys()) if hasattr(node, "keys") else []
        if part not in keys:
            close = difflib.get_close_matches(part, keys, n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ValueError(
                f"config key {key!r} does not exist.{hint} Known keys: {', '.join(sorted(keys))}."
            )
        if i < len(parts) - 1:
            node = node[part]
    old = node[parts[-1]]
    if isinstance(old, bool) and not isinstance(value, bool):
        raise ValueError(f"config key {key!r} expects true/false (True/False), got {value!r}")
    if isinstance(old, int | float) and not isinstance(old, bool):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"config key {key!r} expects a number, got {value!r}")
        value = type(old)(value) if isinstance(old, float) or float(value).is_integer() else value
    if isinstance(old, list | tuple) and isinstance(value, int | float | str):
        value = [value]  # --set widths=512 means widths=[512]
    if isinstance(old, str) and not isinstance(value, str):
        value = str(value)
    with node.unlocked() if hasattr(node, "unlocked") else _nullcontext():
        try:
            node[parts[-1]] = value
        except TypeError as err:
            raise ValueError(f"config key {key!r}: {err}") from None


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def resolve_config(
    experiment: Experiment, overrides: Iterable[str] | Sequence[tuple[str, Any]] = ()
) -> ml_collections.ConfigDict:
    """The experiment's config with ``preset`` and then the other overrides applied.

    Raises:
      ValueError: unknown key (names it and suggests the closest), unknown preset (lists the
        available ones), or a value of the wrong type.
    """
    config = experiment.get_config()
    pairs = [parse_override(o) if isinstance(o, str) else tuple(o) for o in overrides]
    presets = experiment.presets
    for key, value in pairs:
        if key == "preset":
            if value != "default" and value not in presets:
                avail = ", ".join(["default", *presets])
                raise ValueError(f"unknown preset {value!r} for {experiment.name}; use {avail}")
            if value != "default":
                for k, v in presets[value].items():
                    _set(config, k, v)
            if "preset" in config:
                _set(config, "preset", value)
    for key, value in pairs:
        if key != "preset":
            _set(config, key, value)
    return config
