"""initjax.report: the reproductions page, earlier-form summaries and the run adapter."""

import json

import numpy as np
import pytest

from initjax import report
from initjax.cli import main


def _summary(name, title, verdict="PASS", reason="x = 1.00 vs 1"):
    return (
        f"# {name}: {title}\n\nSome text.\n\n## Table\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        f"{report.verdict_line(verdict, reason)}\n"
    )


def _run_folder(root, name, title, *, verdict="PASS", png_size=None, wall=12.0):
    d = root / name
    d.mkdir(parents=True)
    (d / "summary.md").write_text(_summary(name, title, verdict))
    manifest = {
        "config": {"preset": "default"},
        "environment": {"device_count": 1, "device_kind": "cpu", "jax": "0.x"},
        "compute_s": wall,
        "finished": "today",
    }
    (d / "manifest.json").write_text(json.dumps(manifest))
    if png_size:
        from PIL import Image

        rng = np.random.default_rng(0)
        img = rng.integers(0, 255, (png_size[1], png_size[0], 3), dtype=np.uint8)
        Image.fromarray(img).save(d / "figure_a.png")
    return d


# --- summary conventions ----------------------------------------------------------------------


def test_verdict_line_round_trips_through_parse_summary():
    line = report.verdict_line("PARTIAL", "2 of 3 checks: sv 0.48 vs 0.5")
    assert line == "**Verdict: PARTIAL** — 2 of 3 checks: sv 0.48 vs 0.5"
    info = report.parse_summary(f"# glorot2010: Title here\n\n{line}\n")
    assert info == dict(
        title="Title here",
        verdict="PARTIAL",
        reason="2 of 3 checks: sv 0.48 vs 0.5",
        body=line,
        problems=[],
    )


@pytest.mark.parametrize(
    "status, reason", [("OK", "fine"), ("PASS", ""), ("PASS", "two\nlines"), ("pass", "x")]
)
def test_verdict_line_rejects_bad_input(status, reason):
    with pytest.raises(ValueError, match="status|reason"):
        report.verdict_line(status, reason)


def test_parse_summary_reports_convention_problems():
    info = report.parse_summary("no title\n\n**Verdict: PASS** — a\n**Verdict: FAIL** — b\n")
    assert info["verdict"] == "PASS"
    assert len(info["problems"]) == 2
    assert "does not start" in info["problems"][0] and "2 verdict lines" in info["problems"][1]
    assert report.parse_summary("# x: y\n")["problems"] == [
        "no '**Verdict: PASS|PARTIAL|FAIL** — reason' line"
    ]


def test_find_run_accepts_both_spellings(tmp_path):
    _run_folder(tmp_path, "schoenholz2017-dropout", "dropout")
    assert (
        report.find_run(tmp_path, "schoenholz2017_dropout") == tmp_path / "schoenholz2017-dropout"
    )
    assert report.find_run(tmp_path, "saxe2014") is None


# --- report builder ---------------------------------------------------------------------------


def test_build_report(tmp_path):
    runs, out = tmp_path / "runs", tmp_path / "docs" / "REPRODUCTIONS.md"
    _run_folder(runs, "glorot2010", "Glorot title", png_size=(1800, 1200))
    _run_folder(runs, "schoenholz2017-dropout", "Dropout title", verdict="FAIL")
    _run_folder(runs, "my-extra", "Extra reproduction", verdict="PARTIAL")
    (runs / "depth-sweep").mkdir()
    (runs / "depth-sweep" / "summary.md").write_text("# depth-sweep summary\n")  # no verdict
    records = report.build_report(runs, out)
    names = [r.name for r in records]
    assert names == [*report.REPRODUCTIONS, "my-extra"]
    text = out.read_text()
    # Top table: one row per reproduction, missing ones with the command that produces them.
    assert text.count("| not run | `initjax run ") == 5
    assert "| **PASS** | x = 1.00 vs 1 | 0.2 min |" in text
    assert "[glorot2010](#1-glorot2010-glorot-title)" in text
    assert "## 4. schoenholz2017-dropout: Dropout title" in text
    # Its manifest has no command line and a config that no preset rebuilds: said so, no guess.
    assert "Command: none recorded (the run was started from Python" in text
    assert "## 8. my-extra: Extra reproduction" in text and "**PARTIAL**" in text
    # The summary body is nested one heading level down; its verdict line is kept.
    assert "### Table" in text and "**Verdict: FAIL** —" in text
    # The 1800-px noise image (~6 MB) is downscaled below 200 KB and linked relative to out.
    fig = tmp_path / "docs" / "reproductions" / "glorot2010_figure_a.png"
    assert fig.is_file() and fig.stat().st_size <= report.MAX_PNG_BYTES
    assert "![glorot2010 figure_a](reproductions/glorot2010_figure_a.png)" in text
    # Rebuilding drops stale figures of a reproduction whose run no longer has them.
    (runs / "glorot2010" / "figure_a.png").unlink()
    report.build_report(runs, out)
    assert not fig.exists()


