"""Interleaved timing: contenders run A B C A B C ... so slow drifts of a shared machine's load
hit all of them alike; we report the median and the spread (min-max) over repeats, the cores each
contender kept busy, and the CPU time other processes took meanwhile (the load guard).

The 1-minute load average counts this benchmark's own threads (about 2 while it uses both cores),
so it cannot tell whether *others* competed. :class:`CpuSnapshot` measures that directly: the
machine's busy CPU time from ``/proc/stat`` minus this process's and its waited-for children's
CPU time (``resource.getrusage``), divided by the wall time = cores used by other processes.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any


def load_avg() -> float:
    """The 1-minute load average (what the other processes on this machine are doing)."""
    return os.getloadavg()[0]


_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _machine_busy_s() -> float | None:
    """Busy CPU seconds of the whole machine since boot (all cores; Linux /proc/stat)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:]
    except OSError:
        return None
    v = [int(x) for x in fields]
    idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
    steal = v[7] if len(v) > 7 else 0  # time the hypervisor gave to other guests
    guest = sum(v[8:10]) if len(v) > 9 else 0  # already counted in user / nice
    return (sum(v) - idle - steal - guest) / _HZ


def _own_cpu_s() -> float:
    """CPU seconds of this process (all threads) and of its finished children."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


@dataclasses.dataclass(frozen=True)
class CpuSnapshot:
    """Wall clock, this process's CPU time and the machine's busy CPU time at one instant."""

    wall: float
    own: float
    machine: float | None

    @staticmethod
    def take() -> CpuSnapshot:
        return CpuSnapshot(time.perf_counter(), _own_cpu_s(), _machine_busy_s())

    def own_cores(self, later: CpuSnapshot) -> float:
        """Cores this process kept busy between the two snapshots."""
        return (later.own - self.own) / max(later.wall - self.wall, 1e-9)

    def other_cores(self, later: CpuSnapshot) -> float:
        """Cores other processes used between the two snapshots (NaN without /proc/stat)."""
        if self.machine is None or later.machine is None:
            return float("nan")
        busy = (later.machine - self.machine) - (later.own - self.own)
        return max(0.0, busy) / max(later.wall - self.wall, 1e-9)


def wait_for_quiet(max_other: float, timeout_s: float, window_s: float = 5.0) -> float:
    """Wait until other processes use at most ``max_other`` cores over a ``window_s`` window
    (or ``timeout_s`` passes); returns the last window's measurement."""
    t_end = time.perf_counter() + timeout_s
    while True:
        a = CpuSnapshot.take()
        time.sleep(window_s)
        other = a.other_cores(CpuSnapshot.take())
        if not other > max_other or time.perf_counter() >= t_end:  # NaN: cannot tell, go
            return other


@dataclasses.dataclass
class Stats:
    """Wall times of one contender, seconds, and the cores it kept busy in each call."""

    times: list[float]
    cores: list[float] = dataclasses.field(default_factory=list)

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

    @property
    def busy(self) -> float:
        """Median cores kept busy per call (this process's CPU time / wall time)."""
        return statistics.median(self.cores) if self.cores else float("nan")


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
    other_cores: float = float("nan")  # cores other processes used during the timed calls

    def load(self) -> str:
        return (
            f"{self.load_before:.1f} -> {self.load_after:.1f} (other processes: "
            f"{self.other_cores:.2f} cores)"
        )


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
    stats = {n: Stats([]) for n in names}
    first = CpuSnapshot.take()
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for n in order:
            a = CpuSnapshot.take()
            results[n] = contenders[n]()
            b = CpuSnapshot.take()
            stats[n].times.append(b.wall - a.wall)
            stats[n].cores.append(a.own_cores(b))
    other = first.other_cores(CpuSnapshot.take())
    return Interleaved(stats, before, load_avg(), results, other)
