"""Symmetry: the tiny preset end to end (unit metrics of trained symmetric nets), and the
verdict on synthetic tables: the textbook outcome PASSes; He not out-learning the symmetric inits,
a too-small init training as well as He, or a symmetric layer with two units, FAIL."""

import pandas as pd
import pytest

from initjax.sweeps import load_experiment, resolve_config
from initjax.sweeps.runtime import run_experiment
from initjax.sweeps.summary import Summary

ARMS = ["zero", "constant", "small random", "large random", "He"]


@pytest.fixture(scope="module")
def exp():
    return load_experiment("symmetry")


@pytest.fixture(scope="module")
def tiny_run(exp, tmp_path_factory):
    out = tmp_path_factory.mktemp("symmetry")
    cfg = resolve_config(exp, ["preset=tiny"])
    res = run_experiment(exp, cfg, out, progress=False, log=lambda *_: None)
    return cfg, out, res


@pytest.mark.slow  # five pieces, each compiling train and propagate: ~40 s of CPU
def test_tiny_symmetric_inits_keep_one_unit(tiny_run):
    cfg, _, res = tiny_run
    lay = res.table[res.table["record"] == "layer"]
    depth, width = int(cfg.compute.depths[0]), int(cfg.compute.width)
    assert len(lay) == len(ARMS) * cfg.compute.seeds * (depth + 1)  # input + hidden layers
    sym = lay[lay["arm"].isin(["zero", "constant"])]
    # identical units get identical gradients: one distinct unit, all pair distances ~0
    assert (sym["distinct_units"] == 1).all() and (sym["unit_rel_dist_max"] < 1e-4).all()
    # zero weights stay zero (tanh(0) = 0 in every product): rank 0; constant: rank 1
    assert (lay.loc[lay["arm"] == "zero", "weight_rank"] == 0).all()
    assert (lay.loc[lay["arm"] == "constant", "weight_rank"] == 1).all()
    rnd = lay[~lay["arm"].isin(["zero", "constant"])]
    assert (rnd["distinct_units"] == width).all()


@pytest.mark.slow
def test_tiny_summary_and_curves(tiny_run):
    cfg, out, res = tiny_run
    cur = res.table[res.table["record"] == "curve"]
    per_net = cur.groupby(["activation", "depth", "arm", "seed"]).size()
    assert per_net.eq(cfg.compute.steps // cfg.compute.eval_every).all()
    assert res.verdict.status in ("PASS", "PARTIAL", "FAIL")
    s = Summary.read(out)
    assert s.figures == ["symmetry.png"] and (out / "symmetry.png").is_file()
    md = (out / "summary.md").read_text()
    assert md.index("## Criterion") < md.index("**Verdict: ") and md.count("**Verdict: ") == 1


def _table(acc, loss, distinct=None, seeds=6, acts=("relu", "tanh"), depths=(3, 10)):
    """Synthetic rows: final curve points (acc[arm][depth], loss[arm][depth], seed jitter) and
    per-layer unit counts (distinct[arm], default 1 for symmetric arms, 64 otherwise)."""
    rows = []
    for act in acts:
        for d in depths:
            for arm in ARMS:
                for s in range(seeds):
                    j = 0.01 * ((s % 3) - 1)
                    rows.append(dict(record="curve", activation=act, depth=d, arm=arm, seed=s,
                                     step=100, train_acc=acc[arm][d] + j, test_acc=acc[arm][d],
                                     train_loss=loss[arm][d] + j, diverged=False))  # fmt: skip
                    n = (distinct or {}).get(arm, 1 if arm in ("zero", "constant") else 64)
                    rank = {"zero": 0, "constant": 1}.get(arm, 64)
                    for layer in range(d + 1):
                        rows.append(dict(record="layer", activation=act, depth=d, arm=arm, seed=s,
                                         layer=layer, distinct_units=float(n),
                                         weight_rank=float(rank), unit_rel_dist_min=0.0,
                                         unit_rel_dist_max=0.0, diverged=False))  # fmt: skip
    return pd.DataFrame(rows)


def _textbook():
    acc = {"zero": {3: 0.1, 10: 0.1}, "constant": {3: 0.2, 10: 0.15},
           "small random": {3: 0.1, 10: 0.1}, "large random": {3: 0.3, 10: 0.1},
           "He": {3: 0.8, 10: 0.7}}  # fmt: skip
    loss = {"zero": {3: 2.3, 10: 2.3}, "constant": {3: 2.1, 10: 2.2},
            "small random": {3: 2.3, 10: 2.3}, "large random": {3: 3.0, 10: 5.0},
            "He": {3: 0.6, 10: 0.9}}  # fmt: skip
    return acc, loss


def test_textbook_outcome_passes(exp):
    acc, loss = _textbook()
    v = exp.module.evaluate(_table(acc, loss), exp.get_config())
    assert v.status == "PASS", v.reason
    judged = [c for c in v.checks if c.passed is not None]
    # seeds + per activation: 2 x (a) + 2 x (b) + 2 x (c) at the deepest depth
    assert len(judged) == 1 + 2 * 6


def test_negative_controls_fail(exp):
    cfg = exp.get_config()
    acc, loss = _textbook()
    # He does not out-learn the constant init at the shallow depth (no symmetry breaking shown)
    a2 = {k: dict(v) for k, v in acc.items()}
    a2["constant"][3] = 0.8
    assert exp.module.evaluate(_table(a2, loss), cfg).status == "FAIL"
    # a too-small init that trains as well as He at depth (the "too small hurts" claim fails)
    l2 = {k: dict(v) for k, v in loss.items()}
    l2["small random"][10] = 0.9
    assert exp.module.evaluate(_table(acc, l2), cfg).status == "FAIL"
    # a symmetric layer with two distinct units
    assert exp.module.evaluate(_table(acc, loss, {"zero": 2}), cfg).status == "FAIL"
    # 3 seeds: below the minimum (and the sign test cannot reach p <= 0.05)
    assert exp.module.evaluate(_table(acc, loss, seeds=3), cfg).status == "FAIL"


def test_diverged_large_init_counts_as_worse(exp):
    acc, loss = _textbook()
    t = _table(acc, loss)
    sel = (t["arm"] == "large random") & (t["depth"] == 10)
    t.loc[sel, "diverged"] = True
    t.loc[sel & (t["record"] == "curve"), "train_loss"] = float("nan")
    assert exp.module.evaluate(t, exp.get_config()).status == "PASS"


def test_bad_config_names_the_key(exp):
    cfg = resolve_config(exp, ["preset=tiny", "depths=[0]"])
    with pytest.raises(ValueError, match="depths"):
        exp.module.pieces(cfg.compute)
    cfg = resolve_config(exp, ["preset=tiny"])
    cfg.compute.arms[0]["init"] = "zeroes_typo"
    with pytest.raises(ValueError, match=r"arms\[0\]"):
        exp.module.pieces(cfg.compute)
