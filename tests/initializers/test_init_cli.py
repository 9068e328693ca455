"""``initjax list``: every entry, readable at 100 columns, and machine-readable with --json."""

from __future__ import annotations

import json

import pytest

from initjax import initializers
from initjax.cli import main


def _run(capsys, *argv):
    assert main(["list", *argv]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("width", [100, 120])
def test_table_lists_everything_within_width(capsys, width):
    out = _run(capsys, "--width", str(width))
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= width
    for name in initializers.names():
        e = initializers.entry(name)
        assert any(line.startswith(name) for line in lines), name
        assert e.family in out
        # Each hyper-parameter appears with its default, never broken across lines.
        for k, v in e.defaults.items():
            assert f"{k}={v!r}" in out, (name, k)
    for alias in initializers.aliases():
        assert alias in out
    n_alias = len(initializers.aliases())
    assert f"{len(initializers.names())} initializers registered (+{n_alias} aliases)" in out


def test_table_wraps_references_instead_of_cutting(capsys):
    out = _run(capsys, "--width", "100")
    flat = " ".join(out.split())
    for name in initializers.names():
        assert " ".join(initializers.entry(name).reference.split()) in flat, name


def test_json(capsys):
    rows = json.loads(_run(capsys, "--json"))
    assert sorted(r["name"] for r in rows) == initializers.names()
    by_name = {r["name"]: r for r in rows}
    he = by_name["he_normal"]
    assert he["family"] == "variance_scaling"
    assert he["hparams"]["scale"] == 2.0 and he["hparams"]["batch_axis"] == []
    assert he["aliases"] == ["kaiming_normal"]
    assert he["variance"] == "2 / fan_in"
    assert "1502.01852" in he["reference"]
    assert by_name["variance_scaling"]["choices"]["mode"] == [
        "fan_in", "fan_out", "fan_avg", "fan_geo_avg"
    ]  # fmt: skip
    assert by_name["zeros"]["deterministic"] and not by_name["zeros"]["fan_based"]
    assert by_name["delta_orthogonal"]["shapes"] == ["conv"]
