"""glorot2010: the tiny preset end to end, and negative controls through the same evaluate
(a wrong init scale: the arms' init labels swapped, so each is judged against the other's
theory; a synthetic shift of the measured factors)."""

import pytest

from initjax.sweeps import load_experiment, resolve_config
from initjax.sweeps.runtime import run_experiment
from initjax.sweeps.summary import STATUSES, Summary


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    exp = load_experiment("glorot2010")
    cfg = resolve_config(exp, ["preset=tiny"])
    out = tmp_path_factory.mktemp("glorot")
    return exp, cfg, run_experiment(exp, cfg, out, progress=False, log=lambda *_: None)


def test_tiny_run(tiny):
    exp, cfg, res = tiny
    assert res.verdict.status in STATUSES
    assert (res.out / "figure_hist_tanh.png").is_file()
    s = Summary.read(res.out)
    assert s.verdict.status == res.verdict.status and len(s.verdict.not_reproduced) == 3
    assert any("training results" in line for line in s.verdict.not_reproduced)
    ps = exp.module.per_seed(res.table, cfg)
    # Theory: tanh standard init shrinks activations by ~0.56 per layer (q-map from q^1).
    std = ps[(ps["init"] == "standard") & (ps["width"] == 64)]
    assert abs(std["act"].mean() - std["act_theory"].iloc[0]) < 0.05
    assert res.table["width"].nunique() == 2


def test_wrong_init_scale_fails(tiny):
    exp, cfg, res = tiny
    t = res.table.copy()
    t["init"] = t["init"].map({"standard": "normalized", "normalized": "standard"})
    assert exp.module.evaluate(t, cfg).status == "FAIL"


def test_shifted_factors_fail(tiny):
    """Activations 5% larger than measured at both widths: ~10 SE at the tiny preset."""
    exp, cfg, res = tiny
    t = res.table.copy()
    t["act_std"] = t["act_std"].astype("float64")
    t.loc[t["kind"] == "layer", "act_std"] *= 1.05 ** t.loc[t["kind"] == "layer", "layer"]
    assert exp.module.evaluate(t, cfg).status == "FAIL"


def test_bad_config_names_key(tiny):
    exp, _, _ = tiny
    for bad, key in (("activations=['relu']", "activations"), ("widths=[32, 32]", "widths")):
        cfg = resolve_config(exp, ["preset=tiny", bad])
        with pytest.raises(ValueError, match=key):
            exp.module.pieces(cfg.compute)
