"""Sweeps and experiments: pieces of work -> verified results on disk -> verdict and summary.

- :mod:`.runtime`: the experiment protocol and the one run loop (resumable, checksummed pieces).
- :mod:`.store`: the run folder (atomic writes, checksums, folder ownership).
- :mod:`.summary` / :mod:`.stats`: Verdict, Check, Summary and the statistics verdicts use.
- :mod:`.config`: finding, loading and configuring experiments (``--set``, presets).
- :mod:`.grid` / :mod:`.runner`: grid sweeps (widths x depths x arms) as pieces.
- :mod:`.distributed`: multi-process runs (``jax.distributed``) and job-array shards.
- :mod:`.study`: a user's own grid sweep (no paper claim) run through the same protocol.
- :mod:`.cli`: ``initjax run`` and ``initjax plot``; :mod:`.coord` / :mod:`.coord_cli`: the muP
  coordinate check as a run folder and ``initjax coord-check``.
- :mod:`.inputs`: input batches for propagation sweeps (Gaussian with a set correlation, or data).
- :mod:`.checks` / :mod:`.transfer_checks` / :mod:`.rank_collapse_checks`: verdict Checks that
  several experiments share (paired and binary-outcome tests, learning-rate transfer, rank
  collapse).
- :mod:`.rank_collapse` / :mod:`.rank_collapse_plots`: rank collapse of Transformer stacks beside
  the uniform-attention theory, and its figures.
- :mod:`.recipes`: named Transformer init recipes side by side (arms, block variances,
  measurements).
- :mod:`.tables` / :mod:`.panels`: pandas helpers for results tables and matplotlib panel grids.
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
