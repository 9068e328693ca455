"""Grid sweeps: a grid config -> one piece per group -> the run loop of :mod:`.runtime`.

A grid (:mod:`initjax.sweeps.grid`) crosses widths x depths x arms; each group (one width, depth
and arm, with all its sigma cells and seeds) is one piece of work evaluated in one compiled,
vmapped call: :func:`run_group` for propagation (per-layer metrics with theory columns beside
them), :func:`run_train_group` for training curves. :func:`grid_pieces` turns a grid config into
those pieces; an experiment whose ``pieces(compute)`` returns them is a grid experiment
(``experiments/depth_sweep.py``). :func:`run_sweep` runs a grid experiment and returns its table
with the groups.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from initjax import activations, initializers
from initjax.sweeps import inputs as sweep_inputs
from initjax.sweeps.config import Experiment
from initjax.sweeps.grid import GRID_AXES, Group, expand, validate
from initjax.sweeps.runtime import LoopResult, Piece, run_experiment
from initjax.sweeps.summary import Verdict

__all__ = [
    "SweepResult",
    "add_float32_flags",
    "build_model",
    "effective_sigma_w2",
    "estimate_bytes",
    "estimate_cost",
    "grid_pieces",
    "grid_training_data",
    "run_group",
    "run_sweep",
    "run_train_group",
]

FLOAT32_TINY = float(np.finfo(np.float32).tiny)


@dataclasses.dataclass
class SweepResult:
    """What a finished sweep returns.

    Attributes:
      table: the results table (None until every piece is in the folder, see
        :attr:`LoopResult.complete`).
      out: the run folder.
      groups: the grid's groups, in table order.
      pieces: their piece ids (file names in ``out/pieces``), same order.
      computed: ids computed by this call (the others were reused).
      wall_s: this call's wall time.
      loop: the run loop's full result.
      verdict: the evaluated verdict (None until the table is complete, or without analysis).
    """

    table: pd.DataFrame | None
    out: Path
    groups: list[Group]
    pieces: list[str]
    computed: list[str]
    wall_s: float
    loop: LoopResult
    verdict: Verdict | None = None


def _metric_names() -> tuple[str, ...]:
    from initjax.measure import metrics

    names = getattr(metrics, "names", None)
    return tuple(names()) if callable(names) else tuple(metrics.METRICS)


def build_model(group: Group, readout: int | None = None):
    """The Flax model of a group, from the model registry (sigma_w2 / sigma_b2 are passed to
    propagate as arrays). ``group.width`` sets the family's width field; ``group.model_args``
    sets other fields; an activation or init of None leaves the model's own."""
    from initjax import models

    fields = {
        models.metadata(group.model)["width_field"]: group.width,
        "depth": group.depth,
        **dict(group.model_args),
    }
    if group.activation is not None:
        fields["activation"] = activations.get(group.activation, **dict(group.activation_hparams))
    if group.init is not None:
        fields["kernel_init"] = initializers.get(group.init, **dict(group.init_hparams))
    if readout is not None:
        fields["readout"] = readout
    return models.build(group.model, **fields)


def effective_sigma_w2(group: Group) -> float:
    """sigma_w2 of a hidden (width x width) layer when the initializer is used as registered
    (NaN for a data-dependent initializer: its weights are rescaled on data, layer by layer; NaN
    for the model's own initializers, e.g. a Transformer recipe's per-role draws)."""
    if group.init is None:
        return float("nan")
    init = initializers.get(group.init, **dict(group.init_hparams))
    if initializers.is_data_dependent(init):
        return float("nan")
    v = init.promised_variance(group.width, group.width)
    return float("nan") if v is None else float(v) * group.width


def add_float32_flags(frame: pd.DataFrame, metric_columns) -> pd.DataFrame:
    """Per-row ``underflow`` and ``nonfinite`` flags, unless the engine already provides them.

    ``underflow``: q^l below float32's smallest normal number (1.18e-38; includes q = 0), the
    signal has vanished below float32's range and c^l is then undefined (set to NaN).
    ``nonfinite``: some metric value of the row is NaN or +-inf. ``diverged`` (overflow) is the
    engine's.
    """
    if "q" in frame.columns and "underflow" not in frame.columns:
        q = frame["q"].to_numpy(np.float64)
        under = np.isfinite(q) & (q < FLOAT32_TINY)
        frame["underflow"] = under
        if "c" in frame.columns:
            frame.loc[under, "c"] = np.nan
    if "nonfinite" not in frame.columns:
        cols = [c for c in metric_columns if c in frame.columns]
        vals = frame[cols].to_numpy(np.float64) if cols else np.zeros((len(frame), 0))
        frame["nonfinite"] = ~np.isfinite(vals).all(axis=1)
    return frame


