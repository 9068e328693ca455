"""Measurement runs of each family's example network, shared by several test modules.

``measured(name, path)`` is ``models.example(name)`` measured by ``propagate`` with every metric
the family supports, on fixed inputs, for ``SEEDS`` seeds of the key scheme. The registry-wide
contracts (tests/models/test_model_registry.py, tests/measure/test_metric_registry.py) and
propagate's reference values (tests/measure/test_propagate.py) all read these runs, so each
(family, path) is one compiled program per test session: a program depends on shapes, not on
the key or input values, so other seeds of the same count reuse it, and the session's persistent
compilation cache (tests/conftest.py) hands it from one module or xdist worker to the next.
"""

from __future__ import annotations

import functools

import numpy as np

from initjax import keys, models
from initjax.measure import PropagationResult, metrics, propagate
from initjax.models import stack_of

SEEDS = 2
BATCH = 4


def supported(model) -> list[str]:
    """The registered metrics ``model``'s family supports, in registry order."""
    st = stack_of(model)
    return [m for m in metrics.names() if metrics.support(m, st) is None]


def inputs(name: str) -> np.ndarray:
    """``(BATCH, *default_input_shape)`` float32 standard normal inputs for family ``name``."""
    shape = stack_of(models.example(name)).default_input_shape()
    return np.random.default_rng(3).standard_normal((BATCH, *shape), np.float32)


def measured(
    name: str, path: str = "fused", seeds: tuple[int, ...] = (0, 1), root: int = 0
) -> PropagationResult:
    """Family ``name``'s example network measured with every supported metric.

    Args:
      name: a registered family.
      path: "fused" or "materialized".
      seeds: ``SEEDS`` indices into ``keys.seed_keys(max(seeds) + 1, root)`` (their order is the
        result's seed axis).
      root: the root seed of the key scheme.
    """
    assert len(seeds) == SEEDS, seeds
    return _measured(name, path, tuple(seeds), root, tuple(supported(models.example(name))))


@functools.cache
def _measured(name, path, seeds, root, names) -> PropagationResult:
    ks = keys.seed_keys(max(seeds) + 1, root)[np.array(seeds)]
    return propagate(models.example(name), inputs(name), seeds=ks, metrics=list(names), path=path)
