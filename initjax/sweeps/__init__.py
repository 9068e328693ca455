"""Sweeps and experiments: pieces of work -> verified results on disk -> verdict and summary.

- :mod:`.runtime`: the experiment protocol and the one run loop (resumable, checksummed pieces).
- :mod:`.store`: the run folder (atomic writes, checksums, folder ownership).
- :mod:`.summary` / :mod:`.stats`: Verdict, Check, Summary and the statistics verdicts use.
- :mod:`.config`: finding, loading and configuring experiments (``--set``, presets).
- :mod:`.grid` / :mod:`.runner`: grid sweeps (widths x depths x arms) as pieces.
- :mod:`.distributed`: multi-process runs (``jax.distributed``) and job-array shards.
"""

from initjax.sweeps.config import list_experiments, load_experiment, resolve_config
from initjax.sweeps.grid import Group, expand, validate
from initjax.sweeps.runner import SweepResult, grid_pieces, run_group, run_sweep
from initjax.sweeps.runtime import Piece, RunContext, run_experiment, run_loop
from initjax.sweeps.store import RunStore
from initjax.sweeps.summary import Check, Summary, Verdict

__all__ = [
    "Check",
    "Group",
    "Piece",
    "RunContext",
    "RunStore",
    "Summary",
    "SweepResult",
    "Verdict",
    "expand",
    "grid_pieces",
    "list_experiments",
    "load_experiment",
    "resolve_config",
    "run_experiment",
    "run_group",
    "run_loop",
    "run_sweep",
    "validate",
]
