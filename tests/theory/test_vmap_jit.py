"""jit and vmap over a 100 x 100 grid give the scalar calls' values."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from initjax.theory import analyse, c_map, chi_1, depth_scales, phase_diagram, q_map

W = np.linspace(1.0, 4.0, 100, dtype=np.float32)
B = np.linspace(0.0, 0.25, 100, dtype=np.float32)
# (0, 0) is the degenerate critical point (1, 0) where q* -> 0: a knife edge, left out.
CELLS = [(0, 2), (3, 97), (25, 10), (50, 50), (99, 0), (70, 99), (12, 64)]


def _grid(fn, w=W, b=B):
    return jax.jit(jax.vmap(jax.vmap(fn, in_axes=(None, 0)), in_axes=(0, None)))(w, b)


def _host(tree):
    """The arrays on the host: indexing and reducing them there compiles no small programs."""
    return jax.tree_util.tree_map(np.asarray, tree)


def test_maps_and_chi_1_on_a_grid():
    qg = _grid(lambda w, b: q_map("tanh", w, b, 0.7))
    cg = _grid(lambda w, b: c_map("tanh", w, b, 0.7, 1.1, 0.3))
    xg = _grid(lambda w, b: chi_1("tanh", w, b, q=0.7))
    assert qg.shape == (100, 100) and qg.dtype == jnp.float32
    qg, cg, xg = _host((qg, cg, xg))
    for i, j in CELLS:
        w, b = float(W[i]), float(B[j])
        # float32: fused (jit) and eager reductions may differ in the last bits.
        assert float(qg[i, j]) == pytest.approx(float(q_map("tanh", w, b, 0.7)), rel=1e-6)
        assert float(cg[i, j]) == pytest.approx(float(c_map("tanh", w, b, 0.7, 1.1, 0.3)), rel=1e-6)
        assert float(xg[i, j]) == pytest.approx(float(chi_1("tanh", w, b, q=0.7)), rel=1e-6)


def test_fixed_points_and_depth_scales_on_a_grid():
    # nodes=8 keeps this fast; the equality of batched and scalar calls is what is tested.
    # phase_diagram solves the whole 100 x 100 grid; jit(vmap(vmap(analyse))) the 7 x 7 grid of
    # the CELLS' rows and columns (cell k at [k, k]): its batched solver loops run every lane
    # to the slowest cell's iteration count, about 7 s of CPU on the full grid.
    rows, cols = zip(*CELLS, strict=True)
    mf = _grid(lambda w, b: analyse("tanh", w, b, nodes=8), W[np.array(rows)], B[np.array(cols)])
    mf = _host(mf)
    assert mf.q_star.shape == (7, 7) and bool(np.all(mf.converged))
    pd = _host(phase_diagram("tanh", W, B, nodes=8))
    assert pd.q_star.shape == (100, 100) and bool(np.all(pd.converged))
    for k, (i, j) in enumerate(CELLS):
        one = analyse("tanh", float(W[i]), float(B[j]), nodes=8)
        for grid, at in ((mf, (k, k)), (pd, (i, j))):
            for field in ("q_star", "chi_1"):
                got, want = float(getattr(grid, field)[at]), float(getattr(one, field))
                assert got == pytest.approx(want, rel=2e-6, abs=1e-6), (field, i, j)
            # c* stops within the solver tolerance 64 eps = 7.6e-6 (float32) of the root.
            got, want = float(grid.c_star[at]), float(one.c_star)
            assert got == pytest.approx(want, abs=1.6e-5), ("c_star", i, j)
            # Compare depth scales through their multipliers exp(-1/xi): xi itself amplifies
            # float32 noise as 1 / (1 - chi)^2 near the boundary.
            for field in ("xi_q", "xi_c"):
                got = np.exp(-1.0 / float(getattr(grid, field)[at]))
                want = np.exp(-1.0 / float(getattr(one, field)))
                assert got == pytest.approx(want, abs=2e-5), (field, i, j)
    xi = np.asarray(jax.jit(lambda w: depth_scales("tanh", w, 0.05, nodes=8).xi_c)(W))
    assert xi.shape == (100,) and float(xi[0]) == pytest.approx(
        float(depth_scales("tanh", 1.0, 0.05, nodes=8).xi_c), rel=1e-5
    )


def test_traced_arguments_skip_eager_checks():
    # Under jit, a negative variance is a tracer: no exception, a nan/valid value instead.
    out = jax.jit(lambda w: q_map("tanh", w, 0.0, 1.0))(-1.0)
    assert out.shape == ()
    with pytest.raises(ValueError, match="sigma_w2"):
        q_map("tanh", -1.0, 0.0, 1.0)
