"""Measurements of signal propagation at initialization.

``propagate(model, x=None, *, seeds, metrics, sigma_w2, sigma_b2, ...)`` -> ``PropagationResult``:
per-layer q^l, c^l, gradient norms, activation statistics, unit symmetry and Jacobian spectra of
``seeds`` random networks, all under one ``jit`` and ``vmap``. See :mod:`initjax.measure.engine`.
Metrics are a registry (:mod:`initjax.measure.metrics`: ``names()``, ``register``); ``METRICS``
is the tuple of their names, read live. ``initial_params(model, data, seeds=...)``: the params of
many networks, refined on data when the model's ``kernel_init`` is data-dependent (LSUV,
MetaInit, GradInit).
"""

from typing import Any

from initjax.measure import metrics
from initjax.measure import sequence_metrics as _sequence_metrics  # noqa: F401  (registers)
from initjax.measure.data_init import initial_params
from initjax.measure.engine import JAC_MAX, Prepared, prepare, propagate, trace_count
from initjax.measure.inputs import gaussian_inputs, token_inputs
from initjax.measure.result import PropagationResult

__all__ = [
    "JAC_MAX",
    "METRICS",
    "Prepared",
    "PropagationResult",
    "gaussian_inputs",
    "token_inputs",
    "initial_params",
    "metrics",
    "prepare",
    "propagate",
    "trace_count",
]


def __getattr__(attr: str) -> Any:
    if attr == "METRICS":  # read live, so plugin metrics appear too
        return tuple(metrics.names())
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
