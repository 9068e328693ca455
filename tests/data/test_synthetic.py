"""gaussian_mixture and teacher: closed-form separability, determinism, numpy recomputation."""

from __future__ import annotations

import numpy as np
import pytest

from initjax import data


def bayes_accuracy(separation: float, k: int) -> float:
    """P(correct) of the nearest-true-mean rule for k orthonormal means at norm s, unit noise:
    correct iff s + w_y > w_j for all j != y, w ~ N(0, I_k): integral phi(t) Phi(t + s)^(k-1)."""
    from scipy import integrate, stats  # scipy.stats costs ~0.3 s to import: not at collection

    f = lambda t: stats.norm.pdf(t) * stats.norm.cdf(t + separation) ** (k - 1)
    return integrate.quad(f, -np.inf, np.inf)[0]


def test_means_orthonormal_times_separation():
    m = data.gaussian_mixture_means(dim=16, num_classes=5, separation=2.5, seed=3)
    assert m.shape == (5, 16) and m.dtype == np.float32
    np.testing.assert_allclose(m @ m.T, 2.5**2 * np.eye(5), atol=1e-5)


@pytest.mark.parametrize("separation", [0.0, 1.0, 3.0])
def test_nearest_mean_accuracy_matches_closed_form(separation):
    k, n = 10, 4000
    x, y = data.load(
        "gaussian_mixture", "test", normalize="none", n_test=n, separation=separation, seed=1
    )
    means = data.gaussian_mixture_means(32, k, separation, seed=1)
    pred = np.argmin(((x[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    acc = float(np.mean(pred == y))
    p = bayes_accuracy(separation, k)
    # n i.i.d. Bernoulli(p) outcomes: sd = sqrt(p (1-p) / n) ~ 0.005; allow 4 sd.
    assert abs(acc - p) < 4 * np.sqrt(p * (1 - p) / n), (acc, p)
    if separation == 0.0:
        assert abs(p - 1 / k) < 1e-9  # zero separation: chance


def test_gaussian_mixture_structure():
    x, y = data.load("gaussian_mixture", normalize="none", n_train=1000, num_classes=4, dim=8)
    assert x.shape == (1000, 8) and x.dtype == np.float32 and y.dtype == np.int32
    np.testing.assert_array_equal(np.bincount(y), 250)  # exactly balanced
    means = data.gaussian_mixture_means(8, 4, 3.0, seed=0)
    resid = x - means[y]
    # noise ~ N(0, I): per-coordinate variance estimate from 8000 values, sd ~ 0.016; 5 sd
    assert abs(resid.var() - 1.0) < 0.08
    xt, _ = data.load("gaussian_mixture", "test", normalize="none", num_classes=4, dim=8)
    assert not np.allclose(x[: len(xt)], xt)  # independent split
    x2, y2 = data.load("gaussian_mixture", normalize="none", n_train=1000, num_classes=4, dim=8)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)


def _numpy_teacher(params, x, phi):
    h = x.astype(np.float64)
    for w, b in params[:-1]:
        h = phi(h @ w + b)
    w, b = params[-1]
    return np.argmax(h @ w + b, axis=1)


@pytest.mark.parametrize("activation,phi", [("tanh", np.tanh), ("relu", lambda z: z * (z > 0))])
def test_teacher_labels_recomputed_in_numpy(activation, phi):
    kw = dict(dim=12, num_classes=5, width=24, depth=2, seed=4)
    x, y = data.load("teacher", normalize="none", n_train=500, activation=activation, **kw)
    params = data.teacher_params(**{k: v for k, v in kw.items()})
    assert [w.shape for w, _ in params] == [(12, 24), (24, 24), (24, 5)]
    ref = _numpy_teacher(params, x, phi)
    # float32 vs float64 logits can flip an argmax only at near-ties; allow 1 in 500.
    assert np.mean(ref == y) >= 0.998


def test_linear_teacher_is_argmax_of_affine_map():
    x, y = data.load("teacher", normalize="none", n_train=300, dim=6, num_classes=3, depth=0)
    ((w, b),) = data.teacher_params(dim=6, num_classes=3, depth=0)
    np.testing.assert_allclose(np.linalg.norm(w, axis=0), 1.0, atol=1e-6)  # unit readout columns
    assert np.mean(np.argmax(x.astype(np.float64) @ w + b, 1) == y) >= 0.995


def test_teacher_deterministic_all_classes():
    x1, y1 = data.load("teacher")
    x2, y2 = data.load("teacher")
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert set(np.unique(y1)) == set(range(10))
    _, y3 = data.load("teacher", seed=1)
    assert not np.array_equal(y1, y3)
    xt, yt = data.load("teacher", "test")
    assert xt.shape == (1000, 32) and set(np.unique(yt)) == set(range(10))
