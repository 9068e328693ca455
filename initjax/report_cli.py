"""``initjax report``: build docs/REPRODUCTIONS.md from the reproductions' run folders."""

from __future__ import annotations

import argparse


def _report(args: argparse.Namespace) -> int:
    from initjax.report import build_report, cli_name

    records = build_report(args.runs, args.out, args.names)
    width = max(len(cli_name(r.name)) for r in records)
    for r in records:
        state = r.verdict or ("not run" if r.run_dir is None else "no verdict line")
        print(f"{cli_name(r.name).ljust(width)}  {state}")
        for p in r.problems:
            print(f"{''.ljust(width)}  ! {p}")
    print(f"wrote {args.out}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="build docs/REPRODUCTIONS.md from the reproductions' run folders",
        description="Collect runs/<name>/summary.md and figures of the paper reproductions into "
        "one markdown page (verdict table, commands, figures, side-by-side tables). Missing "
        "runs are listed as 'not run' with the command that produces them.",
    )
    p.add_argument("--runs", default="runs", help="folder of run folders (default: runs)")
    p.add_argument(
        "--out",
        default="docs/REPRODUCTIONS.md",
        help="markdown file to write (figures go "
        "next to it in reproductions/; default: docs/REPRODUCTIONS.md)",
    )
    p.add_argument(
        "--names",
        nargs="+",
        metavar="NAME",
        help="reproductions to include, in order (default: the seven of issue 8 plus any other "
        "run folder with a verdict line)",
    )
    p.set_defaults(func=_report)
