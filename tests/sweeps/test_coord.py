"""The coordinate check as a run: folder outputs, a verdict that FAILs for a wrong readout rule,
and the command line's parsing and bad-input errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from initjax import parametrizations as P
from initjax.cli import main
from initjax.measure.coord_check import default_expectation
from initjax.parametrizations import Rule
from initjax.sweeps.coord import ANALYSIS, coord_summary_verdict, run_coord_check
from initjax.sweeps.coord_cli import parse_sizes
from initjax.sweeps.summary import Summary

# muP with the readout of SP (init var, multiplier and lr x 1): a deliberately wrong rule.
WRONG = P.MUP.replace_rule("readout", Rule(), name="mup_sp_readout")


def _run(out, *, parametrizations=(WRONG,), widths=(32, 128), seeds=8, batch=32):
    """A coord-check run of one relu/he_normal hidden layer, one adam step, no spectral check.

    The sizes, seeds and batch of tests/measure/test_coord_check.py::
    test_a_wrong_readout_multiplier_fails_the_check, so each width's compiled check is the one
    that test compiles (the test session's compilation cache hands it over)."""
    return run_coord_check(
        out,
        parametrizations=parametrizations,
        widths=widths,
        depths=1,
        seeds=seeds,
        steps=1,
        batch=batch,
        spectral=False,
        model_fields={"activation": "relu", "kernel_init": "he_normal"},
        progress=False,
        log=lambda *_: None,
    )


def test_a_coord_run_writes_its_folder_records_its_rule_and_resumes(tmp_path):
    # The run path at its smallest (one parametrization, 2 widths: 2 compiled programs, shared
    # with test_coord_check): the folder's tables, figures and summary, the summary's verdict =
    # the verdict of the stored slopes, the modified rule recorded whole, and a rerun that
    # recomputes nothing. (Whether the run PASSes or FAILs is not the point here; the FAIL of
    # this rule at widths 32 and 128:
    # tests/measure/test_coord_check.py::test_a_wrong_readout_multiplier_fails_the_check.)
    res = _run(tmp_path)
    for f in ("results.parquet", "slopes.parquet", "coords_delta.png", "summary.md"):
        assert (tmp_path / f).is_file(), f
    slopes = pd.read_parquet(tmp_path / "slopes.parquet")
    assert set(slopes["parametrization"]) == {"mup_sp_readout"}
    assert sorted(res.table["width"].unique()) == [32, 128]
    expect = {WRONG.name: default_expectation(WRONG, "adam", "width")}  # muP's: flat
    assert expect == {"mup_sp_readout": "flat"}
    want = coord_summary_verdict(slopes, ANALYSIS, "width", expect)
    s = Summary.read(tmp_path)
    assert s.verdict.status == res.verdict.status == want.status
    assert [c.name for c in s.verdict.checks] == [c.name for c in want.checks]
    assert len(want.checks) == 3 and "coords_delta.png" in s.figures  # input, hidden_1, output
    md = (tmp_path / "summary.md").read_text()
    assert md.index("## Criterion") < md.index(f"**Verdict: {want.status}**")
    recorded = json.loads((tmp_path / "manifest.json").read_text())["config"]["compute"]
    assert recorded["parametrizations"][0]["name"] == "mup_sp_readout"
    assert recorded["parametrizations"][0]["rules"] == WRONG.rows()
    stored = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "pieces").iterdir()}
    again = _run(tmp_path)  # resumes: nothing recomputed, the same table
    pd.testing.assert_frame_equal(again.table, res.table)
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "pieces").iterdir()} == stored


# slow: covered by test_a_coord_run_writes_its_folder_records_its_rule_and_resumes (the run
# path: folder, summary verdict, recorded rule, resume) and
# tests/measure/test_coord_check.py::test_a_wrong_readout_multiplier_fails_the_check (this
# wrong rule FAILs the pre-registered verdict at widths 32 and 128, muP passes).
@pytest.mark.slow
def test_a_wrong_readout_multiplier_fails_the_run(tmp_path):
    # Widths 32 and 128 only: with three log-equally spaced widths (32, 64, 128) the middle one
    # has weight 0 in each seed's least-squares slope, so the slopes and the verdict are the
    # ones the three widths give, for 4 compiled programs instead of 6.
    kw = {"parametrizations": ("mup", WRONG)}  # widths 32 and 128, 8 seeds, batch 32
    res = _run(tmp_path, **kw)
    assert res.verdict.status == "FAIL"
    failed = [c.name for c in res.verdict.checks if not c.passed]
    assert failed and all(n.startswith("mup_sp_readout") for n in failed)
    assert any("output" in n for n in failed)
    assert all(c.passed for c in res.verdict.checks if c.name.startswith("mup ("))
    for f in ("results.parquet", "slopes.parquet", "coords_delta.png", "summary.md"):
        assert (tmp_path / f).is_file(), f
    slopes = pd.read_parquet(tmp_path / "slopes.parquet")
    assert set(slopes["parametrization"]) == {"mup", "mup_sp_readout"}
    s = Summary.read(tmp_path)
    assert s.verdict.status == "FAIL" and "coords_delta.png" in s.figures
    md = (tmp_path / "summary.md").read_text()
    assert md.index("## Criterion") < md.index("**Verdict: FAIL**")
    # The modified rule is recorded whole in the config (its own piece identities).
    recorded = json.loads((tmp_path / "manifest.json").read_text())["config"]["compute"]
    assert recorded["parametrizations"][0] == "mup"
    assert recorded["parametrizations"][1]["name"] == "mup_sp_readout"
    # A rerun resumes: nothing recomputed, same verdict.
    again = _run(tmp_path, **kw)
    pd.testing.assert_frame_equal(again.table, res.table)


def test_parse_sizes():
    assert parse_sizes("64:4096", "--widths") == [64, 128, 256, 512, 1024, 2048, 4096]
    assert parse_sizes("64:4096:4", "--widths") == [64, 256, 1024, 4096]
    assert parse_sizes("512, 64,128", "--widths") == [64, 128, 512]
    for bad in ("64:1000", "abc", "0,4", "128:64", "64:128:1", "1:2:3:4", ""):
        with pytest.raises(ValueError, match="--widths"):
            parse_sizes(bad, "--widths")


@pytest.mark.parametrize(
    "args, match",
    [
        (["--arch", "nope"], "nope"),
        (["--param", "sp,mupp"], "parametrization"),
        (["--widths", "64:1000"], "not 64 times a power of 2"),
        (["--widths", "64", "--depths", "2"], ">= 2 widths or >= 2 depths"),
        (["--param", "depth_mup", "--depths", "2,4", "--widths", "8"], "residual"),
        (["--widths", "8,16", "--model-arg", "readout"], "FIELD=VALUE"),
        (["--widths", "8,16", "--memory-gb", "0.0000001"], "memory_gb"),
    ],
)
def test_bad_input_is_one_clear_line(args, match, tmp_path, capsys):
    rc = main(["coord-check", "--out", str(tmp_path / "run"), "--no-progress", *args])
    err = capsys.readouterr().err
    assert rc == 2 and match in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_cli_end_to_end(tmp_path, capsys):
    rc = main(["coord-check", "--widths", "16:64", "--seeds", "4", "--steps", "2",
               "--out", str(tmp_path), "--no-progress"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc in (0, 1) and "summary.md" in out
    assert (tmp_path / "spectral.png").is_file()
    s = Summary.read(tmp_path)
    assert (rc == 0) == (s.verdict.status == "PASS")
