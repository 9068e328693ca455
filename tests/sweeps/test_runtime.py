"""The run loop on the toy experiment (numpy pieces): resume, checksums, config ownership,
analysis-only changes, interruption, manifest."""

import json
import os
import signal

import pandas as pd
import pytest

from initjax.sweeps.config import load_experiment, resolve_config
from initjax.sweeps.runtime import Piece, piece_id, redraw, run_experiment, run_loop
from initjax.sweeps.store import RunStore
from initjax.sweeps.summary import Summary


@pytest.fixture
def calls(tmp_path, monkeypatch):
    path = tmp_path / "calls.txt"
    monkeypatch.setenv("TOY_CALLS", str(path))

    def read():
        out = path.read_text().split() if path.exists() else []
        path.unlink(missing_ok=True)
        return out

    return read


def _run(out, overrides=(), **kw):
    exp = load_experiment("toy")
    return run_experiment(exp, resolve_config(exp, list(overrides)), out, progress=False, **kw)


def test_run_writes_verified_pieces_table_summary_and_manifest(tiny_experiments, tmp_path, calls):
    res = _run(tmp_path / "r", log=lambda *_: None)
    assert calls() == ["mean=0.0", "mean=1.0", "mean=2.0"]
    assert len(res.table) == 24 and res.verdict.status == "PASS"
    store = RunStore(tmp_path / "r")
    assert all(store.check_piece(i) == ("ok", "") for i in res.loop.ids)
    m = store.read_manifest()
    assert m["status"] == "complete" and m["verdict"] == "PASS"
    assert m["config"]["analysis"]["z_max"] == 3.0 and m["config"]["compute"]["seeds"] == 8
    assert [p["label"] for p in m["pieces"]] == ["mean=0.0", "mean=1.0", "mean=2.0"]
    assert all(p["compute_s"] >= 0 and p["sha256"] for p in m["pieces"])
    assert m["compute_s"] == pytest.approx(sum(p["compute_s"] for p in m["pieces"]))
    assert set(m["outputs"]) == {"summary.md", "summary.json", "figure_x.png"}
    s = Summary.read(tmp_path / "r")
    assert s.verdict.status == "PASS" and s.figures == ["figure_x.png"]
    pd.testing.assert_frame_equal(store.read_table(), res.table)


def test_rerun_reuses_everything(tiny_experiments, tmp_path, calls):
    first = _run(tmp_path / "r", log=lambda *_: None)
    calls()
    again = _run(tmp_path / "r", log=lambda *_: None)
    assert calls() == [] and again.loop.computed == []
    pd.testing.assert_frame_equal(again.table, first.table)


@pytest.mark.parametrize(
    "damage,state",
    [
        (lambda p: p.write_bytes(p.read_bytes()[:-1] + bytes([p.read_bytes()[-1] ^ 1])), "corrupt"),
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "corrupt"),
        (lambda p: p.with_suffix(".json").unlink(), "incomplete"),
        (lambda p: p.unlink(), "incomplete"),
    ],
    ids=["flipped-bit", "truncated", "no-record", "no-parquet"],
)
def test_damaged_piece_is_reported_and_recomputed(tiny_experiments, tmp_path, calls, damage, state):
    first = _run(tmp_path / "r", log=lambda *_: None)
    calls()
    victim = first.loop.ids[1]
    damage(RunStore(tmp_path / "r").piece_path(victim))
    messages = []
    again = _run(tmp_path / "r", log=messages.append)
    assert calls() == ["mean=1.0"] and again.loop.computed == [victim]
    assert again.loop.recovered == [victim]
    assert any(f"piece mean=1.0 ({victim}) {state}" in m and "recomputing" in m for m in messages)
    pd.testing.assert_frame_equal(again.table, first.table)


def test_bytes_altered_consistently_with_the_parquet_format_are_still_caught(
    tiny_experiments, tmp_path, calls
):
    """A valid Parquet file of other numbers (e.g. a swapped file) fails the checksum too."""
    first = _run(tmp_path / "r", log=lambda *_: None)
    calls()
    store = RunStore(tmp_path / "r")
    a, b = first.loop.ids[0], first.loop.ids[2]
    store.piece_path(a).write_bytes(store.piece_path(b).read_bytes())
    again = _run(tmp_path / "r", log=lambda *_: None)
    assert calls() == ["mean=0.0"]
    pd.testing.assert_frame_equal(again.table, first.table)


def test_different_compute_config_is_refused_naming_the_keys(tiny_experiments, tmp_path, calls):
    _run(tmp_path / "r", log=lambda *_: None)
    with pytest.raises(ValueError, match=r"compute\.seeds: 8 there, 5 now"):
        _run(tmp_path / "r", ["seeds=5"], log=lambda *_: None)
    with pytest.raises(ValueError, match=r"compute\.scale.*--overwrite"):
        _run(tmp_path / "r", ["scale=2.0"], log=lambda *_: None)
    assert RunStore(tmp_path / "r").read_manifest()["config"]["compute"]["seeds"] == 8


