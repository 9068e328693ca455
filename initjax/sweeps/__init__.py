"""Sweeps: a config grid -> batched, sharded, jitted runs -> a resumable results table on disk."""

from initjax.sweeps.config import list_experiments, load_experiment, resolve_config
from initjax.sweeps.grid import Group, expand, validate
from initjax.sweeps.runner import SweepResult, run_group, run_sweep
from initjax.sweeps.store import RunStore

__all__ = [
    "Group",
    "RunStore",
    "SweepResult",
    "expand",
    "list_experiments",
    "load_experiment",
    "resolve_config",
    "run_group",
    "run_sweep",
    "validate",
]
