"""SIGKILL at a random point of a run, then a rerun into the same folder: the results table is
identical to an uninterrupted run's. One case per shipped experiment at its tiny preset (slow),
plus the toy experiment of tests/sweeps (numpy pieces, seconds) in the default suite."""

import os
import signal
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from initjax.sweeps.config import experiments_dir, list_experiments

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(list_experiments(experiments_dir()))


def _cmd(name, out, tiny=True):
    cmd = [sys.executable, "-m", "initjax.cli", "run", name, "--no-progress", "--out", str(out)]
    return [*cmd, "--set", "preset=tiny"] if tiny else cmd


def _env(extra=None):
    return dict(os.environ, PYTHONPATH=str(ROOT), **(extra or {}))


def _kill_resume_compare(name, tmp_path, env, timeout, rerun=None):
    """Run ``name`` cleanly, SIGKILL a second run at a random point, rerun it into the same
    folder (a subprocess, or ``rerun(argv)`` in this process) and compare the tables."""
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    t0 = time.perf_counter()
    done = subprocess.run(_cmd(name, clean), env=env, capture_output=True, timeout=timeout)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    total = time.perf_counter() - t0
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    delay = float(rng.uniform(0.1, 0.95) * total)
    proc = subprocess.Popen(
        _cmd(name, killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    if rerun is not None:
        assert rerun(_cmd(name, killed)[3:]) == 0, delay
    else:
        again = subprocess.run(_cmd(name, killed), env=env, capture_output=True, timeout=timeout)
        assert again.returncode == 0, (delay, again.stderr.decode()[-3000:])
    pd.testing.assert_frame_equal(
        pd.read_parquet(killed / "results.parquet"), pd.read_parquet(clean / "results.parquet")
    )
    return delay, total


@pytest.mark.parametrize(
    "name",
    [
        "toy",
        *(pytest.param(n, marks=pytest.mark.slow) for n in SHIPPED),
    ],
)
def test_sigkill_at_a_random_point_then_rerun_gives_the_same_table(name, tmp_path, monkeypatch):
    env, rerun = _env(), None
    if name == "toy":
        from initjax.cli import main
        from tests.sweeps.conftest import TOY

        folder = tmp_path / "exps"
        folder.mkdir()
        (folder / "toy.py").write_text(textwrap.dedent(TOY))
        extra = {"INITJAX_EXPERIMENTS": str(folder), "TOY_SLEEP": "0.5"}
        env = _env(extra)
        # The clean and the killed runs are processes; the rerun that resumes the killed run's
        # folder runs in this process (the same run loop without a third interpreter start).
        for k, v in extra.items():
            monkeypatch.setenv(k, v)
        rerun = main
    _kill_resume_compare(name, tmp_path, env, timeout=1800, rerun=rerun)
