"""glorot2010: evaluate on synthetic tables built from the theory (PASS) and negative controls
through the same evaluate (a wrong init scale: the arms' init labels swapped, so each is judged
against the other's theory; a 5% shift of the measured factors); the tiny preset end to end
(slow: ~2 min on a loaded 2-core machine, mostly compilation)."""

import numpy as np
import pandas as pd
import pytest

from initjax import initializers
from initjax.sweeps import load_experiment, resolve_config
from initjax.sweeps.runtime import run_experiment
from initjax.sweeps.summary import STATUSES, Summary
from initjax.theory.layer_factors import layer_factors


@pytest.fixture(scope="module")
def exp():
    return load_experiment("glorot2010")


def synthetic(exp, cfg, noise=0.003, seed=0):
    """A results table whose per-layer values follow the mean-field theory with 0.3% noise per
    seed (SEs like the tiny preset's), mean singular values at the published 0.5 / 0.8."""
    rng, rows, L, c = np.random.default_rng(seed), [], 5, cfg.compute
    x2 = rng.uniform(20.0, 60.0, size=32)  # |x|^2 of 32 inputs of 40 features
    for init, name in exp.module.INITS.items():
        for w in c.widths:
            v_in, v = (initializers.get(name).promised_variance(f, w) for f in (40, w))
            th = layer_factors("tanh", v * w, v_in * x2, L)
            base = dict(activation="tanh", init=init, width=w)
            rows += [dict(base, kind="input", seed=-1, input=i, q1_expected=v_in * x2[i])
                     for i in range(32)]  # fmt: skip
            for s in range(int(c.seeds)):
                e = 1 + noise * rng.standard_normal(4)
                for k in range(1, L + 1):
                    e[1:3] = 1 + noise * rng.standard_normal(2)  # per layer: factors vary
                    rows.append(dict(base, kind="layer", seed=s, layer=k,
                                     q=v_in * x2.mean() * e[0], act_std=th["act_std"][k - 1] * e[1],
                                     grad_rms=np.sqrt(th["grad_rel"][k - 1]) * e[2]))  # fmt: skip
                for k in range(1, L):
                    sv = exp.module.PUBLISHED_SV[init] * e[3]
                    rows.append(dict(base, kind="jac", seed=s, layer=k, mean_sv=sv,
                                     mean_sv2=th["sv2"] * e[3]))  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def cfg(exp):
    return resolve_config(exp, ["preset=tiny", "seeds=8"])


def test_synthetic_theory_table_passes(exp, cfg):
    v = exp.module.evaluate(synthetic(exp, cfg), cfg)
    assert v.status == "PASS", [c for c in v.checks if c.passed is False]
    assert len(v.not_reproduced) == 3


def test_wrong_init_scale_fails(exp, cfg):
    t = synthetic(exp, cfg)
    t["init"] = t["init"].map({"standard": "normalized", "normalized": "standard"})
    assert exp.module.evaluate(t, cfg).status == "FAIL"


def test_shifted_factors_fail(exp, cfg):
    """Activations 5% larger per layer than the theory at both widths: far beyond 3 SE."""
    t = synthetic(exp, cfg)
    lay = t["kind"] == "layer"
    t.loc[lay, "act_std"] *= 1.05 ** t.loc[lay, "layer"]
    v = exp.module.evaluate(t, cfg)
    assert v.status == "FAIL"
    assert [c.passed for c in v.checks if "act - theory" in c.name] == [False, False]


def test_bad_config_names_key(exp):
    for bad, key in (("activations=['relu']", "activations"), ("widths=[32, 32]", "widths")):
        cfg = resolve_config(exp, ["preset=tiny", bad])
        with pytest.raises(ValueError, match=key):
            exp.module.pieces(cfg.compute)


@pytest.mark.slow
def test_tiny_run(exp, tmp_path):
    cfg = resolve_config(exp, ["preset=tiny"])
    res = run_experiment(exp, cfg, tmp_path, progress=False, log=lambda *_: None)
    assert res.verdict.status in STATUSES
    assert (res.out / "figure_hist_tanh.png").is_file()
    s = Summary.read(res.out)
    assert s.verdict.status == res.verdict.status and len(s.verdict.not_reproduced) == 3
    assert {"layer", "hist", "jac", "input"} <= set(res.table["kind"])
    ps = exp.module.per_seed(res.table, cfg)
    # Theory: tanh standard init shrinks activations by ~0.56 per layer.
    std = ps[(ps["init"] == "standard") & (ps["width"] == 64)]
    assert abs(std["act"].mean() - std["act_theory"].iloc[0]) < 0.05
    assert res.table["width"].nunique() == 2
