"""Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli 2016, "Exponential expressivity in deep neural
networks through transient chaos" (arXiv:1606.05340), Figs. 1-2: the length (q) and correlation
(c) maps of random tanh networks, measured at width 1000 against mean-field theory, and the
order-chaos phase diagram.

Poole et al. quote standard deviations: sigma_b = 0.3 and sigma_w in {1.3, 2.5, 4.0}. Here they
are converted explicitly to the variances initjax uses: sigma_b2 = 0.09, sigma_w2 = sigma_w**2 in
{1.69, 6.25, 16.0}. Weights are Gaussian, W ~ N(0, sigma_w2 / N), b ~ N(0, sigma_b2).

Panels: A. single-layer q-map (u ~ N(0, q^{l-1}), N i.i.d. units, through one layer) vs q_map
(eq. 3). B. q^l of deep nets (``measure.propagate``) vs the maps iterated from each network's own
layer 0 (``theory.compare``). C. single-layer c-map at q* (eq. 5). D. c^l over layers. E. phase
diagram: chi_1 over (sigma_w, sigma_b). SEs over networks (B, D: of measured - theory per net).
"""

from __future__ import annotations

import ml_collections
import numpy as np
import pandas as pd

from initjax import initializers, keys, measure, models, theory
from initjax.measure.inputs import gaussian_inputs
from initjax.measure.maps import cmap_phase, map_table
from initjax.measure.theory_gaps import map_point_gaps
from initjax.models import stack_of
from initjax.sweeps.config import config_floats, experiment_config
from initjax.sweeps.runtime import Piece
from initjax.sweeps.summary import Check, Verdict
from initjax.sweeps.tables import lead_columns

DESCRIPTION = "Poole et al. 2016: q-map, c-map, q^l/c^l dynamics at width 1000 vs theory; phases"
TITLE = "q-map and c-map of random tanh nets at width 1000 vs mean-field theory"
PAPER = (
    "Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli 2016, Exponential expressivity in deep "
    "neural networks through transient chaos (arXiv:1606.05340), Figs. 1-2"
)

PRESETS = {
    # Accelerator (~0.3 GiB): more networks per point, deeper dynamics, a finer map grid.
    "full": dict(map_seeds=1024, dyn_seeds=256, depth=30, phase_grid=200)
    | dict(q_in=[float(v) for v in np.round(np.linspace(0.1, 15.0, 31), 3)])
    | dict(c_in=[float(v) for v in np.round(np.linspace(0.0, 0.99, 34), 3)]),
    # Seconds, for the test suite (width 256 is still large enough for 4-SE agreement).
    "tiny": dict(width=256, map_seeds=16, dyn_seeds=8, depth=5, batch=3, phase_grid=12)
    | dict(q_in=[0.5, 4.0, 12.0], c_in=[0.2, 0.8], dyn_inputs=[[0.2, 0.5]]),
}
PUBLISHED_PHASE = {1.3: "ordered", 2.5: "chaotic", 4.0: "chaotic"}  # Poole et al., Fig. 2


def get_config() -> ml_collections.ConfigDict:
    c = experiment_config()
    c.compute = dict(
        width=1000,  # the paper's width
        sigma_b=0.3, sigma_w=[1.3, 2.5, 4.0],  # standard deviations, as in the paper
        map_seeds=64, dyn_seeds=16, root_seed=0, depth=15,
        batch=4,  # inputs per network in the deep dynamics (all of one length, pairwise c_x)
        q_in=[0.1, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 12.0, 15.0],
        c_in=[0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99],
        # Deep-net inputs (q_x, c_x): per-unit mean square and pairwise cosine of the raw inputs;
        # layer 0's q^0 = sigma_w2 q_x + sigma_b2 then differs per sigma_w.
        dyn_inputs=[[0.02, 0.2], [0.2, 0.6], [1.0, 0.95], [4.0, 0.0]],
    )  # fmt: skip
    # A point passes when |measured - theory| <= z_max SE + tolerance, the tolerance being atol
    # (float32 sums over N units and quadrature error; relative for q, absolute for c) plus
    # finite_width / N for the O(1/N) corrections to the infinite-width theory (at N = 1000,
    # c^l in the ordered phase drifts ~0.003 above the iterated maps after 10+ layers). PASS:
    # every point passes and each sigma_w's measured phase matches chi_1; PARTIAL: more than
    # partial_share of the points pass.
    c.analysis = dict(z_max=4.0, atol_q=1e-4, atol_c=2e-4, finite_width=5.0, partial_share=0.9,
                      phase_grid=60)  # fmt: skip
    return c


