"""Per-layer growth factors of activations, back-propagated gradients and layer Jacobians of a
deep fully connected net at initialization, from the mean-field q-map iterated per input.

Setting (Glorot & Bengio 2010, Sec. 4.2; Schoenholz et al. 2017): L hidden layers of equal
width, weights of variance sigma_w2 / fan_in, zero biases, an odd bounded activation phi. Input
x has its own first-layer length q^1_x = Var[W^1] |x|^2 (exact in expectation over the
weights), and q^{k+1}_x = sigma_w2 E[phi(sqrt(q^k_x) z)^2] (the q-map). Quantities pooled over a
batch are means over inputs of per-input moments, so the q-map is iterated per input and the
moments averaged *afterwards*: the q-map is concave in q, and iterating it from the batch-mean
q^1 underestimates pooled moments (by a few percent for tanh at n Var[W] = 1/3).

- Activation std at layer k (pooled over inputs and units; phi odd, so mean 0):
  a_k = sqrt(mean_x E[phi^2](q^k_x)).
- Back-propagated gradient |d C / d s^k_x|^2 = |d C / d s^L_x|^2 prod_{j=k}^{L-1} chi_1(q^j_x),
  chi_1(q) = sigma_w2 E[phi'(sqrt(q) z)^2]. The top gradient is taken proportional to
  E[phi'^2](q^L_x) (the readout error vector's length does not depend on the input's length at
  small logits), so the pooled ratio is a weighted mean over inputs.
- Layer Jacobian J^k = W^{k+1} diag(phi'(s^{k+1})) at input x: mean squared singular value
  tr(J J^T) / N -> chi_1(q^{k+1}_x) (Pennington et al. 2017, eq. 9 for one layer).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["per_input_q", "layer_factors", "geometric_factor"]


def per_input_q(phi: Any, sigma_w2: float, q1, layers: int, sigma_b2: float = 0.0) -> np.ndarray:
    """q^k_x for k = 1..layers, iterating the q-map from each input's own q^1_x.

    Args:
      phi: activation name, Activation or callable (as :func:`initjax.theory.q_map`).
      sigma_w2: weight variance times fan_in of layers 2..layers (a variance, >= 0).
      q1: ``(B,)`` first-layer lengths q^1_x (> 0; units of the pre-activation squared).
      layers: number of layers L >= 1.
      sigma_b2: bias variance (default 0).

    Returns:
      float64 ``(L, B)``; row k-1 is q^k.

    Raises:
      ValueError: layers < 1, q1 empty or not positive (and the q-map's own argument checks).
    """
    from initjax.theory.compare import trajectories

    if isinstance(layers, bool) or not isinstance(layers, int | np.integer) or layers < 1:
        raise ValueError(f"layers must be an integer >= 1, got {layers!r}")
    q1 = np.asarray(q1, np.float64).ravel()
    if q1.size == 0 or not np.all(q1 > 0):
        raise ValueError("q1 must be a non-empty array of positive lengths")
    qs, _ = trajectories(phi, sigma_w2, sigma_b2, q1, 0.0, int(layers) - 1)
    return np.asarray(qs, np.float64).T


def geometric_factor(v) -> float:
    """Geometric mean of the per-layer ratio v[k+1] / v[k] over a ``(K,)`` sequence, K >= 2."""
    v = np.asarray(v, np.float64)
    if v.ndim != 1 or len(v) < 2:
        raise ValueError(f"v must be a 1-D sequence of >= 2 values, got shape {v.shape}")
    return float((v[-1] / v[0]) ** (1.0 / (len(v) - 1)))


def layer_factors(phi: Any, sigma_w2: float, q1, layers: int, *, jac_input: int = 0) -> dict:
    """Mean-field per-layer factors of a batch (see the module docstring for the formulas).

    Args:
      phi: activation (odd, e.g. tanh, softsign).
      sigma_w2: weight variance times fan_in of the hidden-to-hidden layers.
      q1: ``(B,)`` first-layer lengths of the batch's inputs.
      layers: hidden layers L >= 2.
      jac_input: index into q1 of the input at which the layer Jacobians are taken.

    Returns:
      dict of floats: ``act`` (geometric-mean factor of the pooled activation std, layer k ->
      k + 1), ``grad`` (factor of the pooled RMS gradient, layer k + 1 -> k, i.e. downwards),
      ``sv2`` (mean over k = 1..L-1 of the mean squared singular value of J^k at ``jac_input``),
      ``act_std`` and ``grad_rel`` (``(L,)`` arrays: a_k, and the pooled |grad|^2 at layer k over
      that at layer L).
    """
    from initjax.theory import chi_1, q_map

    if layers < 2:
        raise ValueError(f"layers must be >= 2 for per-layer factors, got {layers!r}")
    qs = per_input_q(phi, sigma_w2, q1, layers)  # (L, B)
    if not 0 <= int(jac_input) < qs.shape[1]:
        raise ValueError(f"jac_input must index q1 (0..{qs.shape[1] - 1}), got {jac_input!r}")
    act2 = np.asarray(q_map(phi, 1.0, 0.0, qs), np.float64)  # E[phi^2] at q^k_x
    chi = np.asarray(chi_1(phi, sigma_w2, 0.0, q=qs), np.float64)  # (L, B)
    top = chi[-1] / sigma_w2 if sigma_w2 > 0 else np.ones(qs.shape[1])  # E[phi'^2](q^L_x)
    below = np.cumprod(chi[:-1][::-1], axis=0)[::-1]  # row k: prod_{j=k}^{L-1} chi(q^j_x)
    grad_rel = np.append((below * top).mean(1) / top.mean(), 1.0)
    act_std = np.sqrt(act2.mean(1))
    return dict(
        act=geometric_factor(act_std),
        grad=geometric_factor(np.sqrt(grad_rel[::-1])),
        sv2=float(chi[1:, int(jac_input)].mean()),
        act_std=act_std,
        grad_rel=grad_rel,
    )
