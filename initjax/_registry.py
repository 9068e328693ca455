"""One generic registry: names, aliases, metadata and close-name errors for every kind of entry.

Activations, initializers, datasets, closed-form kernels, models and metrics each keep one
:class:`Registry` and expose a ``register`` of their own (with the metadata that kind needs) on
top of it. A registry maps a canonical name (and its aliases) to an object plus a read-only
metadata dict::

    models = Registry("model")
    models.register("mlp", MLP, width_field="width")      # or @models.register("mlp", ...)
    models.get("MLP")                                      # -> MLP (names are normalized)
    models.metadata("mlp")["width_field"]                  # -> "width"
    models.get("mpl")   # ValueError: unknown model 'mpl'. Did you mean 'mlp'? Registered ...

Plugins: entries registered by code outside initjax are loaded from the entry-point group
``initjax.plugins`` of installed packages and from the modules named in ``$INITJAX_PLUGINS``
(comma-separated module names or .py paths), once per process, the first time any registry is
listed or asked for a name it does not know (:func:`autoload`); ``initjax --plugin MODULE``
loads one explicitly (:mod:`initjax.plugins`).

Pure Python: no jax, no Flax.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import hashlib
import importlib
import importlib.util
import sys
import types
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

__all__ = [
    "ENTRY_POINT_GROUP",
    "ENV_VAR",
    "Record",
    "Registry",
    "autoload",
    "import_module",
    "isolated",
    "import_object",
    "load_plugin",
    "loaded_plugins",
]

ENTRY_POINT_GROUP = "initjax.plugins"
ENV_VAR = "INITJAX_PLUGINS"

T = TypeVar("T")
_ALL: list[Registry] = []  # every registry, for isolated()

_MISSING: Any = object()


def _default_normalize(name: str) -> str:
    return name.strip()


@dataclasses.dataclass(frozen=True)
class Record(Generic[T]):
    """One registered entry.

    Attributes:
      name: canonical name.
      obj: the registered object (a builder, a class, a dataclass of functions, ...).
      aliases: other names resolving to this entry.
      metadata: read-only mapping given at registration (``**metadata`` of ``register``).
    """

    name: str
    obj: T
    aliases: tuple[str, ...]
    metadata: Mapping[str, Any]


class Registry(Generic[T]):
    """Named entries of one kind, e.g. ``Registry("initializer")``.

    Args:
      kind: what an entry is, singular ("initializer", "model", ...); used in error messages.
      normalize: maps a user-given name to the key it is looked up under (default: strip
        surrounding whitespace). Registered names and aliases are normalized the same way.
      sort: ``names()`` sorted alphabetically (True) or in registration order (False).
      hint: appended to the unknown-name error, e.g. "`initjax list` prints them."
    """

    def __init__(
        self,
        kind: str,
        *,
        normalize: Callable[[str], str] | None = None,
        sort: bool = True,
        hint: str = "",
    ):
        self.kind = kind
        self._normalize = normalize or _default_normalize
        self._sort = sort
        self._hint = hint
        self._records: dict[str, Record[T]] = {}
        self._aliases: dict[str, str] = {}
        _ALL.append(self)

    # -- registration ---------------------------------------------------------------------------
    def register(
        self,
        name: str,
        obj: T = _MISSING,
        *,
        aliases: tuple[str, ...] | list[str] = (),
        replace: bool = False,
        **metadata: Any,
    ) -> Any:
        """Add ``obj`` under ``name`` (and ``aliases``) with ``metadata``; returns ``obj``.

        Without ``obj`` it is a decorator: ``@registry.register("name", key=value)``.
        Registering the very same object again under the same name is a no-op (a module
        imported twice); ``replace=True`` replaces an existing entry of that name.

        Raises:
          TypeError: ``name`` or an alias is not a non-empty string.
          ValueError: the name or an alias is already taken by another entry.
        """
        if obj is _MISSING:

            def deco(o: T) -> T:
                self.register(name, o, aliases=aliases, replace=replace, **metadata)
                return o

            return deco
        key = self._key(name, what="name")
        alias_keys = tuple(self._key(a, what="alias") for a in aliases)
        old = self._records.get(key)
        if old is not None and old.obj is obj and not replace:
            return obj
        if replace and old is not None:
            self.unregister(key)
        for n in (key, *alias_keys):
            if n in self._records or n in self._aliases:
                raise ValueError(
                    f"{self.kind} {n!r} is already registered; pick another name "
                    "(or pass replace=True to replace it)"
                )
        if len(set(alias_keys) | {key}) != len(alias_keys) + 1:
            raise ValueError(f"{self.kind} {name!r}: aliases repeat a name: {list(aliases)}")
        self._records[key] = Record(key, obj, alias_keys, types.MappingProxyType(dict(metadata)))
        for a in alias_keys:
            self._aliases[a] = key
        return obj

    def unregister(self, name: str) -> None:
        """Remove an entry (by canonical name or alias) and its aliases.

        Raises:
          ValueError: unknown name.
        """
        key = self.canonical(name)
        rec = self._records.pop(key)
        for a in rec.aliases:
            self._aliases.pop(a, None)

    # -- lookup ---------------------------------------------------------------------------------
    def canonical(self, name: str) -> str:
        """The canonical name of ``name`` (a canonical name or an alias, any accepted spelling).

        Raises:
          TypeError: ``name`` is not a string.
          ValueError: unknown name; the message suggests the closest names and lists the
            registered ones.
        """
        if not isinstance(name, str):
            raise TypeError(f"{self.kind} name must be a string, got {type(name).__name__}")
        key = self._normalize(name)
        key = self._aliases.get(key, key)
        if key not in self._records and autoload():  # an installed plugin may register it
            key = self._aliases.get(self._normalize(name), self._normalize(name))
        if key not in self._records:
            raise ValueError(self.unknown_message(name))
        return key

    def unknown_message(self, name: str) -> str:
        """The error text for an unknown ``name``: closest names, then every registered name."""
        key = self._normalize(name) if isinstance(name, str) else str(name)
        pool = list(self._records) + list(self._aliases)
        close = difflib.get_close_matches(key, pool, n=3, cutoff=0.5)
        msg = f"unknown {self.kind} {name!r}."
        if close:
            msg += f" Did you mean {', '.join(map(repr, close))}?"
        listed = ", ".join(self.names()) or "none"
        msg += f" Registered {self.kind}s: {listed}."
        if self._hint:
            msg += f" {self._hint}"
        return msg

    def record(self, name: str) -> Record[T]:
        """The :class:`Record` of ``name`` (canonical or alias). Raises as :meth:`canonical`."""
        return self._records[self.canonical(name)]

    def get(self, name: str) -> T:
        """The object registered as ``name`` (canonical or alias). Raises as :meth:`canonical`."""
        return self.record(name).obj

    def metadata(self, name: str) -> Mapping[str, Any]:
        """The read-only metadata of ``name``. Raises as :meth:`canonical`."""
        return self.record(name).metadata

    def names(self, *, load_plugins: bool = True) -> list[str]:
        """Canonical names: sorted, or in registration order (``sort=False``); installed plugins
        are loaded first (:func:`autoload`) unless ``load_plugins=False`` (registration code
        running at import time must not trigger it)."""
        if load_plugins:
            autoload()
        return sorted(self._records) if self._sort else list(self._records)

    def aliases(self) -> dict[str, str]:
        """Mapping alias -> canonical name."""
        return dict(self._aliases)

    def records(self, *, load_plugins: bool = True) -> list[Record[T]]:
        """Every record, in :meth:`names` order."""
        return [self._records[n] for n in self.names(load_plugins=load_plugins)]

    def find(self, obj: Any) -> str | None:
        """The canonical name under which ``obj`` itself is registered, or None."""
        for rec in self._records.values():
            if rec.obj is obj:
                return rec.name
        return None

    # -- container protocol ---------------------------------------------------------------------
    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = self._normalize(name)
        if key not in self._records and key not in self._aliases:
            autoload()
        return key in self._records or key in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._records)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} entries)"

    # -- helpers --------------------------------------------------------------------------------
    def _key(self, name: Any, *, what: str) -> str:
        if not isinstance(name, str) or not name.strip():
            raise TypeError(f"{self.kind} {what} must be a non-empty string, got {name!r}")
        return self._normalize(name)


# -- importing user code by name ------------------------------------------------------------------
def _is_path(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or "\\" in spec


def import_module(spec: str) -> types.ModuleType:
    """Import a module given as a dotted name (``"mypkg.inits"``) or a ``.py`` file path.

    A file is imported once per absolute path (a second call returns the same module object),
    under the module name ``initjax_user_<stem>_<hash of the path>``.

    Raises:
      ValueError: the module cannot be found, or importing it raised (the message names the
        module and the original error, which is chained).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise TypeError(f"module must be a non-empty string, got {spec!r}")
    spec = spec.strip()
    if not _is_path(spec):
        try:
            return importlib.import_module(spec)
        except ModuleNotFoundError as err:
            raise ValueError(
                f"cannot import {spec!r}: {err} (is it installed, or on PYTHONPATH? a file "
                "path must end in .py)"
            ) from err
        except Exception as err:
            raise ValueError(f"cannot import {spec!r}: {type(err).__name__}: {err}") from err
    path = Path(spec).expanduser().resolve()
    if not path.is_file() or path.suffix != ".py":
        raise ValueError(f"cannot import {spec!r}: no such .py file")
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    mod_name = f"initjax_user_{path.stem}_{digest}"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    loader_spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[mod_name] = module
    try:
        loader_spec.loader.exec_module(module)
    except Exception as err:
        sys.modules.pop(mod_name, None)
        raise ValueError(f"cannot import {spec!r}: {type(err).__name__}: {err}") from err
    return module


