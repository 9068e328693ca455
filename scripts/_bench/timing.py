"""Interleaved timing: contenders run A B C A B C ... so slow drifts of a shared machine's load
hit all of them alike; we report the median and the spread (min-max) over repeats."""

from __future__ import annotations

import dataclasses
import os
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any


def load_avg() -> float:
    """The 1-minute load average (what the other processes on this machine are doing)."""
    return os.getloadavg()[0]


@dataclasses.dataclass
class Stats:
    """Wall times of one contender, seconds."""

    times: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def lo(self) -> float:
        return min(self.times)

    @property
    def hi(self) -> float:
        return max(self.times)

    def spread(self) -> str:
        """``min-max`` in seconds, 3 significant digits."""
        return f"{fmt_s(self.lo)}-{fmt_s(self.hi)}"


def fmt_s(t: float) -> str:
    """Seconds with 3 significant digits (no exponent for the usual range)."""
    if t != t:  # NaN
        return "nan"
    if t >= 100:
        return f"{t:.0f}"
    if t >= 10:
        return f"{t:.1f}"
    if t >= 1:
        return f"{t:.2f}"
    if t >= 0.01:
        return f"{t:.3f}"
    return f"{t:.2g}"


@dataclasses.dataclass
class Interleaved:
    """The outcome of :func:`interleave`: per-contender stats and the load during the run."""

    stats: dict[str, Stats]
    load_before: float
    load_after: float
    results: dict[str, Any]

    def load(self) -> str:
        return f"{self.load_before:.1f} -> {self.load_after:.1f}"


def interleave(
    contenders: Mapping[str, Callable[[], Any]], repeats: int, *, warmup: int = 1
) -> Interleaved:
    """Time each contender ``repeats`` times, interleaved (A B A B ...), after ``warmup`` calls.

    Each callable must block until its work is done (``block_until_ready`` for jax) and may
    return a value (the last one is kept in ``results``, e.g. to check that contenders agree).
    The order rotates every round so that no contender always runs right after another.
    """
    names = list(contenders)
    results: dict[str, Any] = {}
    for _ in range(warmup):
        for n in names:
            results[n] = contenders[n]()
    before = load_avg()
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for n in order:
            t0 = time.perf_counter()
            results[n] = contenders[n]()
            times[n].append(time.perf_counter() - t0)
    return Interleaved({n: Stats(times[n]) for n in names}, before, load_avg(), results)
