"""Rank collapse in propagation tables of Transformer stacks, beside the uniform-attention theory.

Input: a table of per-layer rows (one stack per group of ``keys``; columns ``seed``, ``layer``
0..L, ``q``, ``token_cross`` and optionally ``token_cos``, ``erank``, ``grad_wq``, ``grad_wk``,
``grad_wv``: :func:`initjax.measure.propagate` with those metrics, plus the group columns
``norm`` ("pre" | "post" | "none"), ``branch_exponent`` (b = L^-branch_exponent) and ``depth``).

Measured rho at a layer is the ratio of seed means, mean p / mean q (p = ``token_cross``): its
expectation is what the moment maps of :mod:`initjax.theory.transformer` predict (exactly, at any
width, for unnormalised stacks with uniform attention, whose maps are linear), whereas the seed
mean of the token cosine differs from p / q by the token-norm fluctuations. Its standard error
is the leave-one-seed-out jackknife (:func:`initjax.sweeps.stats.jackknife`), which also carries
the theory's dependence on the seed-mean layer-0 moments it starts from (Noci et al. 2022,
arXiv:2206.03126, §4, for the uniform-attention model).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from initjax.sweeps import stats

__all__ = [
    "ATTENTION",
    "KEYS",
    "attention_stack",
    "measure_stack",
    "layer_grid",
    "trajectories",
    "qk_v_ratio",
    "qk_gradient_slopes",
]

KEYS = ("norm", "branch_exponent", "attention", "depth")
ATTENTION = ("uniform", "softmax")


def attention_stack(
    *, width: int, heads: int, tokens: int, depth: int, norm: str, branch_exponent: float,
    attention: str,
):  # fmt: skip
    """An attention-only :class:`~initjax.models.Transformer` for the uniform-attention theory.

    Every kernel N(0, 1/fan_in) (sigma_w2 = 1: unit value / output variances), zero biases, no
    positions, a linear embedding of ``(T, width)`` inputs, no MLP. ``attention``: "uniform"
    (query and key kernels zero, so A = 11^T / T exactly, the theory's assumption) or "softmax"
    (query / key kernels as the others: the assumption holds only while the logits are small).

    Raises:
      ValueError: an unknown ``attention`` (and the model's own argument errors).
    """
    from initjax.models import Transformer

    if attention not in ATTENTION:
        raise ValueError(f"attention must be one of {ATTENTION}, got {attention!r}")
    inits = {"query": "zeros", "key": "zeros"} if attention == "uniform" else None
    return Transformer(width=width, depth=depth, heads=heads, mlp_width=0, norm=norm,
                       branch_exponent=float(branch_exponent), kernel_init="normal",
                       sigma_w2=1.0, inits=inits, positions="none", seq_len=tokens)  # fmt: skip


def measure_stack(
    *, batch: int, c0: float, seeds: int, root_seed: int = 0, **stack: Any
) -> pd.DataFrame:
    """Per-layer rows of :func:`attention_stack` (``**stack``) over ``seeds`` networks.

    Inputs: ``batch`` sequences of T tokens, each with |x_t|^2 / width = 1 and pairwise cosine
    ``c0`` (:func:`initjax.measure.token_inputs`, from the root seed's inputs key), shared by all
    seeds. Metrics q, token_cross, token_cos, erank, and for softmax attention qkv_grad (the
    gradients of a random-cotangent loss on the output). Returns
    :meth:`~initjax.measure.PropagationResult.to_frame` plus the :data:`KEYS` columns.
    """
    import jax

    from initjax import keys
    from initjax.measure import propagate, token_inputs

    k = keys.role(keys.seed_keys(1, root_seed)[0], keys.INPUTS)
    x = token_inputs(k, batch, int(stack["tokens"]), int(stack["width"]), c0=float(c0))
    soft = stack["attention"] == "softmax"
    metrics = "q,token_cross,token_cos,erank" + (",qkv_grad" if soft else "")
    res = propagate(attention_stack(**stack), jax.device_get(x), seeds=seeds, metrics=metrics,
                    root_seed=root_seed)  # fmt: skip
    return res.to_frame().assign(**{k: stack[k] for k in KEYS})


def layer_grid(frame: pd.DataFrame, column: str) -> np.ndarray:
    """``(seeds, layers)`` float64 array of one stack's ``column`` (NaN where absent)."""
    if column not in frame.columns:
        n_s, n_l = frame["seed"].nunique(), frame["layer"].nunique()
        return np.full((n_s, n_l), np.nan)
    g = frame.pivot_table(index="seed", columns="layer", values=column, dropna=False)
    return g.to_numpy(np.float64)


def qk_v_ratio(frame: pd.DataFrame) -> np.ndarray:
    """``(seeds, layers)``: sqrt(|dW_Q|^2 + |dW_K|^2) / |dW_V| per block (NaN without grads)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        qk = np.hypot(layer_grid(frame, "grad_wq"), layer_grid(frame, "grad_wk"))
        return qk / layer_grid(frame, "grad_wv")


def trajectories(table: pd.DataFrame, tokens: int, keys: Sequence[str] = KEYS) -> pd.DataFrame:
    """Per stack (group of ``keys``) and layer: measured and theory 1 - rho, and seed means.

    Args:
      table: per-layer rows (module docstring); every group holds one stack, all seeds.
      tokens: sequence length T of the inputs (the theory's ``tokens``).
      keys: the group columns; must include ``norm``, ``branch_exponent`` and ``depth``.

    Returns:
      One row per (group, layer): ``keys``, ``layer``, ``one_minus_rho`` (1 - mean p / mean q),
      ``theory`` (1 - rho of :func:`~initjax.theory.transformer.residual_moments` with uniform
      attention, unit value/output variances, from the seed-mean layer-0 q and p), ``dev``
      (measured - theory), ``se`` (its jackknife SE over seeds), ``rho_limit``
      (:func:`~initjax.theory.transformer.cosine_depth_limit` from the same layer 0: the
      unnormalised 1/sqrt(L) limit), seed means of ``token_cos``, ``erank`` and
      :func:`qk_v_ratio` (``qk_v_ratio``; NaN where not measured).

    Raises:
      ValueError: a missing column, or fewer than 2 seeds in a group.
    """
    from initjax.theory import transformer as TT

    need = {"seed", "layer", "q", "token_cross", "norm", "branch_exponent", "depth", *keys}
    missing = sorted(need - set(table.columns))
    if missing:
        raise ValueError(f"table: missing columns {missing}")
    rows = []
    for level, g in table.groupby(list(keys), sort=False):
        key = dict(zip(keys, level if isinstance(level, tuple) else (level,), strict=True))
        norm, depth = str(g["norm"].iloc[0]), int(g["depth"].iloc[0])
        branch = float(depth) ** -float(g["branch_exponent"].iloc[0])
        qp = np.stack([layer_grid(g, "q"), layer_grid(g, "token_cross")], axis=-1)
        if qp.shape[0] < 2:
            raise ValueError(f"group {key}: needs >= 2 seeds, got {qp.shape[0]}")

        def theory(s, norm=norm, depth=depth, branch=branch):
            q0, p0 = s[:, 0, 0].mean(), s[:, 0, 1].mean()
            m = TT.residual_moments(depth, norm=norm, tokens=tokens, q0=q0, p0=p0, branch=branch)
            return 1.0 - m.rho

        def dev(s, theory=theory):
            return 1.0 - s[..., 1].mean(0) / s[..., 0].mean(0) - theory(s)

        th = theory(qp)
        d, se = stats.jackknife(dev, qp)
        q0, p0 = qp[:, 0, 0].mean(), qp[:, 0, 1].mean()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (no grads)
            extra = {c: np.nanmean(layer_grid(g, c), 0) for c in ("token_cos", "erank")}
            extra["qk_v_ratio"] = np.nanmean(qk_v_ratio(g), 0)
        rows.append(pd.DataFrame({
            **key, "layer": np.arange(qp.shape[1]), "one_minus_rho": th + d, "theory": th,
            "dev": d, "se": se,
            "rho_limit": TT.cosine_depth_limit(tokens=tokens, q0=q0, p0=p0, x=1.0), **extra,
        }))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def qk_gradient_slopes(frame: pd.DataFrame, lo: float, hi: float) -> np.ndarray:
    """Per seed of one stack: slope of log(:func:`qk_v_ratio` of block l) on log(1 - token_cos
    of its input z^{l-1}), over the blocks whose input has lo <= 1 - cos <= hi.

    Under rank collapse with normalised tokens the ratio scales as (1 - cos)^1 (the Q/K gradient
    carries a value difference and a key difference, each O(sqrt(1 - cos)); Noci et al. 2022,
    Thm 3.2 for the vanishing). Returns float64 ``(seeds,)`` (:func:`stats.loglog_slopes`).
    """
    x = 1.0 - layer_grid(frame, "token_cos")[:, :-1]
    x = np.where((x >= lo) & (x <= hi), x, np.nan)
    return stats.loglog_slopes(x, qk_v_ratio(frame)[:, 1:])
