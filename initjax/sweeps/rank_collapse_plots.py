"""Figures of rank-collapse trajectories (:func:`initjax.sweeps.rank_collapse.trajectories`).

:func:`collapse_figure`: 1 - rho per layer against the uniform-attention theory, one panel per
attention kind; :func:`qk_figure`: the Q/K-to-V gradient ratio against the block input's
1 - token cosine on log-log axes (slope 1 under rank collapse with LayerNorm, Noci et al. 2022,
arXiv:2206.03126, Thm 3.2). One colour per (norm, branch_exponent) stack, in order of first
appearance.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from initjax.sweeps.rank_collapse import ATTENTION  # noqa: E402

__all__ = ["collapse_figure", "qk_figure"]

STACK = ["norm", "branch_exponent"]


def collapse_figure(tr: pd.DataFrame, *, floor: float, attention: Sequence[str] = ATTENTION):
    """Measured 1 - rho (points) and theory (dashed) per layer, one panel per ``attention``
    kind, log y; a dotted line at ``floor`` (below it the checks do not judge).

    Args:
      tr: trajectory rows of one depth (columns ``norm``, ``branch_exponent``, ``attention``,
        ``layer``, ``one_minus_rho``, ``theory``), e.g. the deepest stacks' layers >= 1.

    Returns:
      the figure (constrained layout).
    """
    fig, axes = plt.subplots(
        1,
        len(attention),
        figsize=(5.5 * len(attention), 4.2),
        squeeze=False,
        constrained_layout=True,
    )
    for i, ((norm, e), g) in enumerate(tr.groupby(STACK, sort=False)):
        for ax, attn in zip(axes[0], attention, strict=True):
            h = g[g.attention == attn]
            label = f"{norm}, b = L^-{e:g}"
            ax.semilogy(h.layer, h.one_minus_rho, "o", ms=3, color=f"C{i}", label=label)
            ax.semilogy(h.layer, h.theory, "--", color=f"C{i}", lw=1)
    for ax, attn in zip(axes[0], attention, strict=True):
        ax.set(xlabel="layer", ylabel="1 - rho (mean p / mean q)", title=f"{attn} attention")
        ax.axhline(floor, color="gray", ls=":", lw=1)
    axes[0, 0].legend(fontsize=7)
    return fig


def qk_figure(tr: pd.DataFrame):
    """Per stack of ``tr`` (one depth, one attention kind, columns ``norm``,
    ``branch_exponent``, ``layer``, ``token_cos``, ``qk_v_ratio``, layers in order): the ratio
    at block l against 1 - ``token_cos`` at layer l - 1 (the block's input), log-log axes.

    Returns:
      the figure (constrained layout).
    """
    fig, ax = plt.subplots(figsize=(5.5, 4), constrained_layout=True)
    for i, ((norm, e), g) in enumerate(tr.groupby(STACK, sort=False)):
        label = f"{norm}, b = L^-{e:g}"
        ax.loglog(1 - g.token_cos.shift(1), g.qk_v_ratio, "o-", ms=3, color=f"C{i}", label=label)
    ax.set(xlabel="1 - token cosine of the block input", ylabel="|dW_QK| / |dW_V|")
    ax.legend(fontsize=7)
    return fig