def run_group(group: Group, x: np.ndarray, config: Mapping[str, Any]) -> pd.DataFrame:
    """Evaluate every cell and seed of one group in one compiled call; tidy frame with theory.

    Columns: model, width, depth, arm, activation, init, the arm's model_args keys, sigma_w2,
    sigma_b2, seed, layer, the metric columns, diverged, underflow, nonfinite, and ``q_theory`` /
    ``c_theory`` (mean-field maps iterated from each seed's measured layer 0) when
    ``config.theory`` and the arm names its activation and init.
    """
    import jax.numpy as jnp

    from initjax import measure

    model = build_model(group)
    own_init = all(s is None for s in group.sigma_w2)
    sigma_w2 = None if own_init else jnp.asarray(group.sigma_w2, jnp.float32)
    sigma_b2 = _sigma_b2_arg(model, group)
    result = measure.propagate(
        model,
        jnp.asarray(x),
        seeds=int(config["seeds"]),
        metrics=tuple(group.metrics or config["metrics"]),
        sigma_w2=sigma_w2,
        sigma_b2=sigma_b2,
        root_seed=int(config.get("root_seed", 0)),
    )
    frame = result.to_frame()
    if own_init:
        frame["sigma_w2"] = np.full(len(frame), effective_sigma_w2(group), np.float32)
    if sigma_b2 is None:
        frame["sigma_b2"] = np.float32(np.nan)  # the model's own bias initializers
    frame = add_float32_flags(frame, result.columns)
    frame = _meta_columns(frame, group)
    # No mean-field theory for data-dependent inits (their weights are rescaled on data layer by
    # layer) or the model's own per-role inits: no single (sigma_w2, sigma_b2) describes them.
    own = group.init is None or group.activation is None
    dd = own or initializers.is_data_dependent(
        initializers.get(group.init, **dict(group.init_hparams))
    )
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
        **dict(group.model_args),
    }
    for i, (k, v) in enumerate(meta.items()):
        frame.insert(i, k, v)
    return frame


