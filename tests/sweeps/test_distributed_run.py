"""A multi-process run (2 processes x 4 CPU devices, jax.distributed on localhost, gloo CPU
collectives) writes the same tables as one process.

Reference: one process with 8 CPU devices. Both lay each piece's 2 cells x 4 seeds over a
(2, 4) mesh of 8 devices, so every device runs the same program on the same block of networks
and the tables must be equal bit for bit. The reference is also compared with a 1-device run:
the same networks computed as one block of 8, where XLA:CPU may pick other matmul kernels for
the larger batch; those agree to float32 rounding (rtol 1e-5; the measured difference is printed
by the test on failure).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]

# A protocol experiment whose pieces are a propagation grid and a training grid (2 cells x 4
# seeds each, width 8): the two engines a sweep runs through.
EXPERIMENT = '''
"""Propagation and training grid pieces for the multi-process test."""
import ml_collections

from initjax.sweeps.runner import grid_pieces
from initjax.sweeps.runtime import Piece
from initjax.sweeps.summary import Check, Verdict

DESCRIPTION = "propagation + training grid pieces (multi-process test)"
TITLE = "dist"
PAPER = ""
PRESETS = {"tiny": {}, "full": {}}

ARM = dict(name="tanh", activation="tanh", init="variance_scaling",
           init_hparams={"distribution": "normal"}, sigma_w2=[1.0, 2.0], sigma_b2=[0.05])


def get_config():
    c = ml_collections.ConfigDict()
    c.preset = "default"
    c.compute = dict(
        prop=dict(kind="propagation", model="mlp", widths=[8], depths=[3, 4], seeds=4,
                  root_seed=0, inputs="gaussian", n_inputs=2, input_dim=6, c0=0.5,
                  metrics=["q", "c", "grad_sq"], theory=False, arms=[ARM]),
        train=dict(kind="training", model="mlp", widths=[8], depths=[2], seeds=4, root_seed=0,
                   dataset="mnist1d", n_train=128, optimizer="sgd", learning_rate=[0.05],
                   steps=8, batch_size=16, eval_every=4, eval_size=64, arms=[ARM]),
    )
    c.analysis = dict()
    return c


def pieces(compute):
    out = []
    for part in ("prop", "train"):
        for p in grid_pieces(compute[part]):
            out.append(Piece(f"{part} {p.label}", p.fn, p.spec))
    return out


def evaluate(table, config):
    ok = bool(len(table))
    return Verdict.from_checks("rows exist", [Check("rows", len(table), 1, None, None, None, ok,
                                                    "")], reason="test")


def report(table, config, ctx):
    return ctx.summary("test")
'''

SCRIPT = textwrap.dedent(
    """
    import sys
    from initjax.sweeps import distributed
    mode, out = sys.argv[1], sys.argv[2]
    if mode == "multi":
        info = distributed.initialize(sys.argv[3], 2, int(sys.argv[4]))
        assert info["device_count"] == 8 and info["local_device_count"] == 4, info
    import jax
    from initjax.sweeps.config import load_experiment, resolve_config
    from initjax.sweeps.runtime import run_experiment
    exp = load_experiment(sys.argv[5] if mode == "multi" else sys.argv[3])
    res = run_experiment(exp, resolve_config(exp, []), out, progress=False)
    if mode == "multi" and jax.process_index() == 1:
        assert res.table is None and res.loop.manifest == {}
    # a rerun resumes: nothing is computed again, on any process
    res = run_experiment(exp, resolve_config(exp, []), out, progress=False)
    assert res.loop.computed == [], res.loop.computed
    print("OK", jax.process_index(), jax.device_count())
    """
)


def _env(devices: int) -> dict[str, str]:
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _single(exp: Path, out: Path, devices: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, "single", str(out), str(exp)],
        env=_env(devices),
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_two_processes_write_the_tables_of_one_process(tmp_path):
    exp = tmp_path / "dist_exp.py"
    exp.write_text(EXPERIMENT)
    multi, one8, one1 = tmp_path / "multi", tmp_path / "one8", tmp_path / "one1"
    port = _free_port()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                SCRIPT,
                "multi",
                str(multi),
                f"localhost:{port}",
                str(i),
                str(exp),
            ],
            env=_env(4),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    ref8 = _single(exp, one8, 8)
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (so, se) in zip(procs, outs, strict=True):
        assert p.returncode == 0, se[-4000:]
        assert "OK" in so and " 8" in so.strip().splitlines()[-1]
    assert ref8.returncode == 0, ref8.stderr[-4000:]
    ref1 = _single(exp, one1, 1)
    assert ref1.returncode == 0, ref1.stderr[-4000:]

    # exactly one process wrote: the folder has each piece once and one manifest
    manifest = json.loads((multi / "manifest.json").read_text())
    assert manifest["processes"] == 2 and manifest["status"] == "complete"
    assert manifest["environment"]["device_count"] == 8
    n_pieces = len(manifest["pieces"])
    assert n_pieces == 3
    assert len(list((multi / "pieces").glob("*.parquet"))) == n_pieces

    a = pd.read_parquet(multi / "results.parquet")
    b = pd.read_parquet(one8 / "results.parquet")
    c = pd.read_parquet(one1 / "results.parquet")
    assert set(a["kind"] if "kind" in a else []) <= {"propagation", "training"}
    assert len(a) > 0 and "grad_sq" in a.columns and "train_loss" in a.columns
    pd.testing.assert_frame_equal(a, b, check_exact=True)  # bit for bit
    num = [k for k in a.columns if a[k].dtype.kind == "f"]
    pd.testing.assert_frame_equal(a.drop(columns=num), c.drop(columns=num), check_exact=True)
    x, y = a[num].to_numpy(np.float64), c[num].to_numpy(np.float64)
    both = np.isfinite(x) & np.isfinite(y)
    assert np.array_equal(np.isnan(x), np.isnan(y))
    rel = np.max(np.abs(x[both] - y[both]) / np.maximum(np.abs(y[both]), 1e-30))
    assert rel <= 1e-5, f"8-device vs 1-device max relative difference {rel:.3g}"
