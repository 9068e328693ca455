"""`initjax run` / `initjax plot` from the command line (in process, through initjax.cli.main)."""

import json

import pandas as pd

from initjax.cli import main
from initjax.sweeps.store import RunStore


def test_run_list(tiny_experiments, capsys):
    assert main(["run", "--list"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("tiny-sweep "))
    assert line.split(None, 1)[1] == "tiny propagation sweep for tests"
    assert "depth-sweep" in out and "he-vs-xavier" in out


def test_unknown_experiment_and_key_are_clear_errors(tiny_experiments, capsys):
    assert main(["run", "tiny-swep"]) == 2
    assert "Did you mean tiny-sweep" in capsys.readouterr().err
    assert main(["run", "tiny-sweep", "--set", "widht=4"]) == 2
    err = capsys.readouterr().err
    assert "'widht' does not exist" in err and "widths" in err


def test_out_naming_a_file_is_refused_before_computing(tiny_experiments, tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("x")
    assert main(["run", "toy", "--no-progress", "--out", str(f)]) == 2
    assert "is an existing file" in capsys.readouterr().err and f.read_text() == "x"


def test_run_records_the_real_command_and_refuses_another_config(
    tiny_experiments, tmp_path, capsys
):
    out = tmp_path / "run"
    args = ["run", "toy", "--no-progress", "--out", str(out)]
    assert main([*args, "--set", "seeds=6", "--set", "preset=tiny"]) == 0
    m = RunStore(out).read_manifest()
    assert m["command"] == f"initjax run toy --set seeds=6 --set preset=tiny --out {out}"
    assert m["overrides"] == ["seeds=6", "preset=tiny"]
    summary = (out / "summary.md").read_text()
    assert f"`initjax run toy --set seeds=6 --set preset=tiny --out {out}`" in summary
    assert "preset `tiny`" in summary
    capsys.readouterr()
    # another compute config into the same folder: refused, nothing changed
    assert main([*args, "--set", "seeds=7"]) == 2
    err = capsys.readouterr().err
    assert "compute.seeds: 6 there, 7 now" in err and "--overwrite" in err
    assert main([*args, "--set", "seeds=7", "--overwrite"]) == 0
    assert RunStore(out).read_manifest()["config"]["compute"]["seeds"] == 7
    assert len(pd.read_parquet(out / "results.parquet")) == 21


def test_run_then_plot_redraws_without_recomputing(tiny_experiments, tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(["run", "tiny-sweep", "--no-progress", "--set", "depths=[3]", "--out", str(out)]) == 0
    )
    table_mtime = (out / "results.parquet").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["plot", str(out)]) == 0  # a grid study: its summary is rebuilt
    assert "summary.md" in capsys.readouterr().out
    out2 = tmp_path / "toy"
    assert main(["run", "toy", "--no-progress", "--out", str(out2)]) == 0
    capsys.readouterr()
    assert main(["plot", str(out2)]) == 0
    printed = capsys.readouterr().out
    assert "redrawn in" in printed and "figure_x.png" in printed and "summary.md" in printed
    assert (out / "results.parquet").stat().st_mtime_ns == table_mtime
    assert main(["plot", str(tmp_path / "nope")]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_plot_on_a_propagate_folder_explains(tmp_path, capsys):
    d = tmp_path / "prop"
    d.mkdir()
    (d / "manifest.json").write_text(json.dumps({"command": "propagate", "args": {"seeds": 2}}))
    (d / "propagate.parquet").write_bytes(b"")
    assert main(["plot", str(d)]) == 2
    err = capsys.readouterr().err
    assert "written by `initjax propagate`" in err and "KeyError" not in err
