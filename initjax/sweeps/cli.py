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


def _command(
    name: str, sets: list[str], out: Path, overwrite: bool, extra: list[str] | None = None
) -> str:
    parts = ["initjax", "run", name]
    for s in sets:
        parts += ["--set", s]
    parts += ["--out", str(out)]
    if overwrite:
        parts.append("--overwrite")
    parts += extra or []
    return shlex.join(parts)


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    for unit, k in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= k:
            return f"{n / k:.1f} {unit}"
    return f"{n} B"


def _dry_run(exp, config, out: Path, shard) -> int:
    from initjax.sweeps.runtime import plan

    pieces, compute, compare = exp.module.pieces(config.compute), config.compute, ("compute",)
    p = plan(
        exp.name, list(pieces), out, compute=compute, config=config, compare=compare, shard=shard
    )
    rows, dev = p["pieces"], p["devices"]
    done = sum(r["state"] == "ok" for r in rows)
    runs = [r for r in rows if r["runs"]]
    tag = f"; shard {shard[0]}/{shard[1]} would compute {len(runs)}" if shard else ""
    print(f"{exp.name} -> {out}: {len(rows)} pieces, {done} done, {len(rows) - done} to do{tag}")
    print(
        f"devices: {dev['count']} x {dev['kind']} ({dev['backend']}), {dev['processes']} "
        f"process(es), {dev['local_count']} local"
    )
    if p["conflict"]:
        print(f"refused: {p['conflict']}")
    mems = [r["memory_bytes"] for r in rows if r["memory_bytes"] is not None]
    free = dev["memory_free"]
    if mems:
        verdict = "fits" if max(mems) <= free else "does NOT fit"
        print(
            f"largest piece: ~{_size(max(mems))} of device memory (estimate); "
            f"{_size(free)} free per device ({dev['memory_source']}): {verdict}"
        )
    else:
        print(f"device memory: {_size(free)} free per device ({dev['memory_source']})")
    width = max([len(r["label"]) for r in rows] + [5])
    head = f"{'#':>4}  {'label'.ljust(width)}  {'state':<10}  {'shard':>5}  {'runs':<4}  memory"
    print(head)
    for r in rows:
        sh = "-" if r["shard"] is None else str(r["shard"])
        print(
            f"{r['index']:>4}  {r['label'].ljust(width)}  {r['state']:<10}  {sh:>5}  "
            f"{'yes' if r['runs'] else 'no':<4}  {_size(r['memory_bytes'])}"
        )
    return 2 if p["conflict"] else 0


def _distributed(args: argparse.Namespace) -> None:
    from initjax.sweeps.distributed import initialize

    info = initialize(args.coordinator, args.num_processes, args.process_id)
    print(
        f"distributed: process {info['process_index']} of {info['process_count']}, "
        f"{info['local_device_count']} local of {info['device_count']} {info['backend']} devices"
    )


def _run(args: argparse.Namespace) -> int:
    if args.list or not args.experiment:
        rc = _list()
        return rc if args.list else 2
    from initjax.sweeps.distributed import parse_shard
    from initjax.sweeps.runtime import run_experiment
    from initjax.sweeps.store import set_invocation

    shard = parse_shard(args.shard) if args.shard is not None else None
    if args.assemble and shard is not None:
        raise ValueError("--assemble computes nothing; it cannot be combined with --shard")
    explicit = (args.coordinator, args.num_processes, args.process_id)
    if any(v is not None for v in explicit) and not args.distributed:
        raise ValueError("--coordinator / --num-processes / --process-id need --distributed")
    if args.distributed:
        _distributed(args)
    exp = load_experiment(args.experiment)
    sets = list(args.set or [])
    config = resolve_config(exp, sets)
    out = Path(args.out) if args.out else Path("runs") / exp.name
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} is an existing file; give a folder")
    if args.print_config:
        print(config)
        return 0
    if args.dry_run:
        return _dry_run(exp, config, out, shard)
    extra = [] if shard is None else ["--shard", f"{shard[0]}/{shard[1]}"]
    extra += ["--assemble"] if args.assemble else []
    extra += ["--distributed"] if args.distributed else []
    set_invocation(command=_command(exp.name, sets, out, args.overwrite, extra), overrides=sets)
    try:
        res = run_experiment(
            exp,
            config,
            out,
            overwrite=args.overwrite,
            progress=not args.no_progress,
            shard=shard,
            assemble=args.assemble,
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
    p.add_argument(
        "--shard",
        metavar="I/N",
        help="run only shard I of N (0 <= I < N): the pieces k with k %% N == I, into the shared "
        "--out; the shard that lands the last piece writes table, figures and summary. "
        "'slurm' takes I and N from a job array (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN, "
        "SLURM_ARRAY_TASK_COUNT). Every shard needs the same --set options",
    )
    p.add_argument(
        "--assemble",
        action="store_true",
        help="compute nothing: write table, figures and summary once every piece is in --out",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="list the pieces (done / to do, their shard, estimated memory) and the devices; "
        "compute and write nothing",
    )
    g = p.add_argument_group(
        "multi-process runs (JAX's distributed runtime; every process runs the same command)"
    )
    g.add_argument(
        "--distributed",
        action="store_true",
        help="join a multi-process run (jax.distributed.initialize): one device mesh over every "
        "process's devices; process 0 writes. Auto-detected on SLURM (srun), Open MPI "
        "(mpirun) and Cloud TPU; elsewhere add the three options below",
    )
    g.add_argument("--coordinator", metavar="HOST:PORT", help="address of process 0")
    g.add_argument("--num-processes", type=int, metavar="N", help="number of processes")
    g.add_argument("--process-id", type=int, metavar="I", help="this process's index, 0 ... N-1")
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
