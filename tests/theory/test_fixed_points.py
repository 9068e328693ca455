"""q* and c* solvers against closed forms and against brute-force iteration of the maps."""

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from initjax.activations import get
from initjax.theory import analyse as theory_analyse
from initjax.theory import c_map, c_star, chi_1, q_map, q_star, trajectories
from initjax.theory._common import make_rule

depth_scales = importlib.import_module("initjax.theory.depth_scales")
fixed_points = importlib.import_module("initjax.theory.fixed_points")


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("phi", ["tanh", "sigmoid", "erf", "gelu"])
def test_q_star_is_a_fixed_point(phi):
    # gelu grows like relu: sigma_w2 < 2 keeps its q* finite.
    for sw, sb in [(0.8, 0.1), (1.76, 0.05), (1.9, 0.5)]:
        fp = q_star(phi, sw, sb)
        assert bool(fp.converged)
        q = float(fp.value)
        assert float(q_map(phi, sw, sb, q)) == pytest.approx(q, rel=1e-12)


@pytest.mark.usefixtures("x64")
def test_q_star_closed_forms_and_explosion():
    # ReLU: q = sigma_w2 q / 2 + sigma_b2 -> q* = sigma_b2 / (1 - sigma_w2 / 2); linear likewise.
    fp = q_star("relu", 1.5, 0.2)
    assert float(fp.value) == pytest.approx(0.2 / 0.25, rel=1e-12) and bool(fp.converged)
    assert float(q_star("linear", 0.6, 0.2).value) == pytest.approx(0.2 / 0.4, rel=1e-12)
    # No finite fixed point: q^l -> inf, the exact limit of the affine map (converged).
    for sw, sb in [(2.1, 0.0), (2.0, 0.1), (1.0, 0.1), (4.0, 0.3)]:
        fp = q_star("relu" if sw >= 2 else "linear", sw, sb)
        assert np.isinf(float(fp.value)) and bool(fp.converged), (sw, sb)
    # sigma_b2 = 0 below criticality: q^l = (sigma_w2 / 2)^l q0 -> 0 exactly (not 1e-30).
    for phi, sw in (("relu", 1.5), ("leaky_relu", 1.9), ("linear", 0.7)):
        fp = q_star(phi, sw, 0.0)
        assert float(fp.value) == 0.0 and bool(fp.converged), phi
    # Every q is fixed at ReLU (2, 0): q* = q0.
    assert float(q_star("relu", 2.0, 0.0, q0=3.5).value) == 3.5
    # The same limits from the iterating solver (quadrature: no affine shortcut): 0 exactly
    # below criticality (tanh too: odd, sigma_b2 = 0, chi_1 < 1); growth past 1e30 above it is
    # reported as inf, not converged (the solver saw growth, not the limit).
    for phi in ("relu", "tanh"):
        fp = q_star(phi, 0.8, 0.0, method="quadrature")
        assert float(fp.value) == 0.0 and bool(fp.converged), phi
    fp = q_star("relu", 2.5, 0.0, method="quadrature")
    assert np.isinf(float(fp.value)) and not bool(fp.converged)
    # Downstream: c* and the depth scales at q* = 0 are the q -> 0+ limits, finite.
    mf = theory_analyse("relu", 1.5, 0.0)
    assert float(mf.q_star) == 0.0 and float(mf.c_star) == 1.0 and bool(mf.converged)
    assert float(mf.chi_1) == pytest.approx(0.75, rel=1e-12)


@pytest.mark.usefixtures("x64")
def test_ordered_phase_has_c_star_one():
    """chi_1 < 1 implies c* = 1; checked against brute-force iteration of the c-map."""
    sw = np.array([1.0, 1.3, 1.6, 1.9, 2.2])
    sb = np.array([0.05, 0.05, 0.05, 0.2, 0.3])
    chi = np.asarray(chi_1("tanh", sw, sb))
    assert (chi < 0.97).all()
    fp = c_star("tanh", sw, sb)
    assert np.asarray(fp.converged).all()
    np.testing.assert_allclose(np.asarray(fp.value), 1.0, atol=1e-12)
    # Independent: iterate the maps 800 layers from c = 0.2 at q*: 1 - c^l ~ chi_1^l < 1e-10.
    q = np.asarray(q_star("tanh", sw, sb).value)
    _, c = trajectories("tanh", sw, sb, q, 0.2, 800)
    np.testing.assert_allclose(np.asarray(c)[:, -1], 1.0, atol=1e-6)


@pytest.mark.usefixtures("x64")
def test_chaotic_phase_c_star_matches_iteration():
    sw = np.array([2.0, 2.5, 3.0, 4.0, 2.0])
    sb = np.array([0.05, 0.05, 0.1, 0.25, 0.0])
    assert (np.asarray(chi_1("tanh", sw, sb)) > 1.02).all()
    fp = c_star("tanh", sw, sb)
    c = np.asarray(fp.value)
    assert np.asarray(fp.converged).all() and (c < 0.99).all()
    q = np.asarray(q_star("tanh", sw, sb).value)
    np.testing.assert_allclose(np.asarray(c_map("tanh", sw, sb, q, q, c)), c, atol=1e-12)
    # Brute force: 800 layers from c = 0.5 (contraction chi_c <= 0.96 here: error < 1e-14;
    # the length of the ordered-phase check above, so one compilation serves both).
    _, traj = trajectories("tanh", sw, sb, q, 0.5, 800)
    np.testing.assert_allclose(np.asarray(traj)[:, -1], c, atol=1e-7)
    assert c[-1] == pytest.approx(0.0, abs=1e-12)  # odd phi, sigma_b2 = 0: c* = 0