def import_object(spec: str) -> Any:
    """The object named by ``"package.module:attribute"`` or ``"path/to/file.py:attribute"``.

    ``attribute`` may be dotted (``"mod:Class.method"``).

    Raises:
      ValueError: no ``:`` in ``spec``, the module cannot be imported, or it has no such
        attribute (the message lists the module's public names).
    """
    if not isinstance(spec, str) or ":" not in spec:
        raise ValueError(
            f"expected 'package.module:attribute' or 'path/to/file.py:attribute', got {spec!r}"
        )
    mod_spec, _, attr = spec.strip().rpartition(":")
    if not mod_spec or not attr:
        raise ValueError(
            f"expected 'package.module:attribute' or 'path/to/file.py:attribute', got {spec!r}"
        )
    obj: Any = import_module(mod_spec)
    module = obj
    for part in attr.split("."):
        if not hasattr(obj, part):
            public = sorted(n for n in dir(module) if not n.startswith("_"))
            raise ValueError(
                f"{spec!r}: module {mod_spec!r} has no attribute {attr!r}; it defines: "
                f"{', '.join(public) or 'nothing public'}"
            )
        obj = getattr(obj, part)
    return obj


# -- plugins ---------------------------------------------------------------------------------------
_LOADED: dict[str, str] = {}  # plugin spec -> where it came from ("entry point", "env", ...)
_LOADED_MODULES: dict[str, str] = {}  # plugin spec -> the module it imported
_AUTOLOAD_STARTED = False


