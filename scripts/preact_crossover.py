"""Where propagate's pre-activation path overtakes the fused weight path (the automatic rule).

Times ``measure.propagate(MLP(...), x, metrics=('q',), path=p)`` for p = "fused" and "preact" on a
tanh MLP (N(0, sigma_w2 / fan_in) kernels, sigma_w2 = 1.5, sigma_b2 = 0.05), each compiled once
before timing, median of ``--repeats`` calls (alternating), and prints fused time / preact time
per (batch, width): above 1 the pre-activation path is faster. The measured table behind
``initjax.measure.preact.AUTO_MIN_RATIO`` came from the defaults on an idle 2-core CPU.

  python scripts/preact_crossover.py
  python scripts/preact_crossover.py --batches 128 --widths 256,384,512 --depth 100
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def _ints(text: str) -> list[int]:
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        vals = []
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers like 128,256, got {text!r}")
    return vals


def time_paths(batch: int, width: int, *, depth: int, seeds: int, repeats: int) -> dict[str, float]:
    """Median wall seconds per call of each path (after one compiling call)."""
    from initjax import initializers, measure, models

    kernel = initializers.get("variance_scaling", distribution="normal")
    model = models.MLP(width=width, depth=depth, activation="tanh", kernel_init=kernel,
                       sigma_w2=1.5, sigma_b2=0.05)  # fmt: skip
    x = np.random.default_rng(0).standard_normal((batch, width)).astype(np.float32)
    paths = ("fused", "preact")
    times: dict[str, list[float]] = {p: [] for p in paths}

    def call(p):
        return measure.propagate(model, x, seeds=seeds, metrics=("q",), path=p)

    for p in paths:
        call(p)
    for _ in range(repeats):
        for p in paths:
            t0 = time.perf_counter()
            call(p)
            times[p].append(time.perf_counter() - t0)
    return {p: float(np.median(v)) for p, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    """Print one line per (batch, width): both paths' median times and their ratio."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batches", type=_ints, default=[128, 64])
    p.add_argument("--widths", type=_ints, default=None,
                   help="widths for every batch (default: 2, 2.5, 3, 3.5, 4 x batch)")  # fmt: skip
    p.add_argument("--depth", type=_ints, default=[100])
    p.add_argument("--seeds", type=_ints, default=[32])
    p.add_argument("--repeats", type=_ints, default=[3])
    a = p.parse_args(argv)
    for b in a.batches:
        widths = a.widths or [int(b * r) for r in (2, 2.5, 3, 3.5, 4)]
        for w in widths:
            t = time_paths(b, w, depth=a.depth[0], seeds=a.seeds[0], repeats=a.repeats[0])
            print(f"batch {b} width {w} ({w / b:.1f} x batch): fused {t['fused']:.3f} s, "
                  f"preact {t['preact']:.3f} s, fused / preact {t['fused'] / t['preact']:.2f}",
                  flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
