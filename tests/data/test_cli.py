"""`initjax data list` / `initjax data prepare`."""

from __future__ import annotations

import json

from initjax import cli
from initjax.data import _tfds


def test_list_json_reports_availability(fake_mnist_dir, tmp_path, capsys):
    assert cli.main(["data", "list", "--json", "--data-dir", str(fake_mnist_dir)]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"mnist", "fashion_mnist", "cifar10", "mnist1d", "gaussian_mixture"} | {
        "teacher",
        "associative_recall",
    }
    assert rows["mnist"]["status"] == "prepared" and rows["mnist"]["available"]
    assert rows["cifar10"]["status"] == "missing" and not rows["cifar10"]["available"]
    assert rows["teacher"]["available"] and rows["teacher"]["kind"] == "generated"


def test_list_table(tmp_path, capsys):
    assert cli.main(["data", "list", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "no: run `initjax data prepare mnist`" in out and str(tmp_path) in out


def test_prepare_errors_are_one_line(tmp_path, monkeypatch, capsys):
    assert cli.main(["data", "prepare", "mnsit"]) == 2
    assert "Did you mean 'mnist'" in capsys.readouterr().err
    monkeypatch.setattr(_tfds.importlib.util, "find_spec", lambda name: None)
    assert cli.main(["data", "prepare", "cifar10", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "needs TensorFlow" in err and "Traceback" not in err


def test_prepare_generated(tmp_path, capsys):
    assert cli.main(["data", "prepare", "teacher"]) == 0
    assert "nothing to prepare" in capsys.readouterr().out
    assert cli.main(["data", "prepare", "mnist1d", "--cache-dir", str(tmp_path)]) == 0
    assert "cached at" in capsys.readouterr().out
    assert len(list((tmp_path / "mnist1d").glob("*.npz"))) == 1
