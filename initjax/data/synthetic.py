"""Synthetic classification data, deterministic from a seed: Gaussian mixtures and teacher nets.

Keys follow :mod:`initjax.keys`: ``data = role(key(seed), DATA)``; the dataset's structure
(mixture means, teacher weights) comes from ``fold_in(data, 0)`` and split ``s`` (train = 1,
test = 2) from ``fold_in(data, s)``, whose inputs and labels use ``fold_in(split_key, 0)`` and
``fold_in(split_key, 1)``. Train and test are independent samples of the same distribution.
Generated in float32 with jax.numpy; returned as numpy arrays.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from initjax import activations, keys
from initjax.initializers.sampling import standard_normal

__all__ = [
    "gaussian_mixture",
    "gaussian_mixture_means",
    "teacher",
    "teacher_logits",
    "teacher_params",
]

_STRUCTURE, _SPLIT_IDS = 0, {"train": 1, "test": 2}
_INPUTS, _LABELS = 0, 1


def _data_key(seed: int) -> jax.Array:
    return keys.role(jax.random.key(seed), keys.DATA)


def _split_key(seed: int, split: str) -> jax.Array:
    return jax.random.fold_in(_data_key(seed), _SPLIT_IDS[split])


def _check_sizes(dim: int, num_classes: int) -> None:
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    if dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")


def gaussian_mixture_means(dim: int, num_classes: int, separation: float, seed: int) -> np.ndarray:
    """Class means of :func:`gaussian_mixture`: ``separation`` times orthonormal directions.

    The directions are the columns of a Haar-random ``(dim, num_classes)`` matrix with
    orthonormal columns (QR of a Gaussian matrix, signs fixed by diag(R)), so every mean has norm
    ``separation`` and every pair of means is at distance ``separation * sqrt(2)``.

    Returns:
      float32 array ``(num_classes, dim)``.

    Raises:
      ValueError: ``dim < num_classes`` (orthonormal means need dim >= num_classes),
        ``num_classes < 2``.
    """
    _check_sizes(dim, num_classes)
    if dim < num_classes:
        raise ValueError(
            f"gaussian_mixture needs dim >= num_classes for orthonormal class means, got "
            f"dim={dim}, num_classes={num_classes}"
        )
    key = jax.random.fold_in(_data_key(seed), _STRUCTURE)
    return np.asarray(_means(key, dim, num_classes, jnp.float32(separation)), np.float32)


# The generators below run as one compiled program per size (op by op, a call compiled ~20
# small programs); the same operations in the same order, so the same values, bit for bit.
@functools.partial(jax.jit, static_argnums=(1, 2))
def _means(key: jax.Array, dim: int, num_classes: int, separation: jax.Array) -> jax.Array:
    g = standard_normal(key, (dim, num_classes))
    q, r = jnp.linalg.qr(g)
    q = q * jnp.where(jnp.diagonal(r) < 0, -1.0, 1.0)
    return separation * q.T


def gaussian_mixture(
    split: str,
    *,
    n_train: int = 4000,
    n_test: int = 1000,
    dim: int = 32,
    num_classes: int = 10,
    separation: float = 3.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A k-class isotropic Gaussian mixture: ``x = m_y + z``, ``z ~ N(0, I_dim)``.

    The means ``m_k`` are :func:`gaussian_mixture_means` (norm ``separation``, pairwise distance
    ``separation * sqrt(2)``). Labels are exactly balanced (``arange(n) % num_classes``, randomly
    permuted). Since the means are orthonormal up to scale, the Bayes (= nearest true mean)
    accuracy has the closed form ``integral phi(t) Phi(t + separation)^(k-1) dt``: for k = 10
    it is 0.10, 0.67, 0.90, 0.98 at separation 0, 2, 3 (the default), 4. ``separation = 0``
    makes the classes indistinguishable.

    Returns:
      ``(x, y)``: float32 ``(n, dim)`` and int32 ``(n,)`` with n = n_train or n_test.
    """
    means = gaussian_mixture_means(dim, num_classes, separation, seed)
    n = n_train if split == "train" else n_test
    y, z = _mixture(_split_key(seed, split), n, dim, num_classes)
    # The sum on the host: inside the compiled program XLA fuses it with the sampler and the
    # last bit of some inputs changes.
    y = np.asarray(y, np.int32)
    return np.asarray(means)[y] + np.asarray(z, np.float32), y


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _mixture(key: jax.Array, n: int, dim: int, num_classes: int):
    y = jax.random.permutation(
        jax.random.fold_in(key, _LABELS), jnp.arange(n, dtype=jnp.int32) % num_classes
    )
    return y, standard_normal(jax.random.fold_in(key, _INPUTS), (n, dim))


