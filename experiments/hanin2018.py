"""Hanin & Rolnick 2018, "How to Start Training" (arXiv:1803.01719): in He-initialized ReLU nets
the mean squared activation length is preserved with depth (failure mode FM1 avoided), but its
variance across initializations grows exponentially in the sum of reciprocal widths (FM2), for
any order of the widths.

Fully connected ReLU nets with layer widths n_1..n_D, one fixed input x^0 of dimension n_0,
weights W^j with Var = 2 / n_{j-1} (He, forward case), zero biases. R_j = A_j / A_0 with
A_j = |x^j|^2 / n_j. Theory (exact for Gaussian weights at every width; derived in
:mod:`initjax.theory.length_moments`): E[R_j] = 1 and E[R_j^2] = prod_{i<=j} (1 + 5 / n_i).

Monte Carlo over ``seeds`` independent networks per architecture (SE of the mean of R_j^2:
sqrt((mean R^4 - (mean R^2)^2) / seeds)). Negative control: a wrong init scale (``sigma_w2`` != 2)
makes E[R_j] = (sigma_w2 / 2)^j, and the same evaluate FAILs.
"""

from __future__ import annotations

import ml_collections
import numpy as np
import pandas as pd

from initjax.measure.length_ratios import length_ratio_moments, length_ratios
from initjax.sweeps.config import config_floats, config_ints, experiment_config
from initjax.sweeps.runtime import Piece
from initjax.sweeps.stats import deviation
from initjax.sweeps.summary import Check, Verdict
from initjax.sweeps.tables import lead_columns

DESCRIPTION = (
    "Hanin & Rolnick 2018: He-init ReLU nets keep E[length] but Var grows with sum 1/n_j, "
    "whatever the width order"
)
TITLE = "He-initialized ReLU nets: mean length preserved, variance grows with sum of 1/n_j"
PAPER = "Hanin & Rolnick 2018, How to Start Training (arXiv:1803.01719), Theorem 5, FM1/FM2"


def _arms(ramp: list[int], *constant: tuple[str, int]) -> list[dict]:
    """The ramp of widths increasing, the same decreasing, and constant nets (name, width)."""
    ramps = [dict(name="increasing", widths=ramp), dict(name="decreasing", widths=ramp[::-1])]
    return ramps + [dict(name=name, widths=[w] * len(ramp)) for name, w in constant]


_FULL_RAMP = [int(w) for w in np.linspace(50, 200, 20).round()]
PRESETS = {
    # Accelerator: deeper, wider nets, a million networks per architecture, 500 at a time (~29 GiB
    # at width 400: 59 MiB per network, XLA:CPU's buffers); "constant": ramps' harmonic mean.
    "full": dict(seeds=1_000_000, seed_chunk=500, input_dim=100)
    | dict(arms=_arms(_FULL_RAMP, ("constant", 106), ("constant-wide", 400))),
    # Seconds, for the test suite.
    "tiny": dict(seeds=4000, seed_chunk=4000, input_dim=8, arms=_arms([10, 16, 24])),
}


def get_config() -> ml_collections.ConfigDict:
    c = experiment_config()
    ramp = [32, 41, 50, 59, 69, 78, 87, 96]
    c.compute = dict(
        # 20,000 networks: SE of E[R_8^2] ~2% of its value (prod(1 + 5/n) <= ~4 here, where
        # E[R^4] and hence the SE are still well estimated).
        seeds=20_000,
        seed_chunk=4_000,  # networks per compiled call (memory), not a result-changing size
        root_seed=0,
        input_dim=32,
        sigma_w2=2.0,  # Var = sigma_w2 / fan_in: 2 is He; any other value is a negative control
        # Constant width at the ramp's harmonic mean (the same sum of 1/n_j), and a narrower one.
        arms=_arms(ramp, ("constant", 56), ("constant-narrow", 32)),
        hist_bins=60,
    )
    # z_max = 4: a correct estimate fails one point with probability ~6e-5 (Gaussian tails of a
    # mean of 20,000 networks), ~0.4% over the <= 64 points of a run; fixed before any run.
    c.analysis = dict(z_max=4.0)
    return c