def variances(compute) -> tuple[np.ndarray, float]:
    """(sigma_w2 (H,), sigma_b2): the paper's standard deviations (>= 0) squared."""
    sw = np.asarray(config_floats(compute.sigma_w, "sigma_w", low=0.0), np.float64)
    return sw**2, config_floats(compute.sigma_b, "sigma_b", low=0.0)[0] ** 2


def _gaussian_mlp(width: int, depth: int):
    init = initializers.get("variance_scaling", distribution="normal")
    return models.MLP(width=width, depth=depth, activation="tanh", kernel_init=init)


def single_layer_maps(compute):
    """Panels A and C: one row per (sigma_w, seed, input) with measured and theory values."""
    sw2, sb2 = variances(compute)
    stack, width = stack_of(_gaussian_mlp(int(compute.width), 1)), int(compute.width)
    t = map_table(stack, "tanh", width, sw2, sb2, compute.q_in, compute.c_in,
                  seeds=int(compute.map_seeds), root_seed=int(compute.root_seed))  # fmt: skip
    sigma_w = dict(zip(sw2, map(float, compute.sigma_w), strict=True))  # the paper's std
    t.insert(1, "sigma_w", t["sigma_w2"].map(sigma_w))
    return lead_columns(t, piece="maps")


def deep_dynamics(compute, i: int, q_x: float, c_x: float):
    """Panels B and D for one input setting: propagate rows with q_theory / c_theory."""
    (sw2, sb2), n = variances(compute), int(compute.width)
    # Exact mean square q_x per input and cosine c_x per pair (no input sampling noise).
    key = keys.role(keys.seed_keys(1, int(compute.root_seed))[0], keys.INPUTS)
    x = gaussian_inputs(key, int(compute.batch), (n,), q0=float(q_x), c0=float(c_x))
    res = measure.propagate(_gaussian_mlp(n, int(compute.depth)), np.asarray(x, np.float32),
                            seeds=int(compute.dyn_seeds), sigma_w2=np.asarray(sw2, np.float32),
                            sigma_b2=np.full(len(sw2), sb2, np.float32),
                            root_seed=int(compute.root_seed))  # fmt: skip
    frame = lead_columns(theory.compare(res.to_frame(), "tanh"), piece=f"dyn{i}", kind="dyn")
    sigma_w = np.sqrt(frame["sigma_w2"].to_numpy()).round(6)
    return frame.assign(q_x=float(q_x), c_x=float(c_x), sigma_w=sigma_w)


def pieces(compute):
    variances(compute)
    config_floats(compute.q_in, "q_in", low=0.0, low_open=True)
    config_floats(compute.c_in, "c_in", low=-1.0, high=1.0)
    bad = [p for p in compute.dyn_inputs if len(p) != 2 or not (p[0] > 0 and 0 <= p[1] < 1)]
    if bad:
        raise ValueError(f"config key 'dyn_inputs': entries are [q_x > 0, 0 <= c_x < 1]: {bad}")
    yield Piece("maps", lambda: single_layer_maps(compute))
    for i, (q_x, c_x) in enumerate(compute.dyn_inputs):
        spec = {"q_x": float(q_x), "c_x": float(c_x)}
        fn = lambda i=i, q=float(q_x), c=float(c_x): deep_dynamics(compute, i, q, c)  # noqa: E731
        yield Piece(f"dyn{i}", fn, spec)


def phase(config):
    """``theory.phase_diagram`` on sigma_w in [1, 5] x sigma_b in [0, 4] (standard deviations, as
    Poole et al. plot it) with the config's points on it: (grids, PhaseDiagram, their indices)."""
    comp, n = config.compute, int(config.analysis.phase_grid)
    sw = np.unique(np.concatenate([np.linspace(1.0, 5.0, n), np.asarray(comp.sigma_w, float)]))
    sb = np.unique(np.concatenate([np.linspace(0.0, 4.0, n), [float(comp.sigma_b)]]))
    pd_ = theory.phase_diagram("tanh", sw**2, sb**2)
    idx = np.array([[int(np.argmin(abs(sw - w))), int(np.argmin(abs(sb - comp.sigma_b)))]
                    for w in comp.sigma_w])  # fmt: skip
    return sw, sb, pd_, idx


def points(table, config):
    """One row per compared point (``measure.theory_gaps.map_point_gaps``)."""
    kw = {k: config.analysis[k] for k in ("z_max", "atol_q", "atol_c", "finite_width")}
    return map_point_gaps(table, width=int(config.compute.width), **kw)