def test_analysis_change_recomputes_nothing_and_reevaluates(tiny_experiments, tmp_path, calls):
    first = _run(tmp_path / "r", log=lambda *_: None)
    assert first.verdict.status == "PASS"
    calls()
    # A wrong expected value (a negative control through the same evaluate): FAIL, no compute.
    again = _run(tmp_path / "r", ["analysis.expected=5.0"], log=lambda *_: None)
    assert calls() == [] and again.loop.computed == []
    assert again.verdict.status == "FAIL"
    m = RunStore(tmp_path / "r").read_manifest()
    assert m["verdict"] == "FAIL" and m["config"]["analysis"]["expected"] == 5.0
    assert Summary.read(tmp_path / "r").verdict.status == "FAIL"


def test_overwrite_recomputes_exactly_the_affected_pieces(tiny_experiments, tmp_path, calls):
    first = _run(tmp_path / "r", log=lambda *_: None)
    calls()
    # One more mean: the grid axis 'means' reaches each piece through its spec only, so the
    # three existing pieces keep their identity and only the new one is computed.
    res = _run(tmp_path / "r", ["means=[0.0, 1.0, 2.0, 3.0]"], overwrite=True, log=lambda *_: None)
    assert calls() == ["mean=3.0"]
    assert res.loop.ids[:3] == first.loop.ids
    # A shared compute value (seeds) changes every piece: all recomputed, stale files deleted.
    res = _run(tmp_path / "r", ["seeds=5"], overwrite=True, log=lambda *_: None)
    assert calls() == ["mean=0.0", "mean=1.0", "mean=2.0"]
    assert sorted(RunStore(tmp_path / "r").stored_piece_ids()) == sorted(res.loop.ids)
    assert len(res.table) == 15


def test_piece_identity(tiny_experiments):
    exp = load_experiment("toy")
    cfg = resolve_config(exp)
    p = list(exp.module.pieces(cfg.compute))
    ids = [piece_id("toy", cfg.compute, q) for q in p]
    assert len(set(ids)) == 3 and ids[0].startswith("mean0.0-")
    assert ids == [piece_id("toy", resolve_config(exp).compute, q) for q in p]
    assert piece_id("other", cfg.compute, p[0]) != ids[0]
    cfg2 = resolve_config(exp, ["analysis.z_max=9"])
    assert [piece_id("toy", cfg2.compute, q) for q in p] == ids
    cfg3 = resolve_config(exp, ["scale=2.0"])
    assert piece_id("toy", cfg3.compute, p[0]) != ids[0]
    # without axes, the whole compute (means included) identifies the piece
    bare = Piece("mean=0.0", p[0].fn, {"mean": 0.0})
    cfg4 = resolve_config(exp, ["means=[0.0, 5.0]"])
    assert piece_id("toy", cfg.compute, bare) != piece_id("toy", cfg4.compute, bare)


def test_duplicate_labels_are_refused(tmp_path):
    ps = [Piece("a", lambda: pd.DataFrame({"x": [1]}))] * 2
    with pytest.raises(ValueError, match="unique.*'a'"):
        run_loop("x", ps, tmp_path, compute={}, config={}, progress=False)


def test_sigterm_keeps_finished_pieces_and_resumes(tmp_path):
    done = []

    def piece(i):
        def fn():
            if i == 2 and not done:
                done.append(i)
                os.kill(os.getpid(), signal.SIGTERM)
            return pd.DataFrame({"i": [i]})

        return Piece(f"p{i}", fn)

    pieces = [piece(i) for i in range(4)]
    log = []
    with pytest.raises(KeyboardInterrupt):
        run_loop("x", pieces, tmp_path, compute={"n": 4}, config={}, progress=False, log=log.append)
    m = RunStore(tmp_path).read_manifest()
    assert m["status"] == "interrupted" and m["pieces_saved"] == 2
    assert "interrupted: 2 of 4 pieces saved" in log[-1]
    res = run_loop("x", pieces, tmp_path, compute={"n": 4}, config={}, progress=False)
    assert len(res.computed) == 2 and res.table["i"].tolist() == [0, 1, 2, 3]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_redraw_rebuilds_only_what_report_writes(tiny_experiments, tmp_path, calls):
    _run(tmp_path / "r", log=lambda *_: None)
    written = redraw(tmp_path / "r")
    assert sorted(p.name for p in written) == ["figure_x.png", "summary.json", "summary.md"]
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["verdict"]["status"] == "PASS"
