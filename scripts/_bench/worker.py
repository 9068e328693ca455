"""Subprocess worker: one measurement in a fresh process (peak RSS, cold compile, device count).

Usage: ``python scripts/_bench/worker.py '<json>'``; prints one JSON line. Kinds:

- ``depth``: prepare a fused (or materialized) propagate call, time ``lower()`` (tracing) and
  ``compile()`` (XLA), run it once, report peak RSS and the RSS before compiling.
- ``shard``: run ``propagate(..., shard=...)`` ``repeats`` times on the visible devices (set
  XLA_FLAGS=--xla_force_host_platform_device_count=N in the environment) and save q to ``out``.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def _rss_mib() -> float:
    """Current resident set size of this process (MiB), from /proc (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _reset_hwm() -> bool:
    """Reset this process's RSS high-water mark (Linux: clear_refs 5); False if unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _hwm_mib() -> float:
    """RSS high-water mark since the last reset (VmHWM), MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _device_peak_mib() -> float | None:
    import jax

    stats = jax.devices()[0].memory_stats() or {}
    v = stats.get("peak_bytes_in_use")
    return None if v is None else v / 2**20


def _model(p):
    from initjax import initializers, models

    return models.MLP(
        width=p["width"],
        depth=p["depth"],
        activation="tanh",
        kernel_init=initializers.get("variance_scaling", distribution="normal"),
        sigma_w2=p.get("sigma_w2", 1.5),
        sigma_b2=p.get("sigma_b2", 0.05),
    )


def depth(p: dict) -> dict:
    import jax
    import numpy as np

    from initjax.measure import engine

    x = np.random.default_rng(0).standard_normal((p["batch"], p["width"])).astype(np.float32)
    prep = engine.prepare(
        _model(p), x, seeds=p["seeds"], metrics=("q",), path=p.get("path", "fused")
    )
    rss0 = _rss_mib()
    t0 = time.perf_counter()
    lowered = prep.lower()
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    seed_keys, sw2, sb2, xx, input_key, params = prep.args
    rss1 = _rss_mib()
    reset = _reset_hwm()
    out = compiled(seed_keys, sw2, sb2, xx, input_key, params)
    q = np.asarray(jax.device_get(out["q"]))
    t3 = time.perf_counter()
    return {
        "trace_s": t1 - t0,
        "compile_s": t2 - t1,
        "run_s": t3 - t2,
        "rss_before_mib": rss0,
        "peak_rss_mib": _peak_mib(),
        "rss_compiled_mib": rss1,
        "run_peak_rss_mib": _hwm_mib() if reset else None,
        "device_peak_mib": _device_peak_mib(),
        "q_last_mean": float(np.nanmean(q[..., -1])),
    }


def shard(p: dict) -> dict:
    import jax
    import numpy as np

    from initjax import measure

    x = np.random.default_rng(0).standard_normal((p["batch"], p["width"])).astype(np.float32)
    model = _model(p)
    kw = dict(seeds=p["seeds"], metrics=("q",), shard=p["shard"])
    t0 = time.perf_counter()
    res = measure.propagate(model, x, **kw)
    first = time.perf_counter() - t0
    times = []
    for _ in range(p["repeats"]):
        t0 = time.perf_counter()
        res = measure.propagate(model, x, **kw)
        times.append(time.perf_counter() - t0)
    np.save(p["out"], res.arrays["q"])
    return {"devices": len(jax.devices()), "first_s": first, "times": times}


def main() -> None:
    from scripts._bench import machine

    p = json.loads(sys.argv[1])
    fn = {"depth": depth, "shard": shard}[p.pop("kind")]
    with machine.cold_compiles():  # cold compile times even under the caller's cache settings
        out = fn(p)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
