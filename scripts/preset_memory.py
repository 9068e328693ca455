"""The device memory an experiment preset needs, estimated without running it.

For each piece of ``initjax run <experiment> --set preset=<preset>`` (default: every experiment,
preset ``full``): the piece's own estimate where it has one (grid pieces, as ``--dry-run`` shows),
else the estimate of its first device computation (``propagate`` or ``train``), obtained by
calling the piece inside :func:`initjax.measure.device_memory.estimate_only` in a fresh process,
which stops at the computation's memory check, before anything compiles. A piece that computes
something else first (theory, data loading) does that work; ``--timeout`` bounds it. Estimates
count the arrays a computation holds at once, not XLA's temporaries (a lower bound within about
2x; see :mod:`initjax.measure.device_memory`). A piece with several computations is estimated by
its first one only, so the largest piece is a lower bound of the preset's need too.

  python scripts/preset_memory.py                      # every experiment's full preset
  python scripts/preset_memory.py depth-sweep --preset default
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pieces(name: str, preset: str) -> list:
    from initjax.sweeps import load_experiment, resolve_config

    exp = load_experiment(name)
    config = resolve_config(exp, [f"preset={preset}"])
    return list(exp.module.pieces(config.compute))


def probe(name: str, preset: str, index: int) -> dict:
    """Call piece ``index`` under estimate_only (in this process); its first estimate."""
    from initjax.measure import device_memory

    piece = _pieces(name, preset)[index]
    with device_memory.estimate_only():
        try:
            piece.fn()
        except device_memory.Estimated as est:
            return {"bytes": est.device_bytes, "how": est.what}
    return {"bytes": None, "how": "no device computation with an estimate"}


def estimate(name: str, preset: str, timeout: float) -> list[dict]:
    """Per piece: {label, bytes (or None), how}."""
    out = []
    for i, piece in enumerate(_pieces(name, preset)):
        if piece.memory_bytes is not None:
            out.append({"label": piece.label, "bytes": piece.memory_bytes, "how": "piece"})
            continue
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
            "PYTHONPATH", "")])}  # fmt: skip
        cmd = [sys.executable, __file__, name, "--preset", preset, "--probe", str(i)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
            res = (
                json.loads(proc.stdout.strip().splitlines()[-1])
                if proc.returncode == 0
                else {
                    "bytes": None,
                    "how": "error: " + (proc.stderr.strip().splitlines() or ["?"])[-1],
                }
            )
        except subprocess.TimeoutExpired:
            res = {"bytes": None, "how": f"no estimate within {timeout:g} s"}
        out.append({"label": piece.label, **res})
    return out


def main(argv: list[str] | None = None) -> int:
    """Print a markdown table: per experiment, its pieces, how many have an estimate, the
    largest one and how it was obtained."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("experiments", nargs="*", help="names (default: all)")
    p.add_argument("--preset", default="full")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per probed piece")
    p.add_argument("--probe", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.probe is not None:
        print(json.dumps(probe(args.experiments[0], args.preset, args.probe)))
        return 0
    from initjax.measure.device_memory import gib
    from initjax.sweeps.config import list_experiments

    names = args.experiments or sorted(list_experiments())
    print(f"| experiment (preset {args.preset}) | pieces | estimated | largest piece | how |")
    print("|---|---|---|---|---|")
    for name in names:
        rows = estimate(name, args.preset, args.timeout)
        known = [r for r in rows if r["bytes"] is not None]
        top = max(known, key=lambda r: r["bytes"]) if known else None
        largest = f"~{gib(top['bytes'])} ({top['label']})" if top else "-"
        hows = sorted({r["how"] for r in rows})
        print(
            f"| {name} | {len(rows)} | {len(known)} | {largest} | {'; '.join(hows)} |", flush=True
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