def run_arm(compute, name: str, widths: tuple[int, ...]) -> pd.DataFrame:
    """One architecture: ``seeds`` networks' per-layer rows (``length_ratio_moments``: E[R],
    E[R^2] with SEs, theory) and a histogram of log R_D."""
    r = length_ratios(widths, compute.input_dim, compute.seeds, root_seed=compute.root_seed,
                      seed_chunk=compute.seed_chunk, sigma_w2=compute.sigma_w2)  # fmt: skip
    layer_rows = lead_columns(length_ratio_moments(widths, r), kind="layer", arm=name)
    log_rd = np.log(r[:, -1][r[:, -1] > 0])
    n, edges = np.histogram(log_rd, bins=int(compute.hist_bins), range=(-4.0, 2.5))
    hist = pd.DataFrame(dict(kind="hist", arm=name, bin_lo=edges[:-1], bin_hi=edges[1:], count=n))
    return pd.concat([layer_rows, hist], ignore_index=True)


def pieces(compute):
    """One piece per architecture (validated before any work)."""
    config_floats(compute.sigma_w2, "sigma_w2", low=0.0, low_open=True)
    config_ints([compute.input_dim], "input_dim")
    arms = [(str(a["name"]), tuple(config_ints(a["widths"], "arms", what="widths")))
            for a in compute.arms]  # fmt: skip
    return [Piece(n, lambda n=n, ws=ws: run_arm(compute, n, ws), spec=list(ws)) for n, ws in arms]


def layers(table) -> pd.DataFrame:
    lay = table[table["kind"] == "layer"].copy()
    lay["z_mean"] = (lay["mean_r"] - 1.0) / lay["se_mean_r"]
    lay["z_r2"] = (lay["mean_r2"] - lay["theory_r2"]) / lay["se_mean_r2"]
    return lay


def evaluate(table, config) -> Verdict:
    """Moments vs theory per layer, width-order independence, growth with depth (criterion)."""
    z_max, lay = float(config.analysis.z_max), layers(table)
    finals = lay.loc[lay.groupby("arm", sort=False)["layer"].idxmax()].set_index("arm")
    checks = [deviation(f"E[R_D^2], {arm}, layer {int(f['layer'])}", f["mean_r2"], f["theory_r2"],
                        f["se_mean_r2"], z_max, note=f"sum 1/n_j = {f['inv_width_sum']:.4f}")
              for arm, f in finals.iterrows()]  # fmt: skip
    worst = {c: float(lay[c].abs().max()) if len(lay) else float("nan") for c in ("z_mean", "z_r2")}
    for col, what in (("z_mean", "E[R_j] = 1"), ("z_r2", "E[R_j^2] = prod(1 + 5/n_i)")):
        checks.append(Check(f"max |z| over all layers and nets: {what}", worst[col], 0.0,
                            tolerance=f"<= {z_max:g}", passed=bool(worst[col] <= z_max),
                            note=f"{len(lay)} points"))  # fmt: skip
    order = ""
    if {"increasing", "decreasing"} <= set(finals.index):
        a, b = finals.loc["increasing"], finals.loc["decreasing"]
        se = float(np.hypot(a["se_mean_r2"], b["se_mean_r2"]))
        c = deviation("order independence: E[R_D^2] increasing - decreasing",
                      a["mean_r2"] - b["mean_r2"], 0.0, se, z_max)  # fmt: skip
        checks.append(c)
        order = f"; increasing {a['mean_r2']:.3f} vs decreasing {b['mean_r2']:.3f} (z = {c.z:+.2f})"
    grows = bool(len(lay)) and all(
        np.all(np.diff(g.sort_values("layer")["mean_r2"].to_numpy()) > 0)
        for _, g in lay.groupby("arm")
    )
    checks.append(Check("E[R_j^2] increases with j in every net", "yes" if grows else "no",
                        "yes", tolerance="every layer", passed=grows))  # fmt: skip
    crit = (
        f"Every layer of every net: |E[R_j] - 1| <= {z_max:g} SE and |E[R_j^2] - prod_(i<=j)"
        f"(1 + 5/n_i)| <= {z_max:g} SE (SE over the independent networks); the last-layer "
        f"E[R_D^2] of the increasing and decreasing nets agree within {z_max:g} combined SE; "
        "E[R_j^2] increases with j in every net."
    )
    reason = (
        f"E[R_j] = 1 within {worst['z_mean']:.1f} SE and E[R_j^2] = prod(1+5/n_j) within "
        f"{worst['z_r2']:.1f} SE at every layer{order}"
    )
    return Verdict.from_checks(crit, checks, reason=reason, not_reproduced=[
        "non-Gaussian weight laws: Theorem 5 bounds E[M_d^2] by exponentials with constants set "
        "by the fourth moment; only the exact Gaussian case is compared",
        "FM1/FM2 for residual networks (Hanin & Rolnick 2018, Sec. 3.2) and the training "
        "experiments of their Figs. 2-4",
    ])  # fmt: skip


