"""``initjax list`` (every registry: initializers, models, metrics, activations, datasets) and
``initjax check-init`` (the conformance kit, :mod:`initjax.testing`, from the shell).

Entries registered by plugins (``--plugin``, ``$INITJAX_PLUGINS``, installed entry points) are
listed with the module they come from.
"""

from __future__ import annotations

import argparse
import json
import textwrap

from initjax.initializers import cli as init_cli

KINDS = ("all", "initializers", "models", "metrics", "activations", "datasets")


def _origin(obj) -> str:
    """ "" for initjax's own entries, else the defining module (a file path for .py plugins)."""
    import sys

    mod = getattr(obj, "__module__", "") or ""
    if mod.split(".")[0] == "initjax":
        return ""
    if mod.startswith("initjax_user_"):
        return str(getattr(sys.modules.get(mod), "__file__", mod))
    return mod


def _plain(text: str) -> str:
    return text.replace("``", "")


def model_rows() -> list[dict]:
    """One dict per registered model family: name, class, width_field, fields, description,
    reference, plugin (the defining module when outside initjax, else "")."""
    from initjax import models

    out = []
    for name in models.names():
        cls, meta = models.get(name), models.metadata(name)
        out.append(
            {
                "name": name,
                "class": cls.__name__,
                "width_field": meta["width_field"],
                "fields": models.field_names(cls),
                "description": meta["description"],
                "reference": meta["reference"],
                "plugin": _origin(cls),
            }
        )
    return out


def metric_rows() -> list[dict]:
    """One dict per registered metric: name, columns, per_layer, pass, nonfinite_policy,
    description, reference, plugin."""
    from initjax.measure import metrics

    out = []
    for name in metrics.names():
        m = metrics.get(name)
        out.append(
            {
                "name": name,
                "columns": list(m.columns),
                "per_layer": m.per_layer,
                "pass": m.engine_pass,
                "nonfinite_policy": m.nonfinite_policy,
                "description": m.description,
                "reference": m.reference,
                "plugin": _origin(m.fn),
            }
        )
    return out


def activation_rows() -> list[dict]:
    from initjax import activations

    al = activations.aliases()
    out = []
    for name in activations.names():
        act = activations.get(name)
        out.append(
            {
                "name": name,
                "aliases": sorted(a for a, c in al.items() if c == name),
                "params": act.param_dict,
                "plugin": _origin(activations.builder(name)),
            }
        )
    return out


def dataset_rows() -> list[dict]:
    from initjax import data

    out = []
    for name in data.names():
        e = data.info(name)
        out.append(
            {
                "name": name,
                "kind": e.kind,
                "input_shape": list(e.input_shape),
                "classes": e.num_classes,
                "description": e.description,
            }
        )
    return out


def _initializer_rows() -> list[dict]:
    from initjax import initializers

    rows = init_cli.rows()
    for r in rows:
        r["plugin"] = _origin(initializers.entry(r["name"]).builder)
    return rows


def _section(title: str, lines: list[str], width: int) -> list[str]:
    out = ["", f"[{title}]"]
    for line in lines:
        out.extend(textwrap.wrap(line, width, subsequent_indent="      ") or [""])
    return out


def format_all(kind: str, width: int) -> str:
    parts: list[str] = []
    if kind in ("all", "initializers"):
        rows = _initializer_rows()
        table = init_cli.format_table(rows, width)
        plugin = [f"{r['name']} (from {r['plugin']})" for r in rows if r["plugin"]]
        if plugin:
            table += "\nFrom plugins: " + ", ".join(plugin) + "."
        parts.append(table)
    if kind in ("all", "models"):
        lines = [
            f"{r['name']}: {r['class']} - {_plain(r['description'])} (--width sets "
            f"{r['width_field']}" + (f"; from {r['plugin']}" if r["plugin"] else "") + ")"
            for r in model_rows()
        ]
        parts.extend(_section("models (--arch; sweep config key 'model')", lines, width))
    if kind in ("all", "metrics"):
        lines = [
            f"{r['name']}: {r['description']} [columns {', '.join(r['columns'])}; "
            f"{'per layer' if r['per_layer'] else 'whole network'}, {r['pass']} pass"
            + (f"; from {r['plugin']}" if r["plugin"] else "")
            + "]"
            for r in metric_rows()
        ]
        parts.extend(_section("metrics (--metrics)", lines, width))
    if kind in ("all", "activations"):
        lines = [
            r["name"]
            + (f" ({', '.join(r['aliases'])})" if r["aliases"] else "")
            + (f" {r['params']}" if r["params"] else "")
            + (f" [from {r['plugin']}]" if r["plugin"] else "")
            for r in activation_rows()
        ]
        parts.extend(_section("activations (--activation)", [", ".join(lines)], width))
    if kind in ("all", "datasets"):
        lines = [
            f"{r['name']}: {r['description']} ({r['kind']}, input {tuple(r['input_shape'])}, "
            f"{r['classes']} classes)"
            for r in dataset_rows()
        ]
        parts.extend(_section("datasets", lines, width))
    return "\n".join(parts).lstrip("\n")