def phases(table, config):
    """Per sigma_w: theory q*, c*, chi_1 and phase; the measured phase from the single-layer
    c-map (``measure.maps.cmap_phase``: above or below the diagonal at its largest c < 1)."""
    (sw2, _), (_, _, pd_, idx) = variances(config.compute), phase(config)
    mf = {k: np.asarray(getattr(pd_, k), np.float64)[tuple(idx.T)] for k in ("q_star", "c_star")}
    chi_1, sw = np.asarray(pd_.chi_1, np.float64)[tuple(idx.T)], list(config.compute.sigma_w)
    cmap = [table[(table["kind"] == "cmap") & np.isclose(table["sigma_w"], w)] for w in sw]
    return pd.DataFrame(dict(sigma_w=[float(w) for w in sw], sigma_w2=sw2, **mf, chi_1=chi_1,
        phase_theory=["ordered" if x < 1 else "chaotic" for x in chi_1],
        phase_measured=[cmap_phase(g["x"], g["measured"]) for g in cmap],
        published=[PUBLISHED_PHASE.get(round(float(w), 2), "n/a") for w in sw]))  # fmt: skip


def evaluate(table, config) -> Verdict:
    """Every point within z_max SE + tolerance of theory, and the measured phases match chi_1."""
    a, pts, ph = config.analysis, points(table, config), phases(table, config)
    checks = []
    for panel, g in pts.groupby("panel", sort=False):
        worst = g.loc[g["z"].idxmax()]
        checks.append(Check(
            f"panel {panel}: points within {a.z_max:g} SE + tolerance",
            f"{int(g['ok'].sum())}/{len(g)}", f"{len(g)}/{len(g)}", se=float(worst["se"]),
            z=float(worst["z"]), tolerance=f"all; |err| <= {a.z_max:g} SE + tol",
            passed=bool(g["ok"].all()),
            note=f"worst: sigma_w {worst['sigma_w']:g}, input {worst['x']}, layer "
            f"{int(worst['layer'])}: {worst['measured']:.5g} vs {worst['theory']:.5g}",
        ))  # fmt: skip
    for _, p in ph.iterrows():
        checks.append(Check(
            f"phase at sigma_w = {p['sigma_w']:g} (chi_1 = {p['chi_1']:.3f})",
            p["phase_measured"], p["phase_theory"], tolerance="equal",
            passed=p["phase_measured"] == p["phase_theory"], note=f"published: {p['published']}",
        ))  # fmt: skip
    reason = (
        f"{int(pts['ok'].sum())}/{len(pts)} points within {a.z_max:g} SE + tol. of theory (max "
        f"{pts['z'].max():.2f} SE); phases "
        + ", ".join(f"{p.sigma_w:g}: {p.phase_measured}" for p in ph.itertuples())
    )
    criterion = (
        f"PASS when every measured point of panels A-D lies within {a.z_max:g} standard errors "
        f"(over networks) of theory plus a tolerance ({a.atol_q:g} relative for q, {a.atol_c:g} "
        f"absolute for c, for float32 sums and quadrature; plus {a.finite_width:g}/N for the "
        "O(1/N) finite-width corrections), and the measured phase of each sigma_w (single-layer "
        "c-map above / below the diagonal near c = 1) matches chi_1; PARTIAL when more than "
        f"{a.partial_share:.0%} of the points pass."
    )
    not_rep = ["the expressivity results (Figs. 3-6: trajectory length and curvature growth)"]
    v = Verdict.from_checks(criterion, checks, reason=reason, not_reproduced=not_rep)
    if v.status == "FAIL" and float(pts["ok"].mean()) > a.partial_share:
        v.status = "PARTIAL"
    return v