def teacher_params(
    *,
    dim: int = 32,
    num_classes: int = 10,
    width: int = 64,
    depth: int = 2,
    sigma_w2: float = 1.0,
    sigma_b2: float = 0.0,
    seed: int = 0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Weights of the random teacher MLP of :func:`teacher`.

    Layer l (0 .. depth-1) is hidden: kernel ``(fan_in, width)`` ~ N(0, sigma_w2 / fan_in),
    bias ~ N(0, sigma_b2) (standard parameterization; fan_in = dim for l = 0). Layer ``depth``
    is the readout ``(fan_in, num_classes)``: Gaussian columns rescaled to unit norm, bias 0, so
    no class is favoured a priori (class frequencies then depend only on the hidden geometry).
    Layer keys: ``fold_in(fold_in(data, 0), l)``, kernel/bias ``fold_in(layer_key, KERNEL|BIAS)``.

    Returns:
      ``[(kernel, bias), ...]`` of length depth + 1, float32 numpy arrays.
    """
    _check_sizes(dim, num_classes)
    params_key = jax.random.fold_in(_data_key(seed), _STRUCTURE)
    params = []
    fan_in = dim
    dtype = jax.dtypes.canonicalize_dtype(jnp.float64)  # jax.random's default float
    for index in range(depth + 1):
        lk = keys.layer(params_key, index)
        kk, bk = jax.random.fold_in(lk, keys.KERNEL), jax.random.fold_in(lk, keys.BIAS)
        if index < depth:
            w = standard_normal(kk, (fan_in, width), dtype) * jnp.sqrt(sigma_w2 / fan_in)
            b = standard_normal(bk, (width,), dtype) * jnp.sqrt(sigma_b2)
            fan_in = width
        else:
            w = standard_normal(kk, (fan_in, num_classes), dtype)
            w = w / jnp.linalg.norm(w, axis=0, keepdims=True)
            b = jnp.zeros((num_classes,))
        params.append((np.asarray(w, np.float32), np.asarray(b, np.float32)))
    return params


def teacher_logits(
    params: list[tuple[np.ndarray, np.ndarray]], x: Any, activation: Any = "tanh"
) -> np.ndarray:
    """The teacher's outputs: ``phi`` after every hidden layer, linear readout.

    Args:
      params: from :func:`teacher_params`.
      x: inputs ``(n, dim)``.
      activation: a name or callable accepted by :func:`initjax.activations.get`.

    Returns:
      float32 ``(n, num_classes)``.
    """
    phi = activations.get(activation).fn
    h = jnp.asarray(x, jnp.float32)
    for w, b in params[:-1]:
        h = phi(h @ w + b)
    w, b = params[-1]
    return np.asarray(h @ w + b, np.float32)


def teacher(
    split: str,
    *,
    n_train: int = 4000,
    n_test: int = 1000,
    dim: int = 32,
    num_classes: int = 10,
    width: int = 64,
    depth: int = 2,
    activation: str = "tanh",
    sigma_w2: float = 1.0,
    sigma_b2: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``x ~ N(0, I_dim)`` labelled by a random teacher MLP: ``y = argmax teacher(x)``.

    The teacher is :func:`teacher_params` / :func:`teacher_logits` (depth hidden layers of
    ``width`` units with ``activation``, then a linear readout to ``num_classes`` outputs); with
    ``depth = 0`` it is a linear classifier. The labels are a deterministic function of x, so a
    student of sufficient capacity can reach 100% accuracy; class frequencies are not balanced.

    Returns:
      ``(x, y)``: float32 ``(n, dim)`` and int32 ``(n,)`` with n = n_train or n_test.
    """
    params = teacher_params(
        dim=dim,
        num_classes=num_classes,
        width=width,
        depth=depth,
        sigma_w2=sigma_w2,
        sigma_b2=sigma_b2,
        seed=seed,
    )
    n = n_train if split == "train" else n_test
    key = jax.random.fold_in(_split_key(seed, split), _INPUTS)
    x = np.asarray(standard_normal(key, (n, dim)))
    y = np.argmax(teacher_logits(params, x, activation), axis=1).astype(np.int32)
    return x, y
