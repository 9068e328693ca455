"""last_layer_gaps and map_point_gaps against hand computations on two-seed tables."""

import numpy as np
import pandas as pd
import pytest

from initjax.measure.theory_gaps import last_layer_gaps, map_point_gaps


def test_last_layer_gaps_by_hand():
    rows = []
    for seed, (q, c, g0) in enumerate([(1.1, 0.5, np.e), (0.7, 0.3, np.e**3)]):
        rows += [
            dict(init="a", depth=4, channels=8, seed=seed, layer=0, q=1.0, q_theory=1.0, c=0.2,
                 c_theory=0.2, grad_sq=g0, diverged=False),
            dict(init="a", depth=4, channels=8, seed=seed, layer=4, q=q, q_theory=1.0, c=c,
                 c_theory=0.4, grad_sq=1.0, diverged=seed == 1),
        ]  # fmt: skip
    r = last_layer_gaps(pd.DataFrame(rows)).iloc[0]
    assert (r["init"], r["depth"], r["channels"]) == ("a", 4, 8)
    assert r["dq"] == pytest.approx(-0.1) and r["dq_se"] == pytest.approx(0.2)  # |0.1 - -0.3| / 2
    assert r["dc"] == pytest.approx(0.0) and r["dc_se"] == pytest.approx(0.1)
    assert r["ln_grad"] == pytest.approx([1.0, 3.0])
    assert r["sd_ln_grad"] == pytest.approx(np.sqrt(2.0))
    assert r["c_theory"] == pytest.approx(0.4) and r["diverged"] == 1 and r["seeds"] == 2
    with pytest.raises(KeyError, match="depth"):
        last_layer_gaps(pd.DataFrame(rows), by=("init",))


def test_map_point_gaps_by_hand():
    # q-map point: measured 2.1, 1.9 vs theory 2.0 -> mean 2.0, diffs 0.1, -0.1, SE 0.1 / sqrt 2
    # * sqrt 2 = 0.1. c-map point: 0.55, 0.45 vs 0.4 -> mean err 0.1, SE 0.05.
    # Dynamics at layer 1: q 1.0, 1.2 vs 1.0 (diffs 0, 0.2: err 0.1, SE 0.1); c 0.5 vs 0.5 twice.
    rows = [dict(kind="qmap", sigma_w=1.3, x=4.0, seed=s, measured=m, theory=2.0)
            for s, m in enumerate((2.1, 1.9))]  # fmt: skip
    rows += [dict(kind="cmap", sigma_w=1.3, x=0.2, seed=s, measured=m, theory=0.4)
             for s, m in enumerate((0.55, 0.45))]  # fmt: skip
    rows += [dict(kind="dyn", piece="dyn0", sigma_w=1.3, layer=layer, seed=s, q=q, q_theory=1.0,
                  c=0.5, c_theory=0.5)
             for s, q in enumerate((1.0, 1.2)) for layer in (0, 1)]  # fmt: skip
    pts = map_point_gaps(pd.DataFrame(rows), width=1000, z_max=1.0, atol_q=0.01, atol_c=0.02,
                         finite_width=10.0).set_index("panel")  # fmt: skip
    assert list(pts.index) == ["cmap", "qmap", "q-dynamics", "c-dynamics"]  # layer 0 left out
    q, c, qd, cd = (pts.loc[k] for k in ("qmap", "cmap", "q-dynamics", "c-dynamics"))
    assert (q["x"], q["layer"], q["metric"]) == ("4", 1, "q")
    assert q["measured"] == pytest.approx(2.0) and q["se"] == pytest.approx(0.1)
    assert q["abs_err"] == pytest.approx(0.0) and q["ok"]
    assert q["tol"] == pytest.approx((0.01 + 0.01) * 2.0)  # relative: x |theory|
    assert c["abs_err"] == pytest.approx(0.1) and c["se"] == pytest.approx(0.05)
    assert c["tol"] == pytest.approx(0.03) and c["z"] == pytest.approx(2.0)
    assert not c["ok"]  # 0.1 > 1 x 0.05 + 0.03
    assert (qd["x"], qd["layer"]) == ("dyn0", 1) and qd["se"] == pytest.approx(0.1)
    assert qd["tol"] == pytest.approx(0.02) and qd["ok"]  # 0.1 <= 0.1 + 0.02
    assert cd["abs_err"] == pytest.approx(0.0) and cd["se"] == pytest.approx(0.0) and cd["ok"]
