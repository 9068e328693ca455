"""The ``initjax`` command line: each subcommand lives beside the code it drives.

Every subpackage that offers a command exposes ``add_parser(subparsers)`` which registers the
subcommand and sets ``func`` (``args -> int`` exit status) on its parser.

Plugins (:mod:`initjax.plugins`) are loaded before the arguments are parsed: installed ones
(entry-point group ``initjax.plugins``), those in ``$INITJAX_PLUGINS``, and each ``--plugin
MODULE_OR_FILE`` given anywhere on the command line.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from initjax import __version__


def _subcommand_modules():
    # Imported lazily so `initjax --help` stays fast and one broken extra does not break all.
    from initjax import registry_cli, report_cli
    from initjax.data import cli as data_cli
    from initjax.measure import cli as propagate_cli
    from initjax.parametrizations import cli as param_cli
    from initjax.sweeps import cli as sweeps_cli
    from initjax.theory import cli as theory_cli

    return [
        registry_cli,
        propagate_cli,
        param_cli,
        theory_cli,
        data_cli,
        sweeps_cli,
        report_cli,
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="initjax",
        description="Weight-initialization benchmark suite: initializers, signal propagation, "
        "mean-field theory and sweeps in JAX/Flax.",
    )
    parser.add_argument("--version", action="version", version=f"initjax {__version__}")
    parser.add_argument(
        "--plugin",
        action="append",
        metavar="MODULE_OR_FILE",
        help="import a module or .py file that registers initializers, models, metrics... "
        "(repeatable; accepted anywhere on the command line; see also $INITJAX_PLUGINS and the "
        "entry-point group initjax.plugins)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _subcommand_modules():
        mod.add_parser(sub)
    return parser


def split_plugins(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(plugins, rest)``: the values of every ``--plugin X`` / ``--plugin=X`` in ``argv``, and
    ``argv`` without them.

    Raises:
      ValueError: ``--plugin`` without a value.
    """
    plugins: list[str] = []
    rest: list[str] = []
    it = iter(argv)
    for tok in it:
        if tok == "--plugin":
            val = next(it, None)
            if val is None or val.startswith("-"):
                raise ValueError("--plugin needs a module name or a .py path")
            plugins.append(val)
        elif tok.startswith("--plugin="):
            val = tok.split("=", 1)[1]
            if not val:
                raise ValueError("--plugin needs a module name or a .py path")
            plugins.append(val)
        else:
            rest.append(tok)
    return plugins, rest


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        plugin_specs, argv = split_plugins(argv)
        from initjax import plugins

        plugins.load(plugin_specs)
    except ValueError as err:
        if os.environ.get("INITJAX_DEBUG"):
            raise
        print(f"initjax: error: {err}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, FileNotFoundError) as err:
        # Bad input: one clear line, no traceback (INITJAX_DEBUG=1 shows it).
        if os.environ.get("INITJAX_DEBUG"):
            raise
        print(f"initjax {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
