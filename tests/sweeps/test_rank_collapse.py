"""Rank-collapse tables against the uniform-attention theory, on synthetic per-layer rows whose
moments follow the theory exactly (and a wrong branch multiplier that does not)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from initjax.sweeps import rank_collapse as RC
from initjax.theory import transformer as TT

T, L, SEEDS = 8, 6, 5


def _stack(norm: str, exponent: float, *, true_branch=None, qk_power=1.0) -> pd.DataFrame:
    """Per seed: (q, p) from the theory started at that seed's own layer 0 (q0 jittered)."""
    rows = []
    for s in range(SEEDS):
        q0 = 1.0 + 0.1 * s
        b = L**-exponent if true_branch is None else true_branch
        m = TT.residual_moments(L, norm=norm, tokens=T, q0=q0, p0=0.2 * q0, branch=b)
        cos = m.rho
        ratio = np.r_[np.nan, (1 - cos[:-1]) ** qk_power * (1 + 0.01 * s)]
        rows.append(pd.DataFrame({
            "norm": norm, "branch_exponent": exponent, "attention": "uniform", "depth": L,
            "seed": s, "layer": np.arange(L + 1), "q": m.q, "token_cross": m.p,
            "token_cos": cos, "erank": 2.0, "grad_wq": ratio / np.sqrt(2),
            "grad_wk": ratio / np.sqrt(2), "grad_wv": 1.0}))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def test_unnormalised_stacks_match_the_closed_form_exactly():
    # The maps are linear: each seed on its theory => the ratio of seed means is on the theory
    # from the seed-mean layer 0 (dev 0 at every layer, also in every leave-one-out sample).
    tab = pd.concat([_stack("none", 0.0), _stack("none", 0.5)], ignore_index=True)
    tr = RC.trajectories(tab, T)
    assert len(tr) == 2 * (L + 1)
    np.testing.assert_allclose(tr["dev"], 0.0, atol=1e-12)
    np.testing.assert_allclose(tr["se"], 0.0, atol=1e-12)
    q0, p0 = 1.2, 0.24  # seed means of layer 0
    closed = TT.linear_attention_moments(L, tokens=T, q0=q0, p0=p0, x=1.0)
    np.testing.assert_allclose(tr["theory"][: L + 1], 1 - closed.rho, rtol=1e-12)
    lim = TT.cosine_depth_limit(tokens=T, q0=q0, p0=p0, x=1.0)
    np.testing.assert_allclose(tr["rho_limit"], lim, rtol=1e-12)
    np.testing.assert_allclose(tr["qk_v_ratio"][1:L + 1], np.nanmean(
        [(1 - TT.linear_attention_moments(L, tokens=T, q0=1 + 0.1 * s, p0=0.2 * (1 + 0.1 * s),
                                          x=1.0).rho[:-1]) * (1 + 0.01 * s)
         for s in range(SEEDS)], 0), rtol=1e-6)  # fmt: skip


def test_negative_control_wrong_branch_multiplier_deviates():
    tab = _stack("none", 0.5, true_branch=1.0)  # unscaled data labelled 1/sqrt(L)
    tr = RC.trajectories(tab, T)
    assert np.all(np.abs(tr["dev"][2:]) > 0.05)


@pytest.mark.parametrize("power", [1.0, 0.5])
def test_qk_gradient_slopes_recover_the_power(power):
    tab = _stack("post", 0.0, qk_power=power)
    slopes = RC.qk_gradient_slopes(tab, 1e-6, 1.0)
    np.testing.assert_allclose(slopes, power, rtol=1e-9)


def test_missing_columns_and_single_seed_are_refused():
    tab = _stack("pre", 0.0)
    with pytest.raises(ValueError, match="token_cross"):
        RC.trajectories(tab.drop(columns="token_cross"), T)
    with pytest.raises(ValueError, match="2 seeds"):
        RC.trajectories(tab[tab.seed == 0], T)


def test_measure_stack_uniform_attention_preserves_token_differences():
    # Uniform attention adds the same vector to every token: q - p (the spread of the tokens
    # about their mean) is unchanged by each unnormalised block, while q grows.
    f = RC.measure_stack(width=16, heads=2, tokens=4, depth=3, norm="none", branch_exponent=0.0,
                         attention="uniform", batch=2, c0=0.3, seeds=2)  # fmt: skip
    assert set(RC.KEYS) <= set(f.columns) and len(f) == 2 * 4
    gap = (f.q - f.token_cross).to_numpy().reshape(2, 4)
    np.testing.assert_allclose(gap, np.broadcast_to(gap[:, :1], gap.shape), rtol=1e-5)
    assert np.all(np.diff(f.q.to_numpy().reshape(2, 4), axis=1) > 0)
    with pytest.raises(ValueError, match="attention must be one of"):
        RC.attention_stack(width=8, heads=2, tokens=4, depth=2, norm="none", branch_exponent=0.0,
                           attention="linear")  # fmt: skip
