"""Rank-collapse measurements judged as verdict Checks (Noci et al. 2022, arXiv:2206.03126).

Inputs are the tables of :mod:`initjax.sweeps.rank_collapse`: ``tr`` from its
:func:`~initjax.sweeps.rank_collapse.trajectories` (one row per stack and layer) and the raw
per-layer ``table`` (columns ``norm``, ``branch_exponent``, ``attention``, ``depth``, ``seed``,
``layer``, ``token_cos`` and the ``grad_w*`` norms).

- :func:`theory_checks`: per stack, measured 1 - rho against the uniform-attention theory at
  every layer whose theory value the float32 measurement resolves.
- :func:`depth_limit_checks`: unnormalised 1/sqrt(L) stacks keep rho^L below its depth limit.
- :func:`scaling_checks`: 1/sqrt(L) branches keep the tokens of a softmax stack further apart
  than unscaled ones (one-sided Welch over seeds).
- :func:`qk_slope_checks`: the Q/K-to-V gradient ratio scales as (1 - cos)^1 (Thm 3.2).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from initjax.sweeps import rank_collapse as RC
from initjax.sweeps import stats
from initjax.sweeps.summary import Check

__all__ = ["depth_limit_checks", "qk_slope_checks", "scaling_checks", "stack", "theory_checks"]


def stack(table: pd.DataFrame, norm: str, exponent: float, attention: str, depth: int):
    """The rows of one stack: ``norm``, ``branch_exponent``, ``attention`` and ``depth`` equal."""
    return table[
        (table.norm == norm)
        & (table.branch_exponent == exponent)
        & (table.attention == attention)
        & (table.depth == depth)
    ]


def theory_checks(
    tr: pd.DataFrame,
    *,
    width: int,
    floor: float,
    z_max: float,
    atol_rho: float,
    finite_width: float,
    judged: str = "uniform",
) -> list[Check]:
    """Per stack of ``tr``: are the layers (>= 1) whose theory 1 - rho is >= ``floor`` all within
    ``z_max`` jackknife SE + tol of the theory?

    tol = ``atol_rho`` (float32 rounding of q and p) plus, with LayerNorm (``norm`` not
    "none": the theory is a large-width limit), ``finite_width / width``. Stacks whose attention
    is not ``judged`` (softmax: the theory's assumption fails) are reported, not judged.

    Returns:
      one Check per stack (order of first appearance): measured "k/n" layers within tolerance,
      expected "n/n"; ``se`` and ``z`` of the worst layer (largest |dev| / se), named in the note.
    """
    checks = []
    sel = tr[(tr.layer >= 1) & (tr.theory >= floor)]
    for (norm, e, attn, depth), g in sel.groupby(list(RC.KEYS), sort=False):
        tol = atol_rho + (0.0 if norm == "none" else finite_width / width)
        ok = g.dev.abs() <= z_max * g.se + tol
        w = g.loc[(g.dev.abs() / g.se.clip(lower=1e-30)).idxmax()]
        z = float(w.dev / w.se) if w.se > 0 else float("nan")
        what = "closed form" if norm == "none" else "LN recursion (large width)"
        checks.append(
            Check(
                f"1 - rho vs {what}, {attn}, {norm}, b = L^-{e:g}, L = {depth}",
                f"{int(ok.sum())}/{len(g)}",
                f"{len(g)}/{len(g)}",
                float(w.se),
                z,
                f"|dev| <= {z_max:g} SE + {tol:.2g}",
                bool(ok.all()) if attn == judged else None,
                f"worst layer {int(w.layer)}: {w.one_minus_rho:.4g} vs {w.theory:.4g}; layers "
                f"with theory < {floor:g} not judged",
            )
        )
    return checks


def depth_limit_checks(tr: pd.DataFrame, *, z_max: float) -> list[Check]:
    """Unnormalised stacks with uniform attention and b = 1/sqrt(L) (``branch_exponent`` 0.5):
    rho at the last layer <= ``rho_limit`` + ``z_max`` SE, one Check per depth
    (:func:`initjax.theory.transformer.cosine_depth_limit` from the seed-mean layer 0)."""
    last = tr[(tr.layer == tr.depth) & (tr.attention == "uniform") & (tr.norm == "none")]
    checks = []
    for _, r in last[last.branch_exponent == 0.5].iterrows():
        rho, se = 1.0 - r.one_minus_rho, float(r.se)
        checks.append(
            Check(
                f"rho^L below its depth limit, none, b = 1/sqrt(L), L = {r.depth}",
                rho,
                float(r.rho_limit),
                se,
                (rho - r.rho_limit) / se,
                f"<= limit + {z_max:g} SE",
                bool(rho <= r.rho_limit + z_max * se),
                "cosine_depth_limit from the seed-mean layer-0 moments",
            )
        )
    return checks


def scaling_checks(
    table: pd.DataFrame, *, depth: int, norms: Sequence[str], t_min: float
) -> list[Check]:
    """Per norm placement, softmax stacks of ``depth``: 1 - token cosine at the last layer is
    larger with b = 1/sqrt(L) than with b = 1, one-sided Welch t >= ``t_min`` over seeds.

    Measured: the scaled stacks' seed mean, expected: the unscaled one's; fewer than 2 finite
    values on a side (an overflowed stack) gives t = NaN, a failed check.
    """
    checks = []
    for norm in norms:
        s, u = (
            1 - RC.layer_grid(stack(table, norm, e, "softmax", depth), "token_cos")[:, -1]
            for e in (0.5, 0.0)
        )
        ok = np.isfinite(s).sum() > 1 and np.isfinite(u).sum() > 1
        t, _, p = stats.welch_one_sided(s, u) if ok else (float("nan"),) * 3
        checks.append(
            Check(
                f"softmax, {norm}, L = {depth}: 1 - token_cos^L, 1/sqrt(L) > unscaled",
                float(s.mean()),
                float(u.mean()),
                None,
                t,
                f"Welch t >= {t_min:g}",
                bool(t >= t_min),
                f"one-sided p = {p:.2g}",
            )
        )
    return checks


def qk_slope_checks(
    table: pd.DataFrame,
    *,
    depth: int,
    floor: float,
    collapse_max: float,
    z_max: float,
    slope_tol: float,
    norms: Sequence[str] = ("post", "pre"),
) -> list[Check]:
    """Per LayerNorm placement, the unscaled softmax stack of ``depth``: the seed-mean slope of
    log |dW_QK| / |dW_V| on log(1 - cos) (:func:`~initjax.sweeps.rank_collapse.qk_gradient_slopes`
    over the blocks with ``floor`` <= 1 - cos <= ``collapse_max``) is within ``z_max`` SE +
    ``slope_tol`` of 1 (the law is asymptotic in 1 - cos -> 0)."""
    checks = []
    for norm in norms:
        arm = stack(table, norm, 0.0, "softmax", depth)
        m, se = stats.mean_se(RC.qk_gradient_slopes(arm, floor, collapse_max))
        checks.append(
            Check(
                f"softmax, {norm}, unscaled, L = {depth}: slope of log |dW_QK|/|dW_V| on "
                "log(1 - cos)",
                m,
                1.0,
                se,
                (m - 1) / se if se > 0 else float("nan"),
                f"|slope - 1| <= {z_max:g} SE + {slope_tol:g}",
                bool(abs(m - 1) <= z_max * se + slope_tol),
                f"blocks: {floor:g} <= 1 - cos <= {collapse_max:g}",
            )
        )
    return checks
