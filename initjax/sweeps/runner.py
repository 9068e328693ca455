"""Run a propagation sweep: groups -> one jitted, vmapped call each -> resumable results on disk."""

from __future__ import annotations

import dataclasses
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import ml_collections
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from initjax import activations, initializers
from initjax.sweeps import inputs as sweep_inputs
from initjax.sweeps.config import Experiment
from initjax.sweeps.grid import Group, expand, validate
from initjax.sweeps.store import RunStore, environment, now

__all__ = ["SweepResult", "run_sweep", "run_group", "build_model", "CONTEXT_KEYS"]

# Config keys that change every group's numbers: part of each group's identity (its file name).
CONTEXT_KEYS = (
    "kind",
    "seeds",
    "root_seed",
    "inputs",
    "n_inputs",
    "input_dim",
    "c0",
    "metrics",
    "theory",
    "readout",
    "dataset",
    "n_train",
    "optimizer",
    "momentum",
    "steps",
    "batch_size",
    "eval_every",
    "eval_size",
)


@dataclasses.dataclass
class SweepResult:
    """What a finished sweep returns: the table, the folder, and what was (re)computed."""

    table: pd.DataFrame
    out: Path
    groups: list[Group]
    computed: list[str]
    wall_s: float


def build_model(group: Group, readout: int | None = None):
    """The Flax model of a group, from the model registry (sigma_w2 / sigma_b2 are passed to
    propagate as arrays). ``group.width`` sets the family's width field."""
    from initjax import models

    act = activations.get(group.activation, **dict(group.activation_hparams))
    init = initializers.get(group.init, **dict(group.init_hparams))
    fields = {
        models.metadata(group.model)["width_field"]: group.width,
        "depth": group.depth,
        "activation": act,
        "kernel_init": init,
    }
    if readout is not None:
        fields["readout"] = readout
    return models.build(group.model, **fields)


def effective_sigma_w2(group: Group) -> float:
    """sigma_w2 of a hidden (width x width) layer when the initializer is used as registered
    (NaN for a data-dependent initializer: its weights are rescaled on data, layer by layer)."""
    init = initializers.get(group.init, **dict(group.init_hparams))
    if initializers.is_data_dependent(init):
        return float("nan")
    v = init.promised_variance(group.width, group.width)
    return float("nan") if v is None else float(v) * group.width


def run_group(group: Group, x: np.ndarray, config: ml_collections.ConfigDict) -> pd.DataFrame:
    """Evaluate every cell and seed of one group in one compiled call; tidy frame with theory."""
    from initjax import measure

    model = build_model(group)
    own_init = all(s is None for s in group.sigma_w2)
    sigma_w2 = None if own_init else jnp.asarray(group.sigma_w2, jnp.float32)
    sigma_b2 = jnp.asarray(group.sigma_b2, jnp.float32)
    result = measure.propagate(
        model,
        jnp.asarray(x),
        seeds=int(config.seeds),
        metrics=tuple(config.metrics),
        sigma_w2=sigma_w2,
        sigma_b2=sigma_b2,
        root_seed=int(config.get("root_seed", 0)),
    )
    frame = result.to_frame()
    if own_init:
        frame["sigma_w2"] = np.full(len(frame), effective_sigma_w2(group), np.float32)
    frame = _meta_columns(frame, group)
    # No mean-field theory for data-dependent inits: their weights are rescaled on data layer by
    # layer, so no single (sigma_w2, sigma_b2) describes the network.
    dd = initializers.is_data_dependent(initializers.get(group.init, **dict(group.init_hparams)))
    if config.get("theory", True) and not dd:
        frame = _with_theory(frame, group)
    return frame


def _meta_columns(frame: pd.DataFrame, group: Group) -> pd.DataFrame:
    meta = {
        "model": group.model,
        "width": group.width,
        "depth": group.depth,
        "arm": group.arm,
        "activation": group.activation,
        "init": group.init,
    }
    for i, (k, v) in enumerate(meta.items()):
        frame.insert(i, k, v)
    return frame


