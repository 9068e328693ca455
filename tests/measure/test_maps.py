"""initjax.measure.maps: the Monte Carlo single-layer maps against their closed form for a linear
layer (q_map(q) = sigma_w2 q + sigma_b2; c_map(c) = (sigma_w2 q c + sigma_b2) / (sigma_w2 q +
sigma_b2)), with tolerances of ~5 standard errors of the seed means."""

import numpy as np

from initjax import initializers, models
from initjax.measure.maps import cmap_phase, single_layer_maps
from initjax.models import stack_of


def test_linear_layer_maps_match_the_closed_form():
    n, seeds, sb2 = 256, 64, 0.1
    sw2, q_in, c_in, q_star = [0.5, 2.0], [0.5, 2.0], [0.0, 0.8], [1.0, 1.5]
    init = initializers.get("variance_scaling", distribution="normal")
    stack = stack_of(models.MLP(width=n, depth=1, activation="linear", kernel_init=init))
    q_out, c_out = single_layer_maps(stack, n, sw2, sb2, q_in, c_in, q_star, seeds=seeds)
    assert q_out.shape == (2, seeds, 2) and c_out.shape == (2, seeds, 2)
    w, q = np.array(sw2)[:, None], np.array(q_in)[None, :]
    # mean of z^2 over N units and S layers: relative SE sqrt(2 / (N S)) ~ 1.1%
    np.testing.assert_allclose(q_out.mean(1), w * q + sb2, rtol=0.06)
    qs, c = np.array(q_star)[:, None], np.array(c_in)[None, :]
    # cosine of N-unit outputs: SE ~ (1 - c^2) / sqrt(N S) < 0.008
    np.testing.assert_allclose(c_out.mean(1), (w * qs * c + sb2) / (w * qs + sb2), atol=0.04)
    # different seeds are different layers
    assert np.std(q_out[0, :, 0]) > 0


def test_cmap_phase_reads_the_side_of_the_diagonal_at_the_largest_input():
    x = [0.2, 0.2, 0.9, 0.9, 1.0]  # c_in = 1 is ignored (every map maps it to 1)
    assert cmap_phase(x, [0.5, 0.5, 0.95, 0.93, 0.0]) == "ordered"  # mean 0.94 > 0.9
    assert cmap_phase(x, [0.5, 0.5, 0.91, 0.87, 2.0]) == "chaotic"  # mean 0.89 < 0.9
    assert cmap_phase([1.0], [1.0]) == "chaotic"


def test_map_table_pairs_the_measured_maps_with_their_closed_form():
    """Linear layer, sigma_w2 < 1: q* = sigma_b2 / (1 - sigma_w2), theory q_map(q) = sigma_w2 q
    + sigma_b2 and c_map(c) = (sigma_w2 q* c + sigma_b2) / q*; measured seed means within ~5 SE."""
    from initjax.measure.maps import map_table

    n, seeds, sb2, sw2 = 256, 32, 0.1, np.array([0.5, 0.8])
    init = initializers.get("variance_scaling", distribution="normal")
    stack = stack_of(models.MLP(width=n, depth=1, activation="linear", kernel_init=init))
    t = map_table(stack, "linear", n, sw2, sb2, [0.5, 2.0, 4.0], [0.1, 0.7], seeds=seeds)
    cols = ["kind", "sigma_w2", "sigma_b2", "q_star", "seed", "x", "measured", "theory"]
    assert list(t.columns) == cols
    # per sigma_w2: the q-map rows (3 inputs), then the c-map rows (2 inputs), seeds x inputs each
    assert list(t["kind"]) == (["qmap"] * 3 * seeds + ["cmap"] * 2 * seeds) * 2
    assert t["x"].iloc[0] == np.float64(np.float32(0.5)) and set(t["seed"]) == set(range(seeds))
    q_star = sb2 / (1.0 - sw2)
    for h, w in enumerate(sw2):
        rows = t[t["sigma_w2"] == w]
        np.testing.assert_allclose(rows["q_star"], q_star[h], rtol=1e-6)
        qm, cm = rows[rows["kind"] == "qmap"], rows[rows["kind"] == "cmap"]
        np.testing.assert_allclose(qm["theory"], w * qm["x"] + sb2, rtol=1e-5)
        c_th = (w * q_star[h] * cm["x"] + sb2) / q_star[h]
        np.testing.assert_allclose(cm["theory"], c_th, rtol=1e-5)
        for part in (qm, cm):
            g = part.groupby("x")
            se = g["measured"].std(ddof=1) / np.sqrt(seeds)
            assert ((g["measured"].mean() - g["theory"].first()).abs() <= 5 * se + 1e-6).all()
