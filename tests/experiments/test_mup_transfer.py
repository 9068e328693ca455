"""mup-transfer: the tiny preset end to end, and the pre-registered verdict on synthetic sweeps
whose optimum moves by a known slope (PASS), and negative controls that must FAIL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from initjax.sweeps import load_experiment, resolve_config
from initjax.sweeps.runtime import run_experiment
from initjax.sweeps.summary import Summary


@pytest.fixture(scope="module")
def exp():
    return load_experiment("mup-transfer")


def _sweep(arm, slope, *, over="width", sizes=(64, 128, 256), seeds=4, noise=0.05, seed=0):
    """Loss = 0.2 (log2 lr - log2 lr*)^2 + 0.3 with log2 lr* = -7 + slope log2(size / size_0)
    plus Gaussian noise per seed and size, on the default config's grid."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(seeds):
        for size in sizes:
            opt = -7.0 + slope * np.log2(size / sizes[0]) + noise * rng.normal()
            for x in np.arange(-14.0, -1.0):
                rows.append(dict(arm=arm, over=over, width=size if over == "width" else 128,
                                 depth=size if over == "depth" else 2, seed=s,
                                 learning_rate=2.0**x, log2_lr=x,
                                 train_loss=0.2 * (x - opt) ** 2 + 0.3))  # fmt: skip
    return pd.DataFrame(rows)


def test_verdict_passes_on_the_theory_and_fails_on_negative_controls(exp):
    cfg = exp.get_config()
    good = pd.concat([_sweep("sp", -1.0), _sweep("mup", 0.0, seed=1)])
    v = exp.module.evaluate(good, cfg)
    assert v.status == "PASS", v.checks
    sl = {c.name.split(", ")[1]: c for c in v.checks}
    assert sl["sp (shifts)"].measured == pytest.approx(-1.0, abs=0.1)
    assert sl["mup (stays)"].measured == pytest.approx(0.0, abs=0.1)
    assert any("depth" in line for line in v.not_reproduced)
    # muP's optimum shifts like SP's: FAIL on muP only.
    bad = exp.module.evaluate(pd.concat([_sweep("sp", -1.0), _sweep("mup", -1.0, seed=1)]), cfg)
    assert bad.status == "FAIL"
    assert [c.passed for c in bad.checks[:2]] == [True, False]
    # SP that does not shift: FAIL.
    flat = exp.module.evaluate(pd.concat([_sweep("sp", 0.0), _sweep("mup", 0.0, seed=1)]), cfg)
    assert flat.status == "FAIL" and [c.passed for c in flat.checks[:2]] == [False, True]
    # muP inside the +-0.5 margin but with a drift resolved from 0 (as measured by default,
    # +0.16 +- 0.04): PARTIAL, naming the drift.
    drift = exp.module.evaluate(pd.concat([_sweep("sp", -1.0), _sweep("mup", 0.16, seed=1)]), cfg)
    assert drift.status == "PARTIAL" and "resolved from 0" in drift.reason
    assert drift.checks[1].passed and not drift.checks[2].passed
    # Too noisy to tell: "stays" is an equivalence test, so a wide interval FAILs, not passes.
    noisy = pd.concat([_sweep("sp", -1.0), _sweep("mup", 0.0, noise=1.0, seeds=3, seed=2)])
    assert exp.module.evaluate(noisy, cfg).checks[1].passed is False
    # Optima on the grid's edge are not fitted: with one seed left the arm fails.
    edge = _sweep("mup", 0.0, seeds=2, seed=3)
    edge.loc[edge.seed == 0, "train_loss"] = -edge.loc[edge.seed == 0, "log2_lr"]
    v = exp.module.evaluate(pd.concat([_sweep("sp", -1.0), edge]), cfg)
    assert v.status == "FAIL" and "1 seed(s) unbracketed" in v.checks[1].note


def test_depth_arms_are_judged_when_run(exp):
    cfg = resolve_config(exp, ["depth_arms=[{'name': 'completep', 'parametrization': "
                               "'completep', 'expect': 'stays'}]"])  # fmt: skip
    depth = _sweep("completep", 0.0, over="depth", sizes=(2, 4, 8), seed=2)
    table = pd.concat([_sweep("sp", -1.0), _sweep("mup", 0.0, seed=1), depth])
    v = exp.module.evaluate(table, cfg)
    assert v.status == "PASS" and len(v.checks) == 5 and "depth" in v.checks[2].name
    assert not any("depth transfer" in line for line in v.not_reproduced)


@pytest.mark.slow  # end to end; evaluate() is tested on synthetic tables in the default run
def test_tiny_preset(exp, tmp_path):
    cfg = resolve_config(exp, ["preset=tiny"])
    res = run_experiment(exp, cfg, tmp_path, progress=False, log=lambda *_: None)
    t = pd.read_parquet(tmp_path / "results.parquet")
    assert {"arm", "over", "width", "depth", "seed", "learning_rate", "train_loss"} <= set(t)
    assert len(t) == 2 * 2 * 6 * 2  # arms x widths x rates x seeds
    s = Summary.read(tmp_path)
    assert s.verdict.status in ("PASS", "PARTIAL", "FAIL") and len(s.verdict.checks) == 3
    assert set(s.figures) == {"loss_vs_lr.png", "optimum.png"}
    assert res is not None


@pytest.mark.slow
def test_tiny_preset_with_depth_arms(exp, tmp_path):
    cfg = resolve_config(exp, ["preset=tiny", "depth_arms=[{'name': 'depth_mup', "
                               "'parametrization': 'depth_mup', 'expect': 'stays'}]"])  # fmt: skip
    run_experiment(exp, cfg, tmp_path, progress=False, log=lambda *_: None)
    t = pd.read_parquet(tmp_path / "results.parquet")
    assert sorted(t.loc[t.over == "depth", "depth"].unique()) == [1, 2]
    names = [c.name for c in Summary.read(tmp_path).verdict.checks]
    # a slope check per arm (sp, mup over width; depth_mup over depth), a drift check per "stays"
    assert len([n for n in names if "zero within SE" not in n]) == 3
    drift = [n.split(", ")[-1] for n in names if "zero within SE" in n]
    assert drift == ["mup: zero within SE", "depth_mup: zero within SE"]
