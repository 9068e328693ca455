"""Shards, SLURM job arrays, who writes, the atomic folder claim, --dry-run and --assemble."""

from __future__ import annotations

import itertools
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from initjax.cli import main
from initjax.sweeps.distributed import (
    initialize,
    is_writer,
    parse_shard,
    shard_from_env,
    shard_indices,
)
from initjax.sweeps.store import FolderConflictError, lock_folder

ROOT = Path(__file__).resolve().parents[2]
MEANS = "means=[0.0,1.0,2.0,3.0,4.0,5.0]"


@pytest.mark.parametrize("text,want", [("0/1", (0, 1)), ("2/3", (2, 3)), (" 1 / 4 ", (1, 4))])
def test_parse_shard(text, want):
    assert parse_shard(text) == want


@pytest.mark.parametrize(
    "text,msg",
    [
        ("3/2", "0 <= i < n = 2"),
        ("2/2", "0 <= i < n = 2"),
        ("-1/2", "0 <= i < n = 2"),
        ("0/0", "n must be >= 1"),
        ("a/b", "'i/n' with integers"),
        ("1", "'i/n' with integers"),
        ("", "'i/n' with integers"),
    ],
)
def test_bad_shards_are_clear_errors(text, msg):
    with pytest.raises(ValueError, match="--shard") as err:
        parse_shard(text)
    assert msg in str(err.value)


@pytest.mark.parametrize(
    "env,want",
    [
        # sbatch --array=0-3: tasks 0..3
        ({"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": "4"},
         (2, 4)),
        # sbatch --array=1-4: tasks 1..4 are shards 0..3
        ({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "4",
          "SLURM_ARRAY_TASK_COUNT": "4"}, (0, 4)),
    ],
)  # fmt: skip
def test_slurm_job_array_maps_to_shard(env, want):
    assert shard_from_env(env) == want
    assert parse_shard("slurm", env) == want


def test_slurm_outside_an_array_or_with_a_step_is_refused():
    with pytest.raises(ValueError, match="not a SLURM job array task"):
        shard_from_env({"SLURM_JOB_ID": "7"})
    stepped = {  # --array=0-6:2 -> 4 tasks over 0..6
        "SLURM_ARRAY_TASK_ID": "2",
        "SLURM_ARRAY_TASK_MIN": "0",
        "SLURM_ARRAY_TASK_MAX": "6",
        "SLURM_ARRAY_TASK_COUNT": "4",
    }
    with pytest.raises(ValueError, match="contiguous"):
        shard_from_env(stepped)


@pytest.mark.parametrize("n_pieces", [0, 1, 5, 12])
@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_shards_partition_the_pieces(n_pieces, n):
    parts = [shard_indices(n_pieces, (i, n)) for i in range(n)]
    flat = sorted(k for p in parts for k in p)
    assert flat == list(range(n_pieces))  # every piece once
    assert max(map(len, parts)) - min(map(len, parts)) <= 1  # balanced in count
    assert shard_indices(n_pieces, None) == list(range(n_pieces))


def _optimum(costs, n):
    """The smallest possible largest shard cost (brute force over every assignment)."""
    best = math.inf
    for assign in itertools.product(range(n), repeat=len(costs)):
        loads = [0.0] * n
        for c, j in zip(costs, assign, strict=True):
            loads[j] += c
        best = min(best, max(loads))
    return best


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n", [2, 3])
def test_cost_balanced_shards_are_a_partition_within_the_lpt_bound(seed, n):
    rng = np.random.default_rng(seed)
    # Grid-like costs: cells x seeds x depth x width^2 over a few widths and depths.
    widths, depths = rng.choice([16, 64, 256], 8), rng.choice([3, 30], 8)
    costs = [float(d * w * w) for w, d in zip(widths, depths, strict=True)]
    parts = [shard_indices(len(costs), (i, n), costs) for i in range(n)]
    assert sorted(k for p in parts for k in p) == list(range(len(costs)))  # every piece once
    loads = [sum(costs[k] for k in p) for p in parts]
    # Graham's bound for greedy LPT: max load <= (4/3 - 1/(3n)) OPT; and <= mean + largest.
    assert max(loads) <= (4 / 3 - 1 / (3 * n)) * _optimum(costs, n) + 1e-9
    assert max(loads) <= sum(costs) / n + max(costs)
    # Deterministic: the same partition from every process (no hash seeds, no clocks).
    assert parts == [shard_indices(len(costs), (i, n), list(costs)) for i in range(n)]


