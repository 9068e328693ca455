"""Theory columns beside a measured per-layer table (the propagation engine's tidy DataFrame).

The measured frame has one row per (run, seed, layer) with columns ``seed``, ``layer``
(0 = the input projection's pre-activation, then 1..depth), ``q`` (mean squared pre-activation)
and ``c`` (mean correlation of the pre-activations of input pairs); optionally ``sigma_w2`` and
``sigma_b2`` when several grid cells share one frame, and other run-identifying columns.

Theory at layer l applies the q- and c-maps l times, starting from the measured layer-0 values:
per seed (``start="seed"``, default: each seed's own input statistics, so finite-width noise of the
input projection does not enter the comparison) or from the seed-mean of layer 0
(``start="mean"``). The c-map is taken at q1 = q2 = q^l (exact when the inputs have equal norms)
and from the mean measured correlation (exact when all pairs share one initial correlation).
All trajectories of a frame run in one compiled ``lax.scan`` over layers, vmapped in chunks.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from initjax.theory._common import (
    DEFAULT_NODES,
    as_float_arrays,
    check_keep_prob,
    check_variance,
    chunk_size,
    clip_correlation,
    is_concrete,
    make_rule,
    map_chunks,
    on_cells,
    resolve,
)
from initjax.theory.maps import c_map_, q_map_

__all__ = ["compare", "trajectories"]

STARTS = ("seed", "mean")


@functools.partial(jax.jit, static_argnames=("act", "rule", "length"))
def _trajectories_jit(act, rule, sw, sb, q0, c0, keep, length):
    # Non-positive or nan q0 (measured data that diverged): nan trajectories, no exception.
    q0 = jnp.where(q0 > 0, q0, jnp.nan)
    c0 = clip_correlation(c0)

    def run(args):
        sw1, sb1, q1, c1 = args

        def step(carry, _):
            q, c = carry
            nxt = (q_map_(act, rule, sw1, sb1, q, keep), c_map_(act, rule, sw1, sb1, q, q, c, keep))
            return nxt, nxt

        _, (qs, cs) = jax.lax.scan(step, (q1, c1), None, length=length)
        # (length + 1, cells) -> (cells, length + 1)
        return jnp.concatenate([q1[None], qs]).T, jnp.concatenate([c1[None], cs]).T

    return map_chunks(lambda *a: run(a), (sw, sb, q0, c0), chunk_size(rule.nodes))


def trajectories(
    phi: Any,
    sigma_w2,
    sigma_b2,
    q0,
    c0,
    depth: int,
    *,
    keep_prob=1.0,
    method: str = "auto",
    nodes: int = DEFAULT_NODES,
) -> tuple[jax.Array, jax.Array]:
    """Mean-field q^l and c^l for l = 0..depth from (q0, c0), for a batch of runs.

    Args:
      phi: activation name, Activation or callable.
      sigma_w2, sigma_b2, q0, c0: 1-D arrays (or scalars), broadcast to one length n.
      depth: number of map applications (static; one compilation per value). Batches of
        concrete runs are padded to whole chunks of cells, a power of two of them (copies of
        the last run; :func:`initjax.theory._common.on_cells`): one compilation per bucket.
      keep_prob, method, nodes: as in :func:`initjax.theory.q_map`.

    Returns:
      (q, c), each shape (n, depth + 1), float32 (float64 under x64). Non-positive or nan q0
      gives nan trajectories (no exception: measured data may have diverged).
    """
    act = resolve(phi)
    rule = make_rule(method, nodes)
    check_variance("sigma_w2", sigma_w2)
    check_variance("sigma_b2", sigma_b2)
    check_keep_prob(keep_prob)
    if isinstance(depth, bool) or not isinstance(depth, int | np.integer) or depth < 0:
        raise ValueError(f"depth must be a non-negative integer, got {depth!r}")
    sw, sb, q0, c0, keep = as_float_arrays(sigma_w2, sigma_b2, q0, c0, keep_prob)
    xp = np if is_concrete(sw, sb, q0, c0) else jnp
    cells = tuple(xp.ravel(x) for x in xp.broadcast_arrays(sw, sb, q0, c0))
    # Padded to whole chunks of map_chunks, a power of two of them, with copies of the last
    # run: the chunks are those of the unpadded batch, plus chunks of copies.
    return on_cells(
        lambda *c: _trajectories_jit(act, rule, *c, keep, int(depth)),
        cells,
        multiple=chunk_size(rule.nodes),
        pad="last",
    )


def _sigma_source(df, name: str, value) -> tuple[str | None, float | None]:
    in_cols = name in df.columns
    if in_cols and value is not None:
        raise ValueError(
            f"compare: {name} is both a column of measured_df and an argument; pass one"
        )
    if not in_cols and value is None:
        raise ValueError(
            f"compare: {name} is neither a column of measured_df nor given as an argument"
        )
    if in_cols:
        check_variance(f"column {name}", df[name].to_numpy(dtype=np.float64))
        return name, None
    check_variance(name, value)
    return None, float(value)


def compare(
    measured_df,
    activation: Any,
    sigma_w2=None,
    sigma_b2=None,
    *,
    keep_prob=1.0,
    start: str = "seed",
    by: Sequence[str] = (),
    method: str = "auto",
    nodes: int = DEFAULT_NODES,
):
    """Return a copy of ``measured_df`` with mean-field columns ``q_theory`` and ``c_theory``.

    Poole et al. 2016 maps iterated from the measured layer 0 (see the module docstring).

    Args:
      measured_df: pandas DataFrame with columns ``layer`` (int >= 0), ``q``, ``c`` and, for
        ``start="seed"``, ``seed``; optional ``sigma_w2`` / ``sigma_b2`` columns (per row).
      activation: activation name, Activation or callable.
      sigma_w2, sigma_b2: variances for the whole frame, when not columns (each exactly one of
        argument or column).
      keep_prob: dropout keep probability in (0, 1].
      start: "seed" (each seed from its own layer 0) or "mean" (the seed-mean of layer 0).
      by: further columns that identify a run (e.g. "width", "init"); rows are grouped by
        ``by`` + the sigma columns (+ ``seed`` for start="seed").
      method, nodes: integration rule.

    Returns:
      A new DataFrame: the input's columns plus ``q_theory`` and ``c_theory``, computed in
      float64 (x64 is enabled for the computation whatever the global setting), so theory
      columns stay finite and positive where a float32 measurement underflows.

    Raises:
      ValueError: missing columns, a sigma given both ways or neither, negative variances,
        negative or non-integer layers, a run without a layer-0 row or with several.
    """
    import pandas as pd

    if not isinstance(measured_df, pd.DataFrame):
        raise TypeError(f"compare: measured_df must be a pandas DataFrame, got {type(measured_df)}")
    if start not in STARTS:
        raise ValueError(f"compare: start must be one of {STARTS}, got {start!r}")
    by = [by] if isinstance(by, str) else list(by)
    needed = ["layer", "q", "c", *by] + (["seed"] if start == "seed" else [])
    missing = [col for col in needed if col not in measured_df.columns]
    if missing:
        raise ValueError(
            f"compare: measured_df lacks column(s) {missing}; has {list(measured_df.columns)}"
        )
    df = measured_df
    w_col, w_val = _sigma_source(df, "sigma_w2", sigma_w2)
    b_col, b_val = _sigma_source(df, "sigma_b2", sigma_b2)
    layer = df["layer"].to_numpy()
    if (
        not np.issubdtype(layer.dtype, np.number)
        or (layer < 0).any()
        or (layer != np.round(layer)).any()
    ):
        raise ValueError("compare: column layer must hold non-negative integers")
    layer = layer.astype(np.int64)

    run_keys = [*by, *(k for k in (w_col, b_col) if k)]
    traj_keys = [*run_keys, "seed"] if start == "seed" else run_keys
    zero = df.loc[layer == 0, [*traj_keys, "q", "c"]]
    if traj_keys:
        dup = zero.duplicated(subset=traj_keys)
        if dup.any():
            raise ValueError(
                f"compare: several layer-0 rows for {traj_keys} = "
                f"{tuple(zero.loc[dup, traj_keys].iloc[0])}"
            )
        starts = zero.groupby(traj_keys, dropna=False, sort=False)[["q", "c"]].mean().reset_index()
    else:
        if start == "seed" or len(zero) == 0:
            raise ValueError("compare: no layer-0 rows")
        starts = pd.DataFrame({"q": [zero["q"].mean()], "c": [zero["c"].mean()]})
    if len(starts) == 0:
        raise ValueError("compare: measured_df has no layer-0 rows to start the maps from")

    starts["_traj"] = np.arange(len(starts))
    if traj_keys:
        idx = df[traj_keys].merge(starts[[*traj_keys, "_traj"]], on=traj_keys, how="left")
        traj = idx["_traj"].to_numpy()
        if np.isnan(traj.astype(np.float64)).any():
            row = df.loc[np.isnan(traj.astype(np.float64)), traj_keys].iloc[0]
            raise ValueError(f"compare: no layer-0 row for {traj_keys} = {tuple(row)}")
        traj = traj.astype(np.int64)
    else:
        traj = np.zeros(len(df), np.int64)

    sw = starts[w_col].to_numpy(np.float64) if w_col else np.full(len(starts), w_val)
    sb = starts[b_col].to_numpy(np.float64) if b_col else np.full(len(starts), b_val)
    # float64 whatever the global setting: the theory must not underflow where the float32
    # measurement does (relu + glorot_normal: q^l ~ 2^-l, below float32's 1.2e-38 past l ~ 126,
    # while float64 holds it to l ~ 1020).
    with jax.enable_x64(True):
        q_l, c_l = trajectories(
            activation,
            sw,
            sb,
            starts["q"].to_numpy(np.float64),
            starts["c"].to_numpy(np.float64),
            int(layer.max()),
            keep_prob=keep_prob,
            method=method,
            nodes=nodes,
        )
        q_l = np.asarray(q_l, np.float64)
        c_l = np.asarray(c_l, np.float64)
    out = measured_df.copy()
    out["q_theory"] = q_l[traj, layer]
    out["c_theory"] = c_l[traj, layer]
    return out