def _list(args: argparse.Namespace) -> int:
    if args.width is not None and args.width < 1:
        raise ValueError(f"--width must be a positive integer (columns), got {args.width}")
    kind = args.kind
    if args.json:
        rows = {
            "initializers": _initializer_rows,
            "models": model_rows,
            "metrics": metric_rows,
            "activations": activation_rows,
            "datasets": dataset_rows,
        }
        if kind is None:  # the initializer table, as before --kind existed
            out = init_cli.rows()
        elif kind == "all":
            out = {k: f() for k, f in rows.items()}
        else:
            out = rows[kind]()
        print(json.dumps(out, indent=2))
        return 0
    print(format_all(kind or "all", init_cli.terminal_width(args.width)))
    return 0


def _parse_hparams(items: list[str]) -> dict:
    import ast

    out = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k.strip():
            raise ValueError(f"--hparam must be NAME=VALUE, got {item!r}")
        try:
            out[k.strip()] = ast.literal_eval(v.strip())
        except (ValueError, SyntaxError):
            out[k.strip()] = v.strip()
    return out


def _targets(spec: str) -> list[str]:
    """Initializer names to check: a registered name or 'module:function' as is; a module or
    .py file without ':' -> every initializer it registers."""
    from initjax import initializers
    from initjax._registry import import_module

    if ":" in spec or spec in initializers.names() or spec in initializers.aliases():
        return [spec]
    if spec.endswith(".py") or "." in spec or "/" in spec:
        mod = import_module(spec)
        mine = [
            n
            for n in initializers.names()
            if getattr(initializers.entry(n).builder, "__module__", None) == mod.__name__
        ]
        if not mine:
            raise ValueError(
                f"{spec!r} registers no initializer (decorate a builder with "
                "initjax.initializers.register, or name one: 'module:function')"
            )
        return mine
    initializers.entry(spec)  # unknown name: ValueError with close names
    return [spec]


def _check_init(args: argparse.Namespace) -> int:
    from initjax import testing

    names = _targets(args.initializer)
    hparams = _parse_hparams(args.hparam)
    kinds = args.kind.split(",") if args.kind else None
    reports = [
        testing.check_initializer(
            n,
            hparams=hparams,
            kinds=kinds,
            distribution=args.distribution,
            samples=args.samples,
            z_max=args.z_max,
        )
        for n in names
    ]
    if args.json:
        print(json.dumps([r.to_dict() for r in reports], indent=2))
    else:
        print("\n\n".join(str(r) for r in reports))
    return 0 if all(r.passed for r in reports) else 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "list",
        help="list registered initializers, models, metrics, activations and datasets",
        description="List every registry: initializers (family, hyper-parameters and their "
        "defaults, the variance each promises, its reference), model families, metrics, "
        "activations and datasets, plugin entries included.",
    )
    p.add_argument(
        "--kind", choices=KINDS, default=None, help="one registry only (default: all of them)"
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="machine-readable JSON (without --kind: the initializer table, a list)",
    )
    p.add_argument(
        "--width",
        type=int,
        default=None,
        help="wrap the table to this many columns (default: the terminal's width, at most 140)",
    )
    p.set_defaults(func=_list)

    q = sub.add_parser(
        "check-init",
        help="run the conformance checks (initjax.testing) on an initializer",
        description="Check an initializer the way initjax's registry tests check every entry: "
        "exact shape and dtype, determinism, jit == eager, vmap over keys, distinct keys, the "
        "empirical variance against the promised one (in standard errors over 2^18 draws per "
        "kernel kind) and, with --distribution, a KS test. Exit status 1 when a check fails.",
    )
    q.add_argument(
        "initializer",
        help="a registered name (plugins included), 'package.module:function', "
        "'path/file.py:function', or a module / .py file (checks every initializer it "
        "registers)",
    )
    q.add_argument(
        "--hparam", action="append", default=[], metavar="NAME=VALUE", help="bind (repeatable)"
    )
    q.add_argument(
        "--kind", default=None, help="comma-separated kernel kinds: vector, dense, conv, multi_axis"
    )
    q.add_argument(
        "--distribution",
        default=None,
        choices=("normal", "uniform", "truncated_normal"),
        help="KS test of w / sqrt(promised variance) against this law",
    )
    q.add_argument("--samples", type=int, default=2**18, help="values per kernel kind (2^18)")
    q.add_argument("--z-max", type=float, default=5.0, help="variance tolerance in SE (5)")
    q.add_argument("--json", action="store_true", help="machine-readable JSON reports")
    q.set_defaults(func=_check_init)