@pytest.mark.usefixtures("x64")
def test_dropout_removes_c_star_one():
    # Schoenholz et al. 2017 section 4: with keep_prob < 1, c = 1 is no longer a fixed point.
    fp = c_star("tanh", 1.3, 0.05, keep_prob=0.95)
    c = float(fp.value)
    assert bool(fp.converged) and c < 0.999
    q = float(q_star("tanh", 1.3, 0.05, keep_prob=0.95).value)
    # The solver's map (written as a squared difference) and c_map are two quadratures of the
    # same integral: they agree to the rule's accuracy (~1e-9 here), not to rounding.
    assert float(c_map("tanh", 1.3, 0.05, q, q, c, keep_prob=0.95)) == pytest.approx(c, abs=1e-8)


# A 15 x 11 grid across the order-chaos line (165 cells, padded to the bucket of 256): c* on it
# serves the two tests below (one compiled program), and so does its q* solve (q_star on up to
# 256 cells).
_GW, _GB = np.meshgrid(np.linspace(1.2, 4.0, 15), np.linspace(0.0, 0.5, 11), indexing="ij")


@pytest.fixture(scope="module")
def grid_c_star():
    return c_star("tanh", _GW, _GB)


def test_float32_default_and_batch_shapes(grid_c_star):
    fp = grid_c_star
    assert fp.value.dtype == jnp.float32 and fp.value.shape == (15, 11)
    assert fp.converged.dtype == jnp.bool_ and fp.iterations.dtype == jnp.int32
    assert fp.converged.shape == fp.iterations.shape == (15, 11)
    # float32 agrees with the float64 value 1.06395838 to float32 accuracy; the cell (2.5, 0.05)
    # appended to the grid (166 cells: the bucket of 256, the q* program c_star ran above).
    q = q_star("tanh", np.r_[_GW.ravel(), 2.5], np.r_[_GB.ravel(), 0.05]).value
    assert q.dtype == jnp.float32 and q.shape == (166,)
    assert float(q[-1]) == pytest.approx(1.06395838, rel=1e-5)


def test_float32_near_critical_c_star_matches_float64():
    """Near the order-chaos line 1 - c* -> 0 and c - f(c) cancels to nothing in float32; the
    solver works on the Hermite series' cancellation-free deficit and a squared-difference
    quadrature, so float32 still tracks float64 to the solver's tolerance (64 eps = 7.6e-6)."""
    from scipy import optimize

    from initjax.theory import analyse

    with jax.enable_x64(True):
        # The critical sigma_w2 (1.76095) by brentq on the float64 chi_1, i.e. on the float64
        # analysis program this test runs anyway (critical_sigma_w2: test_critical.py).
        crit = optimize.brentq(lambda s: float(chi_1("tanh", s, 0.05)) - 1.0, 1.5, 2.0, xtol=1e-13)
        sw = crit * (1.0 + np.array([1e-4, 1e-3, 1e-2, 0.1, 0.5]))
        a64 = analyse("tanh", sw, 0.05)
    a32 = analyse("tanh", sw, 0.05)
    assert (np.asarray(a64.chi_1) > 1.0).all()  # chaotic: c* < 1 and chi_c < 1
    np.testing.assert_allclose(np.asarray(a32.c_star), np.asarray(a64.c_star), atol=1e-5)
    chi_c = np.asarray(a32.chi_c)
    assert (chi_c < 1.0).all()
    np.testing.assert_allclose(chi_c, np.asarray(a64.chi_c), atol=5e-6)


def test_c_star_costs_one_or_two_2d_integrals(grid_c_star):
    # The series start leaves the quadrature Newton one step (two where float32 rounding of the
    # 2-D sum exceeds the series' error); the plain chord start took 4-8.
    # chi_1 at q* (q_star on the grid: the program c_star's solve compiled; chi_1 at a given q
    # is one 1-D integral, not a second full analysis program of the bucket of 256).
    q = q_star("tanh", _GW, _GB).value
    it = np.asarray(grid_c_star.iterations)[np.asarray(chi_1("tanh", _GW, _GB, q=q)) > 1.0 + 1e-5]
    assert it.size > 50 and it.min() >= 1 and it.max() <= 2


