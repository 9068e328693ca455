"""`initjax run` / `initjax plot` from the command line (in process, through initjax.cli.main)."""

from initjax.cli import main


def test_run_list(tiny_experiments, capsys):
    assert main(["run", "--list"]) == 0
    assert "tiny-sweep  tiny propagation sweep for tests" in capsys.readouterr().out


def test_unknown_experiment_and_key_are_clear_errors(tiny_experiments, capsys):
    assert main(["run", "tiny-swep"]) == 2
    assert "Did you mean tiny-sweep" in capsys.readouterr().err
    assert main(["run", "tiny-sweep", "--set", "widht=4"]) == 2
    err = capsys.readouterr().err
    assert "'widht' does not exist" in err and "widths" in err


def test_run_then_plot_redraws_without_recomputing(tiny_experiments, tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(["run", "tiny-sweep", "--no-progress", "--set", "depths=[3]", "--out", str(out)]) == 0
    )
    table_mtime = (out / "results.parquet").stat().st_mtime_ns
    assert main(["plot", str(out)]) == 0
    assert "redrawn" in capsys.readouterr().out
    assert (out / "results.parquet").stat().st_mtime_ns == table_mtime
    assert main(["plot", str(tmp_path / "nope")]) == 2
    assert "not a run folder" in capsys.readouterr().err
