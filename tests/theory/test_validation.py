"""Bad input: clear ValueErrors naming the argument (checked when arguments are concrete)."""

import numpy as np
import pytest

from initjax import theory


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: theory.q_map("tanh", -1.0, 0.0, 1.0), "sigma_w2"),
        (lambda: theory.q_map("tanh", 1.0, -0.1, 1.0), "sigma_b2"),
        (lambda: theory.q_map("tanh", 1.0, 0.0, 0.0), "q must be"),
        (lambda: theory.q_map("tanh", 1.0, 0.0, [1.0, -2.0]), "q must be"),
        (lambda: theory.q_map("tanh", np.inf, 0.0, 1.0), "sigma_w2"),
        (lambda: theory.c_map("tanh", 1.0, 0.0, 1.0, 1.0, 1.5), "correlation"),
        (lambda: theory.c_map("tanh", 1.0, 0.0, 1.0, -1.0, 0.5), "q2"),
        (lambda: theory.q_map("tanhh", 1.0, 0.0, 1.0), "unknown activation"),
        (lambda: theory.q_map("tanh", 1.0, 0.0, 1.0, keep_prob=0.0), "keep_prob"),
        (lambda: theory.q_map("tanh", 1.0, 0.0, 1.0, method="gauss"), "method"),
        (lambda: theory.q_map("tanh", 1.0, 0.0, 1.0, nodes=1), "nodes"),
        (lambda: theory.q_star("tanh", 1.0, 0.0, q0=-1.0), "q0"),
        (lambda: theory.q_star("tanh", 1.0, 0.0, max_iter=0), "max_iter"),
        (lambda: theory.chi_c("tanh", 1.0, 0.0, q=1.0), "both q and c"),
        (lambda: theory.critical_sigma_w2("tanh", 0.05, bracket=(2.0, 1.0)), "bracket"),
        (lambda: theory.phase_diagram("tanh", [[1.0]], [0.0]), "1-D"),
        (lambda: theory.phase_diagram("tanh", [1.0, -2.0], [0.0]), "sigma_w2_grid"),
        (lambda: theory.critical_point("tanh", 0.0), "q_star"),
        (lambda: theory.critical_sigma_w2("tanh", 0.05, max_iter=0), "max_iter"),
        (lambda: theory.phase_diagram("tanh", [1.0], [0.0], max_iter=1.5), "max_iter"),
        (lambda: theory.phase_diagram("tanh", [1.0], [0.0], keep_prob=[0.9, 0.8]), "scalars"),
        (lambda: theory.analyse("tanh", [1.0, 2.0, 3.0], [0.1, 0.2]), "sigma_w2 \\(3,\\)"),
        (lambda: theory.analyse("tanh", 1e39, 0.0), "float32 range"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_non_callable_activation_is_a_type_error():
    with pytest.raises(TypeError):
        theory.q_map(3, 1.0, 0.0, 1.0)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: theory.analyse("tanh", "1.0", 0.05), "sigma_w2"),
        (lambda: theory.analyse("tanh", ["1", "2"], 0.05), "sigma_w2"),
        (lambda: theory.analyse("tanh", None, 0.05), "sigma_w2"),
        (lambda: theory.c_star("tanh", 1.0, 0.05, q="1"), "q must"),
        (lambda: theory.critical_sigma_w2("tanh", "0.05"), "sigma_b2"),
        (lambda: theory.phase_diagram("tanh", ["1", "2"], [0.1]), "sigma_w2_grid"),
        (lambda: theory.phase_diagram("tanh", [1.0], [0.1], max_iter="5"), "max_iter"),
    ],
)
def test_non_numbers_name_the_argument(call, match):
    # numpy would parse "1.0" as a number and jax would then fail deep inside.
    with pytest.raises((TypeError, ValueError), match=match):
        call()


def test_numpy_integer_max_iter_is_accepted():
    # tanh, float32, one cell: the analysis program (bucket of 16, max_iter 200) that the
    # fixed-point, grid and depth-sweep tests compile too; the session's compilation cache
    # holds it, so the check costs a trace, not a compilation
    a = theory.analyse("tanh", 1.5, 0.05, max_iter=np.int64(200))
    b = theory.analyse("tanh", 1.5, 0.05)
    assert float(a.xi_c) == float(b.xi_c)


def test_correlation_rounding_above_one_is_clipped_eagerly_and_under_jit():
    # A float32 c of 1 + 1 ulp (rounding) is clipped to 1 in both modes, with the same value;
    # beyond the stated slack (8 float32 ulp) eager calls raise.
    import jax
    import numpy as np

    from initjax.theory._common import CORRELATION_SLACK

    c = np.nextafter(np.float32(1.0), np.float32(2.0))
    for fn in (theory.c_map, theory.c_map_slope):
        eager = fn("tanh", 1.5, 0.1, 1.0, 1.0, c)
        jitted = jax.jit(lambda cc, fn=fn: fn("tanh", 1.5, 0.1, 1.0, 1.0, cc))(c)
        at_one = fn("tanh", 1.5, 0.1, 1.0, 1.0, np.float32(1.0))
        assert float(eager) == float(jitted) == float(at_one)
    q, cs = theory.trajectories("tanh", 1.5, 0.1, 1.0, c, 3)
    assert float(cs[0, 0]) == 1.0
    with pytest.raises(ValueError, match="correlation"):
        theory.c_map("tanh", 1.5, 0.1, 1.0, 1.0, 1.0 + 2 * CORRELATION_SLACK)
