"""layer_factors / per_input_q: against scipy quadrature of the q-map and chi_1 per input.
Tolerances: the theory quadrature is documented within 1e-7 relative per integral
(initjax.theory.quadrature); three q-map steps compose to ~3e-7, the factors' ratios to < 1e-6."""

import numpy as np
import pytest

from initjax.theory.layer_factors import geometric_factor, layer_factors, per_input_q
from tests.theory.conftest import gauss_1d

SECH2 = lambda u: 1.0 / np.cosh(u) ** 2  # noqa: E731  tanh'


def _ref_q(sw2, q1, layers):
    qs = [np.asarray(q1, float)]
    for _ in range(layers - 1):
        qs.append(np.array([sw2 * gauss_1d(lambda u: np.tanh(u) ** 2, q) for q in qs[-1]]))
    return np.stack(qs)


@pytest.mark.usefixtures("x64")
def test_per_input_q_matches_quadrature():
    q1 = [0.05, 0.3, 1.2]
    np.testing.assert_allclose(per_input_q("tanh", 1.0, q1, 4), _ref_q(1.0, q1, 4), rtol=3e-7)


@pytest.mark.usefixtures("x64")
def test_factors_match_quadrature_per_input():
    sw2, q1, L = 1.0, np.array([0.1, 0.4, 0.9]), 4
    qs = _ref_q(sw2, q1, L)
    a2 = np.array([[gauss_1d(lambda u: np.tanh(u) ** 2, q) for q in row] for row in qs])
    chi = sw2 * np.array([[gauss_1d(lambda u: SECH2(u) ** 2, q) for q in row] for row in qs])
    act = np.sqrt(a2.mean(1))
    top = chi[-1] / sw2
    g1 = (top * np.prod(chi[:-1], 0)).mean() / top.mean()  # |grad|^2 at layer 1 / at layer L
    f = layer_factors("tanh", sw2, q1, L, jac_input=2)
    np.testing.assert_allclose(f["act_std"], act, rtol=1e-6)
    assert f["act"] == pytest.approx((act[-1] / act[0]) ** (1 / (L - 1)), rel=1e-6)
    assert f["grad"] == pytest.approx(g1 ** (0.5 / (L - 1)), rel=1e-6)
    assert f["sv2"] == pytest.approx(chi[1:, 2].mean(), rel=1e-6)


@pytest.mark.usefixtures("x64")
def test_batch_mean_start_differs_by_jensen():
    """Concave q-map: pooled moments iterated per input lie below those iterated from the
    batch-mean q^1 (Jensen, strict for unequal lengths); equal lengths agree exactly."""
    # Batches of 3 inputs and 4 layers, the shapes of the tests above (their compiled programs
    # serve); the batch-mean start is 3 equal inputs, which equal one input (checked last).
    q1 = np.array([0.02, 0.2, 2.0])
    mean_start = np.full(3, q1.mean())
    per = layer_factors("tanh", 1.0 / 3.0, q1, 4)["act_std"]
    mean = layer_factors("tanh", 1.0 / 3.0, mean_start, 4)["act_std"]
    assert np.all(per < mean * 0.99)
    assert (
        per_input_q("tanh", 1.0 / 3.0, q1, 4)[1].mean()
        < per_input_q("tanh", 1.0 / 3.0, mean_start, 4)[1, 0]
    )
    same = layer_factors("tanh", 1.0 / 3.0, [0.5, 0.5, 0.5], 4)["act_std"]
    np.testing.assert_allclose(same, layer_factors("tanh", 1.0 / 3.0, [0.5], 4)["act_std"])


def test_geometric_factor():
    assert geometric_factor([1.0, 0.5, 0.25]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="v must"):
        geometric_factor([1.0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(q1=[0.1], layers=1), "layers"),
        (dict(q1=[-0.1, 0.2], layers=3), "q1"),
        (dict(q1=[], layers=3), "q1"),
        (dict(q1=[0.1], layers=3, jac_input=1), "jac_input"),
    ],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        layer_factors("tanh", 1.0, **kwargs)
