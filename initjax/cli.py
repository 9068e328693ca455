"""The ``initjax`` command line: each subcommand lives beside the code it drives.

Every subpackage that offers a command exposes ``add_parser(subparsers)`` which registers the
subcommand and sets ``func`` (``args -> int`` exit status) on its parser.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from initjax import __version__


def _subcommand_modules():
    # Imported lazily so `initjax --help` stays fast and one broken extra does not break all.
    from initjax import report_cli
    from initjax.data import cli as data_cli
    from initjax.initializers import cli as init_cli
    from initjax.measure import cli as propagate_cli
    from initjax.sweeps import cli as sweeps_cli
    from initjax.theory import cli as theory_cli

    return [init_cli, propagate_cli, theory_cli, data_cli, sweeps_cli, report_cli]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="initjax",
        description="Weight-initialization benchmark suite: initializers, signal propagation, "
        "mean-field theory and sweeps in JAX/Flax.",
    )
    parser.add_argument("--version", action="version", version=f"initjax {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _subcommand_modules():
        mod.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # The reader went away (`initjax theory ... | head`): stop quietly, as a program killed by
        # SIGPIPE does, and keep the interpreter from complaining when it flushes stdout at exit.
        _silence_stdout()
        return 141
    except (ValueError, TypeError, FileNotFoundError) as err:
        # Bad input: one clear line, no traceback (INITJAX_DEBUG=1 shows it).
        if os.environ.get("INITJAX_DEBUG"):
            raise
        print(f"initjax {args.command}: error: {err}", file=sys.stderr)
        return 2
    except Exception as err:
        # A size no estimate caught: XLA could not allocate. Say so in one line; anything else
        # is a bug and keeps its traceback.
        if "RESOURCE_EXHAUSTED" not in str(err) or os.environ.get("INITJAX_DEBUG"):
            raise
        first = str(err).strip().splitlines()[0]
        print(
            f"initjax {args.command}: error: out of memory ({first}); lower the sizes",
            file=sys.stderr,
        )
        return 2


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, AttributeError, ValueError):  # stdout without a file descriptor
        pass


if __name__ == "__main__":
    sys.exit(main())
