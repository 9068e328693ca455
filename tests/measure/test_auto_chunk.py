"""Seeds per compiled call: the CPU cache rule, and device memory on accelerators."""

import jax

from initjax.measure import _memory, engine


def _accelerator(monkeypatch, free_bytes, devices=1):
    # A backend that reports `free_bytes` of free device memory (bytes_limit - bytes_in_use).
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    monkeypatch.setattr(jax, "device_count", lambda: devices)
    monkeypatch.setattr(_memory, "available", lambda: (free_bytes, 2**40, "test GPU memory"))


def test_accelerator_chunk_comes_from_device_memory(monkeypatch):
    net = 2**20  # 1 MiB per network
    _accelerator(monkeypatch, 64 * 2**20)  # half of 64 MiB: 32 networks per call
    assert engine._auto_chunk(1024, 1, 10, net) == 32
    assert engine._auto_chunk(32, 1, 10, net) == 32  # all fit: one call
    assert engine._auto_chunk(1024, 4, 10, net) == 8  # 4 cells per seed: 8 seeds
    assert engine._auto_chunk(96, 1, 10, net) == 32  # largest divisor of 96 within 32
    assert engine._auto_chunk(97, 1, 10, net) == 1  # prime: one seed per call, still fits
    _accelerator(monkeypatch, 16 * 2**30)  # 16 GiB: 8192 networks
    assert engine._auto_chunk(4096, 1, 10, net) == 4096
    _accelerator(monkeypatch, 64 * 2**20, devices=4)  # memory of four devices: 128 networks
    assert engine._auto_chunk(1024, 1, 10, net) == 128


def test_cpu_chunk_keeps_the_cache_rule(monkeypatch):
    monkeypatch.setattr(jax, "default_backend", lambda: "cpu")
    monkeypatch.setattr(jax, "device_count", lambda: 1)
    # 16 MiB / (1 cell x 64 KiB per seed) = 256 seeds per call whatever the device memory says.
    monkeypatch.setattr(_memory, "available", lambda: (2**20, 2**20, "tiny"))
    assert engine._auto_chunk(1024, 1, 2**16, 2**30) == 256
    monkeypatch.setattr(jax, "device_count", lambda: 8)
    assert engine._auto_chunk(1024, 1, 2**16, 2**30) == 1024
