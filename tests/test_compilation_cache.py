"""The test session's persistent compilation cache (tests/conftest.py): entries are written
whole, the session really reads them back, and ``no_compilation_cache`` turns reads off."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import monitoring

from tests.conftest import _DIR, _FileCache


def test_file_cache_writes_whole_entries_once(tmp_path):
    c = _FileCache(tmp_path)
    assert c.get("k") is None
    c.put("k", b"first")
    c.put("k", b"second")  # an existing entry is kept (same key: the same executable)
    assert c.get("k") == b"first"
    assert sorted(os.listdir(tmp_path)) == ["k"]  # no temporary file left behind


def _hits(fn) -> int:
    events: list[str] = []
    listener = lambda name, **kw: events.append(name)  # noqa: E731
    monitoring.register_event_listener(listener)
    try:
        jax.block_until_ready(fn())
    finally:
        monitoring.unregister_event_listener(listener)
    return events.count("/jax/compilation_cache/cache_hits")


def _program():
    # A computation no other test compiles: its first compilation in this run is a miss.
    salt = float.fromhex("0x1.5d2b7f0c3p-3")
    return jax.jit(lambda x: jnp.sin(x) * salt + jnp.cumsum(x))(np.arange(7, dtype=np.float32))


@pytest.mark.skipif(not _DIR, reason="INITJAX_TEST_JAX_CACHE= turned the cache off")
def test_a_recompilation_is_read_from_the_cache():
    _hits(_program)  # compiled (or read, when an earlier run stored it)
    jax.clear_caches()  # drop the in-memory executable: the next call goes to the cache
    assert _hits(_program) == 1


@pytest.mark.skipif(not _DIR, reason="INITJAX_TEST_JAX_CACHE= turned the cache off")
def test_no_compilation_cache_fixture_reads_nothing(no_compilation_cache):
    _hits(_program)
    jax.clear_caches()
    assert _hits(_program) == 0
