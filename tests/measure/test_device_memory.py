"""device_memory: the estimate-only mode stops a computation at its memory check."""

from __future__ import annotations

import numpy as np
import pytest

from initjax import measure, models
from initjax.measure import device_memory, engine


def _mlp(width: int, depth: int) -> models.MLP:
    return models.MLP(width=width, depth=depth, activation="tanh")


def test_estimate_only_stops_propagate_before_compiling_with_its_estimate():
    x = np.ones((8, 64), np.float32)
    before = engine.trace_count()
    with device_memory.estimate_only(), pytest.raises(device_memory.Estimated) as info:
        measure.propagate(_mlp(64, 3), x, seeds=2, metrics="q", path="fused", seed_chunk=2)
    assert engine.trace_count() == before  # nothing traced, so nothing compiled
    # Fused path, per network (float32 words): two hidden layers' params (64 x 64 + 64), the
    # input projection's (same size here, n_in = width), four batches of pre-activations.
    p = 64 * 64 + 64
    assert info.value.device_bytes == 4 * 2 * (2 * p + p + 4 * 8 * 64)
    assert info.value.what == "propagate"


def test_outside_the_context_check_compares_with_free_memory(monkeypatch):
    device_memory.check("x", 1.0, 1.0, "tiny", "lower nothing")  # fits: returns
    monkeypatch.setattr(device_memory, "available", lambda: (1, 1, "test"))
    with pytest.raises(ValueError, match="x needs at least 2 B"):
        device_memory.check("x", 1.0, 1.0, "tiny", "lower nothing")


def test_estimate_only_reports_the_number_a_refusal_would_give(monkeypatch):
    from initjax.data import synthetic
    from initjax.measure.train import TrainSpec, train

    kw = {"n_train": 64, "n_test": 32, "dim": 10, "num_classes": 3}
    data = (*synthetic.gaussian_mixture("train", **kw), *synthetic.gaussian_mixture("test", **kw))
    spec = TrainSpec(steps=2, batch_size=8, eval_every=2)
    model = models.MLP(width=16, depth=2, activation="tanh", readout=3)
    with device_memory.estimate_only(), pytest.raises(device_memory.Estimated) as info:
        train(model, data, spec=spec, seeds=2)
    assert info.value.what == "train" and info.value.device_bytes > 0
    monkeypatch.setattr(device_memory, "available", lambda: (1, 1, "test"))
    with pytest.raises(ValueError, match="train needs at least") as refused:
        train(model, data, spec=spec, seeds=2)
    total = info.value.device_bytes + info.value.host_bytes  # CPU: both in host RAM
    assert device_memory.gib(total) in str(refused.value)


def test_train_estimate_is_per_accelerator_when_sharded(monkeypatch):
    from types import SimpleNamespace

    import jax

    from initjax.data import synthetic
    from initjax.measure import sharding
    from initjax.measure.train import TrainSpec, train

    kw = {"n_train": 64, "n_test": 32, "dim": 10, "num_classes": 3}
    data = (*synthetic.gaussian_mixture("train", **kw), *synthetic.gaussian_mixture("test", **kw))
    args = dict(spec=TrainSpec(steps=2, batch_size=8, eval_every=2), seeds=4)
    model = models.MLP(width=16, depth=2, activation="tanh", readout=3)

    def estimate():
        with device_memory.estimate_only(), pytest.raises(device_memory.Estimated) as info:
            train(model, data, **args)
        return info.value

    one = estimate()
    monkeypatch.setattr(sharding, "devices_per_call", lambda cells, seeds, shard: 4)
    assert estimate().device_bytes == one.device_bytes  # CPU devices share the host's RAM
    monkeypatch.setattr(jax, "devices", lambda: [SimpleNamespace(platform="gpu")])
    four = estimate()
    # The data once, plus the evaluation pass's stacked copy: the 32 test examples and the first
    # eval_size (default 1000, so all 64) training examples.
    data_bytes = 4 * (64 + 32 + (32 + 64)) * 10
    assert four.device_bytes - data_bytes == pytest.approx((one.device_bytes - data_bytes) / 4)
    assert "1 network(s) at once per device (4 over 4 device(s))" in four.detail
