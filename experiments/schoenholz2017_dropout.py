"""Schoenholz, Gilmer, Ganguli & Sohl-Dickstein 2017 (arXiv:1611.01232), Sec. 4: dropout destroys
the order-to-chaos critical point, so the correlation depth scale xi_c stays finite.

A tanh MLP with dropout (keep probability rho) on every hidden layer's input activations,
z^l = (phi(z^{l-1}) m^l / rho) W^l + b^l (``MLP(keep_prob=rho)``), has the mean-field maps of
``initjax.theory`` with ``keep_prob=rho``: the q-map carries sigma_w2 / rho, the cross term does
not (the two inputs' masks are independent), so c* < 1 for every sigma_w2 and xi_c = -1 / log chi_c
is finite everywhere.

Measured per (rho, width) with ``initjax.measure.propagate``: q^l, c^l of ``seeds`` networks per
sigma_w2 from inputs of exact cosine c0 (per cell the c0 of ``c0s`` farthest from c*); the second
width only for rho < 1 (the 1/N term of c^L). xi_c and its jackknife SE over seeds come from
:func:`initjax.measure.depth_scales.xi_c_cells`, beside the mean-field c^l fitted over the same
layers. Dropout masks are shared across rho and sigma_w2 (common random numbers).
"""

from __future__ import annotations

import ml_collections
import numpy as np
import pandas as pd

from initjax.sweeps.config import config_floats, config_pair, experiment_config
from initjax.sweeps.runtime import Piece
from initjax.sweeps.summary import Check, Verdict
from initjax.sweeps.tables import lead_columns

DESCRIPTION = "xi_c of tanh MLPs with dropout (keep prob 0.9-1) vs theory: no critical point"
TITLE = "dropout removes the order-to-chaos critical point (correlation depth scale xi_c)"
PAPER = (
    "Schoenholz, Gilmer, Ganguli & Sohl-Dickstein 2017, Deep Information Propagation "
    "(arXiv:1611.01232), Sec. 4 (dropout), Fig. 4"
)

PRESETS = {
    # Accelerator (~64 MiB): the paper's width, deeper, many seeds, a fine sigma_w2 grid.
    "full": {"widths": [1000, 250], "depth": 300, "seeds": 64, "n_inputs": 8,
             "sigma_w2": [float(v) for v in np.round(np.linspace(1.0, 4.0, 31), 3)],
             "keep_probs": [1.0, 0.999, 0.99, 0.98, 0.95, 0.9]},
    # Seconds, for the test suite.
    "tiny": {"widths": [48, 24], "depth": 12, "seeds": 6, "c0s": [0.1],
             "sigma_w2": [1.0, 1.76, 3.0], "keep_probs": [1.0, 0.9]},
}  # fmt: skip


def get_config() -> ml_collections.ConfigDict:
    c = experiment_config()
    c.compute = dict(
        root_seed=0,
        seeds=16,  # jackknife SE of xi_c over 16 networks
        # The paper's width first (xi_c fits); the second width only for the 1/N term of c^L.
        widths=[1000, 250],
        depth=80, input_dim=64, n_inputs=4,  # per batch: 6 pairs
        c0s=[0.1, 0.9], q0=1.0, sigma_b2=0.05,
        sigma_w2=[1.0, 1.25, 1.5, 1.65, 1.76, 1.9, 2.1, 2.5, 3.0, 3.5, 4.0],
        keep_probs=[1.0, 0.99, 0.98, 0.95, 0.9],
    )  # fmt: skip
    # Fixed from the sample size and theory before the run (the rules: evaluate's criterion):
    # - track_z: a correct fit gives a median |z| of 0.67; 2 leaves room for the exponential
    #   law's curvature over the window.
    # - fixed_z: about 40 cells: a 4-SE band keeps the family-wise false alarm near 0.3%.
    # - below_one_z: 1 - c^L at the smallest sigma_w2 (ordered without dropout, where c -> 1).
    # - critical_z: one-sided, SEs of the two xi_c combined.
    c.analysis = dict(n_sigma=3.0, tail=5, track_z=2.0, fixed_z=4.0, below_one_z=5.0,
                      critical_z=3.0)  # fmt: skip
    return c


