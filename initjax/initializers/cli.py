"""``initjax list``: every registered initializer with its family, defaults, variance and source."""

from __future__ import annotations

import argparse
import json

from initjax import initializers


def rows() -> list[dict]:
    """One dict per registered initializer (canonical names, sorted by family then name)."""
    out = []
    for name in initializers.names():
        e = initializers.entry(name)
        out.append(
            {
                "name": e.name,
                "aliases": list(e.aliases),
                "family": e.family,
                "hparams": {
                    k: (list(v) if isinstance(v, tuple) else v) for k, v in e.defaults.items()
                },
                "variance": e.formula or None,
                "deterministic": e.deterministic,
                "reference": e.reference,
            }
        )
    return sorted(out, key=lambda r: (r["family"], r["name"]))


def _fmt_hparams(h: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in h.items()) or "-"


def run(args: argparse.Namespace) -> int:
    table = rows()
    if args.json:
        print(json.dumps(table, indent=2))
        return 0
    cols = ["name", "family", "hparams (defaults)", "Var[w]", "reference"]
    body = [
        [
            r["name"] + (f" ({', '.join(r['aliases'])})" if r["aliases"] else ""),
            r["family"],
            _fmt_hparams(r["hparams"]),
            r["variance"] or "-",
            r["reference"],
        ]
        for r in table
    ]
    widths = [min(max(len(c), *(len(b[i]) for b in body)), 60) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))
    print(line)
    print("  ".join("-" * w for w in widths))
    for b in body:
        print("  ".join(v.ljust(w) for v, w in zip(b, widths, strict=True)).rstrip())
    print(f"\n{len(table)} initializers registered.")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "list",
        help="list registered initializers",
        description="List every registered initializer.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    p.set_defaults(func=run)
