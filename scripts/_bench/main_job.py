"""Benchmark case "main": the README's main job (``initjax run depth-sweep``) at one preset, timed
end to end in a fresh process, with its verdict, peak host memory and (on an accelerator) peak
device memory. On one accelerator it runs the ``full`` preset (width 1024, depth 1000, 128 seeds);
on the CPU the default preset (the one CI runs)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts._bench import machine
from scripts._bench.report import Section
from scripts._bench.sizes import Sizes
from scripts._bench.subproc import ROOT
from scripts._bench.timing import load_avg

EXPERIMENT = "depth-sweep"

# Runs the CLI in this child process, then reports its own peak RSS and the device's peak memory.
_CHILD = """
import json, resource, sys, time
from initjax import cli
t0 = time.perf_counter()
rc = cli.main(sys.argv[1:])
wall = time.perf_counter() - t0
import jax
dev = jax.devices()[0]
stats = dev.memory_stats() if dev.platform != "cpu" else None
peak = (stats or {}).get("peak_bytes_in_use")
print(json.dumps({"rc": rc, "wall_s": wall, "peak_rss_mib": resource.getrusage(
    resource.RUSAGE_SELF).ru_maxrss / 1024, "device_peak_mib": None if peak is None else
    peak / 2**20, "device": f"{len(jax.devices())} x {dev.device_kind} ({dev.platform})"}))
"""


def run_main_job(preset: str, out: Path, *, timeout: float = 3600) -> dict:
    """Run ``initjax run depth-sweep --set preset=<preset> --out <out>`` in a fresh Python process.

    Returns: the child's measurements (rc, wall_s, peak_rss_mib, device_peak_mib, device) plus
    ``status`` and ``verdict`` (the summary's verdict status and reason) and ``stdout_tail``.

    Raises:
      RuntimeError: the run failed (nonzero exit or no summary); its stderr tail is included.
    """
    argv = ["run", EXPERIMENT, "--set", f"preset={preset}", "--out", str(out)]
    env = {"PYTHONPATH": str(ROOT), **_env_without_pythonpath(), **machine.COLD_COMPILE_ENV}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, *argv], capture_output=True, text=True, env=env,
        timeout=timeout, cwd=str(ROOT),
    )  # fmt: skip
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"main job failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    res = json.loads(lines[-1])
    summary = out / "summary.json"
    if res["rc"] != 0 or not summary.exists():
        raise RuntimeError(f"main job exited {res['rc']} without a summary:\n{proc.stderr[-3000:]}")
    verdict = json.loads(summary.read_text())["verdict"]
    res.update(status=verdict["status"], verdict=verdict.get("reason", ""))
    res["stdout_tail"] = "\n".join(lines[-4:-1])
    return res


def _env_without_pythonpath() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def case_main(sz: Sizes) -> Section:
    """The main job at ``sz.main_preset``, timed in a fresh process (one row; no target)."""
    t_start = time.perf_counter()
    load0 = load_avg()
    with tempfile.TemporaryDirectory(prefix="initjax-main-job-") as tmp:
        res = run_main_job(sz.main_preset, Path(tmp) / "run")
    dev = res["device_peak_mib"]
    row = [
        f"`initjax run {EXPERIMENT} --set preset={sz.main_preset}`",
        res["device"],
        f"{res['wall_s']:.1f}",
        f"{res['peak_rss_mib']:.0f}",
        "-" if dev is None else f"{dev:.0f}",
        f"{res['status']}: {res['verdict']}",
    ]
    return Section(
        "main",
        "Main job: the README's first command, end to end",
        f"`initjax run {EXPERIMENT}` at preset `{sz.main_preset}` in a fresh process (import, "
        "compile and every piece computed from scratch into an empty run folder, figures and "
        "summary written); peak RSS of that process; device peak = the accelerator's "
        "peak_bytes_in_use (none on the CPU).",
        ["command", "device", "wall s", "peak RSS MiB", "device peak MiB", "verdict"],
        [row],
        load=f"{load0:.1f} -> {load_avg():.1f}",
        wall_s=time.perf_counter() - t_start,
    )