def measure(compute, rho: float, width: int):
    """One (keep probability, width): propagate rows (seed, layer, q, c, flags) for every
    sigma_w2 with columns keep_prob, width, c0; one propagate call per sigma_w2, since once one
    network's inputs become collinear (c -> 1 without dropout) the call falls back to drawing
    weights for all its networks, and ordered cells must not slow the others down."""
    import jax

    from initjax import initializers, keys, models, theory
    from initjax.measure import gaussian_inputs, propagate

    model = models.MLP(width=int(width), depth=int(compute.depth), activation="tanh",
                       kernel_init=initializers.get("variance_scaling", distribution="normal"),
                       keep_prob=float(rho))  # fmt: skip
    sw2, c0s = np.asarray(compute.sigma_w2, np.float32), np.asarray(compute.c0s, np.float64)
    c_star = np.asarray(theory.analyse("tanh", sw2, compute.sigma_b2, keep_prob=rho).c_star)
    base = keys.role(keys.seed_keys(1, int(compute.root_seed))[0], keys.INPUTS)
    frames = []
    for sw, cs in zip(sw2, c_star, strict=True):
        g = int(np.argmax(np.abs(c0s - cs)))
        x = gaussian_inputs(jax.random.fold_in(base, g), int(compute.n_inputs),
                            (int(compute.input_dim),), q0=float(compute.q0),
                            c0=float(c0s[g]))  # fmt: skip
        f = propagate(model, x, seeds=int(compute.seeds), sigma_w2=np.array([sw]),
                      sigma_b2=np.array([compute.sigma_b2], np.float32),
                      root_seed=int(compute.root_seed)).to_frame()  # fmt: skip
        frames.append(f.assign(c0=float(c0s[g])))
    out = pd.concat(frames, ignore_index=True)
    return lead_columns(out, keep_prob=float(rho), width=int(width))


def pieces(compute):
    config_floats(compute.keep_probs, "keep_probs", low=0.0, high=1.0, low_open=True)
    config_pair(compute.widths, "widths")
    config_floats(compute.c0s, "c0s", low=0.0, high=1.0, high_open=True)  # input cosines
    for rho in compute.keep_probs:
        for w in compute.widths[: 1 if float(rho) == 1.0 else 2]:
            spec = {"keep_prob": float(rho), "width": int(w)}
            fn = lambda r=float(rho), w=int(w): measure(compute, r, w)
            yield Piece(f"rho={float(rho):g} width={int(w)}", fn, spec)


def fit_cells(table, config):
    """Per (keep_prob, sigma_w2): xi_c measured vs theory, c^L vs mean field at N -> infinity
    (:func:`initjax.measure.depth_scales.xi_c_cells`)."""
    from initjax.measure.depth_scales import xi_c_cells

    a, comp = config.analysis, config.compute
    kw = dict(sigma_b2=float(comp.sigma_b2), n_sigma=float(a.n_sigma), tail=int(a.tail))
    return xi_c_cells(table, activation="tanh", widths=tuple(comp.widths), **kw)