def test_build_report_names_and_cli(tmp_path, capsys, monkeypatch):
    runs, out = tmp_path / "runs", tmp_path / "REPRO.md"
    _run_folder(runs, "hanin2018", "Hanin title")
    rc = main(["report", "--runs", str(runs), "--out", str(out), "--names", "hanin2018"])
    assert rc == 0
    assert "hanin2018  PASS" in capsys.readouterr().out
    text = out.read_text()
    assert "## 1. hanin2018: Hanin title" in text
    with pytest.raises(ValueError, match="names"):
        report.build_report(runs, out, names=[" "])
    # unknown names and missing run folders are errors (exit 2), nothing is written
    out.unlink()
    assert main(["report", "--runs", str(runs), "--out", str(out), "--names", "x1"]) == 2
    assert "no run folder with a summary under" in capsys.readouterr().err
    assert main(["report", "--runs", str(tmp_path / "nonexistent"), "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err and not out.exists()
    # the default output lies next to the runs, never in the repository's docs/
    monkeypatch.chdir(tmp_path)
    assert main(["report", "--names", "hanin2018"]) == 0
    assert (tmp_path / "runs" / "REPRODUCTIONS.md").is_file()
    assert "wrote runs/REPRODUCTIONS.md" in capsys.readouterr().out


def test_report_from_summary_json_with_the_recorded_command(tmp_path):
    """A run of the protocol is read from summary.json (not by parsing markdown)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from initjax.sweeps.summary import Check, Summary, Verdict

    runs, out = tmp_path / "runs", tmp_path / "docs" / "R.md"
    d = runs / "depth-sweep"
    d.mkdir(parents=True)
    cmd = "initjax run depth-sweep --set seeds=8 --out runs/depth-sweep"
    (d / "manifest.json").write_text(
        json.dumps({"command": cmd, "compute_s": 90.0, "config": {"preset": "default"}})
    )
    fig, ax = plt.subplots()
    fig.savefig(d / "figure_q.png")
    v = Verdict(
        "PASS",
        "measured within 3 SE of theory",
        [Check("critical sigma_w2", 1.7613, 1.7610, se=0.003, z=0.1, passed=True)],
        "1.7613 +- 0.003 vs 1.7610",
        ["training results"],
    )
    s = Summary("depth-sweep", "Depth title", "Paper 2017", {"command": cmd}, "setup text", v)
    s.figure(d / "figure_q.png", "q per layer").text("A paragraph.")
    s.write(d)
    (d / "summary.md").write_text("# something else entirely\n")  # not what the report reads
    recs = report.build_report(runs, out, names=["depth-sweep"])
    assert recs[0].verdict == "PASS" and recs[0].title == "Depth title"
    text = out.read_text()
    assert f"Command: `{cmd}`" in text
    assert "| 1 | [depth-sweep](#1-depth-sweep-depth-title) | Depth title | **PASS** |" in text
    assert "#### Criterion (fixed in the config before the run)" in text
    assert text.index("measured within 3 SE") < text.index("| critical sigma_w2 | 1.761 |")
    assert "- training results" in text and "something else entirely" not in text
    assert "![figure_q.png](reproductions/depth-sweep_figure_q.png)" in text
    assert (out.parent / "reproductions" / "depth-sweep_figure_q.png").is_file()


def test_small_png_is_copied_unchanged(tmp_path):
    d = _run_folder(tmp_path, "a", "t", png_size=(40, 30))
    dst = report.shrink_png(d / "figure_a.png", tmp_path / "out.png")
    assert dst.read_bytes() == (d / "figure_a.png").read_bytes()


# --- run scaffold ------------------------------------------------------------------------------


def test_figures_follow_the_summary_and_run_line_is_not_repeated(tmp_path):
    from PIL import Image

    runs, out = tmp_path / "runs", tmp_path / "R.md"
    d = _run_folder(runs, "poole2016", "Maps")
    for name in ("figure_a.png", "figure_b.png", "figure_c.png"):
        Image.new("RGB", (20, 10)).save(d / name)
    text = _summary("poole2016", "Maps").replace(
        "Some text.", "Run: preset `x`.\n\nFigures: figure_c.png (main), figure_a.png."
    )
    (d / "summary.md").write_text(text)
    rec = report.read_run(runs, "poole2016")
    assert [p.name for p in rec.figures] == ["figure_c.png", "figure_a.png", "figure_b.png"]
    report.build_report(runs, out, names=["poole2016"])
    md = out.read_text()
    assert md.count("Run: ") == 1
    assert md.index("poole2016_figure_c.png") < md.index("poole2016_figure_a.png")


def test_command_of_a_python_run_is_rebuilt_from_its_config(tmp_path):
    # A run started from Python records no command line: the page shows the --set overrides that
    # turn the preset's config into the recorded one, and they resolve back to it.
    from initjax.sweeps import config as cfg

    exp = cfg.load_experiment("he-vs-xavier")
    recorded = cfg.resolve_config(exp, [("preset", "tiny"), ("seeds", 3), ("widths", (16, 32))])
    runs = tmp_path / "runs"
    d = _run_folder(runs, "he_vs_xavier", "Title")
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["config"] = json.loads(json.dumps(recorded.to_dict()))  # as written to disk
    (d / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "R.md"
    report.build_report(runs, out, names=["he-vs-xavier"])
    text = out.read_text()
    want = (
        "`initjax run he-vs-xavier --set preset=tiny --set compute.seeds=3 "
        "--set 'compute.widths=[16, 32]'`"
    )
    assert want in text, text
    sets = ["preset=tiny", "compute.seeds=3", "compute.widths=[16, 32]"]
    rebuilt = cfg.resolve_config(exp, sets)
    assert json.dumps(rebuilt.to_dict(), default=str) == json.dumps(recorded.to_dict(), default=str)
    # A recorded config the current experiment cannot rebuild (a leaf missing) is said so.
    manifest["config"] = {"preset": "default"}
    (d / "manifest.json").write_text(json.dumps(manifest))
    report.build_report(runs, out, names=["he-vs-xavier"])
    assert "none recorded (the run was started from Python" in out.read_text()
