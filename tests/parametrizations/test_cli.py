"""``initjax parametrizations``: tables with sources, and one model's per-parameter numbers."""

from __future__ import annotations

import json

import pytest

from initjax.cli import main


def test_tables_with_sources(capsys):
    assert main(["parametrizations"]) == 0
    out = capsys.readouterr().out
    for name in ("sp:", "ntk:", "mup:", "depth_mup:", "completep:"):
        assert name in out
    assert "Table 8" in out and "arXiv:2505.01618" in out and "arXiv:2310.02244" in out
    assert "readout [1]                m_in     m_in^-1    m_in          1" in out
    assert "branch output (x) [4]      1        m_L^-1" in out


def test_one_model_json(capsys):
    args = ["parametrizations", "--arch", "mlp", "--width", "256", "--base-width", "64"]
    assert main([*args, "--param", "mup", "--json", "--in-shape", "40"]) == 0
    rows = {r["path"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["readout/kernel"]["multiplier"] == 0.25
    assert rows["hidden/kernel"]["lr"] == 0.25 and rows["input/kernel"]["fan_in"] == 40


def test_bad_input_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit):
        main(["parametrizations", "--arch", "mlp"])
    assert "--arch needs --width" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["parametrizations", "--arch", "mlp", "--width", "8", "--param", "mup"])
    assert "base_width" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["parametrizations", "--param", "mpu"])
    assert "Did you mean 'mup'" in capsys.readouterr().err
