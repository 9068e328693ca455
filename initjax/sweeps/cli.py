"""``initjax run`` (run or resume an experiment) and ``initjax plot`` (redraw a finished run)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from initjax.sweeps.config import (
    describe,
    experiment_dirs,
    list_experiments,
    load_experiment,
    resolve_config,
)


def _list() -> int:
    known = list_experiments()
    if not known:
        where = ", ".join(str(d) for d in experiment_dirs())
        print(f"no experiments found in {where} (INITJAX_EXPERIMENTS adds folders)")
        return 1
    width = max(len(n) for n in known)
    for name, path in known.items():
        print(f"{name.ljust(width)}  {describe(path)}")
    return 0


def _command(name: str, sets: list[str], out: Path, overwrite: bool) -> str:
    parts = ["initjax", "run", name]
    for s in sets:
        parts += ["--set", s]
    parts += ["--out", str(out)]
    if overwrite:
        parts.append("--overwrite")
    return shlex.join(parts)


def _run(args: argparse.Namespace) -> int:
    if args.list or not args.experiment:
        rc = _list()
        return rc if args.list else 2
    from initjax.sweeps.runtime import run_experiment
    from initjax.sweeps.store import set_invocation

    exp = load_experiment(args.experiment)
    sets = list(args.set or [])
    config = resolve_config(exp, sets)
    out = Path(args.out) if args.out else Path("runs") / exp.name
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} is an existing file; give a folder")
    if args.print_config:
        print(config)
        return 0
    set_invocation(command=_command(exp.name, sets, out, args.overwrite), overrides=sets)
    try:
        res = run_experiment(
            exp, config, out, overwrite=args.overwrite, progress=not args.no_progress
        )
    except KeyboardInterrupt:
        return 130
    finally:
        set_invocation()
    if res.verdict is not None:
        print(f"wrote {out / 'summary.md'} ({res.verdict.status})")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from initjax.sweeps.runtime import redraw

    written = redraw(args.run_dir)
    if not written:
        print(f"nothing redrawn in {args.run_dir}: the analysis step wrote no files")
        return 1
    print(f"redrawn in {args.run_dir}: {', '.join(p.name for p in written)}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run or resume an experiment (experiments/<name>.py or a .py path)",
        description="Run an experiment into a run folder; a rerun with the same --out resumes "
        "it, reusing the pieces whose checksums verify. A folder belongs to one config: a rerun "
        "with different compute settings is refused unless --overwrite (a change of analysis "
        "settings only re-evaluates the verdict).",
    )
    p.add_argument("experiment", nargs="?", help="experiment name (see --list) or a .py path")
    p.add_argument("--list", action="store_true", help="list experiments with descriptions")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config key (repeatable): a leaf name (--set seeds=64 --set "
        "widths=[256,1024]) or a dotted path (--set analysis.z_max=3); --set preset=tiny or "
        "--set preset=full picks a preset, applied before the other overrides",
    )
    p.add_argument("--out", help="run folder (default: runs/<experiment>)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="let --out hold this config even if it holds a run of another one (its stored "
        "pieces that this config shares are kept, the rest deleted)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--print-config", action="store_true", help="print the resolved config, exit")
    p.set_defaults(func=_run)

    q = sub.add_parser(
        "plot",
        help="redraw figures and summary of a finished run",
        description="Rebuild the verdict, figures and summary of RUN_DIR (a folder written by "
        "`initjax run`) from its stored table and config, without recomputing; prints the "
        "files it wrote.",
    )
    q.add_argument("run_dir", help="a run folder written by `initjax run`")
    q.set_defaults(func=_plot)