@contextlib.contextmanager
def isolated() -> Iterator[None]:
    """Restore every registry, the plugin bookkeeping and the plugin modules on exit.

    For tests and notebooks that register throwaway entries or load plugins: inside the block
    anything goes; afterwards the registries hold exactly what they held before, and plugin
    modules imported inside are forgotten (so loading them again registers again).
    """
    global _AUTOLOAD_STARTED
    saved = [(r, dict(r._records), dict(r._aliases)) for r in _ALL]
    loaded, modules, started = dict(_LOADED), dict(_LOADED_MODULES), _AUTOLOAD_STARTED
    try:
        yield
    finally:
        for r, records, aliases in saved:
            r._records.clear()
            r._records.update(records)
            r._aliases.clear()
            r._aliases.update(aliases)
        for spec, mod in _LOADED_MODULES.items():
            if spec not in modules:
                sys.modules.pop(mod, None)
        _LOADED.clear()
        _LOADED.update(loaded)
        _LOADED_MODULES.clear()
        _LOADED_MODULES.update(modules)
        _AUTOLOAD_STARTED = started


def load_plugin(spec: str, *, source: str = "explicit") -> types.ModuleType | Any:
    """Import one plugin: a module name, a ``.py`` path, or ``"module:function"`` (the function
    is called with no arguments, e.g. a ``register_all()``). Importing registers its entries.

    Raises:
      ValueError: the plugin cannot be imported or its function raised (names the plugin).
    """
    if ":" in spec and not spec.rstrip().endswith(".py"):
        fn = import_object(spec)
        if callable(fn):
            try:
                fn()
            except Exception as err:
                raise ValueError(f"plugin {spec!r}: {type(err).__name__}: {err}") from err
        out = fn
        module = spec.rpartition(":")[0].strip()
        module = import_module(module).__name__
    else:
        out = import_module(spec)
        module = out.__name__
    _LOADED.setdefault(spec, source)
    _LOADED_MODULES.setdefault(spec, module)
    return out


def loaded_plugins() -> dict[str, str]:
    """Plugins loaded in this process: spec -> source ("entry point NAME (DIST)", "$..."...)."""
    return dict(_LOADED)


def autoload(*, rescan: bool = False) -> bool:
    """Load the installed plugins (entry-point group ``initjax.plugins``) and those named in
    ``$INITJAX_PLUGINS``, once per process (``rescan=True``: look again, e.g. after installing
    a package; plugins already loaded are skipped). A plugin that fails to load is reported with
    a warning naming it and skipped, so one broken package cannot break every lookup.

    Returns:
      True when it looked for plugins, False when it had already done so.
    """
    global _AUTOLOAD_STARTED
    if _AUTOLOAD_STARTED and not rescan:
        return False
    _AUTOLOAD_STARTED = True
    import os
    import warnings
    from importlib import metadata

    specs: list[tuple[str, str]] = []
    try:
        eps = metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception:  # pragma: no cover - broken environment metadata
        eps = []
    for ep in eps:
        dist = getattr(getattr(ep, "dist", None), "name", None)
        specs.append((ep.value, f"entry point {ep.name}" + (f" ({dist})" if dist else "")))
    for spec in (os.environ.get(ENV_VAR) or "").split(","):
        if spec.strip():
            specs.append((spec.strip(), f"${ENV_VAR}"))
    for spec, source in specs:
        if spec in _LOADED:
            continue
        try:
            load_plugin(spec, source=source)
        except Exception as err:
            warnings.warn(f"initjax plugin {spec!r} ({source}) was not loaded: {err}", stacklevel=2)
    return True
