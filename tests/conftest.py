"""Test-session settings shared by every test directory.

JAX's persistent compilation cache is OFF by default for tests. On XLA:CPU (jaxlib 0.10) loading
cached executables into a process that has compiled many others crashed xdist workers: a
segmentation fault while reading or writing the cache, and "Failed to materialize symbols" when
running a cached executable. ``INITJAX_TEST_JAX_CACHE=<dir>`` turns it on for local runs
(executables compiled by one run are then reused by later runs and by the other xdist worker);
with it, the cache has a size limit (4 GiB) so JAX locks it between processes, and computations
that compile in under 0.5 s are not stored. The settings go into the environment too, so the
subprocesses that tests start (the CLI, experiment runs) share the cache.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import jax
import pytest


def _cache_dir() -> str | None:
    env = os.environ.get("INITJAX_TEST_JAX_CACHE")
    return env or None


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


@pytest.fixture(autouse=True, scope="module")
def _release_executables():
    """Drop JAX's in-memory caches after each test module: one xdist worker otherwise keeps
    every executable it compiled alive, and XLA:CPU crashed (segmentation fault inside the
    compiler, "Failed to materialize symbols") in workers holding many of them."""
    yield
    jax.clear_caches()


def pytest_configure(config: pytest.Config) -> None:
    """Under ``-n N`` send each test module to one xdist worker (``--dist loadfile``) unless
    ``--dist`` is given. Module-scoped fixtures (an experiment's tiny run, a compiled model
    family) are then computed once; xdist's default ``load`` splits a module's tests across
    workers and each worker recomputed the fixtures its tests use."""
    args = config.invocation_params.args
    explicit = any(str(a) == "-d" or str(a).startswith("--dist") for a in args)
    if getattr(config.option, "dist", "no") == "load" and not explicit:
        config.option.dist = "loadfile"
        # Heaviest modules first (longest-processing-time order, from the measured seconds in
        # _WEIGHTS): xdist's own reordering sorts modules by test count, so a module with few,
        # long tests started last and one worker idled while the other finished it.
        config.option.loadscopereorder = False


_WEIGHTS = Path(__file__).with_name("module_seconds.json")
_WEIGHTS_OUT = "INITJAX_TEST_WEIGHTS_OUT"
_seconds: defaultdict[str, float] = defaultdict(float)


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Order test modules by their measured seconds, heaviest first (stable within a module;
    modules without a measurement keep their collection order, after the measured ones).

    The seconds are per module, summed over its tests' setup + call + teardown, in
    ``tests/module_seconds.json``; ``INITJAX_TEST_WEIGHTS_OUT=<path> pytest -q -n 2`` rewrites
    them from a whole run. A stale file only costs balance between workers, never correctness.
    """
    try:
        weights = json.loads(_WEIGHTS.read_text())
    except (OSError, ValueError):
        return
    items.sort(key=lambda item: -float(weights.get(_module(item.nodeid), 0.0)))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if os.environ.get(_WEIGHTS_OUT):
        _seconds[_module(report.nodeid)] += report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    out = os.environ.get(_WEIGHTS_OUT)
    if out and _seconds and not hasattr(session.config, "workerinput"):  # the controller only
        rounded = {m: round(t, 1) for m, t in sorted(_seconds.items(), key=lambda kv: -kv[1])}
        Path(out).write_text(json.dumps(rounded, indent=1) + "\n")
