"""scripts/preset_memory.py: a preset's device memory without running it."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scripts import preset_memory  # noqa: E402


def test_grid_pieces_use_their_own_estimate(capsys):
    assert preset_memory.main(["depth-sweep", "--preset", "tiny"]) == 0
    row = capsys.readouterr().out.strip().splitlines()[-1]
    assert row.startswith("| depth-sweep |") and row.endswith("| piece |")


def test_other_pieces_stop_at_their_first_memory_check():
    from initjax.measure import engine

    before = engine.trace_count()
    res = preset_memory.probe("glorot2010", "tiny", 0)
    assert res["how"] == "propagate" and res["bytes"] > 0
    assert engine.trace_count() == before  # the piece stopped before compiling anything