def evaluate(table, config) -> Verdict:
    """The pre-registered checks (1)-(4) of the criterion (config.analysis)."""
    from initjax import theory

    a, comp, cells = config.analysis, config.compute, fit_cells(table, config)
    checks, parts = [], []
    for rho, g in cells.groupby("keep_prob", sort=False):
        ok = g["z_xi"].abs()[np.isfinite(g["z_xi"])]
        med = float(ok.median()) if len(ok) else float("nan")
        checks.append(Check(
            f"xi_c vs theory (same layers), rho={rho:g}: median |z| over cells", med, 0.0,
            tolerance=f"<= {a.track_z:g}, >= half the cells fitted",
            passed=bool(len(ok) >= len(g) / 2 and med <= a.track_z),
            note=f"{len(ok)} of {len(g)} cells fitted; max |z| {ok.max() if len(ok) else 0:.2f}",
        ))  # fmt: skip
        if rho >= 1.0:
            continue
        zf = (g["dc_inf"] / g["dc_inf_se"]).abs()
        worst = g.loc[zf.idxmax()] if np.isfinite(zf).any() else g.iloc[0]
        checks.append(Check(
            f"c^L - mean-field c^L at N = inf, rho={rho:g}, worst sigma_w2 = {worst['sigma_w2']:g}",
            float(worst["dc_inf"]), 0.0, se=float(worst["dc_inf_se"]), z=float(zf[worst.name]),
            tolerance=f"|z| <= {a.fixed_z:g} at every sigma_w2",
            passed=bool(np.isfinite(zf).all() and zf.max() <= a.fixed_z),
            note=f"widths {list(comp.widths)}; 1/N term at width {comp.widths[0]}: "
            f"{worst['dc_n1'] - worst['dc_inf']:.2g}",
        ))  # fmt: skip
        low = g.loc[g["sigma_w2"].idxmin()]
        gap = (1.0 - low["c_end"]) / low["c_end_se"] if low["c_end_se"] > 0 else np.nan
        checks.append(Check(
            f"1 - c^L at sigma_w2 = {low['sigma_w2']:g}, rho={rho:g} (c* < 1)",
            float(1.0 - low["c_end"]), float(1.0 - low["c_star"]), se=float(low["c_end_se"]),
            z=float(gap), tolerance=f">= {a.below_one_z:g} SE above 0",
            passed=bool(np.isfinite(gap) and gap >= a.below_one_z),
        ))  # fmt: skip
        parts.append(f"rho={rho:g}: xi_c max {g['xi_c_measured'].max():.1f}")
    drop, full = cells[cells["keep_prob"] < 1.0], cells[cells["keep_prob"] == 1.0]
    if len(drop) and len(full):
        crit = float(theory.critical_sigma_w2("tanh", float(comp.sigma_b2)))
        c1 = full.loc[(full["sigma_w2"] - crit).abs().idxmin()]
        fd = drop[np.isfinite(drop["xi_c_measured"])]  # none finite: a row of NaN, the check fails
        top = fd.loc[fd["xi_c_measured"].idxmax()] if len(fd) else pd.Series(np.nan, drop.columns)
        se = float(np.hypot(c1["xi_c_se"], top["xi_c_se"]))
        # NaN (fails) also when xi_c at rho = 1 is not finite (no fit over the depth)
        fin = np.isfinite(c1["xi_c_measured"])
        zc = (c1["xi_c_measured"] - top["xi_c_measured"]) / se if fin else np.nan
        checks.append(Check(
            f"xi_c, rho=1 at sigma_w2 = {c1['sigma_w2']:g} (critical {crit:.3f}) minus the "
            "largest dropout xi_c", float(c1["xi_c_measured"]), float(top["xi_c_measured"]),
            se=se, z=zc, tolerance=f"z >= {a.critical_z:g} (one-sided)",
            passed=bool(zc >= a.critical_z), note=f"dropout maximum at rho={top['keep_prob']:g}, "
            f"sigma_w2 = {top['sigma_w2']:g}",
        ))  # fmt: skip
        parts.append(f"rho=1 at the critical point: {c1['xi_c_measured']:.1f}")
    criterion = (
        f"(1) per keep probability rho, the median over sigma_w2 of |xi_c measured - xi_c "
        f"theory over the same layers| / SE (jackknife over seeds) is <= {a.track_z:g} with at "
        f"least half the cells fitted; (2) per rho < 1 and every sigma_w2, c^L - mean-field c^L "
        f"(last {a.tail} layers, theory from each seed's layer 0) extrapolated to infinite width "
        f"from the two widths is within {a.fixed_z:g} SE of 0; (3) per rho < 1, 1 - c^L at the "
        f"smallest sigma_w2 is >= {a.below_one_z:g} SE (c* < 1: no ordered phase); (4) without "
        f"dropout xi_c at the sigma_w2 nearest the critical point exceeds the largest dropout "
        f"xi_c by >= {a.critical_z:g} combined SE."
    )
    reason = "; ".join(parts) or "no keep probability < 1 in the run"
    return Verdict.from_checks(criterion, checks, reason=reason, not_reproduced=[
        "trainability with dropout on MNIST / CIFAR-10 (Fig. 5): no training here",
        "the backward depth scale xi_grad with dropout: only the forward xi_c is measured",
    ])  # fmt: skip


