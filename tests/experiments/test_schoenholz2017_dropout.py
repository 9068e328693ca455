"""schoenholz2017_dropout: the tiny preset end to end; its verdict on synthetic tables drawn from
the mean-field maps (PASS) and on the same tables labelled with a wrong keep probability or
without dropout (negative controls: FAIL)."""

import jax
import numpy as np
import pandas as pd
import pytest

from initjax import theory
from initjax.sweeps import load_experiment, resolve_config
from initjax.sweeps.runtime import run_experiment
from initjax.sweeps.summary import STATUSES, Summary


@pytest.fixture(scope="module")
def exp():
    return load_experiment("schoenholz2017-dropout")


@pytest.mark.slow  # end to end; evaluate() is tested on synthetic tables in the default run
def test_tiny_run(exp, tmp_path):
    cfg = resolve_config(exp, ["preset=tiny"])
    res = run_experiment(exp, cfg, tmp_path, progress=False, log=lambda *_: None)
    assert res.verdict.status in STATUSES
    assert {"keep_prob", "width", "c0", "sigma_w2", "seed", "layer", "q", "c", "diverged"} <= set(
        res.table.columns
    )
    s = Summary.read(tmp_path)
    assert s.figures == ["figure_xi.png"] and len(s.verdict.not_reproduced) >= 1
    assert (tmp_path / "summary.md").read_text().count("**Verdict:") == 1
    # Ordered phase (sigma_w2 = 1): without dropout c^l -> 1; with rho = 0.9 the fixed point
    # moves to c* = 0.719 (theory), and the measured c^L lies below 1 by many SE.
    cells = exp.module.fit_cells(res.table, cfg).set_index(["keep_prob", "sigma_w2"])
    assert cells.loc[(0.9, 1.0), "c_star"] == pytest.approx(0.719, abs=2e-3)
    assert cells.loc[(1.0, 1.0), "c_end"] > cells.loc[(0.9, 1.0), "c_end"] + 0.1


def synthetic(keep_probs, widths=(400, 100), sigma_w2=(1.0, 1.76, 3.0), seeds=16, depth=40):
    """A results table drawn from the mean-field maps: per (rho, width, sigma_w2, seed) the
    theory trajectory from (q0, c0) = (1, 0.1) plus independent N(0, (0.2 / sqrt(width))^2)
    noise per layer (the seed spread of c^l at that width), no finite-width bias."""
    rng = np.random.default_rng(0)
    rows = []
    for rho in keep_probs:
        # One theory run per network (width, sigma_w2, seed) in float64, as theory.compare in
        # evaluate has them: 96 runs, evaluate's program for the bucket of 128 runs serves.
        sw = np.tile(np.repeat(np.asarray(sigma_w2, float), seeds), len(widths))
        with jax.enable_x64(True):
            q, c = theory.trajectories("tanh", sw, 0.05, np.ones_like(sw), np.full_like(sw, 0.1),
                                       depth, keep_prob=rho)  # fmt: skip
        q, c = np.asarray(q), np.asarray(c)
        for k, (j, i, seed) in enumerate(np.ndindex(len(widths), len(sigma_w2), seeds)):
            w = widths[j]
            noise = rng.normal(0, 0.2 / np.sqrt(w), (2, depth + 1))
            noise[:, 0] = 0.0
            rows.append(pd.DataFrame(dict(
                keep_prob=rho, width=w, c0=0.1, sigma_w2=sigma_w2[i], sigma_b2=0.05, seed=seed,
                layer=np.arange(depth + 1), q=q[k] * (1 + noise[0]),
                c=np.clip(c[k] + noise[1], -1, 1), diverged=False,
            )))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def config(exp):
    return resolve_config(exp, ["widths=[400, 100]"])


def test_theory_table_passes_and_negative_controls_fail(exp, config):
    table = synthetic([1.0, 0.9])
    v = exp.module.evaluate(table, config)
    assert v.status == "PASS", [(c.name, c.measured, c.z) for c in v.checks if not c.passed]
    # Wrong theory constant: the rho = 0.9 networks judged with the maps of rho = 0.8.
    wrong = table.assign(keep_prob=table["keep_prob"].replace({0.9: 0.8}))
    v = exp.module.evaluate(wrong, config)
    assert v.status == "FAIL"
    assert any("N = inf" in c.name and c.passed is False for c in v.checks)
    # Networks without dropout labelled as dropout: c^L -> 1, far from c* < 1: FAIL.
    nodrop = synthetic([1.0])
    fake = pd.concat([nodrop, nodrop.assign(keep_prob=0.9)], ignore_index=True)
    assert exp.module.evaluate(fake, config).status == "FAIL"
    # Dropout networks labelled rho = 1: they never approach c* = 1, so xi_c does not track the
    # rho = 1 theory (median |z| ~ 60): FAIL.
    same = synthetic([0.9])
    both = pd.concat([same.assign(keep_prob=1.0), same], ignore_index=True)
    v = exp.module.evaluate(both, config)
    assert v.status == "FAIL"
    assert [
        c.passed for c in v.checks if c.name.startswith("xi_c vs theory (same layers), rho=1")
    ] == [False]
    # Without a rho = 1 cell near the critical point (nearest: sigma_w2 = 1, xi_c ~ 3.6 < the
    # dropout maximum ~4.7) the critical-point check fails.
    far = table[~((table["keep_prob"] == 1.0) & (table["sigma_w2"] == 1.76))]
    v = exp.module.evaluate(far, config)
    assert v.status == "FAIL"
    assert [c.passed for c in v.checks if c.name.startswith("xi_c, rho=1")] == [False]


def test_bad_config_names_the_key(exp):
    for bad, key in (("keep_probs=[1.0, 1.5]", "keep_probs"), ("widths=[100]", "widths")):
        cfg = resolve_config(exp, ["preset=tiny", bad])
        with pytest.raises(ValueError, match=key):
            list(exp.module.pieces(cfg.compute))
