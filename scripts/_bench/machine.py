"""What ran the benchmark: date, command, CPU, cores, device, library versions, git commit."""

from __future__ import annotations

import contextlib
import datetime
import importlib.metadata
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Compile times in the tables are cold compiles. JAX's persistent compilation cache (a user's
# JAX_COMPILATION_CACHE_DIR or jax.config setting) would turn a repeated run's "compile" into a
# cache read, so every benchmark process runs with it off: children through this environment,
# the benchmark's own process inside cold_compiles().
COLD_COMPILE_ENV = {"JAX_ENABLE_COMPILATION_CACHE": "false"}


@contextlib.contextmanager
def cold_compiles() -> Iterator[None]:
    """JAX's persistent compilation cache off while the block runs; the previous setting after.

    In a fresh process, enter it before the first compile: JAX decides at its first compilation
    whether the cache is used. In a process that already uses a cache (a test session), the
    setting still changes the compile options, and with them the cache keys, of what compiles
    inside the block; restoring it keeps the keys of everything compiled afterwards.
    """
    import jax

    prev = jax.config.jax_enable_compilation_cache
    jax.config.update("jax_enable_compilation_cache", False)
    try:
        yield
    finally:
        jax.config.update("jax_enable_compilation_cache", prev)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def version(dist: str) -> str:
    """Installed version of a distribution, or "not installed"."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return out + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 2**20:.0f} GiB"
    except OSError:
        pass
    return "unknown"


def describe(argv: list[str]) -> list[tuple[str, str]]:
    """(field, value) rows describing this run (imports jax: call after choosing devices)."""
    import jax

    devs = jax.devices()
    kinds = sorted({d.device_kind for d in devs})
    cmd = "python " + " ".join(shlex.quote(a) for a in ["scripts/benchmark.py", *argv])
    return [
        ("command", f"`{cmd}`"),
        ("date", datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")),
        ("git commit", git_commit()),
        ("CPU", f"{cpu_model()}, {os.cpu_count()} cores visible, {memory_gib()} RAM"),
        ("device", f"{len(devs)} x {', '.join(kinds)} ({jax.default_backend()})"),
        ("load average at start (1/5/15 min)", " / ".join(f"{v:.1f}" for v in os.getloadavg())),
        ("python", platform.python_version()),
        (
            "versions",
            ", ".join(
                f"{d} {version(d)}" for d in ("jax", "jaxlib", "flax", "numpy", "scipy", "torch")
            ),
        ),
        ("XLA_FLAGS", os.environ.get("XLA_FLAGS", "(unset)")),
        ("JAX persistent compilation cache", "off in every benchmark process (cold compiles)"),
        ("executable", sys.executable),
    ]