def run_train_group(
    group: Group, data: tuple[np.ndarray, ...], config: ml_collections.ConfigDict
) -> pd.DataFrame:
    """Train every cell (sigma_w2 x sigma_b2 x learning_rate) and seed of one group in one call.

    Returns one row per (cell, seed, recorded step) with the curves, plus ``final`` marking the
    last recorded step and ``diverged`` per network.
    """
    from initjax.measure.train import TrainSpec, train

    n_classes = int(np.max(data[1])) + 1
    model = build_model(group, readout=n_classes)
    own_init = all(s is None for s in group.sigma_w2)
    spec = TrainSpec(
        optimizer=str(config.optimizer),
        steps=int(config.steps),
        batch_size=int(config.batch_size),
        eval_every=int(config.get("eval_every", config.steps)),
        eval_size=int(config.get("eval_size", 1000)),
        momentum=float(config.get("momentum", 0.9)),
    )
    result = train(
        model,
        data,
        seeds=int(config.seeds),
        sigma_w2=None if own_init else np.asarray(group.sigma_w2, np.float32),
        sigma_b2=np.asarray(group.sigma_b2, np.float32),
        learning_rate=np.asarray(group.learning_rate, np.float32),
        spec=spec,
        root_seed=int(config.get("root_seed", 0)),
    )
    frame = result.curves_frame()
    div = result.arrays["diverged"]
    frame["diverged"] = div[frame["cell"].to_numpy(), frame["seed"].to_numpy()]
    frame["final"] = frame["step"] == frame["step"].max()
    if own_init:
        frame["sigma_w2"] = np.float32(effective_sigma_w2(group))
    return _meta_columns(frame, group)


def _with_theory(frame: pd.DataFrame, group: Group) -> pd.DataFrame:
    from initjax import theory

    act = activations.get(group.activation, **dict(group.activation_hparams))
    if not {"q", "c"} & set(frame.columns):
        return frame
    return theory.compare(frame, act)


def _install_sigterm() -> Callable[[], None]:
    """Turn SIGTERM into KeyboardInterrupt so a killed sweep ends like Ctrl-C."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not in the main thread
        return lambda: None
    return lambda: signal.signal(signal.SIGTERM, old)


def run_sweep(
    experiment: Experiment,
    config: ml_collections.ConfigDict,
    out: str | Path,
    *,
    progress: bool = True,
    analyze: bool = True,
    log: Callable[[str], Any] = print,
) -> SweepResult:
    """Run (or resume) a sweep into ``out`` and return its table.

    Finished groups already in ``out`` are skipped; each newly finished group is written at once
    (atomically), so an interruption loses at most the group in progress.

    Raises:
      ValueError: an invalid config (before any computation), naming the key.
      KeyboardInterrupt: re-raised after reporting how many groups are saved.
    """
    from initjax import measure

    validate(config, metric_names=tuple(measure.METRICS))
    groups = expand(config, CONTEXT_KEYS)
    store = RunStore(out)
    if config.get("kind", "propagation") == "training":
        data = sweep_inputs.training_data(config)
        compute = lambda g: run_train_group(g, data, config)  # noqa: E731
    else:
        x = sweep_inputs.make_inputs(config)
        compute = lambda g: run_group(g, x, config)  # noqa: E731
    started = now()
    t_start = time.perf_counter()
    manifest = {
        "experiment": experiment.name,
        "experiment_path": str(experiment.path),
        "status": "running",
        "started": started,
        "config": config.to_dict(),
        "environment": environment(),
        "groups": [{"id": g.id, "label": g.label, "cells": g.n_cells} for g in groups],
    }
    store.write_manifest(manifest)
    todo = [g for g in groups if not store.is_done(g.id)]
    if len(todo) < len(groups):
        log(f"resuming: {len(groups) - len(todo)} of {len(groups)} groups already in {out}")
    computed: list[str] = []
    restore = _install_sigterm()
    cells_done = 0
    try:
        bar = tqdm(
            total=len(groups),
            initial=len(groups) - len(todo),
            desc=experiment.name,
            unit="group",
            disable=not progress,
        )
        with bar:
            for g in todo:
                bar.set_description(g.label)
                t0 = time.perf_counter()
                frame = compute(g)
                wall = time.perf_counter() - t0
                store.write_group(g.id, frame, {"spec": g.spec(), "wall_s": wall, "done": now()})
                computed.append(g.id)
                cells_done += g.n_cells
                bar.update(1)
                elapsed = time.perf_counter() - t_start
                bar.set_postfix(cells_per_s=f"{cells_done / max(elapsed, 1e-9):.2f}")
    except KeyboardInterrupt:
        done = sum(store.is_done(g.id) for g in groups)
        log(f"interrupted: {done} of {len(groups)} groups saved in {out}; rerun to resume")
        raise
    finally:
        restore()
    table = store.assemble([g.id for g in groups])
    wall = time.perf_counter() - t_start
    manifest.update(
        status="complete",
        finished=now(),
        wall_s=wall,
        group_wall_s={g.id: store.group_meta(g.id).get("wall_s") for g in groups},
    )
    store.write_manifest(manifest)
    n_div = int(table["diverged"].sum()) if "diverged" in table else 0
    log(
        f"{experiment.name}: {len(groups)} groups ({sum(g.n_cells for g in groups)} cells x "
        f"{config.seeds} seeds), {len(computed)} computed in {wall:.1f} s, "
        f"{len(table)} rows, {n_div} diverged rows -> {store.table_path}"
    )
    if analyze:
        experiment.analyze(Path(out), table, config)
    return SweepResult(table, Path(out), groups, computed, wall)
