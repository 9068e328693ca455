"""Trainability: the tiny preset end to end, and the verdict on synthetic tables: outcomes that
follow L < 6 xi_c PASS; every cell training, or a depth-only cut explaining the table, FAIL."""

import numpy as np
import pandas as pd
import pytest

from initjax import theory
from initjax.sweeps import load_experiment, resolve_config, run_sweep
from initjax.sweeps.summary import Summary

DEPTHS = [10, 30, 50, 70]  # the default grid
SIGMA_W2 = [1.0, 1.3, 1.5, 1.76, 2.0, 2.5, 3.0, 4.0]


@pytest.fixture(scope="module")
def exp():
    return load_experiment("trainability")


@pytest.mark.slow  # end to end; evaluate() is tested on synthetic tables in the default run
def test_trainability_tiny(exp, tmp_path):
    cfg = resolve_config(exp, ["preset=tiny"])
    res = run_sweep(exp, cfg, tmp_path, progress=False, log=lambda *_: None)
    final = res.table[res.table["final"]]
    # 2 depths x 8 sigma_w2 x 4 seeds networks, each with a final train accuracy in [0, 1]
    assert len(final) == 2 * 8 * 4 and final["train_acc"].between(0, 1).all()
    assert res.verdict.status in ("PASS", "PARTIAL", "FAIL")
    s = Summary.read(tmp_path)
    assert s.figures == ["heatmap.png"] and (tmp_path / "heatmap.png").is_file()
    md = (tmp_path / "summary.md").read_text()
    assert md.index("## Criterion") < md.index("**Verdict: ") and md.count("**Verdict: ") == 1
    assert len(s.verdict.not_reproduced) >= 1


def _table(acc_of, seeds=4, depths=DEPTHS, sws=SIGMA_W2, noise=0.01):
    """Synthetic final rows: acc_of(depth, sigma_w2, ratio L / xi_c) + seed noise."""
    xi = np.asarray(theory.analyse("tanh", np.asarray(sws, np.float32), 0.05).xi_c)
    rng = np.random.default_rng(0)
    rows = [
        dict(depth=d, sigma_w2=s, sigma_b2=0.05, seed=k, final=True, diverged=False,
             train_acc=float(acc_of(d, s, d / x) + noise * rng.standard_normal()))
        for d in depths for s, x in zip(sws, xi, strict=True) for k in range(seeds)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_theory_following_table_passes(exp):
    cfg = exp.get_config()
    v = exp.module.evaluate(_table(lambda d, s, r: 0.8 if r < 6 else 0.1), cfg)
    assert v.status == "PASS", v.reason
    cells = exp.module.cells(_table(lambda d, s, r: 0.8 if r < 6 else 0.1), cfg.analysis)
    # the default grid judges both sides: L > 8 xi_c at sigma_w2 = 1.0 from L = 30, etc.
    assert (cells["theory"] == "untrainable").sum() >= 5
    assert (cells["theory"] == "trainable").sum() >= 15


def test_every_cell_trains_fails(exp):
    """Negative control: a table in which every cell trains."""
    v = exp.module.evaluate(_table(lambda d, s, r: 0.8), exp.get_config())
    assert v.status == "FAIL"
    gain = [c for c in v.checks if "every cell trains" in c.name][0]
    assert gain.measured < 0 and gain.passed is False


def test_depth_only_cut_fails(exp):
    """Negative control: cells train iff L < 40, whatever sigma_w2 (depth alone explains it)."""
    v = exp.module.evaluate(_table(lambda d, s, r: 0.8 if d < 40 else 0.1), exp.get_config())
    assert v.status == "FAIL"
    cut = [c for c in v.checks if "depth-only cut" in c.name][0]
    assert "L < 50" in cut.name and cut.passed is False  # the best cut is found


def test_near_threshold_and_few_seeds_fail(exp):
    cfg = exp.get_config()
    # trainable cells only reach 0.2: neither "trainable" (>= 0.25) nor at chance
    assert exp.module.evaluate(_table(lambda d, s, r: 0.2 if r < 6 else 0.1), cfg).status == "FAIL"
    # outcomes that follow theory, but 2 seeds per cell
    t = _table(lambda d, s, r: 0.8 if r < 6 else 0.1, seeds=2)
    v = exp.module.evaluate(t, cfg)
    assert v.status == "FAIL" and v.checks[0].passed is False
