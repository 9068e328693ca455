"""Distinct units and unit distances on hand-computable weight vectors, and the registered
metrics ``distinct_units`` / ``weight_rank`` on hand-built MLP params through ``propagate``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from initjax import models
from initjax.measure import metrics, propagate, units

# Compiled once per shape (and tolerance), as the engine runs them, not one program per jnp
# operation of an eager call; shape errors are raised while tracing, as they are eagerly.
unit_vectors = jax.jit(units.unit_vectors)
pairwise_distances = jax.jit(units.pairwise_distances)
du = jax.jit(units.distinct_units, static_argnums=1)
relative_distance_range = jax.jit(units.relative_distance_range)


def test_unit_vectors_layout_and_errors():
    k = np.arange(6.0).reshape(2, 3)  # (fan_in 2, units 3): unit j's weights are column j
    v = unit_vectors(k, np.array([10.0, 11.0, 12.0]))
    np.testing.assert_array_equal(v, [[0, 3, 10], [1, 4, 11], [2, 5, 12]])
    assert v.dtype == jnp.float32
    with pytest.raises(ValueError, match="bias must have shape"):
        unit_vectors(k, np.zeros(2))
    with pytest.raises(ValueError, match="kernel must be 2-D"):
        unit_vectors(np.zeros(3))


def test_pairwise_distances_closed_form():
    # Rows s e_i: |s e_i - s e_j| = s sqrt(2) off the diagonal, exactly 0 on it.
    d = np.asarray(pairwise_distances(3.0 * np.eye(4)))
    np.testing.assert_allclose(d, 3.0 * np.sqrt(2) * (1 - np.eye(4)), rtol=1e-6)
    assert np.all(np.diag(d) == 0)
    # A relative gap of 1e-6 on a 64-dim vector of ones: |dv| = 2^-20 sqrt(64) = 2^-17 (exact in
    # float32: 1 + 2^-20 is representable), where a Gram matrix would give ~sqrt(eps) * 8 noise.
    v = np.stack([np.ones(64), np.ones(64) + 2.0**-20]).astype(np.float32)
    assert v[1, 0] == 1 + 2.0**-20
    assert float(pairwise_distances(v)[0, 1]) == 2.0**-17


def test_distinct_units_components_on_a_line():
    # Points 0, 1, 2, 10, 11, 30 on a line with a second coordinate 20 (RMS norm known exactly):
    # with tolerance = 1.5 links only gaps of 1: components {0,1,2}, {10,11}, {30}.
    x = np.array([0.0, 1.0, 2.0, 10.0, 11.0, 30.0])
    v = np.stack([x, np.full_like(x, 20.0)], axis=1)
    rms = np.sqrt(np.mean(x**2 + 400.0))

    @jax.jit  # the four counts as one compiled program
    def counts(v):
        tols = (1.5 / rms, 0.5 / rms, 25.0 / rms)
        return [units.distinct_units(v, t) for t in tols] + [units.distinct_units(v[:3], tols[0])]

    three, six, one, first_three = map(float, counts(v))
    assert three == 3
    assert six == 6  # no link
    assert one == 1  # chain through 10 -> 30 (gap 19)
    # single linkage: 0 and 2 are 2 apart (> 1.5) yet one unit through 1
    assert first_three == 1


def test_distinct_units_symmetric_random_and_degenerate():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((3, 20))
    # 3 clusters of 4 near-copies (offsets 1e-7 of the norm) stay below the 1e-4 tolerance;
    # independent Gaussian centres are ~sqrt(2) norms apart. Every (12, 20) case below runs
    # the same compiled program.
    v = np.repeat(centres, 4, axis=0) * (1 + 1e-7 * rng.standard_normal((12, 1)))
    assert float(du(v)) == 3
    assert float(du(np.tile(centres[:1], (12, 1)), 0.0)) == 1
    assert float(du(rng.standard_normal((12, 20)))) == 12
    assert float(du(np.zeros((12, 20)))) == 1  # zero init: one silent unit
    assert float(du(np.ones((1, 3)))) == 1
    bad = np.ones((12, 20))
    bad[0, 0] = np.nan
    assert np.isnan(float(du(bad)))
    with pytest.raises(ValueError, match="rel_tol"):
        units.distinct_units(v, -1.0)
    # vmappable (the engine vmaps over seeds)
    batch = np.stack([v, rng.standard_normal((12, 20))]).astype(np.float32)
    np.testing.assert_array_equal(jax.jit(jax.vmap(units.distinct_units))(batch), [3, 12])


def test_relative_distance_range_closed_form():
    v = np.array([[3.0, 0.0], [0.0, 4.0], [3.0, 0.0]])
    rms = np.sqrt((9 + 16 + 9) / 3)
    lo, hi = relative_distance_range(v)
    assert float(lo) == 0.0
    assert float(hi) == pytest.approx(5.0 / rms, rel=1e-6)
    assert tuple(map(float, relative_distance_range(np.zeros((3, 2))))) == (0.0, 0.0)
    assert np.isnan(float(relative_distance_range(np.ones((1, 2)))[0]))


def test_registered_metrics_on_hand_built_params():
    """A width-6 MLP with hidden columns in 2 groups of copies: 2 distinct units, rank 2."""
    assert {"distinct_units", "weight_rank"} <= set(metrics.names())
    model = models.MLP(width=6, depth=1, activation="tanh")
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(6), rng.standard_normal(6)
    hidden = np.stack([a, a, a, b, b, b], axis=1)  # (fan_in 6, units 6): columns a,a,a,b,b,b
    inp = rng.standard_normal((5, 6))  # all different: 6 distinct units, rank 5 (fan_in 5)
    params = {
        "params": {
            "input": {"kernel": inp[None], "bias": np.zeros((1, 6))},
            "hidden": {"kernel": hidden[None, None], "bias": np.zeros((1, 1, 6))},
        }
    }
    params = jax.tree.map(lambda x: np.asarray(x, np.float32), params)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    # Both runs measure the same metrics: one compiled program for the two parameter sets.
    both = ("distinct_units", "weight_rank")
    f = propagate(model, x, params=params, metrics=both).to_frame()
    f = f.set_index("layer")
    assert f.loc[0, "distinct_units"] == 6 and f.loc[0, "weight_rank"] == 5
    assert f.loc[1, "distinct_units"] == 2 and f.loc[1, "weight_rank"] == 2
    assert f.loc[1, "unit_rel_dist_min"] == 0.0
    rms = np.sqrt((3 * a @ a + 3 * b @ b) / 6)
    assert f.loc[1, "unit_rel_dist_max"] == pytest.approx(np.linalg.norm(a - b) / rms, rel=1e-5)
    # a bias that differs splits copies: units 0 and 1 get different biases -> 3 distinct
    params["params"]["hidden"]["bias"] = params["params"]["hidden"]["bias"].copy()
    params["params"]["hidden"]["bias"][0, 0, 0] = 1.0
    f = propagate(model, x, params=params, metrics=both).to_frame()
    assert f.set_index("layer").loc[1, "distinct_units"] == 3
