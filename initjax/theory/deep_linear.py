"""Learning dynamics of deep linear networks (Saxe, McClelland & Ganguli 2014, arXiv:1312.6120).

Setting: whitened inputs (x^T x / P = I) and a linear teacher y = x M^T with M = U diag(s) V^T,
so the input-output correlation Sigma_31 = M and the squared loss is 1/2 ||M - W_tot||_F^2 (plus
a constant). For a three-layer network W_tot = W_32 W_21, mode alpha has a_alpha = W_21 v_alpha,
b_alpha = W_32^T u_alpha and strength u_alpha = a_alpha . b_alpha. Gradient descent with learning
rate eta, ignoring the coupling between modes (exact when the modes' a, b vectors are orthogonal,
the paper's decoupled initial condition), is

    a <- a + eta b (s - a.b),    b <- b + eta a (s - a.b)                      (discrete time)

and in continuous time (tau = 1 / eta, t in steps) from a balanced start u(0) = u0 the sigmoid

    u(t) = s e^{2 s t / tau} / (e^{2 s t / tau} - 1 + s / u0)                  (Saxe et al. eq. 7)

From small random (unbalanced) weights the linearized dynamics grow (a + b) as e^{s t / tau} and
shrink (a - b), so u -> |a(0) + b(0)|^2 / 4 e^{2 s t / tau}: the effective u0 = |a + b|^2 / 4.

- :func:`whitened_task`: exactly whitened inputs and a teacher with prescribed singular values.
- :func:`mode_strength`, :func:`half_time`: the continuous-time sigmoid and its u = s/2 time.
- :func:`effective_u0`: |a + b|^2 / 4.
- :func:`discrete_mode_strength`: the decoupled discrete-time recursion above, per step.
- :func:`first_crossing`: linearly interpolated first time a sampled curve reaches a level.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "discrete_mode_strength",
    "effective_u0",
    "first_crossing",
    "half_time",
    "mode_strength",
    "whitened_task",
]


def whitened_task(
    n_in: int, n_out: int, singular_values: Sequence[float], n_examples: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Whitened inputs and a linear teacher with prescribed singular values (float64, numpy).

    Returns:
      ``(x (P, n_in), y (P, n_out), U (n_out, K), s (K,), V (n_in, K))`` with ``x.T @ x / P = I``
      (ZCA whitening) and ``y = x @ M.T``, ``M = U diag(s) V^T``, so Sigma_31 = y^T x / P = M.

    Raises:
      ValueError: more singular values than min(n_in, n_out), or fewer examples than n_in.
    """
    s = np.asarray(singular_values, np.float64)
    k = len(s)
    if k > min(n_in, n_out):
        raise ValueError(f"{k} singular values need n_in, n_out >= {k}, got {n_in}, {n_out}")
    if n_examples < n_in:
        raise ValueError(f"whitening needs at least n_in={n_in} examples, got {n_examples}")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_examples, n_in))
    x -= x.mean(0)
    evals, evecs = np.linalg.eigh(x.T @ x / n_examples)
    x = x @ evecs @ np.diag(evals**-0.5) @ evecs.T
    u = np.linalg.qr(rng.standard_normal((n_out, n_out)))[0][:, :k]
    v = np.linalg.qr(rng.standard_normal((n_in, n_in)))[0][:, :k]
    return x, x @ (u @ np.diag(s) @ v.T).T, u, s, v


def mode_strength(t, s, u0, learning_rate):
    """Continuous-time u(t) of a three-layer network (t in steps, tau = 1 / learning_rate)."""
    e = np.exp(np.minimum(2.0 * np.asarray(s) * np.asarray(t) * learning_rate, 700.0))
    return s * e / (e - 1.0 + s / u0)


def half_time(s, u0, learning_rate):
    """Steps until u = s / 2 in continuous time: tau / (2 s) log(s / u0 - 1)."""
    return np.log(np.asarray(s) / u0 - 1.0) / (2.0 * np.asarray(s) * learning_rate)


def effective_u0(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a + b|^2 / 4 over the last axis (a, b: ``(..., hidden)``)."""
    return np.sum((np.asarray(a, np.float64) + np.asarray(b, np.float64)) ** 2, axis=-1) / 4.0


def discrete_mode_strength(
    a: np.ndarray, b: np.ndarray, s: np.ndarray, learning_rate: float, steps: int
) -> np.ndarray:
    """u_t = a_t . b_t of the decoupled discrete-time recursion, t = 0..steps-1 (float64).

    Args:
      a, b: ``(..., hidden)`` initial mode vectors (a = W_21 v, b = W_32^T u).
      s: ``(...)`` the modes' singular values (broadcast against a's leading axes).
      learning_rate: eta.
      steps: number of steps recorded.

    Returns:
      ``(..., steps)`` with u_0 = a . b before the first step.
    """
    a, b = np.array(a, np.float64), np.array(b, np.float64)
    s = np.asarray(s, np.float64)
    out = np.empty((*a.shape[:-1], int(steps)))
    for t in range(int(steps)):
        u = np.sum(a * b, axis=-1)
        out[..., t] = u
        g = (learning_rate * (s - u))[..., None]
        a, b = a + g * b, b + g * a
    return out


def first_crossing(t: np.ndarray, y: np.ndarray, level: float) -> float:
    """Linear interpolation of the first time ``y`` reaches ``level`` (inf if never)."""
    t, y = np.asarray(t, np.float64), np.asarray(y, np.float64)
    above = np.flatnonzero(y >= level)
    if len(above) == 0:
        return float("inf")
    i = above[0]
    if i == 0:
        return float(t[0])
    return float(t[i - 1] + (level - y[i - 1]) / (y[i] - y[i - 1]) * (t[i] - t[i - 1]))
