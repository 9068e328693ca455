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
        (lambda: theory.q_map("tanhh", 1.0, 0.0, 1.0), "unknown name"),
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
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_non_callable_activation_is_a_type_error():
    with pytest.raises(TypeError):
        theory.q_map(3, 1.0, 0.0, 1.0)
