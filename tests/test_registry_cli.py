"""``initjax list`` over every registry (text within the width, JSON per kind)."""

from __future__ import annotations

import json

import pytest

from initjax import activations, data, initializers, models
from initjax.cli import main
from initjax.measure import metrics


def _out(capsys, *argv) -> str:
    assert main(["list", *argv]) == 0
    return capsys.readouterr().out


def test_text_lists_every_registry_within_the_width(capsys):
    out = _out(capsys, "--width", "100")
    assert max(len(line) for line in out.splitlines()) <= 100
    for title in ("[models", "[metrics", "[activations", "[datasets"):
        assert title in out
    for name in models.names():
        assert f"{name}: {models.get(name).__name__}" in out
    for name in metrics.names():
        assert f"{name}: " in out
    for name in activations.names() + data.names():
        assert name in out


@pytest.mark.parametrize("kind", ["models", "metrics", "activations", "datasets"])
def test_one_kind(capsys, kind):
    out = _out(capsys, "--kind", kind)
    assert "initializers registered" not in out and f"[{kind}" in out
    rows = json.loads(_out(capsys, "--kind", kind, "--json"))
    names = {"models": models, "metrics": metrics, "activations": activations, "datasets": data}
    assert [r["name"] for r in rows] == names[kind].names()


def test_json_all_and_default(capsys):
    allrows = json.loads(_out(capsys, "--json", "--kind", "all"))
    assert set(allrows) == {"initializers", "models", "metrics", "activations", "datasets"}
    conv = {r["name"]: r for r in allrows["models"]}["conv"]
    assert (
        conv["width_field"] == "channels"
        and conv["plugin"] == ""
        and "kernel_size" in conv["fields"]
    )
    jac = {r["name"]: r for r in allrows["metrics"]}["jac_sv"]
    assert jac["pass"] == "jacobian" and not jac["per_layer"]
    # Without --kind, --json keeps printing the initializer table (a list).
    rows = json.loads(_out(capsys, "--json"))
    assert [r["name"] for r in sorted(rows, key=lambda r: r["name"])] == initializers.names()
