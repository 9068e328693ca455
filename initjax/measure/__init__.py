"""Measurements of signal propagation at initialization.

``propagate(model, x=None, *, seeds, metrics, sigma_w2, sigma_b2, ...)`` -> ``PropagationResult``:
per-layer q^l, c^l, gradient norms, activation statistics, unit symmetry and Jacobian spectra of
``seeds`` random networks, all under one ``jit`` and ``vmap``. See :mod:`initjax.measure.engine`.
``initial_params(model, data, seeds=...)``: the params of many networks, refined on data when the
model's ``kernel_init`` is data-dependent (LSUV, MetaInit, GradInit).
"""

from initjax.measure.data_init import initial_params
from initjax.measure.engine import JAC_MAX, Prepared, prepare, propagate, trace_count
from initjax.measure.inputs import gaussian_inputs
from initjax.measure.metrics import METRICS
from initjax.measure.result import PropagationResult

__all__ = [
    "JAC_MAX",
    "METRICS",
    "Prepared",
    "PropagationResult",
    "gaussian_inputs",
    "initial_params",
    "prepare",
    "propagate",
    "trace_count",
]