def report(table, config, ctx):
    """figure_maps.png (panels A-D), figure_phase.png (E), fixed points and worst points."""
    import matplotlib.pyplot as plt

    from initjax.plots import savefig

    comp, (sw2, sb2) = config.compute, variances(config.compute)
    pts, ph = points(table, config), phases(table, config)
    col = {float(w): f"C{i}" for i, w in enumerate(comp.sigma_w)}
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5), constrained_layout=True)
    qq, cc = np.linspace(1e-3, max(comp.q_in) * 1.05, 200), np.linspace(0, 1, 101)
    dyn = table[table["kind"] == "dyn"]
    for h, w in enumerate(comp.sigma_w):
        c, qs = col[float(w)], float(ph["q_star"].iloc[h])
        curves = {"qmap": (qq, theory.q_map("tanh", sw2[h], sb2, qq)),
                  "cmap": (cc, theory.c_map("tanh", sw2[h], sb2, qs, qs, cc))}  # fmt: skip
        for ax, kind in ((axes[0, 0], "qmap"), (axes[1, 0], "cmap")):
            ax.plot(curves[kind][0], np.asarray(curves[kind][1]), "-", color=c, lw=1)
            p = pts[(pts["panel"] == kind) & np.isclose(pts["sigma_w"], w)]
            ax.errorbar(p["x"].astype(float), p["measured"], yerr=2 * p["se"], fmt="o", ms=3,
                        color=c, label=f"sigma_w = {w:g} (sigma_w2 = {sw2[h]:.2f})")  # fmt: skip
        for ax, m in ((axes[0, 1], "q"), (axes[1, 1], "c")):
            for _, g in dyn[np.isclose(dyn["sigma_w"], w)].groupby("piece"):
                mm = g.groupby("layer")[[m, f"{m}_theory"]].mean()
                ax.plot(mm.index, mm[m], "o", ms=3, color=c)
                ax.plot(mm.index, mm[f"{m}_theory"], "-", color=c, lw=1)
    xls = ["q^{l-1}", "layer l", "c^{l-1}", "layer l"]
    for ax, t, xl, yl in zip(axes.ravel(), ["A. q-map", "B. q^l", "C. c-map at q*", "D. c^l"],
                             xls, "qqcc", strict=True):  # fmt: skip
        ax.set(xlabel=xl, ylabel=f"{yl}^l", title=f"{t}: measured (o, +-2 SE), theory (-)")
    axes[0, 0].plot(qq, qq, "k:", lw=0.8), axes[1, 0].plot(cc, cc, "k:", lw=0.8)
    axes[0, 1].set_yscale("log"), axes[0, 0].legend(fontsize=7)
    s = ctx.summary(
        f"tanh, Gaussian weights, width {comp.width}; the paper's standard deviations sigma_b = "
        f"{comp.sigma_b:g}, sigma_w = {list(comp.sigma_w)} are variances sigma_b2 = {sb2:g}, "
        f"sigma_w2 = {[round(float(v), 4) for v in sw2]}. {comp.map_seeds} networks per "
        f"single-layer point; {comp.dyn_seeds} networks x {comp.batch} inputs per deep setting "
        f"(q_x, c_x) in {list(map(list, comp.dyn_inputs))}, depth {comp.depth}. The paper shows "
        "single draws; the `full` preset: 1024 / 256 networks, depth 30, finer grids."
    )
    s.figure(savefig(fig, ctx.path("figure_maps.png")), "Panels A-D.")
    sw_g, sb_g, pd_, _ = phase(config)
    chi = np.asarray(pd_.chi_1, np.float64)
    fig, ax = plt.subplots(figsize=(6, 4.6), constrained_layout=True)
    im = ax.pcolormesh(sw_g, sb_g, np.log(chi).T, cmap="RdBu_r", vmin=-1.5, vmax=1.5,
                       shading="auto")  # fmt: skip
    fig.colorbar(im, ax=ax, label="log chi_1  (< 0 ordered, > 0 chaotic)")
    ax.contour(sw_g, sb_g, chi.T, levels=[1.0], colors="k", linewidths=1.5)  # chi_1 = 1
    for p in ph.itertuples():
        ax.plot(p.sigma_w, np.sqrt(sb2), "o" if p.phase_measured == "ordered" else "s",
                color=col[p.sigma_w], mec="k", ms=8,
                label=f"sigma_w={p.sigma_w:g}: measured {p.phase_measured}")  # fmt: skip
    ax.set(xlabel="sigma_w (std)", ylabel="sigma_b (std)", title="E. phase diagram (chi_1 = 1)")
    ax.legend(fontsize=7, loc="upper left")
    s.figure(savefig(fig, ctx.path("figure_phase.png")), "Panel E: o ordered, s chaotic.")
    crit = float(np.sqrt(theory.critical_sigma_w2("tanh", sb2)))
    cap = f"Fixed points and phases (critical sigma_w at sigma_b = {comp.sigma_b:g}: {crit:.4f}):"
    s.table(ph, cap, formats=dict.fromkeys(("q_star", "c_star", "chi_1"), ".4f"))
    cols = ["panel", "sigma_w", "x", "layer", "measured", "theory", "se", "z", "tol"]
    s.table(pts.sort_values("z", ascending=False).head(8)[cols], "Largest deviations (in SE):",
            formats={"measured": ".5f", "theory": ".5f", "se": ".1e", "tol": ".1e"})  # fmt: skip
    return s
