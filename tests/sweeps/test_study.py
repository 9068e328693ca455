"""The generic sweep study: its numerical-health verdict on synthetic tables (PASS, and FAIL for
a non-finite row or a diverged network: the negative controls), thresholds validated."""

from __future__ import annotations

import ml_collections
import numpy as np
import pandas as pd
import pytest

from initjax.sweeps import study


def _table(nonfinite=(), diverged=(), underflow=()) -> pd.DataFrame:
    rows = []
    for seed in range(4):
        for layer in range(5):
            i = len(rows)
            rows.append(dict(model="mlp", width=8, depth=4, arm="a", sigma_w2=1.0, sigma_b2=0.0,
                             seed=seed, layer=layer, q=1.0, nonfinite=i in nonfinite,
                             diverged=seed in diverged, underflow=i in underflow))  # fmt: skip
    return pd.DataFrame(rows)


def _config(**analysis) -> ml_collections.ConfigDict:
    a = study.default_analysis()
    a.update(analysis)
    return ml_collections.ConfigDict(dict(compute={}, analysis=a, preset="default"))


def test_healthy_table_passes_and_counts_are_stated():
    v = study.evaluate(_table(underflow=(3,)), _config())
    assert v.status == "PASS"
    assert "0/20 rows nonfinite" in v.reason and "1/20 rows underflow" in v.reason
    assert [c.passed for c in v.checks] == [True, True, None]  # underflow reported, not judged


@pytest.mark.parametrize(
    "table", [_table(nonfinite=(7,)), _table(diverged=(2,))], ids=["nonfinite", "diverged"]
)
def test_negative_controls_fail(table):
    v = study.evaluate(table, _config())
    assert v.status == "FAIL"


def test_thresholds_are_pre_registered_and_validated():
    t = _table(diverged=(1,))  # 1 of 4 networks
    assert study.evaluate(t, _config(max_diverged_share=0.25)).status == "PASS"
    assert study.evaluate(t, _config(max_diverged_share=0.2)).status == "FAIL"
    u = _table(underflow=tuple(range(10)))
    assert study.evaluate(u, _config(max_underflow_share=0.4)).status == "FAIL"
    with pytest.raises(ValueError, match="analysis.max_nonfinite_share"):
        study.evaluate(t, _config(max_nonfinite_share=np.nan))
