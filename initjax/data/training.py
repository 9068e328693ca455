"""The training-data loader every training experiment uses: train and test split together."""

from __future__ import annotations

import os

import numpy as np

from initjax.data._load import load

__all__ = ["training_data"]


def training_data(
    name: str,
    *,
    n_train: int | None = None,
    flatten: bool = False,
    channel_axis: bool = False,
    data_dir: str | os.PathLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_test, y_test)`` of a registered dataset, standardized.

    Both splits are standardized with the statistics of the *whole* training split
    (:func:`initjax.data.load`), then the first ``n_train`` training examples are kept, so a
    smaller ``n_train`` selects examples without changing how any input is scaled.

    Args:
      name: dataset name (``initjax.data.names()``).
      n_train: keep the first ``n_train`` training examples (a positive int); None keeps all.
      flatten: reshape inputs to ``(n, prod(input_shape))``.
      channel_axis: give 1-D sequence inputs ``(n, length)`` a trailing channel axis
        ``(n, length, 1)`` (for 1-D convolutions); other shapes are unchanged.
      data_dir: TFDS data directory (see :func:`initjax.data.load`).

    Returns:
      float32 inputs and int32 labels; x_train has ``min(n_train, size)`` rows.

    Raises:
      ValueError: unknown dataset, or ``n_train`` not a positive integer / None.
      DatasetNotPreparedError: a TFDS dataset is not prepared (message says how).
    """
    if n_train is not None and (
        isinstance(n_train, bool) or not isinstance(n_train, int | np.integer) or n_train < 1
    ):
        raise ValueError(f"n_train must be a positive integer or None (all), got {n_train!r}")
    x, y = load(name, "train", flatten=flatten, data_dir=data_dir)
    xt, yt = load(name, "test", flatten=flatten, data_dir=data_dir)
    if n_train is not None:
        x, y = x[: int(n_train)], y[: int(n_train)]
    if channel_axis and x.ndim == 2:
        x, xt = x[..., None], xt[..., None]
    return x, y, xt, yt