def grid_training_data(config: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
    """``(x_train, y_train, x_test, y_test)`` of ``config.dataset``, flattened, first
    ``config.n_train`` training examples (None: all) -- :func:`initjax.data.training_data`.

    Raises: ValueError naming the config key.
    """
    from initjax import data

    try:
        return data.training_data(
            str(config["dataset"]), n_train=config.get("n_train", None), flatten=True
        )
    except ValueError as err:
        key = "n_train" if "n_train" in str(err) else "dataset"
        raise ValueError(f"config key {key!r}: {err}") from None


def _sigma_b2_arg(model: Any, group: Group) -> np.ndarray | None:
    """The group's sigma_b2 values, or None for a model with its own bias initializers (e.g. a
    Transformer recipe's ``bias_init``) when the arm left sigma_b2 at its default [0.0]: the
    model's biases then follow the recipe. An explicit nonzero sigma_b2 is passed on (and
    refused by ``propagate`` with the reason)."""
    from initjax.models import stack_of

    explicit_bias = getattr(stack_of(model), "bias_init", None) is not None
    if explicit_bias and all(v == 0.0 for v in group.sigma_b2):
        return None
    return np.asarray(group.sigma_b2, np.float32)


def run_train_group(
    group: Group, data: tuple[np.ndarray, ...], config: Mapping[str, Any]
) -> pd.DataFrame:
    """Train every cell (sigma_w2 x sigma_b2 x learning_rate) and seed of one group in one call.

    Returns one row per (cell, seed, recorded step) with the curves, plus ``final`` marking the
    last recorded step and ``diverged`` per network.
    """
    from initjax.measure.train import TrainSpec, train

    n_classes = int(np.max(data[1])) + 1
    model = build_model(group, readout=n_classes)
    own_init = all(s is None for s in group.sigma_w2)
    result = train(
        model,
        data,
        seeds=int(config["seeds"]),
        sigma_w2=None if own_init else np.asarray(group.sigma_w2, np.float32),
        sigma_b2=_sigma_b2_arg(model, group),
        learning_rate=np.asarray(group.learning_rate, np.float32),
        spec=TrainSpec.from_config(config),
        root_seed=int(config.get("root_seed", 0)),
    )
    frame = result.curves_frame(diverged=True)
    frame["final"] = frame["step"] == frame["step"].max()
    if own_init:
        frame["sigma_w2"] = np.float32(effective_sigma_w2(group))
    if _sigma_b2_arg(model, group) is None:
        frame["sigma_b2"] = np.float32(np.nan)
    return _meta_columns(frame, group)


def _with_theory(frame: pd.DataFrame, group: Group) -> pd.DataFrame:
    from initjax import theory

    act = activations.get(group.activation, **dict(group.activation_hparams))
    if not {"q", "c"} & set(frame.columns):
        return frame
    return theory.compare(frame, act)


def _call(fn: Callable, group: Group, data: Callable[[], Any], config) -> pd.DataFrame:
    return fn(group, data(), config)


def estimate_cost(group: Group, compute: Mapping[str, Any]) -> float:
    """A group's compute in units of one width^2 matmul row: cells x seeds x depth x width^2
    (times ``steps`` when training). Relative between the groups of one grid (``--shard``
    balances by it); not a time."""
    cost = float(group.n_cells) * int(compute["seeds"]) * group.depth * float(group.width) ** 2
    if compute.get("kind", "propagation") == "training":
        cost *= int(compute.get("steps", 1))
    return cost


def estimate_bytes(group: Group, compute: Mapping[str, Any]) -> int | None:
    """An estimate of one group's device working set in bytes (float32), for ``--dry-run``.

    Networks ``N = cells x seeds`` run at once; ``P`` = one hidden layer's parameter count,
    ``W`` the width, ``L`` the depth. Propagation (fused path: one layer's weights live at a
    time): ``4 N (2 P + 4 B W)`` with ``B = n_inputs``. Training, as
    :func:`initjax.measure.train.train` counts before it runs: params, gradients, updates and
    the optimizer's slots (``OPT_SLOTS``: sgd 0, momentum 1, adam 2) of every layer, and three
    pre-activation arrays of a minibatch per layer kept for the backward pass:
    ``4 N ((3 + slots) P L + 3 batch_size W (L + 1))``. Activations count ``W`` features per
    example (exact for MLPs; a convolution's spatial positions are not counted), so this is an
    order of magnitude, not a bound; XLA's buffers, the input and readout layers and the data
    come on top. None when the model cannot be built abstractly.
    """
    import jax

    from initjax.measure.train import OPT_SLOTS
    from initjax.models import stack_of

    try:
        st = stack_of(build_model(group))
        layer = jax.eval_shape(lambda: st.layer_init(jax.random.key(0), None, 0.0))
        p_layer = sum(int(np.prod(a.shape)) for a in jax.tree.leaves(layer))
    except Exception:  # noqa: BLE001 - an estimate only; the run itself reports real errors
        return None
    n = group.n_cells * int(compute["seeds"])
    w, depth = int(group.width), int(group.depth)
    if compute.get("kind", "propagation") == "training":
        slots = OPT_SLOTS.get(str(compute.get("optimizer", "sgd")), 2)
        per = (3 + slots) * p_layer * depth + 3 * int(compute["batch_size"]) * w * (depth + 1)
    else:
        per = 2 * p_layer + 4 * int(compute.get("n_inputs", 2)) * w
    return 4 * n * per


def grid_pieces(compute: Mapping[str, Any]) -> list[Piece]:
    """One :class:`~initjax.sweeps.runtime.Piece` per group of a grid config.

    The config is validated first (a bad key fails here, before any computation). Inputs or
    training data are loaded once, when the first piece runs (a resumed, finished run loads
    nothing). Each piece's spec is its group's spec; the grid axes are its ``axes``.

    Raises:
      ValueError: an invalid grid config, naming the key.
    """
    validate(compute, metric_names=_metric_names())
    groups = expand(compute)
    training = compute.get("kind", "propagation") == "training"

    @functools.cache
    def data():
        return grid_training_data(compute) if training else sweep_inputs.make_inputs(compute)

    fn = run_train_group if training else run_group
    return [
        Piece(
            g.label,
            functools.partial(_call, fn, g, data, compute),
            g.spec(),
            GRID_AXES,
            memory_bytes=estimate_bytes(g, compute),
            cost=estimate_cost(g, compute),
        )
        for g in groups
    ]


def run_sweep(
    experiment: Experiment,
    config: Any,
    out: str | Path,
    *,
    progress: bool = True,
    analyze: bool = True,
    overwrite: bool = False,
    log: Callable[[str], Any] = print,
    shard: tuple[int, int] | None = None,
    assemble: bool = False,
) -> SweepResult:
    """Run (or resume) a grid experiment into ``out`` and return its table and groups.

    ``config.compute`` is the grid (:mod:`initjax.sweeps.grid`); the experiment's evaluate and
    report run at the end when ``analyze`` (:func:`~initjax.sweeps.runtime.run_experiment`).

    Raises:
      ValueError: an invalid config (before any computation), naming the key; a folder that
        belongs to another config (unless ``overwrite``).
      KeyboardInterrupt: re-raised after reporting how many groups are saved.
    """
    res = run_experiment(
        experiment,
        config,
        out,
        overwrite=overwrite,
        progress=progress,
        analyze=analyze,
        log=log,
        shard=shard,
        assemble=assemble,
    )
    loop, verdict, grid = res.loop, res.verdict, config.compute
    groups = expand(grid)
    return SweepResult(
        loop.table, Path(out), groups, loop.ids, loop.computed, loop.wall_s, loop, verdict
    )