def test_cost_balance_beats_round_robin_and_falls_back_without_costs():
    # One big piece then small ones: round robin puts the big one with half the small ones.
    costs = [100.0, 1, 1, 1, 1, 1, 1, 1, 1]
    lpt = [shard_indices(9, (i, 2), costs) for i in range(2)]
    assert lpt == [[0], list(range(1, 9))]
    assert shard_indices(9, (0, 2), [None, *costs[1:]]) == [0, 2, 4, 6, 8]  # k % n
    with pytest.raises(ValueError, match="costs"):
        shard_indices(2, (0, 2), [1.0, float("nan")])


def test_only_process_zero_writes():
    assert is_writer(0)
    assert not any(is_writer(i) for i in range(1, 16))
    assert is_writer()  # a single-process run


@pytest.mark.parametrize(
    "kw,msg",
    [
        ({"coordinator": "localhost:1234"}, "go together"),
        ({"num_processes": 2, "process_id": 0}, "go together"),
        ({"coordinator": "localhost", "num_processes": 2, "process_id": 0}, "HOST:PORT"),
        ({"coordinator": "h:99999", "num_processes": 2, "process_id": 0}, "HOST:PORT"),
        ({"coordinator": "h:1234", "num_processes": 2, "process_id": 2}, "--process-id"),
        ({"coordinator": "h:1234", "num_processes": 0, "process_id": 0}, "--process-id"),
    ],
)
def test_initialize_refuses_partial_or_bad_settings_before_contacting_anyone(kw, msg):
    with pytest.raises(ValueError, match=msg):
        initialize(**kw)


def test_cli_flags_are_checked(tiny_experiments, tmp_path, capsys):
    out = str(tmp_path / "r")
    assert main(["run", "toy", "--out", out, "--shard", "3/2"]) == 2
    assert "--shard 3/2" in capsys.readouterr().err
    assert main(["run", "toy", "--out", out, "--assemble", "--shard", "0/2"]) == 2
    assert "cannot be combined" in capsys.readouterr().err
    assert main(["run", "toy", "--out", out, "--coordinator", "h:1"]) == 2
    assert "need --distributed" in capsys.readouterr().err
    assert not Path(out).exists()


