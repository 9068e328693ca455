"""Input batches for propagation sweeps: Gaussian with a set correlation (exact), or real data.

Training data for every experiment comes from :func:`initjax.data.training_data`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["dataset_inputs", "make_inputs"]


def dataset_inputs(name: str, n: int, seed: int = 0) -> np.ndarray:
    """``n`` standardized inputs from ``n`` different classes (cycling if n > classes).

    Inputs are standardized per feature on the training split (``initjax.data.load``'s default),
    then each is rescaled to
    q = |x|^2 / dim = 1 so that measured q^l and c^l start from comparable values across inputs.

    Returns: float32 array ``(n, dim)`` (images are flattened).
    """
    from initjax import data

    x, y = data.load(name, "train")
    x = x.reshape(len(x), -1).astype(np.float64)
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    picks = []
    for i in range(n):
        cls = classes[i % len(classes)]
        idx = np.flatnonzero(y == cls)
        picks.append(idx[rng.integers(len(idx))])
    out = x[np.asarray(picks)]
    out *= np.sqrt(out.shape[1]) / np.linalg.norm(out, axis=1, keepdims=True)
    return out.astype(np.float32)


def make_inputs(config: Mapping[str, Any]) -> np.ndarray:
    """The sweep's input batch from ``inputs``, ``n_inputs``, ``input_dim``, ``c0``, ``root_seed``.

    Raises: ValueError naming the config key for bad values or unknown datasets.
    """
    n = int(config.get("n_inputs", 2))
    if n < 2:
        raise ValueError(f"config key 'n_inputs' must be >= 2 (c needs pairs), got {n}")
    seed = int(config.get("root_seed", 0))
    if config["inputs"] == "gaussian":
        # Exact q^0 = 1 per input and cosine c0 per pair (initjax.measure.inputs).
        from initjax import keys
        from initjax.measure.inputs import check_c0, gaussian_inputs

        dim, c0 = int(config.get("input_dim", 64)), float(config.get("c0", 0.5))
        try:
            check_c0(c0, n, dim)
        except (ValueError, TypeError) as err:
            raise ValueError(f"config keys 'c0' / 'n_inputs' / 'input_dim': {err}") from None
        key = keys.role(keys.seed_keys(1, seed)[0], keys.INPUTS)
        return np.asarray(gaussian_inputs(key, n, (dim,), q0=1.0, c0=c0))
    try:
        return dataset_inputs(str(config["inputs"]), n, seed)
    except ValueError as err:
        raise ValueError(f"config key 'inputs': {err}") from None
