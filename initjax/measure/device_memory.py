"""Memory estimates checked before compiling: a run that cannot fit is refused with the numbers.

The estimates count the arrays a computation must hold at once (parameters, activations,
optimizer state, results), not XLA's temporary buffers, so they are lower bounds: a refused run
certainly does not fit; an accepted one can still be tight within a factor of about 2.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
from collections.abc import Iterator

import jax

__all__ = ["Estimated", "available", "check", "estimate_only", "gib"]

_ESTIMATE_ONLY = contextvars.ContextVar("initjax_estimate_only", default=False)


class Estimated(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by :func:`check` inside :func:`estimate_only`, before anything compiles.

    Attributes: ``what`` (the computation), ``device_bytes`` and ``host_bytes`` (its estimate,
    bytes), ``detail`` (the breakdown).
    """

    def __init__(self, what: str, device_bytes: float, host_bytes: float, detail: str) -> None:
        super().__init__(f"{what}: ~{gib(device_bytes)} device, {gib(host_bytes)} host ({detail})")
        self.what, self.detail = what, detail
        self.device_bytes, self.host_bytes = float(device_bytes), float(host_bytes)


@contextlib.contextmanager
def estimate_only() -> Iterator[None]:
    """Inside this context :func:`check` raises :class:`Estimated` with its estimate instead of
    comparing it with the free memory, so a computation (``propagate``, ``train``) stops at its
    memory check, before compiling or allocating anything: how a preset's memory is estimated
    without running it (``scripts/preset_memory.py``)."""
    token = _ESTIMATE_ONLY.set(True)
    try:
        yield
    finally:
        _ESTIMATE_ONLY.reset(token)


def gib(n: float) -> str:
    """``n`` bytes as a short human string (KiB .. TiB)."""
    for unit, k in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 2**k:
            return f"{n / 2**k:.3g} {unit}"
    return f"{int(n)} B"


def _host_available() -> int:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - exotic platforms
        return 2**62  # unknown: do not refuse


def available() -> tuple[int, int, str]:
    """(device bytes free, host bytes free, device description).

    On CPU the device is the host. On an accelerator, its ``memory_stats()`` bytes_limit minus
    bytes_in_use (host RAM if the backend does not report it).
    """
    host = _host_available()
    dev = jax.devices()[0]
    if dev.platform == "cpu":
        return host, host, "host RAM (CPU backend)"
    stats = None
    try:
        stats = dev.memory_stats()
    except Exception:  # pragma: no cover - backends without memory stats
        stats = None
    if stats and "bytes_limit" in stats:
        free = int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
        return free, host, f"{dev.device_kind} memory"
    return host, host, f"{dev.device_kind} (memory not reported; host RAM used)"  # pragma: no cover


def check(what: str, device_bytes: float, host_bytes: float, detail: str, hint: str) -> None:
    """Raise ValueError if ``device_bytes`` / ``host_bytes`` exceed what is free.

    On CPU both live in host RAM and are added. The message gives the estimate, its breakdown
    (``detail``), what is available, and ``hint`` (which arguments to lower).

    Raises:
      ValueError: it does not fit (or the estimate is not finite).
      Estimated: always, inside :func:`estimate_only` (nothing is compared).
    """
    if _ESTIMATE_ONLY.get():
        raise Estimated(what, device_bytes, host_bytes, detail)
    dev_free, host_free, where = available()
    cpu = jax.devices()[0].platform == "cpu"
    if cpu:
        need, free = device_bytes + host_bytes, host_free
    elif device_bytes > dev_free:
        need, free = device_bytes, dev_free
    else:
        need, free, where = host_bytes, host_free, "host RAM, for the results"
    fits = need <= free
    if not fits or not math.isfinite(need):
        raise ValueError(
            f"{what} needs at least {gib(need)} ({detail}) but {gib(free)} is available "
            f"({where}); {hint}"
        )
