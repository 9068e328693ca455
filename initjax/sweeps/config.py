"""Finding, loading and configuring experiments (``experiments/<name>.py``).

Where experiments are found, in order (the first file of a name wins):

1. the folders in ``$INITJAX_EXPERIMENTS`` (separated by ``os.pathsep``), for users' own files;
2. the experiments shipped with the package: ``initjax/experiments/`` in an installed wheel, or
   the repository's top-level ``experiments/`` folder in a source checkout (its source of truth).

A ``.py`` path given instead of a name is loaded directly.

:func:`list_experiments` and :func:`describe` read ``DESCRIPTION`` from the file's syntax tree
(``ast``) without importing it, so listing is fast and an experiment file may import heavy
libraries at its top like any Python module. The protocol an experiment module follows is
described in :mod:`initjax.sweeps.runtime`.

Overrides are ``key=value`` strings (``--set seeds=64 --set widths=[256,1024]``); values are
Python literals, falling back to a plain string. A key is a dotted path from the config's root
(``analysis.z_max``) or an unambiguous leaf name (``seeds`` -> ``compute.seeds``).
``preset=NAME`` is applied first (a preset's keys resolve the same way), then the other overrides
in order. Unknown or ambiguous keys, unknown presets and ill-typed values raise ``ValueError``
naming the key.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import math
import numbers
import os
import sys
import types
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import ml_collections

__all__ = [
    "PROTOCOL",
    "Experiment",
    "config_floats",
    "config_ints",
    "config_pair",
    "describe",
    "experiment_config",
    "experiment_dirs",
    "experiments_dir",
    "list_experiments",
    "load_experiment",
    "parse_override",
    "resolve_config",
    "resolve_key",
]


def experiments_dir() -> Path:
    """The folder of the experiments shipped with initjax.

    ``initjax/experiments`` inside an installed package (the wheel maps the repository's
    ``experiments/`` there), else ``<repository>/experiments`` for a source checkout.
    """
    here = Path(__file__).resolve().parents[1]  # .../initjax
    packaged = here / "experiments"
    if packaged.is_dir():
        return packaged
    return here.parent / "experiments"


def experiment_dirs() -> list[Path]:
    """Folders searched for experiments: ``$INITJAX_EXPERIMENTS`` entries, then the shipped ones."""
    env = os.environ.get("INITJAX_EXPERIMENTS", "")
    user = [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]
    return [*user, experiments_dir()]


def _static_strings(path: Path) -> dict[str, str]:
    """Top-level ``NAME = "string literal"`` assignments and the docstring, without importing."""
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return {}
    out: dict[str, str] = {}
    doc = ast.get_docstring(tree)
    if doc:
        out["__doc__"] = doc
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                for t in targets:
                    if isinstance(t, ast.Name):
                        out[t.id] = value.value
    return out


def describe(path: str | os.PathLike) -> str:
    """One-line description of an experiment file (``DESCRIPTION``, else the docstring's first
    line), read without importing it."""
    s = _static_strings(Path(path))
    text = s.get("DESCRIPTION") or s.get("__doc__") or ""
    return text.strip().splitlines()[0] if text.strip() else ""


def _cli_name(stem: str) -> str:
    return stem.strip().replace("_", "-")


def list_experiments(folder: Path | None = None) -> dict[str, Path]:
    """Experiment name (dashes, as typed on the command line) -> file, without importing any.

    Args:
      folder: search only this folder (default: :func:`experiment_dirs`).
    """
    folders = [folder] if folder is not None else experiment_dirs()
    found: dict[str, Path] = {}
    for d in folders:
        if not d.is_dir():
            continue
        for p in sorted(d.glob("*.py")):
            if not p.name.startswith("_"):
                found.setdefault(_cli_name(p.stem), p)
    return found


PROTOCOL = ("get_config", "pieces", "evaluate", "report")  # the functions of an experiment


class Experiment:
    """A loaded experiment module.

    Attributes:
      name: command-line name (``depth-sweep``).
      module: the imported module.
      path: its file.

    Raises:
      ValueError: the module lacks a function of the protocol (:mod:`initjax.sweeps.runtime`):
        ``get_config``, ``pieces``, ``evaluate`` or ``report``; the message names the missing
        ones.
    """

    def __init__(self, name: str, module: types.ModuleType, path: Path):
        self.name = name
        self.module = module
        self.path = path
        missing = [f for f in PROTOCOL if not callable(getattr(module, f, None))]
        if missing:
            raise ValueError(
                f"experiment {name!r} ({path}) does not follow the experiment protocol: it lacks "
                f"{', '.join(f + '()' for f in missing)}. An experiment defines get_config() "
                "(with compute, analysis and preset), pieces(compute), evaluate(table, config) "
                "and report(table, config, ctx); see `python -m pydoc initjax.sweeps.runtime`"
            )

    @property
    def description(self) -> str:
        doc = getattr(self.module, "DESCRIPTION", None) or (self.module.__doc__ or "")
        return doc.strip().splitlines()[0] if doc.strip() else ""

    @property
    def title(self) -> str:
        return str(getattr(self.module, "TITLE", "") or self.description)

    @property
    def paper(self) -> str:
        return str(getattr(self.module, "PAPER", "") or "")

    @property
    def presets(self) -> dict[str, dict[str, Any]]:
        return dict(getattr(self.module, "PRESETS", {}))

    def get_config(self) -> ml_collections.ConfigDict:
        config = self.module.get_config()
        missing = [k for k in ("compute", "analysis", "preset") if k not in config]
        if missing:
            raise ValueError(
                f"experiment {self.name}: get_config() must have top-level compute, "
                f"analysis and preset entries; missing {missing}"
            )
        return config


def load_experiment(name_or_path: str) -> Experiment:
    """Load an experiment by name (``depth-sweep`` or ``depth_sweep``) or by a ``.py`` path.

    Raises:
      ValueError: unknown name (the message suggests the closest names and lists the known ones)
        or a ``.py`` path that does not exist.
    """
    path = Path(name_or_path)
    if path.suffix == ".py":
        if not path.is_file():
            raise ValueError(f"experiment file {name_or_path!r} does not exist")
        name = _cli_name(path.stem)
    else:
        known = list_experiments()
        name = _cli_name(name_or_path)
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.4)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            where = ", ".join(str(d) for d in experiment_dirs())
            listing = ", ".join(known) or f"none found in {where}"
            raise ValueError(f"unknown experiment {name_or_path!r}.{hint} Available: {listing}.")
        path = known[name]
    mod_name = f"initjax_experiment_{path.stem}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot load experiment file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(mod_name, None)
        raise
    return Experiment(name, module, path)


# --- building and checking an experiment's config ----------------------------------------------


def experiment_config() -> ml_collections.ConfigDict:
    """An empty experiment config at preset ``"default"``; ``get_config()`` adds ``compute``
    and ``analysis`` (the protocol of :mod:`initjax.sweeps.runtime`)."""
    c = ml_collections.ConfigDict()
    c.preset = "default"
    return c


def config_ints(values: Any, key: str, *, minimum: int = 1, what: str = "") -> list[int]:
    """``values`` as a non-empty list of integers >= ``minimum``.

    Raises:
      ValueError: naming ``key``, when the list is empty or a value is not an integer (a float
        with a fraction, a string) or is below ``minimum``; ``what`` is added to the message.
    """
    vals = (
        [] if isinstance(values, str | bytes) or not hasattr(values, "__iter__") else list(values)
    )
    ok = bool(vals) and all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and float(v).is_integer()
        for v in vals
    )
    if not ok or any(int(v) < minimum for v in vals):
        extra = f" ({what})" if what else ""
        raise ValueError(
            f"config key {key!r}: a non-empty list of integers >= {minimum}{extra}, got {values!r}"
        )
    return [int(v) for v in vals]


def config_pair(values: Any, key: str, what: str = "widths") -> tuple[int, int]:
    """Two different integers >= 1 (e.g. the two widths of a finite-width fit), in config order.

    Raises:
      ValueError: naming ``key``, unless ``values`` are exactly two different positive integers.
    """
    vals = config_ints(values, key, what=f"two different {what}")
    if len(vals) != 2 or vals[0] == vals[1]:
        raise ValueError(f"config key {key!r}: two different {what}, got {list(values)!r}")
    return vals[0], vals[1]


def config_floats(
    values: Any,
    key: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> list[float]:
    """``values`` (one number or a non-empty list of numbers) as floats within the bounds.

    A value must be a finite real number (not a bool or a string) with ``low <= v`` (``low < v``
    when ``low_open``) and ``v <= high`` (``v < high`` when ``high_open``); None: no bound.

    Raises:
      ValueError: naming ``key`` and the allowed interval, when the list is empty or a value is
        not allowed.
    """
    one = isinstance(values, numbers.Real) and not isinstance(values, bool)
    ok_list = isinstance(values, Iterable) and not isinstance(values, str | bytes)
    vals = [values] if one else (list(values) if ok_list else [])

    def inside(v: Any) -> bool:
        if not isinstance(v, numbers.Real) or isinstance(v, bool) or not math.isfinite(v):
            return False
        above = low is None or (v > low if low_open else v >= low)
        return above and (high is None or (v < high if high_open else v <= high))

    if not vals or not all(inside(v) for v in vals):
        lo = "(-inf" if low is None else f"{'(' if low_open else '['}{low:g}"
        hi = "inf)" if high is None else f"{high:g}{')' if high_open else ']'}"
        raise ValueError(f"config key {key!r}: numbers in {lo}, {hi}, got {values!r}")
    return [float(v) for v in vals]


# --- overrides ---------------------------------------------------------------------------------


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


def _is_dict(node: Any) -> bool:
    return isinstance(node, ml_collections.ConfigDict | dict)


def _leaves(node: Any, prefix: str = "") -> list[str]:
    """Dotted paths of every leaf under ``node`` (dicts are descended, lists are leaves)."""
    out = []
    for k in node.keys():
        path = f"{prefix}.{k}" if prefix else str(k)
        v = node[k]
        if _is_dict(v) and len(v):
            out.extend(_leaves(v, path))
        else:
            out.append(path)
    return out


def resolve_key(config: ml_collections.ConfigDict, key: str) -> str:
    """The full dotted path of ``key``: itself if it exists, else the one leaf ending in it.

    Raises:
      ValueError: no such key (closest names suggested) or a leaf name found at several paths.
    """
    leaves = _leaves(config)
    node = config
    parts = key.split(".")
    exists = True
    for part in parts:
        if _is_dict(node) and part in node.keys():
            node = node[part]
        else:
            exists = False
            break
    if exists:
        return key
    matches = [p for p in leaves if p == key or p.endswith("." + key)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise ValueError(
            f"config key {key!r} is ambiguous: it names {', '.join(matches)}; use the full path"
        )
    names = sorted({p.split(".")[-1] for p in leaves} | set(leaves))
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ValueError(
        f"config key {key!r} does not exist.{hint} Known keys: {', '.join(sorted(leaves))}."
    )


def _set(config: ml_collections.ConfigDict, key: str, value: Any) -> None:
    path = resolve_key(config, key)
    parts = path.split(".")
    node = config
    for part in parts[:-1]:
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
    if _is_dict(old) and not isinstance(value, dict):
        raise ValueError(f"config key {key!r} is a group of keys ({', '.join(old.keys())})")
    try:
        with node.unlocked() if hasattr(node, "unlocked") else _nullcontext():
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
      ValueError: unknown or ambiguous key (names it and suggests the closest), unknown preset
        (lists the available ones), or a value of the wrong type.
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
