"""Test-session settings shared by every test directory.

JAX's persistent compilation cache: executables compiled by one test run are reused by later runs
(and by the other xdist worker), keyed by the computation, the jaxlib version and the compiler
options, so a cache hit is the same executable XLA would build. The cache lives under
``$INITJAX_TEST_JAX_CACHE`` or ``~/.cache/initjax/jax-test-cache`` (set the variable to an empty
string to turn it off); computations that compile in under 0.5 s are not stored (their disk
round trip would cost about as much). The same settings go into the environment, so the
subprocesses that tests start (the CLI, experiment runs) share the cache.

The cache has a size limit (4 GiB, least recently used entries evicted): with a limit, JAX
takes a file lock around every read and write. Without it, entries are written in place with no
lock, so one xdist worker can read an executable another is still writing, and deserializing the
partial file crashes the worker (a segmentation fault inside ``compile_or_get_cached``).
"""

from __future__ import annotations

import os
from pathlib import Path

import jax


def _cache_dir() -> str | None:
    env = os.environ.get("INITJAX_TEST_JAX_CACHE")
    if env is not None:
        return env or None
    return str(Path.home() / ".cache" / "initjax" / "jax-test-cache")


_MAX_BYTES = 4 << 30
_DIR = _cache_dir()
if _DIR:
    Path(_DIR).mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", _DIR)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    jax.config.update("jax_compilation_cache_max_size", _MAX_BYTES)
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", _DIR)
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
    os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(_MAX_BYTES))
