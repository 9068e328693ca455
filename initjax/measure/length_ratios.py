"""Monte Carlo of the squared activation length ratios of random ReLU networks.

A fully connected ReLU network with layer widths n_1..n_D, one fixed input x^0 of dimension n_0,
Gaussian weights W^j with Var = sigma_w2 / n_{j-1} (He: sigma_w2 = 2), zero biases. With
A_j = |x^j|^2 / n_j, the ratio R_j = A_j / A_0 is sampled over independent networks (vmapped,
jitted, in chunks of networks). Its exact moments at sigma_w2 = 2 are in
:mod:`initjax.theory.length_moments` (E[R_j] = 1, E[R_j^2] = prod_{i<=j} (1 + 5 / n_i); Hanin &
Rolnick 2018, arXiv:1803.01719, Theorem 5); at another sigma_w2, E[R_j] = (sigma_w2 / 2)^j.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

__all__ = ["bytes_per_network", "length_ratio_moments", "length_ratios"]


def _check_widths(widths, input_dim) -> tuple[int, ...]:
    ws = tuple(int(w) for w in widths)
    if not ws or any(w < 1 for w in ws) or any(w != v for w, v in zip(ws, widths, strict=True)):
        raise ValueError(f"widths must be positive integers, got {widths!r}")
    if int(input_dim) < 1:
        raise ValueError(f"input_dim must be >= 1, got {input_dim!r}")
    return ws


@functools.lru_cache(maxsize=16)
def _forward(widths: tuple[int, ...], input_dim: int, sigma_w2: float):
    """Jitted ``(seed_keys (S,), x0 (n_0,)) -> A_j (S, D)`` for one architecture.

    All of a network's weights come from one flat draw of sum_j n_{j-1} n_j numbers (key
    ``role(seed_key, PARAMS)``), sliced per layer: exact shapes, one copy of the sampling code.
    """
    import jax
    import jax.numpy as jnp

    from initjax import keys
    from initjax.initializers.sampling import standard_normal

    fans = (input_dim, *widths)
    dtype = jax.dtypes.canonicalize_dtype(jnp.float64)  # jax.random's default float
    offsets = np.concatenate([[0], np.cumsum(np.multiply(fans[:-1], fans[1:]))]).astype(int)

    def one(seed_key, x0):
        flat = standard_normal(keys.role(seed_key, keys.PARAMS), (int(offsets[-1]),), dtype)
        x, out = x0, []
        for j in range(1, len(fans)):
            w = flat[offsets[j - 1] : offsets[j]].reshape(fans[j - 1], fans[j])
            x = jax.nn.relu(jnp.matmul(x, w, precision="highest") * np.sqrt(sigma_w2 / fans[j - 1]))
            out.append(jnp.sum(x * x) / fans[j])
        return jnp.stack(out)

    return jax.jit(jax.vmap(one, in_axes=(0, None)))


def bytes_per_network(widths, input_dim: int, sigma_w2: float = 2.0) -> int:
    """Device bytes one network of :func:`length_ratios` holds (XLA's temporaries and output).

    Read from XLA's memory analysis of the compiled function for two networks (the working set
    is linear in the number of networks: 6.43 MiB per network on XLA:CPU at every chunk size
    from 2 to 128 for 20 layers of mean width 125, five times its 1.29 MiB of weights, since the
    flat draw's random bits and normals are live at once).
    """
    import jax.numpy as jnp

    from initjax import keys

    ws = _check_widths(widths, input_dim)
    f = _forward(ws, int(input_dim), float(sigma_w2))
    m = f.lower(keys.seed_keys(2, 0), jnp.zeros((int(input_dim),), jnp.float32)).compile()
    m = m.memory_analysis()
    return int(np.ceil((m.temp_size_in_bytes + m.output_size_in_bytes) / 2))


def length_ratios(
    widths,
    input_dim: int,
    seeds: int,
    *,
    root_seed: int = 0,
    seed_chunk: int | None = 4000,
    sigma_w2: float = 2.0,
) -> np.ndarray:
    """R_j = A_j / A_0 for ``seeds`` ReLU nets with Gaussian weights of Var = sigma_w2 / fan_in
    (He: 2); float64 ``(seeds, D)``.

    x^0 is one fixed N(0, I) draw from the INPUTS role of the root seed (R does not depend on it
    in distribution: Gaussian weights are rotation invariant). Networks run ``seed_chunk`` at a
    time (None: as many as fit in half the free device memory, :func:`bytes_per_network`); the
    values do not depend on the chunking (each network draws from its own key).

    Raises:
      ValueError: non-positive widths, input_dim, seeds, seed_chunk or sigma_w2; or a chunk
        that cannot fit in the free memory (before it compiles; the message gives the estimate).
    """
    import jax
    import jax.numpy as jnp

    from initjax import keys
    from initjax.measure import device_memory

    ws = _check_widths(widths, input_dim)
    if int(seeds) < 2 or (seed_chunk is not None and int(seed_chunk) < 1):
        raise ValueError(f"seeds must be >= 2 and seed_chunk >= 1, got {seeds}, {seed_chunk}")
    if not float(sigma_w2) > 0:
        raise ValueError(f"sigma_w2 must be > 0, got {sigma_w2!r}")
    per_net = bytes_per_network(ws, input_dim, sigma_w2)
    if seed_chunk is None:
        seed_chunk = max(1, min(int(seeds), device_memory.available()[0] // (2 * per_net)))
    chunk = min(int(seed_chunk), int(seeds))
    device_memory.check(
        "length_ratios",
        chunk * per_net,
        int(seeds) * len(ws) * 8,
        f"{chunk} network(s) at once of {device_memory.gib(per_net)} each",
        "lower seed_chunk (or seeds)",
    )
    f = _forward(ws, int(input_dim), float(sigma_w2))
    all_keys = keys.seed_keys(int(seeds), int(root_seed))
    x0 = jax.random.normal(keys.role(all_keys[0], keys.INPUTS), (int(input_dim),), jnp.float32)
    a0 = float(np.sum(np.asarray(x0, np.float64) ** 2) / int(input_dim))
    parts = [
        np.asarray(f(all_keys[a : a + chunk], x0), np.float64) for a in range(0, int(seeds), chunk)
    ]
    return np.concatenate(parts) / a0


def length_ratio_moments(widths, r: np.ndarray) -> pd.DataFrame:
    """Per layer: Monte Carlo E[R_j] and E[R_j^2] with their standard errors, and the theory.

    Args:
      widths: the layer widths n_1..n_D (positive integers).
      r: ``(seeds, D)`` sampled ratios R_j (:func:`length_ratios`).

    Returns:
      One row per layer: ``layer`` (1..D), ``width``, ``n`` (seeds), ``mean_r``, ``se_mean_r``
      (sd / sqrt(n)), ``mean_r2``, ``se_mean_r2`` = sqrt((mean R^4 - (mean R^2)^2) / n),
      ``theory_r2`` = prod_{i<=j} (1 + 5 / n_i) (Hanin & Rolnick 2018, Theorem 5; He init),
      ``inv_width_sum`` = sum_{i<=j} 1 / n_i and ``nonfinite`` (count of non-finite R_j).

    Raises:
      ValueError: ``r`` not ``(seeds, len(widths))``, or widths not positive integers.
    """
    from initjax.theory.length_moments import relu_length_second_moment

    r = np.asarray(r, np.float64)
    if r.ndim != 2 or r.shape[1] != len(widths):
        raise ValueError(f"r must be (seeds, {len(widths)} layers), got shape {r.shape}")
    ws, s = np.asarray(_check_widths(widths, 1), np.float64), r.shape[0]
    m2, m4 = (r**2).mean(0), (r**4).mean(0)
    return pd.DataFrame(
        {
            "layer": np.arange(1, r.shape[1] + 1),
            "width": np.asarray(widths),
            "n": s,
            "mean_r": r.mean(0),
            "se_mean_r": r.std(0, ddof=1) / np.sqrt(s),
            "mean_r2": m2,
            "se_mean_r2": np.sqrt(np.maximum(m4 - m2**2, 0.0) / s),
            "theory_r2": relu_length_second_moment(widths),
            "inv_width_sum": np.cumsum(1.0 / ws),
            "nonfinite": (~np.isfinite(r)).sum(0),
        }
    )
