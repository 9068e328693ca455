"""Optimal learning rates from a sweep, their slope against size, and the transfer verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from initjax.measure import transfer as T


def test_optimum_is_the_parabola_vertex_and_edges_are_refused():
    x = np.arange(-10, -2, dtype=float)
    for true in (-6.3, -5.5, -7.0):
        opt, status = T.optimal_log2_lr(x, (x - true) ** 2 + 1.0)
        assert status == "ok" and opt == pytest.approx(true, abs=1e-12)
    assert T.optimal_log2_lr(x, (x + 10.5) ** 2)[1] == "edge"
    assert np.isnan(T.optimal_log2_lr(x, (x + 2.0) ** 2)[0])
    y = (x + 6.0) ** 2
    y[5:] = np.nan  # diverged at large learning rates: +inf, the minimum is still bracketed
    assert T.optimal_log2_lr(x, y) == (pytest.approx(-6.0), "ok")
    assert T.optimal_log2_lr(x, np.full_like(x, np.nan)) == (
        pytest.approx(np.nan, nan_ok=True),
        "diverged",
    )


def _sweep(slope, seeds=4, widths=(64, 128, 256, 512), noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(seeds):
        for w in widths:
            opt = -6.0 + slope * np.log2(w / 64) + noise * rng.normal()
            for lr in 2.0 ** np.arange(-14, 1):
                rows.append(
                    dict(
                        parametrization=f"p{slope}",
                        width=w,
                        depth=2,
                        seed=s,
                        learning_rate=lr,
                        train_loss=0.3 * (np.log2(lr) - opt) ** 2,
                    )
                )
    return pd.DataFrame(rows)


def test_slopes_recover_a_known_shift_and_the_verdict_uses_the_interval():
    frame = pd.concat([_sweep(-1.0), _sweep(0.0, seed=1)])
    opt = T.optimal_lrs(frame)
    assert (opt["status"] == "ok").all() and len(opt) == 2 * 4 * 4
    s = T.transfer_slopes(opt).set_index("parametrization")
    assert s.loc["p-1.0", "slope"] == pytest.approx(-1.0, abs=0.05)
    assert s.loc["p0.0", "ci_lo"] < 0 < s.loc["p0.0", "ci_hi"]
    v = T.transfer_verdict(
        s.reset_index(), {"p-1.0": "shifts", "p0.0": "stays"}, stay_bound=0.25, shift_min=0.25
    )
    assert v["passed"].all()
    # Negative control: the same numbers with the expectations swapped fail both checks.
    bad = T.transfer_verdict(
        s.reset_index(), {"p-1.0": "stays", "p0.0": "shifts"}, stay_bound=0.25, shift_min=0.25
    )
    assert not bad["passed"].any()
    missing = T.transfer_verdict(s.reset_index(), {"nope": "stays"}, stay_bound=1, shift_min=1)
    assert not missing["passed"].any()


def test_unbracketed_seeds_are_counted_not_fitted():
    frame = _sweep(0.0)
    edge = (frame.seed == 0) & (frame.width == 512)
    frame.loc[edge, "train_loss"] = -frame.loc[edge, "learning_rate"]  # minimum at the edge
    s = T.transfer_slopes(T.optimal_lrs(frame))
    assert int(s["unbracketed"].iloc[0]) == 1 and int(s["seeds"].iloc[0]) == 3