@pytest.mark.parametrize("phi", ["tanh", "silu", "elu"])
def test_dropout_at_zero_bias_and_vanishing_q(phi):
    # Ordered, sigma_b2 = 0: q* -> 0, where phi (phi(0) = 0) is linear and the c-map with
    # dropout is f(c) = rho c: c* = 0 and chi_c = rho exactly, for every cell of a batch (q* of
    # each cell underflows to a different tiny value, down to 1e-38 in float32).
    # 5 cells: for tanh the float32 analysis compiled for the near-critical test serves.
    sw = np.array([0.1, 0.2, 0.3, 0.5, 0.8])
    mf = theory_analyse(phi, sw, 0.0, keep_prob=0.9)
    np.testing.assert_allclose(np.asarray(mf.c_star), 0.0, atol=1e-6)
    np.testing.assert_allclose(np.asarray(mf.chi_c), 0.9, rtol=1e-5)


@pytest.mark.usefixtures("x64")
def test_sin_ordered_phase_in_float64():
    # sin's closed form E[sin^2 u] = (1 - exp(-2q)) / 2 lost every digit as q* -> 0 (1 - 1 = 0):
    # chi_1 < 1 must give c* = 1.
    fp = c_star("sin", [0.1, 0.5, 0.9], 0.0)
    np.testing.assert_allclose(np.asarray(fp.value), 1.0)
    assert float(q_map("sin", 1.0, 0.0, 1e-20)) == pytest.approx(1e-20, rel=1e-12)


# Ordered, near-critical, critical-at-zero-bias (q* -> 0) and chaotic cells: every solver branch.
_W = np.array([0.5, 1.0, 1.76, 2.5, 4.0])
_B = np.array([0.05, 0.0, 0.05, 0.3, 0.01])


def _same(a, b):
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


def test_padding_to_buckets_changes_no_cell():
    """Concrete grids run padded to a power-of-two number of cells, at least 16 (copies of the
    first cell). Against the program on the unpadded shape, bitwise: the solver loops freeze a
    finished cell and a copy finishes with its original, so no value, converged flag or step
    count moves. The 5 cells use the bucket of 16 that the tests above compile."""
    tanh, rule = get("tanh"), make_rule()
    mf = theory_analyse("tanh", _W, _B)
    w, b, one = np.asarray(_W, np.float32), np.asarray(_B, np.float32), np.float32(1.0)
    raw = depth_scales._analyse_jit(tanh, rule, w, b, one, one, 200)
    for field in mf._fields:
        assert _same(getattr(mf, field), getattr(raw, field)), field
    with jax.enable_x64(True):
        fp = q_star("tanh", _W, _B)
        one = np.float64(1.0)
        raw = fixed_points._q_star_jit(tanh, rule, _W, _B, one, one, 200)
        for field in fp._fields:
            assert _same(getattr(fp, field), getattr(raw, field)), field
        assert np.asarray(fp.converged).all() and 1 < int(np.max(np.asarray(fp.iterations))) < 200
        # Alone (padded with 15 copies of itself), each cell takes the same steps to the same
        # float64 value.
        for k in range(5):
            alone = q_star("tanh", _W[k], _B[k])
            assert int(alone.iterations) == int(np.asarray(fp.iterations)[k])
            assert _same(alone.value, np.asarray(fp.value)[k]) and bool(alone.converged)


def test_cells_agree_alone_and_in_grids_of_other_sizes():
    # In another grid a cell may see another quadrature panel layout (chosen for the whole
    # batch: every q <= 4 or not) and, on another array length, other generated code for its
    # fused sums; the solvers then stop within their tolerance (c*: 64 eps) at a neighbouring
    # float. float32: a few ulp, so rtol 1e-6 (8 ulp); float64 q*: bitwise (test above).
    mf = {k: np.asarray(v) for k, v in theory_analyse("tanh", _W, _B)._asdict().items()}
    # 17 cells (the bucket of 32), other neighbours; alone (the bucket of 16, with copies).
    extra = np.linspace(1.2, 3.0, 12)
    grid17 = theory_analyse("tanh", np.r_[_W, extra], np.r_[_B, 0.1 + 0 * extra])
    grids = [({k: np.asarray(v) for k, v in grid17._asdict().items()}, lambda k: k)]
    for k in range(5):
        one = theory_analyse("tanh", _W[k], _B[k])
        alone = {f: np.asarray(v) for f, v in one._asdict().items()}
        for other, at in grids + [(alone, lambda k: ())]:
            assert bool(other["converged"][at(k)]) == bool(mf["converged"][k])
            for field in ("q_star", "c_star", "chi_1", "chi_c"):
                got, want = float(other[field][at(k)]), float(mf[field][k])
                assert got == pytest.approx(want, rel=1e-6, abs=0.0, nan_ok=True), (field, k)
            # xi amplifies rounding as 1 / (1 - chi)^2: compared through exp(-1 / xi).
            for field in ("xi_q", "xi_c"):
                got = np.exp(-1.0 / float(other[field][at(k)]))
                want = np.exp(-1.0 / float(mf[field][k]))
                assert got == pytest.approx(want, rel=1e-6, abs=0.0, nan_ok=True), (field, k)
    # Grids of 1..16 cells: one program, the one the tests above compiled (16 unpadded).
    start = depth_scales._analyse_jit._cache_size()
    for size in range(1, 17):
        assert theory_analyse("tanh", np.linspace(0.5, 4.0, size), 0.05).q_star.shape == (size,)
    assert depth_scales._analyse_jit._cache_size() - start <= 1
