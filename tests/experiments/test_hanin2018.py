"""hanin2018: the tiny preset end to end (slow) and negative controls (a wrong init scale, run
end to end (slow) and on a synthetic table; a wrong theory constant) that FAIL through evaluate.
The Monte Carlo forward itself is tested in tests/measure/test_length_ratios.py."""

import numpy as np
import pandas as pd
import pytest

from initjax.sweeps import load_experiment, resolve_config
from initjax.sweeps.runtime import run_experiment
from initjax.sweeps.summary import STATUSES, Summary
from initjax.theory.length_moments import relu_length_second_moment


@pytest.fixture(scope="module")
def exp():
    return load_experiment("hanin2018")


@pytest.fixture(scope="module")
def tiny(exp, tmp_path_factory):
    out = tmp_path_factory.mktemp("hanin")
    cfg = resolve_config(exp, ["preset=tiny"])
    return cfg, run_experiment(exp, cfg, out, progress=False, log=lambda *_: None)


@pytest.mark.slow
def test_tiny_run(exp, tiny):
    cfg, res = tiny
    for name in ("summary.md", "summary.json", "figure_moments.png", "figure_collapse.png"):
        assert (res.out / name).is_file(), name
    assert res.verdict.status in STATUSES
    s = Summary.read(res.out)
    assert s.verdict.status == res.verdict.status and len(s.verdict.not_reproduced) >= 1
    lay = exp.module.layers(res.table).set_index(["arm", "layer"])
    # widths (10, 16, 24) in both orders: E[R_3^2] = 1.5 * 1.3125 * (1 + 5/24) = 2.37890625.
    # 4000 networks give an SE of ~5% here; 4 SE fails a correct estimate with p ~ 6e-5.
    for arm in ("increasing", "decreasing"):
        r = lay.loc[(arm, 3)]
        assert r["theory_r2"] == pytest.approx(2.37890625)
        assert abs(r["mean_r2"] - 2.37890625) <= 4 * r["se_mean_r2"] < 0.8
    assert res.verdict.status == "PASS", res.verdict.reason


@pytest.mark.slow
def test_wrong_init_scale_is_a_negative_control(exp, tmp_path):
    """sigma_w2 = 2.1 instead of He's 2: E[R_3] = 1.05^3 = 1.158, while the SE of the mean of
    R at 4000 networks is ~0.02 (sd of R ~ 1.2), so ~8 SE. The same evaluate must FAIL."""
    cfg = resolve_config(exp, ["preset=tiny", "sigma_w2=2.1"])
    res = run_experiment(exp, cfg, tmp_path, progress=False, log=lambda *_: None)
    assert res.verdict.status == "FAIL"
    worst = next(c for c in res.verdict.checks if "E[R_j] = 1" in c.name)
    assert worst.passed is False and worst.measured > 4


def _synthetic(exp, constant):
    """Layer rows of the default arms with E[R_j^2] exactly on the Gaussian product and a 2%
    SE (the default run's Monte Carlo error at 20,000 networks); theory with ``constant``."""
    rows = []
    for arm in exp.get_config().compute.arms:
        ws = list(arm["widths"])
        exact = relu_length_second_moment(ws)
        rows.append(pd.DataFrame(dict(
            kind="layer", arm=arm["name"], layer=np.arange(1, len(ws) + 1), width=ws,
            mean_r=1.0, se_mean_r=0.01, mean_r2=exact, se_mean_r2=0.02 * exact,
            theory_r2=relu_length_second_moment(ws, constant=constant),
            inv_width_sum=np.cumsum(1.0 / np.asarray(ws)))))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def test_wrong_theory_constant_fails(exp):
    cfg = exp.get_config()
    assert exp.module.evaluate(_synthetic(exp, 5.0), cfg).status == "PASS"
    # constant 4: at sum 1/n = 0.14 the product is ~1.8 instead of ~2.0, ~5 SE
    assert exp.module.evaluate(_synthetic(exp, 4.0), cfg).status == "FAIL"


def test_wrong_init_scale_on_a_synthetic_table_fails(exp):
    """E[R_j] = 1.05^j (sigma_w2 = 2.1 instead of 2) with SE 0.01: >= 5 SE at every layer."""
    t = _synthetic(exp, 5.0)
    t["mean_r"] = 1.05 ** t["layer"].astype(float)
    assert exp.module.evaluate(t, exp.get_config()).status == "FAIL"


def test_bad_config_names_the_key(exp):
    cfg = resolve_config(exp, ["preset=tiny", "arms=[{'name': 'x', 'widths': [3, -1]}]"])
    with pytest.raises(ValueError, match="arms"):
        exp.module.pieces(cfg.compute)
    cfg = resolve_config(exp, ["preset=tiny", "sigma_w2=-1.0"])
    with pytest.raises(ValueError, match="sigma_w2"):
        exp.module.pieces(cfg.compute)