def report(table, config, ctx):
    """figure_moments.png, figure_collapse.png and the per-layer table."""
    import matplotlib.pyplot as plt

    from initjax.plots import errorbar_groups, hist_lines, legends, savefig

    comp, lay = config.compute, layers(table)
    s = ctx.summary(
        f"Fully connected ReLU nets, Gaussian weights with Var = {comp.sigma_w2:g}/fan_in (He: 2), "
        f"zero biases, one fixed input of dimension {comp.input_dim}; {comp.seeds} independent "
        "networks per architecture. Architectures: "
        + "; ".join(f"{a['name']} {list(a['widths'])}" for a in comp.arms)
        + ". The statement holds exactly at every width and depth, so the default's scale-down "
        "(depth 8, widths 32-96, instead of the full preset's depth 20, widths 50-400 and 10^6 "
        "networks) only widens the Monte Carlo error. Hanin & Rolnick tabulate no numbers: the "
        "published side is the claim (mean kept; Var ~ exp(c sum 1/n_j), any width order)."
    )
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), constrained_layout=True)
    errorbar_groups(axes[0], lay, "layer", "mean_r", "se_mean_r", by="arm", fmt="o-", ms=3)
    errorbar_groups(axes[1], lay, "layer", "mean_r2", "se_mean_r2", by="arm", theory="theory_r2")
    for i, (a, h) in enumerate(table[table["kind"] == "hist"].groupby("arm", sort=False)):
        hist_lines(axes[2], h, density=True, color=f"C{i}", label=a)
    axes[0].axhline(1.0, color="k", lw=1, ls="--", label="theory E[R_j] = 1")
    axes[0].set(title="mean of R_j = A_j / A_0 (+-2 SE)", xlabel="layer j")
    axes[1].set(title="E[R_j^2]: measured (+-2 SE) vs prod (1 + 5/n_i) (--)", xlabel="layer j")
    axes[2].set(xlabel="log R_D (last layer)", ylabel="density", title="distribution of log R_D")
    legends(axes)
    png = savefig(fig, ctx.path("figure_moments.png"))
    s.figure(png, "E[R_j], E[R_j^2] per layer; distribution of log R_D.")
    fig, ax = plt.subplots(figsize=(6, 4.2), constrained_layout=True)
    var_r = lay.assign(var_r=lay["mean_r2"] - 1)
    errorbar_groups(ax, var_r, "inv_width_sum", "var_r", "se_mean_r2", by="arm", ms=3)
    x = np.linspace(0, float(lay["inv_width_sum"].max()) * 1.05, 200)
    ax.plot(x, np.exp(5 * x) - 1, "k--", lw=1, label="exp(5 sum 1/n) - 1 (approx. of the product)")
    ax.set(xlabel="sum_{i<=j} 1/n_i", ylabel="Var[R_j] = E[R_j^2] - 1",
           title="every net and layer on one curve of sum 1/n_i")  # fmt: skip
    ax.legend(fontsize=7)
    png = savefig(fig, ctx.path("figure_collapse.png"))
    s.figure(png, "Var[R_j] against sum 1/n_i for every net and layer.")
    cols = ["arm", "layer", "width", "inv_width_sum", "mean_r", "se_mean_r", "mean_r2",
            "se_mean_r2", "theory_r2", "z_r2"]  # fmt: skip
    s.table(lay[cols], "Every layer (z = (measured - theory) / SE):",
            formats={c: ".4f" for c in cols[3:]} | {"z_r2": "+.2f"})  # fmt: skip
    return s
