"""A grid sweep without a paper claim: the experiment protocol's pieces, evaluate and report for
a user's own sweep config.

A sweep config file needs only ``DESCRIPTION``, ``get_config()`` (``compute`` = a grid config of
:mod:`initjax.sweeps.grid`, ``analysis`` = :func:`default_analysis` or its own keys) and::

    from initjax.sweeps.study import evaluate, pieces, report  # noqa: F401

Then ``initjax run my_sweep.py`` runs it with the one run loop (resume, checksums, folder
ownership), writes ``results.parquet``, one figure per measured column and a summary. Entries
from plugins (initializers, model families, metrics) work like built-in ones.

The verdict judges what a sweep without a claim can judge: numerical health. It is pre-registered
in ``analysis`` (:func:`default_analysis`): PASS when the share of table rows flagged
``nonfinite`` and of networks flagged ``diverged`` are at most ``max_nonfinite_share`` and
``max_diverged_share`` (default 0: any non-finite value fails); float32 underflow is counted and
shown (``max_underflow_share``, default 1: reported, not judged, since a vanishing signal is a
result, not an error). A study makes no claim about a paper, so ``not_reproduced`` is empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ml_collections
import numpy as np
import pandas as pd

from initjax.sweeps.runner import grid_pieces
from initjax.sweeps.summary import Check, Summary, Verdict

__all__ = ["default_analysis", "evaluate", "pieces", "report"]

pieces = grid_pieces

_META = {
    *("model", "width", "depth", "arm", "activation", "init", "sigma_w2", "sigma_b2", "seed"),
    *("layer", "cell", "step", "learning_rate", "final", "underflow", "nonfinite", "diverged"),
}
_TRAIN_CURVES = ("train_loss", "test_acc")


def default_analysis() -> ml_collections.ConfigDict:
    """The pre-registered numerical-health criteria (shares in [0, 1])."""
    return ml_collections.ConfigDict(
        {"max_nonfinite_share": 0.0, "max_diverged_share": 0.0, "max_underflow_share": 1.0}
    )


def _share(frame: pd.DataFrame, flag: str, per_network: bool = False) -> tuple[float, int, int]:
    if flag not in frame.columns or len(frame) == 0:
        return 0.0, 0, len(frame)
    if per_network:
        keys = [c for c in ("model", "width", "depth", "arm", "cell", "sigma_w2", "sigma_b2",
                            "learning_rate", "seed") if c in frame.columns]  # fmt: skip
        per = frame.groupby(keys, dropna=False)[flag].any()
        return float(per.mean()), int(per.sum()), len(per)
    v = frame[flag].astype(bool)
    return float(v.mean()), int(v.sum()), len(v)


def evaluate(table: pd.DataFrame, config: Any) -> Verdict:
    """Numerical health of the sweep against ``config.analysis`` (see the module docstring).

    Raises:
      ValueError: a share threshold outside [0, 1], naming the key.
    """
    a: Mapping[str, Any] = {**default_analysis().to_dict(), **dict(config.analysis or {})}
    for k in ("max_nonfinite_share", "max_diverged_share", "max_underflow_share"):
        if not 0.0 <= float(a[k]) <= 1.0:
            raise ValueError(f"analysis.{k} must be in [0, 1], got {a[k]!r}")
    checks = []
    for flag, key, per_net in (("nonfinite", "max_nonfinite_share", False),
                               ("diverged", "max_diverged_share", True),
                               ("underflow", "max_underflow_share", False)):  # fmt: skip
        share, n, total = _share(table, flag, per_net)
        what = "networks" if per_net else "rows"
        judged = float(a[key]) < 1.0
        checks.append(Check(f"share of {what} flagged {flag}", share, f"<= {float(a[key]):g}",
                            None, None, None, share <= float(a[key]) if judged else None,
                            f"{n}/{total} {what}"))  # fmt: skip
    reason = "; ".join(f"{c.note} {c.name.split()[-1]}" for c in checks)
    return Verdict.from_checks(
        "numerical health, fixed before the run: shares of non-finite rows and diverged "
        f"networks at most {float(a['max_nonfinite_share']):g} and "
        f"{float(a['max_diverged_share']):g} (float32 underflow counted; judged only when "
        "max_underflow_share < 1)",
        checks,
        reason=reason,
    )


def _columns(table: pd.DataFrame, config: Any) -> list[str]:
    if "step" in table.columns:
        return [c for c in _TRAIN_CURVES if c in table.columns]
    fields = {k for arm in config.compute.arms for k in dict(arm.get("model_args") or {})}
    return [c for c in table.columns if c not in _META | fields and not c.endswith("_theory")
            and pd.api.types.is_numeric_dtype(table[c])]  # fmt: skip


def report(table: pd.DataFrame, config: Any, ctx: Any) -> Summary:
    """One figure per measured column (per-layer curves by arm at the widest width and deepest
    depth, theory dashed where the table has it, float32 underflow marked; training sweeps:
    curves over steps), and the flag counts."""
    import matplotlib.pyplot as plt

    from initjax.plots import plot_layers, savefig
    from initjax.sweeps import stats

    comp = config.compute
    training = "step" in table.columns
    t = table[(table["width"] == table["width"].max()) & (table["depth"] == table["depth"].max())]
    label = t["arm"].astype(str)
    if "sigma_w2" in t.columns and t.groupby("arm")["sigma_w2"].nunique().max() > 1:
        label = label + " sw2=" + t["sigma_w2"].map("{:.3g}".format)
    if training and t.groupby("arm")["learning_rate"].nunique().max() > 1:
        label = label + " lr=" + t["learning_rate"].map("{:.3g}".format)
    t = t.assign(curve=label)
    s = ctx.summary(
        f"{comp.get('model', '?')} sweep: widths {list(comp.widths)}, depths {list(comp.depths)}, "
        f"{comp.seeds} seeds, arms {[a['name'] for a in comp.arms]}; figures at width "
        f"{int(t['width'].max())}, depth {int(t['depth'].max())}."
    )
    for col in _columns(t, config):
        fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
        if training:
            m = t.groupby(["curve", "step"])[col].mean().reset_index()
            for name, g in m.groupby("curve", sort=False):
                ax.plot(g["step"], g[col], label=str(name))
            ax.set(xlabel="step", ylabel=col)
        else:
            v = t[col].astype(float)
            logy = bool((v[np.isfinite(v)] > 0).all()) and col in ("q", "grad_sq")
            theory = f"{col}_theory" if f"{col}_theory" in t.columns else None
            plot_layers(ax, t, col, by="curve", theory=theory, logy=logy)
            ax.set(ylabel=f"{col} (seed mean, band +-1 sd)")
        ax.legend(fontsize=7)
        s.figure(savefig(fig, ctx.path(f"figure_{col}.png")), f"{col} by arm.")
    if not training:
        s.table(stats.flag_counts(table), "float32 flags per arm and width:")
    return s
