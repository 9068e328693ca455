"""The launch recipes in scripts/launch/ run as written: their dry runs (DRY_RUN=1) are executed
with the scheduler's environment simulated (a SLURM array task, a SLURM step, a TPU pod's
`gcloud ... --worker=all`), and print the plan of the pieces they would compute."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ROOT / "scripts" / "launch"
INITJAX = f"{shlex.quote(sys.executable)} -m initjax.cli"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update(
        PYTHONPATH=str(ROOT),
        JAX_PLATFORMS="cpu",
        INITJAX=INITJAX,
        DRY_RUN="1",
        OUT=str(tmp_path / "run"),
        PATH=str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
    )
    env.update(extra)
    return env


def _run(script: str, env: dict[str, str]) -> str:
    proc = subprocess.run(
        ["bash", str(LAUNCH / script)], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


def test_slurm_array_task_runs_its_shard(tmp_path):
    text = (LAUNCH / "slurm_array.sbatch").read_text()
    lo, hi = map(int, re.search(r"#SBATCH --array=(\d+)-(\d+)", text).groups())
    n = hi - lo + 1
    env = _env(
        tmp_path,
        PRESET="tiny",
        SLURM_ARRAY_TASK_ID=str(lo + 1),
        SLURM_ARRAY_TASK_MIN=str(lo),
        SLURM_ARRAY_TASK_MAX=str(hi),
        SLURM_ARRAY_TASK_COUNT=str(n),
    )
    out = _run("slurm_array.sbatch", env)
    assert f"shard 1/{n} would compute" in out, out
    assert not (tmp_path / "run").exists()  # a dry run writes nothing


def test_gpu_node_recipe_plans_the_full_preset(tmp_path):
    out = _run("gpu_node.sh", _env(tmp_path))
    assert re.search(r"depth-sweep -> .*: \d+ pieces, 0 done", out), out
    assert "largest piece: ~" in out


def test_slurm_multinode_recipe_autodetects_slurm(tmp_path):
    # One srun task on this host: jax.distributed.initialize() detects SLURM from these variables
    # (coordinator = first node of the step, process count, index) and forms a 1-process run.
    env = _env(
        tmp_path,
        SRUN="",
        PRESET="tiny",
        SLURM_JOB_ID="4242",
        SLURM_STEP_NODELIST="localhost",
        SLURM_NODELIST="localhost",
        SLURM_NTASKS="1",
        SLURM_PROCID="0",
        SLURM_LOCALID="0",
    )
    out = _run("slurm_multinode.sbatch", env)
    assert "distributed: process 0 of 1" in out, out
    assert "pieces, 0 done" in out


def test_tpu_pod_recipe_runs_one_command_on_every_worker(tmp_path):
    # A stand-in for gcloud: records its arguments, then runs the --command locally (without
    # --distributed, which needs a TPU pod to auto-detect).
    stub = tmp_path / "gcloud"
    log = tmp_path / "gcloud.args"
    stub.write_text(
        "#!/usr/bin/env bash\n"
        f'printf "%s\\n" "$@" > {shlex.quote(str(log))}\n'
        'while [ "$#" -gt 0 ]; do [ "$1" = --command ] && CMD="$2"; shift; done\n'
        'eval "${CMD/ --distributed/}"\n'
    )
    stub.chmod(0o755)
    env = _env(tmp_path, GCLOUD=str(stub), TPU_NAME="pod", ZONE="us-west4-a", PRESET="tiny")
    out = _run("tpu_pod.sh", env)
    args = log.read_text().splitlines()
    assert args[:5] == ["compute", "tpus", "tpu-vm", "ssh", "pod"]
    assert "--worker=all" in args
    cmd = args[args.index("--command") + 1]
    assert cmd.startswith("initjax run depth_sweep --set preset=tiny") and "--distributed" in cmd
    assert "pieces, 0 done" in out, out


def test_readme_cluster_section_commands_are_the_tested_ones(tmp_path, monkeypatch, capsys):
    from initjax.cli import main

    text = (ROOT / "README.md").read_text()
    start = text.index("## Running on a cluster")
    section = text[start : text.index("\n## ", start + 5)]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    tested = Path(__file__).read_text()
    monkeypatch.chdir(tmp_path)
    lines = [ln.split("#")[0].strip() for ln in block.strip().splitlines()]
    for line in lines:
        argv = shlex.split(line)
        if argv[0] == "initjax":
            assert main(argv[1:]) == 0
            assert "pieces, 0 done" in capsys.readouterr().out
        else:  # a launcher: a script of scripts/launch whose dry run a test above runs
            script = next(a for a in argv if a.startswith("scripts/launch/"))
            assert (ROOT / script).is_file() and f'"{Path(script).name}"' in tested, script
    assert "docs/LAUNCH.md" in section and (ROOT / "docs" / "LAUNCH.md").is_file()
    assert not (tmp_path / "runs").exists()  # dry runs write nothing
