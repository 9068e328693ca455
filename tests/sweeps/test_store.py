import json
import os
import stat

import pandas as pd
import pytest

from initjax.sweeps.store import (
    FolderConflictError,
    RunStore,
    atomic_write_bytes,
    claim_folder,
    config_diff,
    sha256_bytes,
)


def test_atomic_write_leaves_no_temp_files(tmp_path):
    p = tmp_path / "a" / "b.bin"
    atomic_write_bytes(p, b"x" * 10)
    atomic_write_bytes(p, b"yz")
    assert p.read_bytes() == b"yz"
    assert [q.name for q in p.parent.iterdir()] == ["b.bin"]


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_files_get_the_users_umask_not_0600(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic_write_bytes(tmp_path / "f.bin", b"x")
        RunStore(tmp_path).write_piece("p", pd.DataFrame({"a": [1]}), {})
        RunStore(tmp_path).write_manifest({"x": 1})
        with open(tmp_path / "plain.txt", "w") as f:  # what an ordinary open gives
            f.write("x")
    finally:
        os.umask(old)
    expected = 0o666 & ~umask
    for p in (
        tmp_path / "f.bin",
        tmp_path / "pieces" / "p.parquet",
        tmp_path / "pieces" / "p.json",
        tmp_path / "manifest.json",
        tmp_path / "plain.txt",
    ):
        assert stat.S_IMODE(p.stat().st_mode) == expected, p


def test_piece_checksum_states(tmp_path):
    store = RunStore(tmp_path)
    assert store.check_piece("p") == ("missing", "")
    digest = store.write_piece("p", pd.DataFrame({"q": [1.0, 2.0]}), {"label": "p"})
    blob = store.piece_path("p").read_bytes()
    assert digest == sha256_bytes(blob) == store.piece_record("p")["sha256"]
    assert store.piece_record("p")["rows"] == 2 and store.check_piece("p") == ("ok", "")
    store.piece_path("p").write_bytes(blob[:-3])
    state, detail = store.check_piece("p")
    assert state == "corrupt" and "bytes on disk" in detail
    store.piece_path("p").write_bytes(blob[:10] + bytes([blob[10] ^ 0xFF]) + blob[11:])
    assert store.check_piece("p") == (
        "corrupt",
        "sha256 of the stored bytes differs from the record",
    )
    store.record_path("p").unlink()
    assert store.check_piece("p")[0] == "incomplete"
    store.discard_piece("p")
    assert store.check_piece("p") == ("missing", "") and store.stored_piece_ids() == []


def test_earlier_layout_groups_are_checksummed_too(tmp_path, capsys):
    store = RunStore(tmp_path)
    f1 = pd.DataFrame({"seed": [0, 1], "q": [1.0, 2.0]})
    f2 = pd.DataFrame({"seed": [0], "q": [3.0]})
    store.write_group("g2", f2, {"wall_s": 0.5})
    store.write_group("g1", f1, {"wall_s": 1.5})
    assert store.is_done("g1") and not store.is_done("g3")
    table = store.assemble(["g1", "g2"])
    assert table["q"].tolist() == [1.0, 2.0, 3.0]
    pd.testing.assert_frame_equal(store.read_table(), table)
    assert store.group_meta("g1")["wall_s"] == 1.5
    p = store.group_path("g2")
    p.write_bytes(p.read_bytes()[:-5])
    assert not store.is_done("g2") and not p.exists()
    assert "group g2 corrupt" in capsys.readouterr().out


def test_config_diff_names_leaves():
    old = {"compute": {"seeds": 8, "widths": [1, 2], "a": {"b": 1}}, "analysis": {"z": 3}}
    new = {"compute": {"seeds": 9, "widths": [1, 2], "a": {"b": 2}, "new": 1}, "analysis": {}}
    assert config_diff(old, new) == [
        ("analysis.z", 3, "<absent>"),
        ("compute.a.b", 1, 2),
        ("compute.new", "<absent>", 1),
        ("compute.seeds", 8, 9),
    ]
    assert config_diff(old, json.loads(json.dumps(old))) == []


def _manifest(d, owner="exp", config=None):
    d.mkdir(parents=True, exist_ok=True)
    cfg = config or {"preset": "default", "compute": {"seeds": 8}, "analysis": {"z": 3}}
    (d / "manifest.json").write_text(json.dumps({"experiment": owner, "config": cfg}))


def test_claim_folder(tmp_path):
    cfg = {"preset": "default", "compute": {"seeds": 8}, "analysis": {"z": 3}}
    assert claim_folder(tmp_path / "new", owner="exp", config=cfg) is None
    (tmp_path / "empty").mkdir()
    assert claim_folder(tmp_path / "empty", owner="exp", config=cfg) is None
    run = tmp_path / "run"
    _manifest(run)
    assert claim_folder(run, owner="exp", config=cfg)["experiment"] == "exp"
    # the preset's name does not count (its values are in the config)
    assert claim_folder(run, owner="exp", config={**cfg, "preset": "tiny"})
    other = {**cfg, "compute": {"seeds": 9}}
    with pytest.raises(FolderConflictError, match=r"compute\.seeds: 8 there, 9 now.*--overwrite"):
        claim_folder(run, owner="exp", config=other)
    assert claim_folder(run, owner="exp", config=other, overwrite=True)
    # analysis-only changes are accepted when only compute is compared
    ana = {**cfg, "analysis": {"z": 5}}
    assert claim_folder(run, owner="exp", config=ana, compare=("compute",))
    with pytest.raises(FolderConflictError, match=r"analysis\.z"):
        claim_folder(run, owner="exp", config=ana)
    with pytest.raises(FolderConflictError, match="holds results of 'exp', not 'other'"):
        claim_folder(run, owner="other", config=cfg)
    (tmp_path / "file").write_text("x")
    with pytest.raises(FolderConflictError, match="existing file"):
        claim_folder(tmp_path / "file", owner="exp", config=cfg, overwrite=True)
    stuff = tmp_path / "stuff"
    stuff.mkdir()
    (stuff / "notes.txt").write_text("mine")
    with pytest.raises(FolderConflictError, match="no manifest.json"):
        claim_folder(stuff, owner="exp", config=cfg)
    # another shard's owner.json being written at this moment: still an empty folder
    racing = tmp_path / "racing"
    racing.mkdir()
    (racing / ".owner.json.k3j2.tmp").write_text("{")
    assert claim_folder(racing, owner="exp", config=cfg) is None
    (racing / ".hidden").write_text("x")  # a hidden file that is not a temp file counts
    with pytest.raises(FolderConflictError, match="no manifest.json"):
        claim_folder(racing, owner="exp", config=cfg)


def test_claim_folder_for_another_command(tmp_path):
    """The same check serves other writers (e.g. a propagate folder keyed by its arguments)."""
    d = tmp_path / "prop"
    d.mkdir()
    (d / "manifest.json").write_text(json.dumps({"command": "propagate", "args": {"seeds": 4}}))
    kw = dict(owner="propagate", owner_key="command", config_key="args")
    assert claim_folder(d, config={"seeds": 4}, **kw)
    with pytest.raises(FolderConflictError, match="seeds: 4 there, 8 now"):
        claim_folder(d, config={"seeds": 8}, **kw)


def test_clear_removes_only_what_a_run_owns(tmp_path):
    store = RunStore(tmp_path)
    store.write_piece("p", pd.DataFrame({"a": [1]}), {})
    store.write_table(pd.DataFrame({"a": [1]}))
    store.write_manifest({"outputs": ["fig.png"]})
    (tmp_path / "fig.png").write_bytes(b"png")
    (tmp_path / "notes.txt").write_text("user file")
    store.clear(keep_pieces=True, extra=["fig.png"])
    assert store.check_piece("p")[0] == "ok"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "pieces"]
    store.clear()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
