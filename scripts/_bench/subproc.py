"""Run :mod:`scripts._bench.worker` in a fresh Python process and parse its JSON answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from scripts._bench import machine

WORKER = Path(__file__).resolve().parent / "worker.py"
ROOT = WORKER.parents[2]


def run_worker(params: dict, *, env: dict | None = None, timeout: float = 3600) -> dict:
    """Run one worker measurement; ``env`` entries are added to this process's environment
    (JAX's persistent compilation cache is off there: ``machine.COLD_COMPILE_ENV``).

    Raises:
      RuntimeError: the worker failed (its stderr tail is included).
    """
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    full_env.update(machine.COLD_COMPILE_ENV)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, str(WORKER), json.dumps(params)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {params.get('kind')} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
