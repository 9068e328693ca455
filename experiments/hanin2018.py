"""Hanin & Rolnick 2018, "How to Start Training" (arXiv:1803.01719): in He-initialized ReLU nets
the mean squared activation length is preserved with depth (failure mode FM1 avoided), but its
variance across initializations grows exponentially in the sum of reciprocal widths (FM2), for
any order of the widths.

Fully connected ReLU nets with layer widths n_1..n_D, one fixed input x^0 of dimension n_0,
weights W^j with Var = 2 / n_{j-1} (He, forward case), zero biases. R_j = A_j / A_0 with
A_j = |x^j|^2 / n_j. Theory (exact for Gaussian weights at every width; derived in
:mod:`initjax.theory.length_moments`): E[R_j] = 1 and E[R_j^2] = prod_{i<=j} (1 + 5 / n_i).

Monte Carlo: ``seeds`` independent networks per architecture (vmapped, jitted, in chunks); the
standard error of the mean of R_j^2 is sqrt((mean R^4 - (mean R^2)^2) / seeds). Negative
control: a wrong init scale (``sigma_w2`` != 2, Var = sigma_w2 / fan_in) makes E[R_j] =
(sigma_w2 / 2)^j, and the same evaluate FAILs.
"""

from __future__ import annotations

import ml_collections
import numpy as np
import pandas as pd

from initjax.measure.length_ratios import length_ratio_moments, length_ratios
from initjax.sweeps.config import config_ints, experiment_config
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

PRESETS = {
    # Accelerator: deeper, wider nets and a million networks per architecture.
    "full": {
        "seeds": 1_000_000,
        "seed_chunk": 20_000,
        "input_dim": 100,
        "arms": [
            dict(name="increasing", widths=[int(w) for w in np.linspace(50, 200, 20).round()]),
            dict(name="decreasing", widths=[int(w) for w in np.linspace(200, 50, 20).round()]),
            dict(name="constant", widths=[106] * 20),  # harmonic mean of the ramps
            dict(name="constant-wide", widths=[400] * 20),
        ],
    },
    # Seconds, for the test suite.
    "tiny": {
        "seeds": 4000,
        "seed_chunk": 4000,
        "input_dim": 8,
        "arms": [
            dict(name="increasing", widths=[10, 16, 24]),
            dict(name="decreasing", widths=[24, 16, 10]),
        ],
    },
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
        arms=[
            dict(name="increasing", widths=ramp),
            dict(name="decreasing", widths=ramp[::-1]),
            # Constant width at the ramp's harmonic mean: the same sum of 1/n_j.
            dict(name="constant", widths=[56] * 8),
            dict(name="constant-narrow", widths=[32] * 8),
        ],
        hist_bins=60,
    )
    # z_max = 4: a correct estimate fails one point with probability ~6e-5 (Gaussian tails of a
    # mean of 20,000 networks), ~0.4% over the <= 64 points of a run; fixed before any run.
    c.analysis = dict(z_max=4.0)
    return c


def moments(name: str, widths, r: np.ndarray, bins: int) -> pd.DataFrame:
    """Per-layer rows (``length_ratio_moments``: E[R], E[R^2] with SEs, theory) and a histogram
    of log R_D."""
    layer_rows = lead_columns(length_ratio_moments(widths, r), kind="layer", arm=name)
    counts, edges = np.histogram(np.log(r[:, -1][r[:, -1] > 0]), bins=bins, range=(-4.0, 2.5))
    hist = pd.DataFrame(
        {"kind": "hist", "arm": name, "bin_lo": edges[:-1], "bin_hi": edges[1:], "count": counts}
    )
    return pd.concat([layer_rows, hist], ignore_index=True)


def pieces(compute):
    """One piece per architecture (validated before any work)."""
    if not float(compute.sigma_w2) > 0:
        raise ValueError(f"config key 'sigma_w2' must be > 0, got {compute.sigma_w2!r}")
    out = []
    config_ints([compute.input_dim], "input_dim")
    for arm in compute.arms:
        ws = tuple(config_ints(arm["widths"], "arms", what="widths"))

        def fn(name=str(arm["name"]), ws=ws):
            r = length_ratios(ws, compute.input_dim, compute.seeds, root_seed=compute.root_seed,
                              seed_chunk=compute.seed_chunk, sigma_w2=compute.sigma_w2)  # fmt: skip
            return moments(name, ws, r, int(compute.hist_bins))

        out.append(Piece(str(arm["name"]), fn, spec=list(ws)))
    return out


def layers(table) -> pd.DataFrame:
    lay = table[table["kind"] == "layer"].copy()
    lay["z_mean"] = (lay["mean_r"] - 1.0) / lay["se_mean_r"]
    lay["z_r2"] = (lay["mean_r2"] - lay["theory_r2"]) / lay["se_mean_r2"]
    return lay


