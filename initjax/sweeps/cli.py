"""``initjax run`` (run or resume an experiment) and ``initjax plot`` (redraw a finished run)."""

from __future__ import annotations

import argparse
from pathlib import Path

from initjax.sweeps.config import list_experiments, load_experiment, resolve_config


def _run(args: argparse.Namespace) -> int:
    if args.list or not args.experiment:
        known = list_experiments()
        if not known:
            print("no experiments found (set INITJAX_EXPERIMENTS to the experiments folder)")
            return 1
        width = max(len(n) for n in known)
        for name in known:
            print(f"{name.ljust(width)}  {load_experiment(name).description}")
        return 0 if args.list else 2
    exp = load_experiment(args.experiment)
    config = resolve_config(exp, args.set or [])
    out = Path(args.out) if args.out else Path("runs") / exp.name
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} is an existing file; give a folder")
    if args.print_config:
        print(config)
        return 0
    runner = getattr(exp.module, "run", None)
    try:
        if runner is not None:  # experiments with their own loop (training, reproductions)
            runner(config, out, progress=not args.no_progress)
        else:
            from initjax.sweeps.runner import run_sweep

            run_sweep(exp, config, out, progress=not args.no_progress)
    except KeyboardInterrupt:
        return 130
    return 0


def _plot(args: argparse.Namespace) -> int:
    from initjax.sweeps.store import RunStore

    store = RunStore(args.run_dir)
    manifest = store.read_manifest()
    exp = load_experiment(manifest.get("experiment_path") or manifest["experiment"])
    import ml_collections

    config = ml_collections.ConfigDict(manifest["config"])
    exp.analyze(Path(args.run_dir), store.read_table(), config)
    print(f"figures and summary redrawn in {args.run_dir}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run or resume an experiment (a sweep config in experiments/)",
        description="Run an experiment; a rerun with the same --out resumes it.",
    )
    p.add_argument("experiment", nargs="?", help="experiment name (see --list) or a .py path")
    p.add_argument("--list", action="store_true", help="list experiments with descriptions")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config key (repeatable), e.g. --set seeds=64 --set widths=[256,1024]; "
        "--set preset=full for the accelerator-sized variant",
    )
    p.add_argument("--out", help="run folder (default: runs/<experiment>)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--print-config", action="store_true", help="print the resolved config, exit")
    p.set_defaults(func=_run)

    q = sub.add_parser(
        "plot",
        help="redraw figures and summary of a finished run",
        description="Redraw figures and summary.md from RUN_DIR without recomputing.",
    )
    q.add_argument("run_dir", help="a run folder written by `initjax run`")
    q.set_defaults(func=_plot)
