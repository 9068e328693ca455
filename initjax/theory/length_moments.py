"""Exact finite-width moments of a He-initialized ReLU network's squared activation length.

Fully connected ReLU network, layer widths n_1..n_D, Gaussian weights W^j ~ N(0, 2 / n_{j-1})
(He et al. 2015, forward case), zero biases. With A_j = |x^j|^2 / n_j and R_j = A_j / A_0:

    E[R_j] = 1,        E[R_j^2] = prod_{i=1}^{j} (1 + 5 / n_i).

Derivation: given x^{j-1}, z_k = (W^j x^{j-1})_k are i.i.d. N(0, s) with s = 2 A_{j-1}, so
r_k = ReLU(z_k)^2 has E[r] = s / 2 = A_{j-1} and E[r^2] = 3 s^2 / 2 = 6 A_{j-1}^2; hence
E[A_j | A_{j-1}] = A_{j-1} and E[A_j^2 | A_{j-1}] = (n_j E[r^2] + n_j (n_j - 1) E[r]^2) / n_j^2
= A_{j-1}^2 (1 + 5 / n_j); iterate. This is the Gaussian case of Hanin & Rolnick 2018 ("How to
start training", arXiv:1803.01719), Theorem 5: E[M_d] = M_0 under variance 2 / fan_in, and the
second moment exponential in sum_j 1/n_j with a constant set by the weights' fourth moment (5 for
Gaussian weights). Symmetric in the widths, so independent of their order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["relu_length_second_moment"]


def relu_length_second_moment(widths: Sequence[int], constant: float = 5.0) -> np.ndarray:
    """E[R_j^2] = prod_{i<=j} (1 + constant / n_i) for j = 1..D, float64 ``(D,)``.

    Args:
      widths: hidden widths n_1..n_D (positive integers).
      constant: 5 for Gaussian He-initialized ReLU layers (exact); other values are for
        negative controls and other weight laws.

    Raises:
      ValueError: empty widths or a width that is not a positive integer.
    """
    n = np.asarray(list(widths), np.float64)
    if n.ndim != 1 or n.size == 0 or np.any(n < 1) or np.any(n != np.round(n)):
        raise ValueError(f"widths must be a non-empty list of positive integers, got {widths!r}")
    return np.cumprod(1.0 + float(constant) / n)
