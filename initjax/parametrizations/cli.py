"""``initjax parametrizations``: the rule tables with their sources, or one model's numbers.

Without ``--arch`` it prints every registered parametrization (or those named by ``--param``):
one row per role class with the multipliers of the standard parametrization as powers of
m_in, m_out (width multipliers of the fans) and m_L (depth multiplier), and the source of each
row. With ``--arch`` it evaluates them for one model (``parametrize``) and prints every
parameter's fans and multipliers.
"""

from __future__ import annotations

import argparse
import json
import textwrap

from initjax import parametrizations as P

_COLS = (
    ("role class", 26),
    ("init var", 8),
    ("multiplier", 10),
    ("lr (SGD)", 13),
    ("lr (Adam)", 9),
    ("Adam eps", 13),
    ("wd (SGD)", 13),
    ("wd (Adam)", 9),
)

HEADER = (
    "Multipliers of the standard parametrization (init Var = sigma_w2 / fan_in, forward "
    "multiplier 1, the base learning rate, Adam epsilon and weight decay), as powers of "
    "m_in = fan_in / base fan_in, m_out = fan_out / base fan_out (1 for dimensions that do not "
    "grow with width: data, classes) and m_L = depth / base depth. At the base shape every "
    "parametrization is SP. Depth rows multiply into the parameters inside residual branches "
    "(x) and those writing into the residual stream."
)


def format_tables(names: list[str], width: int = 120) -> str:
    """The rule tables of ``names`` as text (one block per parametrization)."""
    lines = textwrap.wrap(HEADER, width) + [""]
    for name in names:
        p = P.get(name)
        lines.append(f"{p.name}: {p.title}  [attention logits: {p.attention_logits}]")
        lines.append(("  " + " ".join(h.ljust(w) for h, w in _COLS)).rstrip())
        sources: list[str] = []
        for row in p.rows():
            src = row["source"]
            if src and src not in sources:
                sources.append(src)
            mark = f"[{sources.index(src) + 1}]" if src else ""
            cells = [str(row[h]) for h, _ in _COLS]
            cells[0] = f"{cells[0]} {mark}".strip()
            row_text = " ".join(c.ljust(w) for c, (_, w) in zip(cells, _COLS, strict=True))
            lines.append(("  " + row_text).rstrip())
        for i, s in enumerate(sources, 1):
            lines.extend(
                textwrap.wrap(
                    f"[{i}] {s}", width, initial_indent="    ", subsequent_indent="        "
                )
            )
        for note in p.notes:
            lines.extend(
                textwrap.wrap(
                    f"note: {note}", width, initial_indent="    ", subsequent_indent="        "
                )
            )
        lines.extend(
            textwrap.wrap(
                "references: " + "; ".join(p.references),
                width,
                initial_indent="    ",
                subsequent_indent="        ",
            )
        )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _model_frame(args: argparse.Namespace):
    from initjax import models

    fields = {"depth": args.depth, models.metadata(args.arch)["width_field"]: args.width}
    if args.readout:
        fields["readout"] = args.readout
    model = models.build(args.arch, **fields)
    in_shape = tuple(args.in_shape) if args.in_shape else None
    frames = []
    for name in args.param or P.names():
        pz = P.parametrize(
            model,
            name,
            base_width=args.base_width,
            base_depth=args.base_depth,
            in_shape=in_shape,
        )
        frames.append(pz.frame(args.optimizer))
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def _run(args: argparse.Namespace) -> int:
    names = args.param or P.names()
    for n in names:
        P.get(n)
    if args.arch is None:
        if args.json:
            print(json.dumps([r for n in names for r in P.get(n).rows()], indent=2))
        else:
            print(format_tables(names, args.width), end="")
        return 0
    frame = _model_frame(args)
    cols = [
        "parametrization",
        "path",
        "role",
        "shape",
        "fan_in",
        "fan_out",
        "m_in",
        "m_out",
        "m_depth",
        "init_var",
        "multiplier",
        "lr",
        "eps",
        "wd",
    ]
    frame = frame[cols]
    if args.json:
        print(frame.to_json(orient="records", indent=2))
    else:
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "parametrizations",
        help="print the parametrization tables (SP, NTK, muP, depth-muP, CompleteP) with sources",
        description="Print each parametrization's rules: per role class (input, hidden, readout, "
        "vector, scalar) the multipliers of init variance, forward pass, SGD and Adam learning "
        "rates, Adam epsilon and weight decay, with their sources. With --arch, evaluate them "
        "for one model and print every parameter's numbers.",
    )
    p.add_argument(
        "--param",
        type=_names,
        default=None,
        metavar="NAMES",
        help=f"comma-separated names (default: all of {', '.join(P.names())})",
    )
    p.add_argument("--arch", default=None, help="a model family: print its parameters' numbers")
    p.add_argument(
        "--width",
        type=int,
        default=None,
        help="with --arch: the model's width; without: wrap the table to this width",
    )
    p.add_argument("--depth", type=int, default=2, help="with --arch: depth (default 2)")
    p.add_argument("--base-width", type=int, default=None, help="with --arch: the base width")
    p.add_argument("--base-depth", type=int, default=None, help="with --arch: the base depth")
    p.add_argument("--readout", type=int, default=10, help="with --arch: readout units (0: none)")
    p.add_argument(
        "--in-shape",
        type=int,
        nargs="+",
        default=None,
        help="with --arch: per-example input shape (default: the family's)",
    )
    p.add_argument(
        "--optimizer",
        default="adam",
        choices=P.OPTIMIZERS,
        help="with --arch: whose learning-rate / weight-decay column (default adam)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable JSON")

    def run(args):
        if args.arch is not None and args.width is None:
            p.error("--arch needs --width")
        if args.arch is None:
            args.width = args.width or 120
        try:
            return _run(args)
        except (ValueError, TypeError) as err:
            p.error(str(err))

    p.set_defaults(func=run)
