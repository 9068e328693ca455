"""With several devices the seed axis is sharded (Mesh + NamedSharding); results are identical."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

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
    kw = dict(seeds=8, metrics="q,c,grad_sq,unit_symmetry,jac_sv", c0=0.3,
              sigma_w2=np.array([1.0, 2.5]))
    a = propagate(m, shard=True, **kw)
    b = propagate(m, shard=False, **kw)
    out = {k: bool(np.array_equal(a.arrays[k], b.arrays[k], equal_nan=True)) for k in a.arrays}
    out["diverged"] = bool(np.array_equal(a.diverged, b.diverged))
    # The sharded run really was spread over the devices.
    from initjax.measure.engine import _shard
    from initjax import keys
    out["_devices"] = len(_shard(keys.seed_keys(8), None).sharding.device_set)
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
    assert all(res.values()), res
