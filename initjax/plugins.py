"""Plugins: initializers, models, metrics, activations and datasets defined outside initjax.

A plugin is a Python module that registers entries when imported (``initializers.register``,
``models.register``, ``measure.metrics.register``, ``activations.register``,
``data.register``). initjax finds plugins in three ways:

- **Installed packages** declare an entry point in the group ``initjax.plugins``; its value is a
  module (``"mypkg.initjax_plugin"``) or a function to call (``"mypkg.plugin:register_all"``)::

      # pyproject.toml of the plugin package
      [project.entry-points."initjax.plugins"]
      mypkg = "mypkg.initjax_plugin"

- **Code that is not installed**: ``initjax --plugin path/to/file.py ...`` or ``--plugin
  module.name`` (repeatable, anywhere on the command line), or the environment variable
  ``INITJAX_PLUGINS`` (comma-separated module names or .py paths).
- **A one-off initializer**: ``--init package.module:function`` (or ``path/file.py:function``)
  wherever an initializer name is accepted, in Python too (``initializers.get("mod:fn")``).

Installed and ``$INITJAX_PLUGINS`` plugins are loaded once per process, the first time a
registry is listed or asked for a name it does not know; the command line loads them before it
parses arguments. A plugin that fails to load is reported with a warning naming it.
"""

from __future__ import annotations

from collections.abc import Sequence

from initjax._registry import (
    ENTRY_POINT_GROUP,
    ENV_VAR,
    autoload,
    isolated,
    load_plugin,
    loaded_plugins,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "ENV_VAR",
    "autoload",
    "isolated",
    "load",
    "load_plugin",
    "loaded_plugins",
]


def load(specs: Sequence[str] = ()) -> list[str]:
    """Load the installed and ``$INITJAX_PLUGINS`` plugins (once), then each of ``specs``.

    Args:
      specs: module names, .py paths or ``"module:function"`` (the function is called).

    Returns:
      The specs loaded by this call.

    Raises:
      ValueError: one of ``specs`` cannot be imported (the message names it).
    """
    autoload()
    done = []
    for spec in specs:
        try:
            load_plugin(spec, source="--plugin")
        except ValueError as err:
            raise ValueError(f"--plugin {spec}: {err}") from err.__cause__
        done.append(spec)
    return done
