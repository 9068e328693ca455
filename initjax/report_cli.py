"""``initjax report``: one markdown page from the reproductions' run folders."""

from __future__ import annotations

import argparse


def _report(args: argparse.Namespace) -> int:
    from initjax.report import build_report, cli_name

    out = args.out or f"{args.runs.rstrip('/')}/REPRODUCTIONS.md"
    records = build_report(args.runs, out, args.names)
    width = max(len(cli_name(r.name)) for r in records)
    for r in records:
        state = r.verdict or ("not run" if r.run_dir is None else "no verdict line")
        print(f"{cli_name(r.name).ljust(width)}  {state}")
        for p in r.problems:
            print(f"{''.ljust(width)}  ! {p}")
    print(f"wrote {out}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="one markdown page from the reproductions' run folders",
        description="Collect the summaries and figures of the runs under --runs into one "
        "markdown page (verdict table, the command each run was made with, figures, tables). "
        "By default the page is written next to the runs (RUNS/REPRODUCTIONS.md); "
        "`--out docs/REPRODUCTIONS.md` updates the repository's page.",
    )
    p.add_argument("--runs", default="runs", help="folder of run folders (default: runs)")
    p.add_argument(
        "--out",
        default=None,
        help="markdown file to write; figures go next to it in reproductions/ "
        "(default: RUNS/REPRODUCTIONS.md)",
    )
    p.add_argument(
        "--names",
        nargs="+",
        metavar="NAME",
        help="experiments to include, in order; each needs a run folder under --runs "
        "(default: the paper reproductions, those not run listed as such, plus any other run "
        "folder with a verdict)",
    )
    p.set_defaults(func=_report)
