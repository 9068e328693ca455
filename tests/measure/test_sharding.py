"""With several devices the seed axis is sharded (Mesh + NamedSharding); results are identical."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from initjax.measure.sharding import mesh_shape

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import json
    import jax
    import numpy as np
    from initjax.measure import propagate
    from initjax.models import MLP

    assert jax.device_count() == 8, jax.devices()
    m = MLP(width=16, depth=5, activation="tanh", sigma_b2=0.05, readout=3)
    # 3 cells x 4 seeds on 8 devices: both axes split, on a (3 x 2) mesh of 6 of the 8 devices
    # (mesh_shape: 3 | 3 cells, 2 | 4 seeds; a (2 x 4) mesh cannot split 3 cells). Full meshes
    # take the same code path with all devices (place() slices devices[:dc * ds] either way).
    kw = dict(seeds=4, metrics="q,c,grad_sq,unit_symmetry,jac_sv", c0=0.3,
              sigma_w2=np.array([1.0, 2.0, 3.0]))
    a = propagate(m, shard=True, **kw)
    b = propagate(m, shard=False, **kw)
    out = {k: bool(np.array_equal(a.arrays[k], b.arrays[k], equal_nan=True)) for k in a.arrays}
    out["diverged"] = bool(np.array_equal(a.diverged, b.diverged))
    # The sharded run really was spread over the devices.
    from initjax.measure.engine import _shard
    from initjax import keys
    out["_devices"] = len(_shard(keys.seed_keys(8), None).sharding.device_set)
    from initjax.measure.sharding import place
    ks, (w2,), _, _ = place(keys.seed_keys(4), (np.array([1.0, 2.0, 3.0]),), (), shard=None)
    out["_mesh"] = [dict(ks.sharding.mesh.shape), len(ks.sharding.device_set),
                    len(w2.sharding.device_set)]
    # Training: 2 cells x 4 seeds laid over all 8 devices.
    from initjax.data import training_data
    from initjax.measure.train import TrainSpec, train
    data = training_data("mnist1d", n_train=64, flatten=True)
    mt = MLP(width=8, depth=2, activation="tanh", readout=10)
    spec = TrainSpec(optimizer="sgd", steps=4, batch_size=8, eval_every=2, eval_size=32)
    tkw = dict(seeds=4, sigma_w2=np.array([1.0, 2.0]), sigma_b2=0.05, learning_rate=0.05,
               spec=spec)
    ta, tb = train(mt, data, shard=True, **tkw), train(mt, data, shard=False, **tkw)
    out["_train_rel"] = max(
        float(np.nanmax(np.abs(ta.arrays[k] - tb.arrays[k]) / np.maximum(np.abs(tb.arrays[k]),
                                                                         1e-30)))
        for k in ta.arrays if ta.arrays[k].dtype.kind == "f"
    )
    out["train_nan"] = all(np.array_equal(np.isnan(ta.arrays[k]), np.isnan(tb.arrays[k]))
                           for k in ta.arrays if ta.arrays[k].dtype.kind == "f")
    print(json.dumps(out))
    """
)


def test_sharded_equals_unsharded():
    env = dict(os.environ)
    env["XLA_FLAGS"] = env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res.pop("_devices") == 8
    # The propagate call's placement: a (3 x 2) ("cells", "seeds") mesh over 6 devices.
    assert res.pop("_mesh") == [{"cells": 3, "seeds": 2}, 6, 6]
    # Training: each device trains a block of 1 network instead of one block of 8; XLA:CPU's
    # matmul kernels for the two batch shapes round differently, so equal to float32 rounding
    # accumulated over the steps (measured 2.0e-7 relative at 4 steps), not bit for bit.
    train_rel = res.pop("_train_rel")
    print("train: max relative difference 8 devices vs 1:", train_rel)
    assert train_rel <= 1e-5, train_rel
    assert all(res.values()), {k: v for k, v in res.items() if not v}


@pytest.mark.parametrize(
    "cells,seeds,devices,want",
    [
        (1, 8, 8, (1, 8)),
        (2, 4, 8, (2, 4)),
        (3, 4, 8, (3, 2)),  # 6 devices: 3 | 3 cells, 2 | 4 seeds
        (1, 7, 8, (1, 7)),
        (1, 3, 2, (1, 1)),  # neither axis splits in 2
        (4, 1, 8, (4, 1)),
        (5, 5, 4, (1, 1)),
        (2, 2, 1, (1, 1)),
    ],
)
def test_mesh_shape(cells, seeds, devices, want):
    got = mesh_shape(cells, seeds, devices)
    assert got == want
    dc, ds = got
    assert cells % dc == 0 and seeds % ds == 0 and dc * ds <= devices


def test_mesh_shape_refuses_bad_counts():
    with pytest.raises(ValueError, match="n_seeds"):
        mesh_shape(1, 0, 8)


def test_devices_per_call_follows_the_mesh_place_builds(monkeypatch):
    from initjax.measure import sharding

    assert sharding.devices_per_call(8, 4, shard=None) == 1  # one visible device
    monkeypatch.setattr(sharding.jax, "devices", lambda: list(range(8)))
    assert sharding.devices_per_call(8, 4, shard=None) == 8
    assert sharding.devices_per_call(3, 5, shard=True) == 5  # seeds 5 on 5 devices, cells 3 left
    assert sharding.devices_per_call(8, 4, shard=False) == 1
