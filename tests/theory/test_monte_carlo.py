"""A single wide random layer reproduces q_map and c_map within its sampling error."""

import jax
import jax.numpy as jnp
import numpy as np

from initjax import activations
from initjax.theory import c_map, q_map

WIDTH = 4096
SEEDS = 16
# (phi, sigma_w2, sigma_b2, q1, q2, c, keep_prob): quadrature (tanh) and closed-form (relu, erf)
# paths, and dropout with independent masks for the two inputs (Schoenholz et al. 2017, sec. 4).
CASES = [
    ("tanh", 1.8, 0.05, 1.0, 0.6, 0.5, 1.0),
    ("relu", 2.0, 0.1, 1.5, 1.5, 0.2, 1.0),
    ("erf", 1.2, 0.2, 0.8, 2.0, -0.6, 1.0),
    ("tanh", 1.5, 0.1, 1.2, 1.2, 0.7, 0.8),
]


@jax.jit
def _layer_stats(key):
    """One seed: one N x N standard-normal matrix g and bias shared by the cases (rescaled).

    Only g @ X enters, X = the N x 8 post-activations of the four cases' two inputs. Given X,
    the rows of g @ X are independent N(0, X^T X) vectors (each row of g is an independent
    standard-normal vector), so they are drawn exactly as Z @ R with Z an N x 8 standard-normal
    matrix and X = Q R: the same joint law for the four cases as the N x N product, without
    drawing N^2 normals (16.7M a seed).
    """
    k_mat, kb, k_in, k_drop = jax.random.split(key, 4)
    gb = jax.random.normal(kb, (WIDTH, 1))
    z = jax.random.normal(k_in, (WIDTH, 2))
    u = jax.random.uniform(k_drop, (WIDTH, 2))
    xs = []
    for phi, _sw, _sb, q1, q2, c, keep in CASES:
        # Previous-layer pre-activations with variances q1, q2 and correlation c, unit by unit.
        h_prev = jnp.stack(
            [jnp.sqrt(q1) * z[:, 0], jnp.sqrt(q2) * (c * z[:, 0] + np.sqrt(1 - c * c) * z[:, 1])],
            axis=1,
        )
        xs.append(activations.get(phi)(h_prev) * (u < keep) / keep)  # inverted dropout mask
    r = jnp.linalg.qr(jnp.concatenate(xs, axis=1), mode="r")  # (8, 8), X^T X = R^T R
    gx = jax.random.normal(k_mat, (WIDTH, r.shape[0])) @ r  # g @ X in law
    out = []
    for i, (_phi, sw, sb, *_) in enumerate(CASES):
        h = gx[:, 2 * i : 2 * i + 2] * jnp.sqrt(sw / WIDTH) + gb * jnp.sqrt(sb)
        m1, m2 = jnp.mean(h[:, 0] ** 2), jnp.mean(h[:, 1] ** 2)  # W ~ N(0, sw/N), b ~ N(0, sb)
        out.append(jnp.stack([m1, m2, jnp.mean(h[:, 0] * h[:, 1]) / jnp.sqrt(m1 * m2)]))
    return jnp.stack(out)


def test_wide_layer_matches_maps():
    key = jax.random.key(1234)
    stats = np.array([np.asarray(_layer_stats(jax.random.fold_in(key, s))) for s in range(SEEDS)])
    mean = stats.mean(axis=0)  # (cases, 3)
    se = stats.std(axis=0, ddof=1) / np.sqrt(SEEDS)
    theory = np.array(
        [
            [
                q_map(p, sw, sb, q1, keep_prob=k),
                q_map(p, sw, sb, q2, keep_prob=k),
                c_map(p, sw, sb, q1, q2, c, keep_prob=k),
            ]
            for p, sw, sb, q1, q2, c, k in CASES
        ]
    )
    # Each seed is an independent draw of inputs and layer, so the seed mean has standard error
    # se (16 seeds: a t-statistic with 15 dof exceeds 5 with probability ~2e-4 per entry). The
    # ratio estimator of c has bias O(1/N) ~ 2e-4, far below se (~3e-3 here). Different cases
    # share a seed's matrix, which correlates cases but leaves each entry's test valid.
    assert np.all(np.abs(mean - theory) <= 5 * se), (mean, theory, se)
    assert np.all(se < 0.02 * np.abs(theory) + 1e-3)  # sharp enough to be a real check
