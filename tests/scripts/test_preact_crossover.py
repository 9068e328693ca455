"""scripts/preact_crossover.py: both paths run and the ratio line is printed (no timing check)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts import preact_crossover  # noqa: E402


def test_prints_one_ratio_line_per_width(capsys):
    args = ["--batches", "4", "--widths", "16,32", "--depth", "2", "--seeds", "2", "--repeats", "1"]
    assert preact_crossover.main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split(":")[0] for ln in lines] == [
        "batch 4 width 16 (4.0 x batch)", "batch 4 width 32 (8.0 x batch)"]  # fmt: skip
    assert all("fused / preact" in ln for ln in lines)


def test_bad_sizes_name_the_argument(capsys):
    with pytest.raises(SystemExit):
        preact_crossover.main(["--widths", "0,16"])
    assert "--widths" in capsys.readouterr().err