def test_concurrent_claims_of_an_empty_folder_admit_one_config(tmp_path):
    root = tmp_path / "run"
    results: list[str] = []

    def claim(seeds):
        try:
            lock_folder(root, owner="toy", config={"compute": {"seeds": seeds}})
            results.append(f"ok {seeds}")
        except FolderConflictError as err:
            assert "compute.seeds" in str(err)
            results.append(f"refused {seeds}")

    threads = [threading.Thread(target=claim, args=(3 + i % 2,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winner = json.loads((root / "owner.json").read_text())["config"]["compute"]["seeds"]
    assert sorted(results) == sorted([f"ok {winner}"] * 8 + [f"refused {7 - winner}"] * 8), results
    lock_folder(root, owner="toy", config={"compute": {"seeds": 7 - winner}}, overwrite=True)
    lock_folder(root, owner="toy", config={"compute": {"seeds": 7 - winner}})
    with pytest.raises(FolderConflictError, match="claimed by 'toy'"):
        lock_folder(root, owner="other", config={"compute": {"seeds": 7 - winner}})


def test_shards_assemble_dry_run_and_refusal(tiny_experiments, tmp_path, capsys):
    out = tmp_path / "run"
    base = ["run", "toy", "--no-progress", "--set", MEANS, "--out", str(out)]
    ref = tmp_path / "ref"
    assert main(["run", "toy", "--no-progress", "--set", MEANS, "--out", str(ref)]) == 0
    capsys.readouterr()

    assert main([*base, "--shard", "0/3"]) == 0
    assert "2 of 6 pieces" in capsys.readouterr().out
    assert not (out / "results.parquet").exists()  # not assembled while pieces are missing
    assert json.loads((out / "manifest.json").read_text())["status"] == "partial"

    before = sorted((p.name, p.stat().st_mtime_ns) for p in out.rglob("*"))
    assert main([*base, "--dry-run", "--shard", "1/3"]) == 0
    text = capsys.readouterr().out
    assert "6 pieces, 2 done, 4 to do; shard 1/3 would compute 2" in text
    assert "devices: 1 x" in text
    rows = [ln.split() for ln in text.splitlines() if ln.strip()[:1].isdigit()]
    assert [r[2] for r in rows] == ["ok", "missing", "missing", "ok", "missing", "missing"]
    assert [r[3] for r in rows] == ["0", "1", "2", "0", "1", "2"]
    assert [r[4] for r in rows] == ["no", "yes", "no", "no", "yes", "no"]
    assert sorted((p.name, p.stat().st_mtime_ns) for p in out.rglob("*")) == before

    assert main([*base, "--assemble"]) == 2
    assert "4 of 6 pieces are not in" in capsys.readouterr().err
    assert main(["run", "toy", "--set", "seeds=5", "--out", str(out), "--shard", "1/3"]) == 2
    assert "compute.seeds: 8 there, 5 now" in capsys.readouterr().err

    assert main([*base, "--shard", "1/3"]) == 0
    assert main([*base, "--shard", "2/3"]) == 0  # lands the last piece: assembles
    assert "wrote" in capsys.readouterr().out
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "results.parquet"), pd.read_parquet(ref / "results.parquet")
    )
    assert (out / "summary.md").is_file() and (out / "figure_x.png").is_file()
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
    (out / "summary.md").unlink()
    assert main([*base, "--assemble"]) == 0
    assert (out / "summary.md").is_file()


def _shard_cmd(out: Path, i: int, n: int) -> list[str]:
    return [sys.executable, "-m", "initjax.cli", "run", "toy", "--no-progress", "--set", MEANS,
            "--out", str(out), "--shard", f"{i}/{n}"]  # fmt: skip


def test_three_concurrent_shards_one_killed_and_rerun(tiny_experiments, tmp_path, capsys):
    """3 shard processes write into one folder at once; shard 1 is SIGKILLed after its first
    piece; rerunning it (in this process) completes the run, whose table equals an unsharded
    run's."""
    ref = tmp_path / "ref"
    assert main(["run", "toy", "--no-progress", "--set", MEANS, "--out", str(ref)]) == 0
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    env_slow = dict(env, TOY_SLEEP="1.5", TOY_CALLS=str(tmp_path / "calls1"))
    victim = subprocess.Popen(_shard_cmd(out, 1, 3), env=env_slow, stderr=subprocess.PIPE)
    others = [
        subprocess.Popen(_shard_cmd(out, i, 3), env=dict(env, TOY_SLEEP="0.5")) for i in (0, 2)
    ]
    deadline = time.monotonic() + 120
    calls = tmp_path / "calls1"
    while time.monotonic() < deadline:  # kill during its second piece
        if calls.is_file() and len(calls.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    for p in others:
        assert p.wait(timeout=300) == 0
    assert victim.returncode == -signal.SIGKILL, victim.stderr.read().decode()[-3000:]
    assert not (out / "results.parquet").exists()  # shard 1's second piece is missing
    done = len(list((out / "pieces").glob("*.parquet")))
    assert done == 5, done
    capsys.readouterr()
    assert main(_shard_cmd(out, 1, 3)[3:]) == 0
    assert "6 pieces (1 computed now" in capsys.readouterr().out
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "results.parquet"), pd.read_parquet(ref / "results.parquet")
    )
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


def test_an_experiment_of_the_earlier_form_is_refused_before_any_work(tmp_path, capsys):
    exp = tmp_path / "own_loop.py"
    exp.write_text(
        '"""Own loop."""\nimport ml_collections\n\nDESCRIPTION = "own loop"\n\n\n'
        "def get_config():\n    c = ml_collections.ConfigDict()\n    c.preset = 'default'\n"
        "    c.n = 1\n    return c\n\n\ndef run(config, out, progress=True):\n"
        "    raise AssertionError('must not run')\n"
    )
    out = tmp_path / "r"
    assert main(["run", str(exp), "--out", str(out), "--shard", "0/2"]) == 2
    assert "lacks pieces(), evaluate(), report()" in capsys.readouterr().err
    assert main(["run", str(exp), "--out", str(out)]) == 2
    assert not out.exists()


def test_plan_assigns_costed_pieces_by_lpt_and_states_device_memory(tmp_path, monkeypatch):
    from initjax.measure import device_memory
    from initjax.sweeps.runtime import Piece, plan

    free = (3 * 2**30, 2**34, "test device memory")
    monkeypatch.setattr(device_memory, "available", lambda: free)
    costs = [100.0, 1, 1, 1, 1, 1, 1, 1, 1]
    pieces = [
        Piece(f"p{k}", lambda: pd.DataFrame({"x": [1]}), {"k": k}, cost=c, memory_bytes=2**20)
        for k, c in enumerate(costs)
    ]
    p = plan(
        "toy-lpt",
        pieces,
        tmp_path / "run",
        compute={"a": 1},
        config={"compute": {"a": 1}},
        shard=(0, 2),
    )
    assert [r["shard"] for r in p["pieces"]] == [0, 1, 1, 1, 1, 1, 1, 1, 1]
    assert [r["runs"] for r in p["pieces"]] == [True] + [False] * 8
    assert p["devices"]["memory_free"] == 3 * 2**30
    assert p["devices"]["memory_source"] == "test device memory"
