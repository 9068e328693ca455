import pandas as pd

from initjax.sweeps.store import RunStore, atomic_write_bytes


def test_atomic_write_leaves_no_temp_files(tmp_path):
    p = tmp_path / "a" / "b.bin"
    atomic_write_bytes(p, b"x" * 10)
    atomic_write_bytes(p, b"yz")
    assert p.read_bytes() == b"yz"
    assert [q.name for q in p.parent.iterdir()] == ["b.bin"]


def test_groups_roundtrip_and_assemble_in_order(tmp_path):
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
