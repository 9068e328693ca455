"""The initializer table of ``initjax list`` (the command itself: :mod:`initjax.registry_cli`):
every registered initializer with its family, defaults, promised variance and source."""

from __future__ import annotations

import os
import shutil
import textwrap

from initjax import initializers

_FAMILY_ORDER = (
    "constant",
    "random",
    "variance_scaling",
    "torch",
    "orthogonal",
    "structured",
    "data_dependent",
)


def _jsonable(v):
    if isinstance(v, tuple | list):
        return [_jsonable(x) for x in v]
    return v


def rows() -> list[dict]:
    """One dict per registered initializer (canonical names), sorted by family then name.

    Keys: name, aliases, family, hparams (defaults), choices, variance (formula text or None),
    deterministic, fan_based, shapes, reference.
    """
    out = []
    for name in initializers.names():
        e = initializers.entry(name)
        out.append(
            {
                "name": e.name,
                "aliases": list(e.aliases),
                "family": e.family,
                "hparams": {k: _jsonable(v) for k, v in e.defaults.items()},
                "choices": {k: _jsonable(v) for k, v in e.choices.items()},
                "variance": e.formula or None,
                "deterministic": e.deterministic,
                "fan_based": e.fan_based,
                "shapes": list(e.shapes),
                "reference": e.reference,
            }
        )
    rank = {f: i for i, f in enumerate(_FAMILY_ORDER)}
    return sorted(out, key=lambda r: (rank.get(r["family"], len(rank)), r["family"], r["name"]))


def _fmt_hparams(h: dict) -> str:
    # JSON turned tuples into lists; show them as the Python defaults they are.
    return ", ".join(f"{k}={tuple(v) if isinstance(v, list) else v!r}" for k, v in h.items()) or "-"


def terminal_width(requested: int | None) -> int:
    """``requested`` (at least 60), else $COLUMNS, else the terminal's width capped at 140."""
    if requested:
        return max(60, requested)
    env = os.environ.get("COLUMNS")
    if env and env.isdigit():
        return max(60, int(env))
    return max(60, min(shutil.get_terminal_size((100, 24)).columns, 140))


def format_table(table: list[dict], width: int = 100) -> str:
    """The human-readable listing: one block per family, wrapped to ``width`` columns.

    Each entry takes one row (name, Var[w], hyper-parameters; cells wrap within their column)
    and one indented reference line, wrapped too, so nothing is cut off.
    """
    names = [r["name"] + (f" ({', '.join(r['aliases'])})" if r["aliases"] else "") for r in table]
    w_name = min(max(len(n) for n in names), 32)
    # The hyper-parameter column must hold its longest "name=default," token unbroken; the
    # variance column (free text, wraps at spaces) gives way first.
    w_token = max(len(t) for r in table for t in _fmt_hparams(r["hparams"]).split())
    w_var = max(
        min(max(len(r["variance"] or "-") for r in table), 34, width - w_name - 4 - w_token), 12
    )
    w_hp = max(width - w_name - w_var - 4, w_token)
    widths = (w_name, w_var, w_hp)
    lines: list[str] = []
    family = None
    for r, name in zip(table, names, strict=True):
        if r["family"] != family:
            family = r["family"]
            if lines:
                lines.append("")
            title = f"[{family}]"
            head = ("name (aliases)", "Var[w]", "hyper-parameters (defaults)")
            lines.append(title)
            lines.append("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip())
            lines.append("  ".join("-" * w for w in widths))
        hp = _fmt_hparams(r["hparams"])
        if r["deterministic"]:
            hp += "  [deterministic]"
        cells = [
            textwrap.wrap(name, w_name) or [""],
            textwrap.wrap(r["variance"] or "-", w_var) or [""],
            textwrap.wrap(hp, w_hp, break_long_words=False) or [""],
        ]
        for i in range(max(len(c) for c in cells)):
            parts = [
                (c[i] if i < len(c) else "").ljust(w) for c, w in zip(cells, widths, strict=True)
            ]
            lines.append("  ".join(parts).rstrip())
        lines.extend(
            textwrap.wrap(
                r["reference"], width, initial_indent="    ref: ", subsequent_indent=" " * 9
            )
        )
    n_alias = sum(len(r["aliases"]) for r in table)
    lines.append("")
    lines.append(f"{len(table)} initializers registered (+{n_alias} aliases).")
    return "\n".join(lines)
