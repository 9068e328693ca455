"""compare(): theory columns beside a measured per-layer table."""

import numpy as np
import pandas as pd
import pytest

from initjax.theory import compare


def _frame(seeds=3, depth=6, cells=((1.5, 0.1),), rng=None):
    rng = rng or np.random.default_rng(0)
    rows = []
    for sw, sb in cells:
        for s in range(seeds):
            for layer in range(depth + 1):
                rows.append(
                    dict(
                        sigma_w2=sw,
                        sigma_b2=sb,
                        seed=s,
                        layer=layer,
                        q=rng.uniform(0.5, 2.0),
                        c=rng.uniform(-0.5, 0.9),
                        diverged=False,
                    )
                )
    return pd.DataFrame(rows)


@pytest.mark.usefixtures("x64")
def test_relu_and_linear_theory_match_closed_recursions():
    df = _frame(cells=((1.5, 0.1), (2.4, 0.3)))
    out = compare(df, "relu")
    assert list(out.columns) == [*df.columns, "q_theory", "c_theory"]
    assert len(out) == len(df)
    for _, row in out.iterrows():
        start = df[(df.seed == row.seed) & (df.sigma_w2 == row.sigma_w2) & (df.layer == 0)].iloc[0]
        r, n = row.sigma_w2 / 2.0, int(row.layer)
        # q^n = r^n q0 + sigma_b2 (1 + r + ... + r^(n-1)), r = sigma_w2 / 2 (ReLU).
        want = r**n * start.q + row.sigma_b2 * sum(r**k for k in range(n))
        assert row.q_theory == pytest.approx(want, rel=1e-12)
    # Linear: q <- sw q + sb, c <- (sw q c + sb) / (sw q + sb), iterated in numpy.
    one_cell = df[df.sigma_w2 == 1.5].drop(columns=["sigma_w2", "sigma_b2"])
    lin = compare(one_cell, "linear", 0.9, 0.2)
    for s in range(3):
        sub = lin[lin.seed == s].sort_values("layer")
        q, c = sub.q.iloc[0], sub.c.iloc[0]
        for layer in range(7):
            assert sub.q_theory.iloc[layer] == pytest.approx(q, rel=1e-12)
            assert sub.c_theory.iloc[layer] == pytest.approx(c, rel=1e-12)
            q, c = 0.9 * q + 0.2, (0.9 * q * c + 0.2) / (0.9 * q + 0.2)


@pytest.mark.usefixtures("x64")
def test_start_mean_uses_seed_mean_of_layer_zero():
    df = _frame(seeds=4, depth=3).drop(columns=["sigma_w2", "sigma_b2"])
    out = compare(df, "linear", 1.0, 0.0, start="mean")
    zero = df[df.layer == 0]
    # Linear at (1, 0): both maps are the identity, so every layer shows the layer-0 seed mean.
    np.testing.assert_allclose(out.q_theory, zero.q.mean(), rtol=1e-12)
    np.testing.assert_allclose(out.c_theory, zero.c.mean(), rtol=1e-12)
    assert compare(df.drop(columns=["seed"]), "linear", 1.0, 0.0, start="mean").shape[0] == len(df)


def test_tanh_rows_and_large_frame():
    # 50 cells x 20 seeds x 100 layers = 101000 rows: one compiled scan over all trajectories.
    cells = [(w, b) for w in np.linspace(1.0, 3.0, 10) for b in np.linspace(0.0, 0.2, 5)]
    df = _frame(seeds=20, depth=100, cells=cells)
    assert len(df) == 101_000
    out = compare(df, "relu")
    assert np.isfinite(out.q_theory).all() and np.isfinite(out.c_theory).all()
    small = compare(_frame(seeds=2, depth=5, cells=((2.5, 0.05),)), "tanh")
    assert ((small.c_theory >= -1) & (small.c_theory <= 1)).all()


def test_diverged_start_gives_nan_not_an_error():
    df = _frame(seeds=2, depth=3)
    df.loc[(df.seed == 1) & (df.layer == 0), "q"] = np.nan
    out = compare(df, "relu")
    assert out[out.seed == 1].q_theory.isna().all() and out[out.seed == 0].q_theory.notna().all()


def test_errors():
    df = _frame()
    with pytest.raises(ValueError, match="both a column"):
        compare(df, "tanh", sigma_w2=1.0)
    with pytest.raises(ValueError, match="neither"):
        compare(df.drop(columns=["sigma_b2"]), "tanh")
    with pytest.raises(ValueError, match="lacks column"):
        compare(df.drop(columns=["q"]), "tanh")
    with pytest.raises(ValueError, match="no layer-0 row"):
        compare(df[~((df.layer == 0) & (df.seed == 1))], "tanh")
    with pytest.raises(ValueError, match="several layer-0 rows"):
        compare(pd.concat([df, df]), "tanh")
    with pytest.raises(ValueError, match="start"):
        compare(df, "tanh", start="median")
    with pytest.raises(ValueError, match="variance"):
        compare(df.assign(sigma_b2=-0.1), "tanh")
    with pytest.raises(ValueError, match="unknown activation"):
        compare(df, "tanhh")


def test_theory_columns_are_float64_where_the_float32_measurement_underflows():
    # relu + glorot_normal (fan_in = fan_out: sigma_w2 = 1): q^l = q^0 / 2^l, below float32's
    # smallest normal (1.2e-38) past l ~ 126, so the measured q underflows; the theory column is
    # computed in float64 whatever the global x64 setting and follows the recursion to l = 200.
    import jax

    from initjax.measure import propagate
    from initjax.models import MLP

    assert not jax.config.jax_enable_x64
    res = propagate(
        MLP(width=128, depth=200, activation="relu", kernel_init="glorot_normal"), seeds=2
    )
    df = res.to_frame()
    out = compare(df, "relu", 1.0, 0.0)
    deep = out[out.layer == 200]
    assert (deep.q < np.finfo(np.float32).tiny).all()  # the measurement underflows
    q0 = out[out.layer == 0].set_index("seed").q
    want = q0.loc[deep.seed].to_numpy(np.float64) * 0.5**200  # ~1e-60
    assert (deep.q_theory > 0).all() and np.isfinite(deep.q_theory).all()
    np.testing.assert_allclose(deep.q_theory.to_numpy(), want, rtol=1e-12)
    assert out.q_theory.dtype == np.float64 and np.isfinite(out.c_theory).all()
