"""Test-session settings shared by every test directory.

JAX's persistent compilation cache is ON for tests, in ``.jax-test-cache/`` at the repository
root (git ignores it; ``INITJAX_TEST_JAX_CACHE=<dir>`` puts it elsewhere, an empty value turns it
off). A cache hit is the executable XLA would build: the key holds the computation, the jaxlib
version and every compiler option, so the tests still check the numbers XLA's compiler gives.
Even a fresh checkout gains: the two xdist workers and the modules that follow a cache clear
(below) compile many of the same programs (a first run: about 1,660 compilations, each of a
distinct program, and about 820 cache hits); a second run reuses them all: 206 s wall on 2
cores, against 383-537 s for first runs (fresh clones at the commits that made these figures;
the wall time follows the host's speed, which varied by up to 4x within a run).

The cache is a folder of files written by :class:`_FileCache`: each entry is written to a
temporary file and renamed into place, so a reader (the other xdist worker) sees a whole entry or
none, without a lock, and every computation is stored however fast it compiled. JAX's own file
cache takes a lock and scans the whole folder on every write once it has a size limit, and
without the limit writes in place; stored for every computation, it was slower than no cache.
Measured on this project's 2-core machine, whole runs side by side (CPU seconds, one process
tree each): no cache 1313, JAX's cache for computations compiling in >= 0.5 s 1243, JAX's cache
for all 1293; then JAX's cache (>= 0.5 s) 1204 against this one 1164. An entry that cannot be
read (a damaged file) is reported by JAX as a warning and compiled again; delete the folder to
drop it. Subprocesses that tests start (the CLI, experiment runs) compile without the cache.

History: XLA:CPU (jaxlib 0.10) once crashed xdist workers that held hundreds of executables (a
segmentation fault in the compiler, "Failed to materialize symbols"); since JAX's in-memory caches
are cleared after every module, whole runs with this cache, from empty and warm, have passed.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from pathlib import Path

import jax
import pytest


def _cache_dir() -> str | None:
    env = os.environ.get("INITJAX_TEST_JAX_CACHE")
    if env is not None:
        return env or None
    return str(Path(__file__).resolve().parents[1] / ".jax-test-cache")


class _FileCache:
    """JAX's persistent-cache interface (``get(key) -> bytes | None``, ``put(key, bytes)``) over
    one folder: an entry is written to a temporary file and renamed into place (atomic on a local
    file system), so a concurrent reader sees a whole entry or none; nothing is evicted."""

    def __init__(self, path: Path):
        self._path = path

    def get(self, key: str) -> bytes | None:
        try:
            return (self._path / key).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, key: str, value: bytes) -> None:
        final = self._path / key
        if final.exists():
            return
        tmp = self._path / f".{key}.{os.getpid()}.tmp"
        tmp.write_bytes(value)
        os.replace(tmp, final)


class _NoCache:
    """Misses every lookup and stores nothing (see the ``no_compilation_cache`` fixture)."""

    def get(self, key: str) -> None:
        return None

    def put(self, key: str, value: bytes) -> None:
        return None


def _install(path: Path) -> None:
    """Point JAX's persistent compilation cache at ``path`` through :class:`_FileCache`. JAX has
    no public hook for a cache implementation: when its internals are not the ones this was
    written against, JAX's own file cache is used instead (locked, computations that compile in
    under 0.5 s not stored)."""
    from jax._src import compilation_cache as cc

    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    if all(hasattr(cc, a) for a in ("_cache", "_cache_initialized", "reset_cache")):
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
        cc.reset_cache()
        cc._cache = _FileCache(path)
        cc._cache_initialized = True
    else:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
        jax.config.update("jax_compilation_cache_max_size", 4 << 30)


_DIR = _cache_dir()
if _DIR:
    _install(Path(_DIR))


@pytest.fixture
def no_compilation_cache():
    """For tests that time or count XLA compilations: no persistent-cache hits (and no writes)
    while the test runs, and empty in-memory caches at its start. Turning the
    ``jax_enable_compilation_cache`` option off mid-process does not do this: JAX decides once per
    process whether the cache is used."""
    from jax._src import compilation_cache as cc

    prev = getattr(cc, "_cache", None)
    if prev is not None:
        cc._cache = _NoCache()
    jax.clear_caches()
    yield
    if prev is not None:
        cc._cache = prev


@pytest.fixture(autouse=True, scope="session")
def _session_tempdir(tmp_path_factory: pytest.TempPathFactory):
    """``tempfile``'s default folder is one under pytest's base temporary folder (kept for the
    last 3 runs) for the whole session: tensorflow-datasets' ``DatasetInfo.initialize_from_bucket``
    makes a ``mkdtemp("tfds")`` folder on every ``tfds.builder`` of an unprepared dataset and never
    removes it, so the data tests otherwise left a few dozen empty folders in /tmp per run."""
    prev = tempfile.tempdir
    tempfile.tempdir = str(tmp_path_factory.mktemp("tempfile"))
    yield
    tempfile.tempdir = prev


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
