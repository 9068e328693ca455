"""``initjax coord-check``: the muP coordinate check from the command line.

Example::

    initjax coord-check --arch mlp --param sp,mup --optimizer adam --widths 64:4096 \\
        --out runs/coord-check

writes ``results.parquet``, ``slopes.parquet``, figures and ``summary.md`` with the verdict
(:func:`initjax.sweeps.coord.run_coord_check`); exit status 0 on PASS, 1 on FAIL, 2 on bad input.
"""

from __future__ import annotations

import argparse
import ast

__all__ = ["add_parser", "parse_sizes"]


def parse_sizes(text: str, arg: str) -> list[int]:
    """``"64:4096"`` (64, 128, ..., 4096: doublings), ``"64:4096:4"`` (x4 steps) or
    ``"64,128,512"`` -> sorted positive ints.

    Raises:
      ValueError: naming ``arg`` and the accepted forms.
    """
    forms = f"{arg} takes START:STOP (doublings), START:STOP:FACTOR or a comma list"
    text = text.strip()
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError
            start, stop, factor = (*parts, 2)[:3]
            if start < 1 or stop < start or factor < 2:
                raise ValueError
            vals = [start]
            while vals[-1] * factor <= stop:
                vals.append(vals[-1] * factor)
            if vals[-1] != stop:
                raise ValueError(
                    f"{arg} {text}: {stop} is not {start} times a power of {factor}; {forms}"
                )
            return vals
        vals = sorted({int(p) for p in text.split(",") if p.strip()})
        if not vals or vals[0] < 1:
            raise ValueError
        return vals
    except ValueError as err:
        if str(err).startswith(arg):
            raise
        raise ValueError(f"{forms}, got {text!r}") from None


def _fields(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--model-arg must be FIELD=VALUE, got {item!r}")
        try:
            out[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            out[key.strip()] = value.strip()
    return out


def _run(args: argparse.Namespace) -> int:
    from initjax import parametrizations as P
    from initjax.sweeps.coord import run_coord_check

    widths = parse_sizes(args.widths, "--widths")
    depths = parse_sizes(args.depths, "--depths")
    names = [n.strip() for n in args.param.split(",") if n.strip()]
    if not names:
        raise ValueError(f"--param must name parametrizations ({', '.join(P.names())})")
    fields = {"activation": args.activation, **_fields(args.model_arg)}
    if args.kernel_init:
        fields.setdefault("kernel_init", args.kernel_init)
    res = run_coord_check(
        args.out,
        arch=args.arch,
        parametrizations=names,
        optimizer=args.optimizer,
        widths=widths,
        depths=depths,
        base_width=args.base_width,
        base_depth=args.base_depth,
        seeds=args.seeds,
        steps=args.steps,
        learning_rate=args.lr,
        batch=args.batch,
        in_features=args.in_features,
        model_fields=fields,
        spectral=not args.no_spectral,
        memory_gb=args.memory_gb,
        root_seed=args.root_seed,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    print(f"wrote {res.out / 'summary.md'} ({res.verdict.status})")
    return 0 if res.verdict.passed else 1


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from initjax import parametrizations as P

    p = sub.add_parser(
        "coord-check",
        help="muP coordinate check: feature updates vs width, slopes with intervals, verdict",
        description="Train --seeds networks per parametrization and width (or depth) for "
        "--steps optimizer steps on one batch, record per layer mean |z_t| and mean |z_t - z_0| "
        "(and the spectral norms of the weights and their updates), fit log-log slopes against "
        "width (or depth) with Student-t intervals over seeds, and judge them against the "
        "expectation fixed in advance (SP grows, the muP family stays flat). Writes Parquet, "
        "figures and summary.md into --out; exit status 0 on PASS, 1 on FAIL.",
    )
    p.add_argument("--arch", default="mlp", help="model family (`initjax list --kind models`)")
    p.add_argument(
        "--param",
        default="sp,mup",
        help=f"comma-separated parametrizations (of {', '.join(P.names())}); default sp,mup",
    )
    p.add_argument("--optimizer", default="adam", choices=P.OPTIMIZERS)
    p.add_argument("--widths", default="64:1024", help="START:STOP[:FACTOR] or a comma list")
    p.add_argument("--depths", default="2", help="likewise (>= 2 depths: slopes over depth)")
    p.add_argument("--base-width", type=int, default=None, help="default: the smallest width")
    p.add_argument("--base-depth", type=int, default=None, help="default: the smallest depth")
    p.add_argument("--seeds", type=int, default=8, help="networks per size (default 8)")
    p.add_argument("--steps", type=int, default=3, help="optimizer steps (default 3)")
    p.add_argument("--lr", type=float, default=0.01, help="base learning rate (default 0.01)")
    p.add_argument("--batch", type=int, default=64, help="examples in the batch (default 64)")
    p.add_argument("--in-features", type=int, default=32, help="Gaussian input features")
    p.add_argument("--activation", default="relu", help="default relu")
    p.add_argument("--kernel-init", default="he_normal", help="default he_normal")
    p.add_argument(
        "--model-arg",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="another model field (repeatable), e.g. --model-arg heads=4 --model-arg patch=4",
    )
    p.add_argument("--no-spectral", action="store_true", help="skip the spectral norms")
    p.add_argument("--memory-gb", type=float, default=4.0, help="memory for one group of seeds")
    p.add_argument("--root-seed", type=int, default=0)
    p.add_argument("--out", default="runs/coord-check", help="run folder")
    p.add_argument("--overwrite", action="store_true", help="replace a run of another config")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_run)
    return p
