"""The shipped example sweep configs (examples/): each runs at its tiny preset and writes the
Parquet table with its arms' model_args as columns, the figures and the summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from initjax.sweeps import load_experiment, resolve_config
from initjax.sweeps.runtime import run_experiment
from initjax.sweeps.summary import Summary

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.slow  # 8 compilations; tests/sweeps/test_runner.py runs one model_args group fast
def test_transformer_sweep_crosses_norm_depth_and_recipe(tmp_path):
    exp = load_experiment(str(EXAMPLES / "transformer_sweep.py"))
    full = exp.get_config().compute
    # The default crosses every recipe with every norm placement at depths 4..64.
    pairs = {(a["model_args"]["recipe"], a["model_args"]["norm"]) for a in full.arms}
    assert len(pairs) == 7 * 3 and list(full.depths) == [4, 16, 64]
    cfg = resolve_config(exp, ["preset=tiny"])
    res = run_experiment(exp, cfg, tmp_path, progress=False, log=lambda *_: None)
    t = pd.read_parquet(tmp_path / "results.parquet")
    assert len(t) == len(res.table) == 4 * 2 * (3 + 4)  # 4 arms x 2 seeds x layers 0..2, 0..3
    assert {"recipe", "norm", "arm", "depth", "q", "token_cos", "erank", "attn_entropy"} <= set(
        t.columns
    )
    got = set(zip(t.recipe, t.norm, strict=True))
    assert got == {("flax", "pre"), ("flax", "post"), ("gpt2", "pre"), ("gpt2", "post")}
    # Post-LN: every block's output has q = 1 (LayerNorm, eps 1e-6 / 1e-5 and 1/d centring).
    post = t[(t.norm == "post") & (t.layer >= 1)]
    np.testing.assert_allclose(post.q, 1.0, atol=2e-2)
    assert t.init.isna().all() and t.sigma_w2.isna().all()  # the recipes' own per-role inits
    s = Summary.read(tmp_path)
    assert s.verdict.status == "PASS"  # numerical health: no non-finite value
    assert "figure_q.png" in s.figures and "figure_token_cos.png" in s.figures
    assert not any(f in s.figures for f in ("figure_heads.png", "figure_patch.png"))
    assert all((tmp_path / f).is_file() for f in s.figures)
