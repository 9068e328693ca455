"""Per-feature standardization of inputs (zero mean, unit variance per input coordinate).

Statistics come from a reference set (the train split in :func:`initjax.data.load`) and are
applied unchanged to every split, so train and test see the same affine map.
"""

from __future__ import annotations

import numpy as np

__all__ = ["STD_FLOOR", "feature_stats", "standardize"]

# A feature whose reference std is below this is constant (e.g. MNIST's border pixels, always 0):
# it is centred but not scaled, so it maps to 0 instead of being amplified by 1/std.
STD_FLOOR = 1e-6


def feature_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation over the example axis 0.

    Args:
      x: array ``(n, *feature_shape)`` with n >= 1, any real dtype.

    Returns:
      ``(mean, std)``, each float32 of shape ``feature_shape``; ``std`` is the population
      standard deviation (ddof = 0), replaced by 1 where it is below :data:`STD_FLOOR`.
      Computed in float64 so large uint8 image sets lose no precision.

    Raises:
      ValueError: ``x`` has rank 0 or no examples.
    """
    x = np.asarray(x)
    if x.ndim < 1 or x.shape[0] < 1:
        raise ValueError(f"x must have shape (n, ...) with n >= 1, got {x.shape}")
    mean = np.zeros(x.shape[1:], np.float64)
    sq = np.zeros(x.shape[1:], np.float64)
    for start in range(0, x.shape[0], 4096):  # chunked: no float64 copy of a whole image set
        chunk = x[start : start + 4096].astype(np.float64)
        mean += chunk.sum(0)
        sq += (chunk * chunk).sum(0)
    mean /= x.shape[0]
    var = np.maximum(sq / x.shape[0] - mean * mean, 0.0)
    std = np.sqrt(var)
    std = np.where(std < STD_FLOOR, 1.0, std)
    return mean.astype(np.float32), std.astype(np.float32)


def standardize(
    x: np.ndarray,
    mean: np.ndarray | None = None,
    std: np.ndarray | None = None,
) -> np.ndarray:
    """``(x - mean) / std`` per feature, as float32.

    Args:
      x: array ``(n, *feature_shape)``.
      mean, std: per-feature statistics of shape ``feature_shape`` (from :func:`feature_stats`
        of a reference set, e.g. the train split). Both None: computed from ``x`` itself.

    Returns:
      float32 array of ``x``'s shape. With statistics from ``x`` itself, every non-constant
      feature has mean 0 and (population) std 1; constant features are 0.

    Raises:
      ValueError: only one of ``mean``/``std`` given, or shapes do not match ``x.shape[1:]``.
    """
    x = np.asarray(x)
    if (mean is None) != (std is None):
        raise ValueError("pass both mean and std, or neither (then they are computed from x)")
    if mean is None:
        mean, std = feature_stats(x)
    mean = np.asarray(mean, np.float32)
    std = np.asarray(std, np.float32)
    if mean.shape != x.shape[1:] or std.shape != x.shape[1:]:
        raise ValueError(
            f"mean/std must have the feature shape {x.shape[1:]}, got {mean.shape} and {std.shape}"
        )
    if np.any(std <= 0) or not np.all(np.isfinite(std)):
        raise ValueError("std must be positive and finite in every feature")
    return ((x.astype(np.float32) - mean) / std).astype(np.float32)