def report(table, config, ctx):
    """figure_xi.png (xi_c vs sigma_w2 per rho, +-2 SE) and the per-cell table."""
    import matplotlib.pyplot as plt

    from initjax import theory
    from initjax.plots import savefig

    comp, cells = config.compute, fit_cells(table, config)
    rhos, cmap = sorted(cells["keep_prob"].unique(), reverse=True), plt.get_cmap("plasma")
    fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    grid = np.linspace(cells["sigma_w2"].min(), cells["sigma_w2"].max(), 400)
    for i, rho in enumerate(rhos):
        col = "k" if rho == 1.0 else cmap(0.15 + 0.7 * i / max(len(rhos) - 1, 1))
        xi = np.asarray(theory.analyse("tanh", grid, float(comp.sigma_b2), keep_prob=rho).xi_c)
        ax.plot(grid, np.where(np.isfinite(xi), xi, np.nan), color=col, lw=1.2)
        g = cells[cells["keep_prob"] == rho]
        ax.errorbar(g["sigma_w2"], g["xi_c_measured"], yerr=2 * g["xi_c_se"].fillna(0), fmt="o",
                    color=col, ms=4, label=f"rho={rho:g}")  # fmt: skip
        ax.plot(g["sigma_w2"], g["xi_c_theory_window"], "x", color=col, ms=5, alpha=0.6)
    title = f"tanh + dropout, sigma_b2 = {comp.sigma_b2:g}, width {comp.widths[0]}"
    ax.set(yscale="log", xlabel="sigma_w2", ylabel="xi_c (layers)", title=title)
    ax.legend(fontsize=7)
    s = ctx.summary(
        f"tanh MLP, sigma_b2 = {comp.sigma_b2:g}, dropout (keep probability rho) on every hidden "
        f"layer's input activations; widths {list(comp.widths)} (xi_c fitted at the first), "
        f"depth {comp.depth}, {comp.seeds} seeds, {comp.n_inputs} Gaussian inputs per batch with "
        f"exact cosines {list(comp.c0s)}; sigma_w2 in {list(comp.sigma_w2)}; rho in "
        f"{list(comp.keep_probs)}. The `full` preset: depth 300, 64 seeds, 31 sigma_w2 values."
    )
    s.figure(savefig(fig, ctx.path("figure_xi.png")),
             "xi_c vs sigma_w2: lines theory -1/log chi_c, dots measured (+-2 SE over seeds), "
             "x theory fitted over the measured fit's layers.")  # fmt: skip
    cols = ["keep_prob", "sigma_w2", "c_star", "c_end", "c_end_se", "chi_c", "xi_c_theory",
            "xi_c_theory_window", "xi_c_measured", "xi_c_se", "z_xi", "window", "dc_inf",
            "dc_inf_se", "diverged"]  # fmt: skip
    s.table(cells[cols], "Per cell (c_end: mean c over the last layers at the first width; "
            "dc_inf: c^L - mean-field c^L at N = inf):",
            formats={c: ".4g" for c in cols[2:-2]})  # fmt: skip
    return s