def evaluate(table, config) -> Verdict:
    """Every layer's E[R_j] = 1 and E[R_j^2] = prod(1 + 5/n_i) within z_max SE; the increasing
    and decreasing nets' last layers agree within z_max combined SE; E[R_j^2] grows with j."""
    z_max = float(config.analysis.z_max)
    lay = layers(table)
    checks = []
    for arm, g in lay.groupby("arm", sort=False):
        f = g.sort_values("layer").iloc[-1]
        checks.append(deviation(f"E[R_D^2], {arm}, layer {int(f['layer'])}", f["mean_r2"],
                                f["theory_r2"], f["se_mean_r2"], z_max,
                                note=f"sum 1/n_j = {f['inv_width_sum']:.4f}"))  # fmt: skip
    worst = {}
    for col, what in (("z_mean", "E[R_j] = 1"), ("z_r2", "E[R_j^2] = prod(1 + 5/n_i)")):
        worst[col] = float(lay[col].abs().max()) if len(lay) else float("nan")
        checks.append(Check(f"max |z| over all layers and nets: {what}", worst[col], 0.0,
                            tolerance=f"<= {z_max:g}", passed=bool(worst[col] <= z_max),
                            note=f"{len(lay)} points"))  # fmt: skip
    finals = lay.sort_values("layer").groupby("arm").tail(1).set_index("arm")
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

    from initjax.plots import hist_lines, legends, savefig

    comp, lay = config.compute, layers(table)
    arms = list(dict.fromkeys(lay["arm"]))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), constrained_layout=True)
    for i, a in enumerate(arms):
        g = lay[lay["arm"] == a].sort_values("layer")
        j = g["layer"].to_numpy()
        axes[0].errorbar(j, g["mean_r"], 2 * g["se_mean_r"], fmt="o-", ms=3, color=f"C{i}", label=a)
        axes[1].errorbar(j, g["mean_r2"], 2 * g["se_mean_r2"], fmt="o", ms=3, color=f"C{i}",
                         label=a)  # fmt: skip
        axes[1].plot(j, g["theory_r2"], "--", color=f"C{i}", lw=1)
        h = table[(table["kind"] == "hist") & (table["arm"] == a)]
        hist_lines(axes[2], h, density=True, color=f"C{i}", label=a)
    axes[0].axhline(1.0, color="k", lw=1, ls="--", label="theory E[R_j] = 1")
    axes[0].set(title="mean of R_j = A_j / A_0 (+-2 SE)", xlabel="layer j")
    axes[1].set(title="E[R_j^2]: measured (+-2 SE) vs prod (1 + 5/n_i) (--)", xlabel="layer j")
    axes[2].set(xlabel="log R_D (last layer)", ylabel="density", title="distribution of log R_D")
    legends(axes)
    moments_png = savefig(fig, ctx.path("figure_moments.png"))
    fig, ax = plt.subplots(figsize=(6, 4.2), constrained_layout=True)
    for i, a in enumerate(arms):
        g = lay[lay["arm"] == a]
        ax.errorbar(g["inv_width_sum"], g["mean_r2"] - 1, 2 * g["se_mean_r2"], fmt="o", ms=3,
                    color=f"C{i}", label=a)  # fmt: skip
    x = np.linspace(0, float(lay["inv_width_sum"].max()) * 1.05, 200)
    ax.plot(x, np.exp(5 * x) - 1, "k--", lw=1, label="exp(5 sum 1/n) - 1 (approx. of the product)")
    ax.set(xlabel="sum_{i<=j} 1/n_i", ylabel="Var[R_j] = E[R_j^2] - 1",
           title="every net and layer on one curve of sum 1/n_i")  # fmt: skip
    ax.legend(fontsize=7)
    collapse_png = savefig(fig, ctx.path("figure_collapse.png"))
    s = ctx.summary(
        f"Fully connected ReLU nets, Gaussian weights with Var = {comp.sigma_w2:g}/fan_in (He: 2), "
        "zero "
        f"biases, one fixed input of dimension {comp.input_dim}; {comp.seeds} independent networks "
        f"per architecture. Architectures: "
        + "; ".join(f"{a['name']} {list(a['widths'])}" for a in comp.arms)
        + ". The statement holds exactly at every width and depth, so the default's scale-down "
        "(depth 8, widths 32-96, instead of the full preset's depth 20, widths 50-400 and 10^6 "
        "networks) only widens the Monte Carlo error. Hanin & Rolnick tabulate no numbers: the "
        "published side is the claim (mean kept; Var ~ exp(c sum 1/n_j), any width order)."
    )
    s.figure(moments_png, "E[R_j], E[R_j^2] per layer; distribution of log R_D.")
    s.figure(collapse_png, "Var[R_j] against sum 1/n_i for every net and layer.")
    cols = ["arm", "layer", "width", "inv_width_sum", "mean_r", "se_mean_r", "mean_r2",
            "se_mean_r2", "theory_r2", "z_r2"]  # fmt: skip
    s.table(lay[cols], "Every layer (z = (measured - theory) / SE):",
            formats={c: ".4f" for c in cols[3:]} | {"z_r2": "+.2f"})  # fmt: skip
    return s
