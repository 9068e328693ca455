"""The wheel ships the experiments: built here without network (pip wheel, no build isolation)."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_every_experiment_and_package(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         str(ROOT), "-w", str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = tmp_path.glob("initjax-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for p in (ROOT / "experiments").glob("*.py"):
        assert f"initjax/experiments/{p.name}" in names, p.name
    for init in (ROOT / "initjax").rglob("__init__.py"):
        assert init.relative_to(ROOT).as_posix() in names, init
