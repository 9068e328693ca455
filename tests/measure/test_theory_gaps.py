"""last_layer_gaps against hand computations on a two-seed table."""

import numpy as np
import pandas as pd
import pytest

from initjax.measure.theory_gaps import last_layer_gaps


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
