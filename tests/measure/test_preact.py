"""The pre-activation path: exact in law, agreeing with the weight path, chosen only where it
applies, falling back to weights on near-singular Gram matrices."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from initjax import initializers, keys
from initjax.measure import preact, prepare, propagate
from initjax.models import MLP, ConvNet

NORMAL = initializers.get("variance_scaling", distribution="normal")


def _mlp(width=48, depth=6, sigma_w2=1.5, sigma_b2=0.05, init=NORMAL, **kw):
    return MLP(
        width=width, depth=depth, activation="tanh", kernel_init=init, sigma_w2=sigma_w2,
        sigma_b2=sigma_b2, **kw,
    )  # fmt: skip


# --- the core identity: given A, L G has the law of A W -------------------------------------------


def _layer_draws(a: np.ndarray, std: float, n_keys: int, width: int) -> np.ndarray:
    """Columns z (B,) of the pre-activation layer for a fixed input ``a`` (B, n) over many keys:
    (n_keys * width, B) samples, zero bias."""
    st = _mlp(width=width, sigma_b2=0.0).stack()
    a_j = jnp.asarray(a, jnp.float32)
    ks = jax.random.split(jax.random.key(3), n_keys)

    def one_call(k):
        shape = (1, a.shape[0], width)
        z, fb = preact._layer(
            st, a_j[None], k[None], jnp.float32(std), jnp.zeros(1), lambda: jnp.zeros(shape)
        )
        return z[0], fb

    z, fb = jax.jit(jax.vmap(one_call))(ks)
    assert not np.any(np.asarray(fb))  # a well-conditioned Gram: the pre-activation branch
    return np.asarray(z, np.float64).transpose(0, 2, 1).reshape(-1, a.shape[0])


def test_conditional_covariance_is_sigma_w2_over_n_times_gram():
    # Fixed A (B = 4 inputs, n = 32 features, strongly correlated rows); z columns should be
    # N(0, s^2 A A^T). 64 keys x 512 units = 32768 columns: the sample covariance's entries have
    # standard error sqrt((S_ii S_jj + S_ij^2) / n); all 10 distinct entries within 5 SE.
    rng = np.random.default_rng(0)
    base = rng.standard_normal(32)
    a = np.stack([base + 0.3 * rng.standard_normal(32) for _ in range(4)])
    std = np.sqrt(1.5 / 32)
    z = _layer_draws(a, std, 64, 512)
    want = std**2 * a @ a.T
    got = z.T @ z / len(z)  # mean zero by construction
    se = np.sqrt((np.outer(np.diag(want), np.diag(want)) + want**2) / len(z))
    assert np.all(np.abs(got - want) < 5 * se), (got, want)
    # Whitened by the exact factor, the columns are i.i.d. N(0, 1): KS per coordinate
    # (p > 1e-3 each; 4 tests).
    white = np.linalg.solve(np.linalg.cholesky(want), z.T).T
    for j in range(4):
        assert stats.kstest(white[:, j], "norm").pvalue > 1e-3


def test_negative_control_ignoring_correlations_fails_the_covariance_check():
    # The same criterion rejects a sampler that keeps only the variances (L = diag(sqrt(G_ii))),
    # i.e. a criterion that can fail.
    rng = np.random.default_rng(0)
    base = rng.standard_normal(32)
    a = np.stack([base + 0.3 * rng.standard_normal(32) for _ in range(4)])
    std = np.sqrt(1.5 / 32)
    want = std**2 * a @ a.T
    z = rng.standard_normal((32768, 4)) * np.sqrt(np.diag(want))
    got = z.T @ z / len(z)
    se = np.sqrt((np.outer(np.diag(want), np.diag(want)) + want**2) / len(z))
    assert not np.all(np.abs(got - want) < 5 * se)


# --- whole networks: the same law as the weight path ----------------------------------------------

SEEDS = 256
# The inputs of both paths (one compiled program per path, shared by the tests below).
X = np.random.default_rng(1).standard_normal((16, 48)).astype(np.float32)


@pytest.fixture(scope="module")
def both_paths():
    m = _mlp()
    kw = dict(seeds=SEEDS, metrics=("q", "c", "act_std"))
    return propagate(m, X, path="fused", **kw), propagate(m, X, path="preact", **kw)


def test_preact_statistics_match_the_weight_path(both_paths):
    # Independent networks in the two paths (different random numbers); per layer the seed means
    # of q, c and act_std agree within 4 combined standard errors (7 layers x 3 metrics = 21
    # comparisons; P(|Z| > 4) = 6e-5 each, so a false alarm has probability < 2e-3).
    w, p = both_paths
    assert p.meta["path"] == "preact" and w.meta["path"] == "fused"
    assert sum(p.meta["preact_weight_layers"]) == 0
    for k in ("q", "c", "act_std"):
        a, b = w.arrays[k], p.arrays[k]
        se = np.sqrt(a.var(0, ddof=1) / SEEDS + b.var(0, ddof=1) / SEEDS)
        assert np.all(np.abs(a.mean(0) - b.mean(0)) < 4 * se), (k, a.mean(0), b.mean(0), se)


def test_preact_last_layer_distribution_matches_two_sample_ks(both_paths):
    # The whole across-seed distribution of q^L and c^L: two-sample KS, p > 1e-3 (256 vs 256
    # seeds resolve CDF differences of ~0.17 at 5%).
    w, p = both_paths
    for k in ("q", "c"):
        assert stats.ks_2samp(w.arrays[k][:, -1], p.arrays[k][:, -1]).pvalue > 1e-3, k


def test_preact_first_layer_has_the_closed_form_mean(both_paths):
    # q^0 = sigma_w2 * mean(x^2) + sigma_b2 in expectation over W and b: within 4 SE.
    q0 = both_paths[1].arrays["q"][:, 0]
    want = 1.5 * float(np.mean(X.astype(np.float64) ** 2)) + 0.05
    assert abs(q0.mean() - want) < 4 * q0.std(ddof=1) / np.sqrt(SEEDS)


def test_biases_are_the_weight_paths_biases():
    # Zero kernel variance: z^0 = b exactly, the bias the weight path draws from the same key.
    # both_paths' network, inputs and metrics with other sigmas (dynamic arguments: the same two
    # compiled programs); X's Gram is well-conditioned, so layer 0 is drawn by the pre-activation
    # branch and its bias is the one checked.
    m = _mlp(sigma_w2=1e-30, sigma_b2=0.7)
    kw = dict(seeds=SEEDS, metrics=("q", "c", "act_std"))
    p = propagate(m, X, path="preact", **kw)
    assert p.meta["preact_weight_layers"][0] == 0
    a = p.arrays["q"][:, 0]
    b = propagate(m, X, path="fused", **kw).arrays["q"][:, 0]
    np.testing.assert_allclose(a, b, rtol=1e-5)


# --- near-singular Gram matrices: the weights take over -------------------------------------------


def test_identical_inputs_fall_back_to_the_weight_path_everywhere():
    # All B rows equal: A A^T has rank 1 in every layer, so every layer is drawn through the
    # weights (same keys as the fused path): the statistics equal the fused path's up to float32
    # rounding of differently fused reductions. both_paths' network, input shape and metrics
    # (the same two compiled programs).
    x = np.tile(np.random.default_rng(2).standard_normal((1, 48)).astype(np.float32), (16, 1))
    kw = dict(seeds=SEEDS, metrics=("q", "c", "act_std"))
    p = propagate(_mlp(), x, path="preact", **kw)
    w = propagate(_mlp(), x, path="fused", **kw)
    assert p.meta["preact_weight_layers"] == [SEEDS] * 7
    np.testing.assert_allclose(p.arrays["q"], w.arrays["q"], rtol=1e-5)
    np.testing.assert_allclose(p.arrays["c"], w.arrays["c"], rtol=1e-5)


def test_ordered_phase_switches_to_weights_once_inputs_collapse():
    # sigma_w2 = 0.5, sigma_b2 = 0.5 (tanh): c^l -> 1, the Gram becomes numerically rank 1 and
    # the path must hand those layers to the weights; early layers stay on pre-activations.
    m = _mlp(width=64, depth=30, sigma_w2=0.5, sigma_b2=0.5)
    r = propagate(m, seeds=4, batch=16, metrics="q,c", path="preact")
    fb = r.meta["preact_weight_layers"]
    assert fb[0] == 0 and fb[-1] == 4
    assert np.all(np.isfinite(r.arrays["c"])) and not r.diverged.any()


# --- where it applies, and the automatic choice ---------------------------------------------------


@pytest.mark.parametrize(
    "model,metrics,match",
    [
        (_mlp(init=initializers.get("lecun_normal")), "q", "not an i.i.d. Gaussian"),
        (_mlp(init=initializers.get("normal", stddev=0.0)), "q", "variance is zero"),
        (_mlp(), "q,grad_sq", "need the weights"),
        (_mlp(), "unit_symmetry", "need the weights"),
        (ConvNet(channels=4, depth=2, ndim=1), "q", "only MLP"),
    ],
)
def test_explicit_preact_refuses_what_it_cannot_measure(model, metrics, match):
    with pytest.raises(ValueError, match=match):
        prepare(model, seeds=2, batch=4, metrics=metrics, path="preact")


def test_auto_picks_preact_only_where_it_applies_and_is_faster():
    wide = _mlp(width=256, depth=2)
    assert prepare(wide, seeds=2, batch=64, metrics="q,c").meta["path"] == "preact"
    assert prepare(wide, seeds=2, batch=65, metrics="q,c").meta["path"] == "fused"  # N < 4B
    assert prepare(_mlp(width=64), seeds=2, batch=8, metrics="q").meta["path"] == "fused"
    assert prepare(wide, seeds=2, batch=8, metrics="q,grad_sq").meta["path"] == "fused"
    trunc = _mlp(width=256, init=initializers.get("he_normal"))
    assert prepare(trunc, seeds=2, batch=8, metrics="q").meta["path"] == "fused"


def test_preact_on_a_grid_and_per_seed_inputs():
    m = _mlp(width=32, depth=3)
    r = propagate(
        m, seeds=8, batch=4, metrics="q", sigma_w2=[0.5, 2.0], sigma_b2=[0.0, 0.1],
        inputs="per_seed", path="preact",
    )  # fmt: skip
    assert r.arrays["q"].shape == (2, 8, 4) and r.diverged.shape == (2, 8)
    assert np.all(r.arrays["q"][1] > 0)
    # Common random numbers across cells: the same noise, scaled (layer 0 with sigma_b2 = 0 vs
    # 0.1 differs only by the bias): q^0 grows with sigma_w2 for every seed.
    assert np.all(r.arrays["q"][1, :, 0] > r.arrays["q"][0, :, 0])


def test_preact_noise_key_is_separate_from_kernel_and_bias():
    assert len({keys.KERNEL, keys.BIAS, keys.PREACT}) == 3
