"""``initjax data list`` and ``initjax data prepare NAME``.

``list`` shows every dataset and whether it loads offline here (TFDS data prepared in the data
dir, mnist1d cached); it never touches the network. ``prepare`` downloads and prepares a TFDS
dataset as ArrayRecord (needs internet and ``pip install -e '.[tf]'``) or caches mnist1d.
"""

from __future__ import annotations

import argparse
import json
import sys

from initjax import data

_EXPLAIN = {
    "prepared": "yes (prepared)",
    "missing": "no: run `initjax data prepare NAME`",
    "tfrecord": "no: prepared as TFRecord; re-prepare as ArrayRecord",
    "cached": "yes (cached)",
    "not cached": "yes (generated on first use, ~1 s)",
    "generated": "yes (generated)",
}


def rows(data_dir: str | None = None, cache_dir: str | None = None) -> list[dict]:
    """One dict per dataset: name, kind, input_shape, num_classes, sizes, status, available."""
    out = []
    for name in data.names():
        e = data.info(name)
        state = data.status(name, data_dir=data_dir, cache_dir=cache_dir)
        out.append(
            {
                "name": name,
                "kind": e.kind,
                "input_shape": list(e.input_shape),
                "num_classes": e.num_classes,
                "sizes": dict(e.sizes),
                "status": state,
                "available": state not in ("missing", "tfrecord"),
                "description": e.description,
            }
        )
    return out


def run_list(args: argparse.Namespace) -> int:
    table = rows(args.data_dir, args.cache_dir)
    if args.json:
        print(json.dumps(table, indent=2))
        return 0
    cols = ["name", "kind", "input", "classes", "train/test", "available offline"]
    body = [
        [
            r["name"],
            r["kind"],
            "x".join(map(str, r["input_shape"])),
            str(r["num_classes"]),
            f"{r['sizes']['train']}/{r['sizes']['test']}",
            _EXPLAIN[r["status"]].replace("NAME", r["name"]),
        ]
        for r in table
    ]
    widths = [max(len(c), *(len(b[i]) for b in body)) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for b in body:
        print("  ".join(v.ljust(w) for v, w in zip(b, widths, strict=True)).rstrip())
    from initjax.data._tfds import data_dir

    print(f"\nTFDS data_dir: {data_dir(args.data_dir)} (--data-dir or $TFDS_DATA_DIR)")
    return 0


def run_prepare(args: argparse.Namespace) -> int:
    entry = data.info(args.name)  # unknown name -> ValueError, printed by initjax.cli.main
    try:
        where = data.prepare(entry.name, data_dir=args.data_dir, cache_dir=args.cache_dir)
    except (data.DatasetPrepareError, data.DatasetNotPreparedError) as err:
        print(f"initjax data prepare: error: {err}", file=sys.stderr)
        return 1
    if where is None:
        print(f"{entry.name}: nothing to prepare (generated on every load).")
    elif entry.kind == "tfds":
        print(f"{entry.name}: prepared (ArrayRecord) in {where}.")
    else:
        print(f"{entry.name}: cached at {where}.")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "data",
        help="list datasets or prepare one",
        description="Datasets: list which are available offline, or prepare one.",
    )
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    lp = dsub.add_parser("list", help="datasets and whether each is available offline")
    lp.add_argument("--data-dir", default=None, help="TFDS data_dir (default $TFDS_DATA_DIR)")
    lp.add_argument("--cache-dir", default=None, help="initjax cache (default ~/.cache/initjax)")
    lp.add_argument("--json", action="store_true", help="machine-readable JSON output")
    lp.set_defaults(func=run_list)

    pp = dsub.add_parser(
        "prepare",
        help="download + prepare a TFDS dataset (needs internet and the tf extra)",
        description="Download and prepare a TFDS dataset as ArrayRecord (needs internet and "
        "TensorFlow: pip install -e '.[tf]'), or generate and cache mnist1d.",
    )
    pp.add_argument("name", help="dataset name (see `initjax data list`)")
    pp.add_argument("--data-dir", default=None, help="TFDS data_dir (default $TFDS_DATA_DIR)")
    pp.add_argument("--cache-dir", default=None, help="initjax cache (default ~/.cache/initjax)")
    pp.set_defaults(func=run_prepare)
